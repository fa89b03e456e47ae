-- Every live record of the typed tables in one shape, with its collection: the one place that
-- maps each table to its collection (profiles have the rkey `self`). Reading a repo's records
-- by DID (backfill's comparison with a snapshot, an account purge's tombstones) goes through it;
-- each branch uses its table's own index on `did`. The write path's guard lookup by URI probes
-- only the table of each URI's collection, so it reads the tables directly.
CREATE VIEW live_records AS
    SELECT uri, did, 'fm.plyr.like'::text AS collection, rkey, cid, rev FROM likes
    UNION ALL SELECT uri, did, 'fm.plyr.comment', rkey, cid, rev FROM comments
    UNION ALL SELECT uri, did, 'fm.plyr.track', rkey, cid, rev FROM tracks
    UNION ALL SELECT uri, did, 'fm.plyr.list', rkey, cid, rev FROM lists
    UNION ALL SELECT uri, did, 'fm.plyr.actor.profile', 'self', cid, rev FROM plyr_profiles
    UNION ALL SELECT uri, did, 'app.bsky.actor.profile', 'self', cid, rev FROM bsky_profiles;
