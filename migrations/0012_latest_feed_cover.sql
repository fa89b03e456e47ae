-- The latest feed's skeleton from the index alone: a deep page read 51 heap pages (for each
-- track's URI and author, the author checked against the hidden accounts) and took 1.25 ms on
-- 1M tracks; with the author in the index it is an index-only scan of two pages, 0.21 ms.
-- `did` never changes for a track, so updates stay HOT.
CREATE INDEX tracks_latest_cover_idx ON tracks (sort_at DESC, uri DESC) INCLUDE (did);
DROP INDEX tracks_latest_idx;
