-- Indexes for the AppView's read paths at scale, found with the AppView benchmark
-- (docs/BENCHMARKS.md, "AppView"; 1,000,000 tracks, 10,000,000 likes, 500,000 accounts).

-- Every feed drops hidden accounts with `NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did
-- AND a.hidden)`. Hidden accounts are few, so a partial index answers that from a tiny index
-- (index-only) instead of one actors heap page per candidate row: the getLatestTracks skeleton
-- went from 10,300 to 15,000 queries/s.
CREATE INDEX actors_hidden_idx ON actors (did) WHERE hidden;

-- Top tracks of a period count the distinct likers of the likes created since its start. With
-- `did` in the index that is an index-only range scan instead of a scan of the whole likes table
-- (week ranking: 6.8 s -> 2.9 s). Same key as before, so it serves every query the old one did.
DROP INDEX likes_created_idx;
CREATE INDEX likes_created_idx ON likes (created_at, subject_uri) INCLUDE (did);
