-- Public play counts and now playing, from teal.fm records: `fm.teal.feed.play` and the earlier
-- `fm.teal.alpha.feed.play` (plays), `fm.teal.actor.status` (what an account is playing now).
-- Only plays and statuses that can be about an indexed track are kept: from plyr.fm (its music
-- service URI or base domain) or naming an `fm.plyr.track` AT-URI; the rest of teal's network
-- (other services' scrobbles) is dropped as `not_plyr`.
--
-- Matching a play to a track: `direct_uri` when the play names the track's AT-URI (it counts as
-- soon as that track appears, like a like); otherwise `play_key` (lowercased, trimmed title and
-- first artist) against `tracks.play_key` with durations within 2 s, and only when exactly one
-- live track matches. `matched_uri` is that match as of the last write to either side: the write
-- path re-matches the plays of every key a track write touches, under one advisory lock, so it
-- never depends on whether the play or the track was indexed first.
ALTER TABLE tracks
    ADD COLUMN play_key TEXT GENERATED ALWAYS AS (lower(btrim(title)) || chr(31) || lower(btrim(artist))) STORED;
CREATE INDEX tracks_play_key_idx ON tracks (play_key);

-- The one definition of a match by name: the live track with `key`, a duration within 2 s of
-- `secs` (either unknown matches any), when exactly one fits; NULL otherwise, or without an artist.
CREATE FUNCTION play_match(key TEXT, artist TEXT, secs INTEGER) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN btrim(artist) <> '' THEN
        (SELECT CASE WHEN count(*) = 1 THEN min(t.uri) END FROM tracks t
          WHERE t.play_key = key AND (secs IS NULL OR t.duration IS NULL OR abs(t.duration - secs) <= 2))
    END
$$;

CREATE TABLE plays (
    uri            TEXT PRIMARY KEY,
    cid            TEXT NOT NULL,
    rev            TEXT NOT NULL,
    did            TEXT NOT NULL,
    rkey           TEXT NOT NULL,
    collection     TEXT NOT NULL,            -- fm.teal.feed.play or fm.teal.alpha.feed.play
    track_name     TEXT NOT NULL,
    artist_name    TEXT NOT NULL,            -- the first artist ('' when the play names none)
    release_name   TEXT,
    duration       INTEGER,                  -- seconds
    origin_uri     TEXT,                     -- originUri (alpha: originUrl)
    direct_uri     TEXT,                     -- an fm.plyr.track AT-URI the play names
    play_key       TEXT GENERATED ALWAYS AS (lower(btrim(track_name)) || chr(31) || lower(btrim(artist_name))) STORED,
    matched_uri    TEXT,                     -- the track it counts for, if any
    played_at      TIMESTAMPTZ NOT NULL,     -- playedTime, else indexed_at
    indexed_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX plays_did_idx ON plays (did);
CREATE INDEX plays_key_idx ON plays (play_key) WHERE direct_uri IS NULL;
CREATE INDEX plays_matched_idx ON plays (matched_uri, played_at);
CREATE INDEX plays_played_idx ON plays (played_at);

-- One status per account (rkey `self`): the latest now-playing item and until when it holds.
CREATE TABLE statuses (
    uri            TEXT PRIMARY KEY,
    cid            TEXT NOT NULL,
    rev            TEXT NOT NULL,
    did            TEXT NOT NULL UNIQUE,
    rkey           TEXT NOT NULL,
    track_name     TEXT NOT NULL,
    artist_name    TEXT NOT NULL,
    release_name   TEXT,
    duration       INTEGER,
    origin_uri     TEXT,
    direct_uri     TEXT,
    play_key       TEXT GENERATED ALWAYS AS (lower(btrim(track_name)) || chr(31) || lower(btrim(artist_name))) STORED,
    started_at     TIMESTAMPTZ NOT NULL,     -- item.playedTime, else time
    recorded_at    TIMESTAMPTZ NOT NULL,     -- time
    expires_at     TIMESTAMPTZ NOT NULL,     -- expiry, else time + 10 minutes (the lexicon's default)
    indexed_at     TIMESTAMPTZ NOT NULL
);

-- Distinct listeners are not counted: every play record is a listen.
ALTER TABLE subject_stats ADD COLUMN plays INTEGER NOT NULL DEFAULT 0;
CREATE INDEX subject_stats_played_idx ON subject_stats (subject_uri) INCLUDE (plays) WHERE plays > 0;

-- Rankings by plays beside rankings by likes: a ranking is named by its period (`day`, ...) for
-- likes and `plays:<period>` for plays, and `score` is the like or play count it ranks by.
ALTER TABLE rankings RENAME COLUMN likes TO score;

CREATE OR REPLACE VIEW live_records AS
    SELECT uri, did, 'fm.plyr.like'::text AS collection, rkey, cid, rev FROM likes
    UNION ALL SELECT uri, did, 'fm.plyr.comment', rkey, cid, rev FROM comments
    UNION ALL SELECT uri, did, 'fm.plyr.track', rkey, cid, rev FROM tracks
    UNION ALL SELECT uri, did, 'fm.plyr.list', rkey, cid, rev FROM lists
    UNION ALL SELECT uri, did, 'fm.plyr.actor.profile', 'self', cid, rev FROM plyr_profiles
    UNION ALL SELECT uri, did, 'app.bsky.actor.profile', 'self', cid, rev FROM bsky_profiles
    UNION ALL SELECT uri, did, 'fm.teal.feed.play', rkey, cid, rev FROM plays WHERE collection = 'fm.teal.feed.play'
    UNION ALL SELECT uri, did, 'fm.teal.alpha.feed.play', rkey, cid, rev FROM plays WHERE collection = 'fm.teal.alpha.feed.play'
    UNION ALL SELECT uri, did, 'fm.teal.actor.status', 'self', cid, rev FROM statuses;
