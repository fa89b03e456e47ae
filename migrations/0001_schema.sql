-- The one schema, shared by the indexer (the only writer) and the AppView (reads only).
--
-- Conventions
-- * Every record table is keyed by the record's AT-URI and carries its CID, the commit `rev` that
--   last wrote it, its author DID and rkey, the record's own `created_at`, and `indexed_at`: the
--   time the network event carried (Jetstream `time_us`, firehose commit `time`, or the backfill
--   fetch time), so replaying a stream reproduces the same rows.
-- * `sort_at` is what feeds order by: `created_at`, unless the record claims a time more than five
--   minutes after it was indexed, then `indexed_at`.
-- * Ordering and idempotency live in `records`: one row per record URI ever seen, with the
--   highest rev applied and whether that op was a delete (a tombstone). The write path updates it
--   first, guarded by `rev`, and touches the typed tables only when the guard lets the op through.
-- * Counts live in `subject_stats` and `actor_stats`, keyed by URI/DID rather than by row, so a like
--   that arrives before its track counts as soon as the track appears. They are maintained in the
--   same transaction as the rows they count.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Accounts: identity (from the DID document and handle checks) and hosting status.
CREATE TABLE actors (
    did              TEXT PRIMARY KEY,
    handle           TEXT,                          -- lower-case; NULL until resolved
    handle_verified  BOOLEAN NOT NULL DEFAULT FALSE, -- true only when both directions agree
    pds_endpoint     TEXT,
    signing_key      TEXT,                          -- multibase public key from #atproto
    -- Hosting status from #account events: active, deactivated, takendown, suspended, deleted,
    -- throttled, desynchronized. `hidden` is derived from it (see the trigger below).
    status           TEXT NOT NULL DEFAULT 'active',
    hidden           BOOLEAN NOT NULL DEFAULT FALSE,
    repo_rev         TEXT,                          -- newest commit rev applied for this repo
    -- Event times (µs) of the newest #account and #identity events applied: older ones that
    -- arrive again (a replayed stream) are ignored, so replays are idempotent.
    status_event_us  BIGINT NOT NULL DEFAULT 0,
    identity_event_us BIGINT NOT NULL DEFAULT 0,
    identity_at      TIMESTAMPTZ,                   -- when identity was last resolved
    identity_failed_at TIMESTAMPTZ,                 -- last failed resolution (retried later)
    indexed_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX actors_handle_idx ON actors (handle);
CREATE INDEX actors_handle_trgm ON actors USING gin (lower(handle) gin_trgm_ops);

CREATE FUNCTION actors_derive_hidden() RETURNS trigger AS $$
BEGIN
    NEW.hidden := NEW.status IN ('deactivated', 'takendown', 'suspended', 'deleted');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER actors_hidden BEFORE INSERT OR UPDATE OF status ON actors
    FOR EACH ROW EXECUTE FUNCTION actors_derive_hidden();

-- The ordering guard: latest rev per record URI, and tombstones for deletes.
CREATE TABLE records (
    uri         TEXT PRIMARY KEY,
    did         TEXT NOT NULL,
    collection  TEXT NOT NULL,
    rkey        TEXT NOT NULL,
    rev         TEXT NOT NULL,      -- TID; compares in byte order
    cid         TEXT,               -- NULL on a tombstone
    deleted     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX records_repo_idx ON records (did, collection);

-- fm.plyr.track
CREATE TABLE tracks (
    uri              TEXT PRIMARY KEY,
    id               BIGINT NOT NULL UNIQUE,  -- stable public integer id, derived from the URI
    cid              TEXT NOT NULL,
    rev              TEXT NOT NULL,
    did              TEXT NOT NULL,
    rkey             TEXT NOT NULL,
    title            TEXT NOT NULL,
    artist           TEXT NOT NULL,
    album            TEXT,
    duration         INTEGER,
    description      TEXT,
    file_type        TEXT NOT NULL,
    file_id          TEXT NOT NULL,           -- record fileId, else the rkey (plyr.fm's rule)
    image_url        TEXT,
    audio_url        TEXT,                    -- only when its origin is trusted
    audio_blob_cid   TEXT,
    audio_blob_mime  TEXT,
    audio_blob_size  BIGINT,
    features         TEXT[] NOT NULL DEFAULT '{}',  -- featured artists' DIDs, in record order
    support_gate     TEXT,                    -- supportGate.type
    self_labels      TEXT[] NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    indexed_at       TIMESTAMPTZ NOT NULL,
    sort_at          TIMESTAMPTZ NOT NULL,
    CHECK (audio_url IS NOT NULL OR audio_blob_cid IS NOT NULL)
);
CREATE INDEX tracks_latest_idx ON tracks (sort_at DESC, uri DESC);
CREATE INDEX tracks_author_idx ON tracks (did, sort_at DESC, uri DESC);
CREATE INDEX tracks_file_id_idx ON tracks (file_id);
CREATE INDEX tracks_title_trgm ON tracks USING gin (lower(title) gin_trgm_ops);
CREATE INDEX tracks_artist_trgm ON tracks USING gin (lower(artist) gin_trgm_ops);
CREATE INDEX tracks_album_trgm ON tracks USING gin (lower(album) gin_trgm_ops) WHERE album IS NOT NULL;

-- fm.plyr.like (several likes of one subject by one author may exist; each pair counts once)
CREATE TABLE likes (
    uri          TEXT PRIMARY KEY,
    cid          TEXT NOT NULL,
    rev          TEXT NOT NULL,
    did          TEXT NOT NULL,
    rkey         TEXT NOT NULL,
    subject_uri  TEXT NOT NULL,
    subject_cid  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    indexed_at   TIMESTAMPTZ NOT NULL,
    sort_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX likes_subject_idx ON likes (subject_uri, sort_at DESC, uri DESC);
CREATE INDEX likes_author_idx ON likes (did, sort_at DESC, uri DESC);
CREATE INDEX likes_subject_author_idx ON likes (subject_uri, did);  -- pair counts, viewer state
CREATE INDEX likes_created_idx ON likes (created_at, subject_uri);

-- fm.plyr.comment
CREATE TABLE comments (
    uri           TEXT PRIMARY KEY,
    cid           TEXT NOT NULL,
    rev           TEXT NOT NULL,
    did           TEXT NOT NULL,
    rkey          TEXT NOT NULL,
    subject_uri   TEXT NOT NULL,
    subject_cid   TEXT NOT NULL,
    text          TEXT NOT NULL,
    timestamp_ms  BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ,
    indexed_at    TIMESTAMPTZ NOT NULL,
    sort_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_subject_idx ON comments (subject_uri, timestamp_ms, uri);
CREATE INDEX comments_author_idx ON comments (did, sort_at DESC, uri DESC);

-- fm.plyr.list (albums, playlists, liked lists) and its items in order
CREATE TABLE lists (
    uri          TEXT PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,        -- stable public id, derived from the URI
    cid          TEXT NOT NULL,
    rev          TEXT NOT NULL,
    did          TEXT NOT NULL,
    rkey         TEXT NOT NULL,
    name         TEXT,
    list_type    TEXT,                        -- album | playlist | liked | other (open set)
    item_count   INTEGER NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ,
    indexed_at   TIMESTAMPTZ NOT NULL,
    sort_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX lists_author_idx ON lists (did, list_type, sort_at DESC, uri DESC);
CREATE INDEX lists_type_idx ON lists (list_type, sort_at DESC, uri DESC);
CREATE INDEX lists_name_trgm ON lists USING gin (lower(name) gin_trgm_ops) WHERE name IS NOT NULL;

CREATE TABLE list_items (
    list_uri     TEXT NOT NULL REFERENCES lists (uri) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    subject_uri  TEXT NOT NULL,
    subject_cid  TEXT NOT NULL,
    -- When this subject first appeared in the list: the record's updatedAt/createdAt of the
    -- version that added it (for recommendations' "added to a playlist" edges).
    added_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (list_uri, position)
);
CREATE INDEX list_items_subject_idx ON list_items (subject_uri);

-- fm.plyr.actor.profile (rkey self)
CREATE TABLE plyr_profiles (
    did          TEXT PRIMARY KEY,
    uri          TEXT NOT NULL UNIQUE,
    cid          TEXT NOT NULL,
    rev          TEXT NOT NULL,
    bio          TEXT,
    avatar_url   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ,
    indexed_at   TIMESTAMPTZ NOT NULL
);

-- app.bsky.actor.profile (rkey self), kept for display name and avatar
CREATE TABLE bsky_profiles (
    did           TEXT PRIMARY KEY,
    uri           TEXT NOT NULL UNIQUE,
    cid           TEXT NOT NULL,
    rev           TEXT NOT NULL,
    display_name  TEXT,
    avatar_cid    TEXT,
    avatar_mime   TEXT,
    indexed_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX bsky_profiles_name_trgm ON bsky_profiles USING gin (lower(display_name) gin_trgm_ops)
    WHERE display_name IS NOT NULL;

-- Aggregates per subject URI (a track, usually): distinct likers and comments.
CREATE TABLE subject_stats (
    subject_uri  TEXT PRIMARY KEY,
    likes        INTEGER NOT NULL DEFAULT 0,
    comments     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX subject_stats_likes_idx ON subject_stats (likes DESC, subject_uri DESC);

-- Aggregates per actor.
CREATE TABLE actor_stats (
    did        TEXT PRIMARY KEY,
    tracks     INTEGER NOT NULL DEFAULT 0,
    albums     INTEGER NOT NULL DEFAULT 0,
    playlists  INTEGER NOT NULL DEFAULT 0,
    likes      INTEGER NOT NULL DEFAULT 0  -- distinct subjects this actor liked
);

-- Stream positions, committed in the same transaction as the data they cover.
CREATE TABLE cursors (
    source      TEXT PRIMARY KEY,   -- e.g. 'jetstream', 'firehose:pds.example.com'
    cursor      BIGINT NOT NULL,    -- seq (Jetstream v2, firehose) or time_us (Jetstream v1)
    time_us     BIGINT NOT NULL,    -- event time: the portable position across instances
    issuer      TEXT,               -- URL of the instance whose position `cursor` is
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Gaps a stream could not replay (Jetstream v2 CursorTooOld): the repos active around them need
-- a backfill.
CREATE TABLE stream_gaps (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT NOT NULL,
    from_cursor  BIGINT NOT NULL,
    to_cursor    BIGINT,
    detected_at  TIMESTAMPTZ NOT NULL,
    reason       TEXT NOT NULL
);

-- Per-repo sync state: backfill progress and desynchronization.
CREATE TABLE repos (
    did            TEXT PRIMARY KEY,
    -- pending: needs a backfill; done: backfilled; failed: gave up for now (see last_error)
    backfill       TEXT NOT NULL DEFAULT 'pending',
    backfill_rev   TEXT,            -- rev of the repo snapshot the last backfill applied
    reason         TEXT,            -- why it was queued: new, desynchronized, cursor-gap, manual
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX repos_pending_idx ON repos (updated_at) WHERE backfill = 'pending';

-- Labels from labelers the operator subscribes to (self labels live on the records).
CREATE TABLE labels (
    src         TEXT NOT NULL,      -- labeler DID
    uri         TEXT NOT NULL,      -- labelled record URI or DID
    val         TEXT NOT NULL,
    neg         BOOLEAN NOT NULL DEFAULT FALSE,
    cts         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (src, uri, val)
);
CREATE INDEX labels_uri_idx ON labels (uri);
