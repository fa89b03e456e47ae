-- Windowed counters behind the day, week and month rankings, so a ranking is read from an index
-- instead of counted over every like in its window.
--
-- `ranking_windows.edge` is where each period's window starts as the counters stand: a like
-- counts in `period` while its (author, subject) pair has a like created at or after the edge; a
-- play while it was played at or after it. The write path adds its changes to `window_counts`
-- against the edges it reads; the indexer's ranker moves each edge forward (taking out what left
-- the window) and rebuilds a period whose edge is missing. Both hold the advisory lock named in
-- `indexer::db::windows` (the writers shared, the ranker exclusively), so an edge never moves
-- while a writer is counting against it. No edge rows: no writer counts, and the first ranker
-- run rebuilds every window.
CREATE TABLE ranking_windows (
    period  TEXT PRIMARY KEY,              -- day, week, month
    edge    TIMESTAMPTZ NOT NULL
);

-- `ranking` is the name of a ranking (`plyr_store::rankings::Metric::ranking`): `week` counts
-- distinct likers, `plays:week` plays. A count back at zero is no row.
CREATE TABLE window_counts (
    ranking      TEXT NOT NULL,
    subject_uri  TEXT COLLATE "C" NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (ranking, subject_uri)
);
CREATE INDEX window_counts_top_idx ON window_counts (ranking, n DESC);
