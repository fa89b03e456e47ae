-- Discovery of the existing network on a fresh install: which relay was asked for every repo
-- with fm.plyr records, when, and whether it finished (the repos it found are queued in
-- `repos` for the background backfill). A completed row means a restart does not ask again.
CREATE TABLE discoveries (
    relay         TEXT PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    repos         INTEGER NOT NULL DEFAULT 0
);
