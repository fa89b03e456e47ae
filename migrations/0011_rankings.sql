-- Top-track rankings, one per period (`day`, `week`, `month`, `all`), kept by the indexer's
-- ranker and read whole by every AppView: a ranking is never computed while a request waits.
-- `computed_at` says when each period was last computed (and `since` where its window began),
-- so an AppView can tell a fresh ranking from a stale one and an empty one from a missing one.
CREATE TABLE ranking_periods (
    period       TEXT PRIMARY KEY,
    computed_at  TIMESTAMPTZ NOT NULL,
    since        TIMESTAMPTZ
);

CREATE TABLE rankings (
    period       TEXT NOT NULL REFERENCES ranking_periods (period) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    subject_uri  TEXT COLLATE "C" NOT NULL,
    likes        BIGINT NOT NULL,
    sort_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (period, position)
);
