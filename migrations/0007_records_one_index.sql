-- The ordering guard keeps one index instead of two. With its URIs compared bytewise
-- (COLLATE "C", whatever the database's collation), a repo's records are one range of the
-- primary key, `at://<did>/` up to `at://<did>0` ('0' follows '/'), so the (did, collection)
-- index, which every record written paid for, is dropped; backfill and account purges read
-- that range instead.
ALTER TABLE records ALTER COLUMN uri TYPE TEXT COLLATE "C";
DROP INDEX records_repo_idx;
