-- Likes count in the ranking windows (and the recommendations' cold start) by `sort_at`, not
-- `createdAt` as written: `sort_at` is `createdAt` unless that claims a time more than five
-- minutes after the like was seen (`indexer::write::rules::sort_time`), so a like dated years
-- ahead no longer stays in every window, and at the top of every ranking, until that date.
-- The range index moves to `sort_at` (same shape: the windows' slides and rebuilds read it
-- index-only), and every window is counted again by the ranker's next run.
DROP INDEX likes_created_idx;
CREATE INDEX likes_sorted_idx ON likes (sort_at, subject_uri) INCLUDE (did);
DELETE FROM ranking_windows;
