-- Identifiers compare bytewise. DIDs and AT-URIs are ASCII, so `COLLATE "C"` orders them exactly
-- as before, but a comparison becomes a memcmp instead of a locale-aware strcoll: every btree
-- keyed by a DID or URI (most of the write path's index maintenance) costs less. On a
-- 200,000-event replay the statement time fell 17 % (docs/BENCHMARKS.md). Every column that is
-- joined with another is converted, so no comparison mixes two collations. On an existing
-- database this rewrites the tables and their indexes once.
--
-- The items of a list no longer reference it by foreign key: the indexer writes and deletes a
-- list's items in the same transaction as the list itself, and the per-row key check was 10 %
-- of the cost of writing items.
ALTER TABLE list_items DROP CONSTRAINT list_items_list_uri_fkey;

ALTER TABLE actors ALTER COLUMN did TYPE TEXT COLLATE "C";
ALTER TABLE records ALTER COLUMN did TYPE TEXT COLLATE "C";
ALTER TABLE tracks
    ALTER COLUMN uri TYPE TEXT COLLATE "C",
    ALTER COLUMN did TYPE TEXT COLLATE "C",
    ALTER COLUMN features TYPE TEXT[] COLLATE "C";
ALTER TABLE likes
    ALTER COLUMN uri TYPE TEXT COLLATE "C",
    ALTER COLUMN did TYPE TEXT COLLATE "C",
    ALTER COLUMN subject_uri TYPE TEXT COLLATE "C";
ALTER TABLE comments
    ALTER COLUMN uri TYPE TEXT COLLATE "C",
    ALTER COLUMN did TYPE TEXT COLLATE "C",
    ALTER COLUMN subject_uri TYPE TEXT COLLATE "C";
ALTER TABLE lists
    ALTER COLUMN uri TYPE TEXT COLLATE "C",
    ALTER COLUMN did TYPE TEXT COLLATE "C";
ALTER TABLE list_items
    ALTER COLUMN list_uri TYPE TEXT COLLATE "C",
    ALTER COLUMN subject_uri TYPE TEXT COLLATE "C";
ALTER TABLE plyr_profiles
    ALTER COLUMN did TYPE TEXT COLLATE "C",
    ALTER COLUMN uri TYPE TEXT COLLATE "C";
ALTER TABLE bsky_profiles
    ALTER COLUMN did TYPE TEXT COLLATE "C",
    ALTER COLUMN uri TYPE TEXT COLLATE "C";
ALTER TABLE subject_stats ALTER COLUMN subject_uri TYPE TEXT COLLATE "C";
ALTER TABLE actor_stats ALTER COLUMN did TYPE TEXT COLLATE "C";
ALTER TABLE repos ALTER COLUMN did TYPE TEXT COLLATE "C";
ALTER TABLE labels
    ALTER COLUMN src TYPE TEXT COLLATE "C",
    ALTER COLUMN uri TYPE TEXT COLLATE "C";
