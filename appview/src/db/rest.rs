//! Extra reads for the plyr.fm-compatible REST surface: which album a track belongs to, an
//! artist's albums with their track counts, cover previews of lists, and the activity stream.
//! Feeds and lookups the XRPC side already has (latest, top, likes, items) are reused as they are.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

use crate::cursor::TimeKey;

/// The album (a `listType: album` list by the track's own author) a track appears in.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackAlbum {
    pub track_uri: AtUri,
    pub list_uri: AtUri,
    /// The list's public id (a UUID, as text).
    pub list_id: String,
    pub name: String,
}

/// One named album of an author with the URIs it lists.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorAlbumRow {
    pub did: Did,
    pub uri: AtUri,
    pub id: String,
    pub name: String,
    pub sort_at: DateTime<Utc>,
    pub items: Vec<String>,
}

/// Every named album of each of `dids`, with its items.
pub async fn albums_of_authors(db: &PgPool, dids: &[Did]) -> sqlx::Result<Vec<AuthorAlbumRow>> {
    sqlx::query_as!(
        AuthorAlbumRow,
        r#"SELECT l.did AS "did: Did", l.uri AS "uri: AtUri", l.id::TEXT AS "id!", l.name AS "name!", l.sort_at,
                  ARRAY(SELECT li.subject_uri FROM list_items li WHERE li.list_uri = l.uri) AS "items!"
             FROM lists l
            WHERE l.did = ANY($1) AND l.list_type = 'album' AND l.name IS NOT NULL"#,
        dids as _
    )
    .fetch_all(db)
    .await
}

/// For each of `tracks`, the newest album by its author that lists it (tracks in none are
/// absent): for authors whose albums are too many to keep in memory ([`crate::albums`]). Per
/// track, through the author's albums and each album's own entries: the subject index would
/// walk every playlist that lists a popular track (the concatenation keeps the planner off it).
pub async fn albums_of_tracks(db: &PgPool, tracks: &[AtUri]) -> sqlx::Result<Vec<TrackAlbum>> {
    sqlx::query_as!(
        TrackAlbum,
        r#"SELECT s.uri AS "track_uri!: AtUri", a.uri AS "list_uri!: AtUri", a.id AS "list_id!", a.name AS "name!"
             FROM unnest($1::text[]) AS s(uri)
             CROSS JOIN LATERAL (
                   SELECT l.uri, l.id::TEXT AS id, l.name
                     FROM lists l
                    WHERE l.did = split_part(s.uri, '/', 3) AND l.list_type = 'album' AND l.name IS NOT NULL
                      AND EXISTS (SELECT 1 FROM list_items li
                                   WHERE li.list_uri = l.uri AND (li.subject_uri || '') = s.uri)
                    ORDER BY l.sort_at DESC, l.uri DESC
                    LIMIT 1) a"#,
        tracks as _
    )
    .fetch_all(db)
    .await
}

/// One album of an artist with what its listing shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumRow {
    pub uri: AtUri,
    pub id: String,
    pub name: String,
    /// Items that are indexed tracks.
    pub track_count: i64,
    /// Their plays.
    pub total_plays: i64,
    /// The first item's cover that has one.
    pub image_url: Option<String>,
    pub sort_at: DateTime<Utc>,
}

/// An artist's named albums, newest first.
pub async fn albums_by_actor(db: &PgPool, did: &Did) -> sqlx::Result<Vec<AlbumRow>> {
    sqlx::query_as!(
        AlbumRow,
        r#"SELECT l.uri AS "uri: AtUri", l.id::TEXT AS "id!", l.name AS "name!",
                  (SELECT count(*) FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                    WHERE li.list_uri = l.uri) AS "track_count!",
                  (SELECT COALESCE(sum(s.plays), 0)::BIGINT FROM list_items li JOIN subject_stats s ON s.subject_uri = li.subject_uri
                    JOIN tracks t ON t.uri = li.subject_uri
                    WHERE li.list_uri = l.uri) AS "total_plays!",
                  (SELECT t.image_url FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                    WHERE li.list_uri = l.uri AND t.image_url IS NOT NULL
                    ORDER BY li.position LIMIT 1) AS image_url,
                  l.sort_at
             FROM lists l
            WHERE l.did = $1 AND l.list_type = 'album' AND l.name IS NOT NULL
            ORDER BY l.sort_at DESC, l.uri DESC
            LIMIT 1000"#,
        did.as_str()
    )
    .fetch_all(db)
    .await
}

/// Cover images of the tracks in `lists`, in item order, each image once per list:
/// `(list uri, image url)`.
pub async fn list_covers(db: &PgPool, lists: &[AtUri]) -> sqlx::Result<Vec<(AtUri, String)>> {
    let rows = sqlx::query!(
        r#"SELECT c.list_uri AS "list_uri!: AtUri", c.image_url AS "image_url!" FROM (
               SELECT DISTINCT ON (li.list_uri, t.image_url) li.list_uri, t.image_url, li.position
                 FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                WHERE li.list_uri = ANY($1) AND t.image_url IS NOT NULL
                ORDER BY li.list_uri, t.image_url, li.position
             ) c ORDER BY c.list_uri, c.position"#,
        lists as _
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.list_uri, r.image_url)).collect())
}

/// One event of the activity stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    /// `like`, `track`, `comment`, `playlist_create`, `album_release`, `track_added_to_playlist`.
    pub kind: String,
    pub did: Did,
    /// The record the event is about (used as a tie-breaker too). Not always an AT-URI: an
    /// item added to a playlist is `<list uri>#<position>`.
    pub uri: String,
    pub track_uri: Option<AtUri>,
    pub list_uri: Option<AtUri>,
    pub text: Option<String>,
    pub at: DateTime<Utc>,
}

/// The newest events after `after` in `(time, uri)` order, newest first: likes, tracks,
/// comments, lists created (playlists and albums), and tracks added to a playlist after it was
/// first published (items of a list's first version are part of its creation; such an event's
/// uri is `<list uri>#<position>`). Hidden accounts are left out.
/// Items one list update added share its time; each is its own event a microsecond after the
/// previous one (in list order), so no two events share `(created_at, actor, type,
/// collection)`, the key plyr.fm's activity page tells events apart by.
pub async fn activity(db: &PgPool, after: &TimeKey, limit: i64) -> sqlx::Result<Vec<ActivityRow>> {
    sqlx::query_as!(
        ActivityRow,
        r#"SELECT e.kind AS "kind!", e.did AS "did!: Did", e.uri AS "uri!", e.track_uri AS "track_uri: AtUri",
                  e.list_uri AS "list_uri: AtUri",
                  e.text, e.at AS "at!"
             FROM (
               (SELECT 'like' AS kind, x.did, x.uri, x.subject_uri AS track_uri, NULL::TEXT AS list_uri,
                       NULL::TEXT AS text, x.sort_at AS at
                  FROM likes x WHERE (x.sort_at, x.uri) < ($1, $3)
                   AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = x.did AND a.hidden)
                 ORDER BY x.sort_at DESC, x.uri DESC LIMIT $2)
               UNION ALL
               (SELECT 'track', x.did, x.uri, x.uri, NULL, NULL, x.sort_at
                  FROM tracks x WHERE (x.sort_at, x.uri) < ($1, $3)
                   AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = x.did AND a.hidden)
                 ORDER BY x.sort_at DESC, x.uri DESC LIMIT $2)
               UNION ALL
               (SELECT 'comment', x.did, x.uri, x.subject_uri, NULL, x.text, x.sort_at
                  FROM comments x WHERE (x.sort_at, x.uri) < ($1, $3)
                   AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = x.did AND a.hidden)
                 ORDER BY x.sort_at DESC, x.uri DESC LIMIT $2)
               UNION ALL
               (SELECT CASE x.list_type WHEN 'album' THEN 'album_release' ELSE 'playlist_create' END,
                       x.did, x.uri, NULL, x.uri, NULL, x.sort_at
                  FROM lists x WHERE x.list_type IN ('playlist', 'album') AND (x.sort_at, x.uri) < ($1, $3)
                   AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = x.did AND a.hidden)
                 ORDER BY x.sort_at DESC, x.uri DESC LIMIT $2)
               UNION ALL
               (SELECT 'track_added_to_playlist', x.did, x.uri, x.subject_uri, x.list_uri, NULL, x.at
                  FROM (SELECT l.did, l.uri || '#' || li.position AS uri, li.subject_uri, l.uri AS list_uri,
                               li.added_at + (row_number() OVER (PARTITION BY li.list_uri, li.added_at
                                                                 ORDER BY li.position) - 1)
                                             * interval '1 microsecond' AS at
                          FROM list_items li JOIN lists l ON l.uri = li.list_uri
                         WHERE l.list_type = 'playlist' AND li.added_at <> l.created_at
                           AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = l.did AND a.hidden)) x
                 WHERE (x.at, x.uri) < ($1, $3)
                 ORDER BY x.at DESC, x.uri DESC LIMIT $2)
             ) e
            ORDER BY e.at DESC, e.uri DESC LIMIT $2"#,
        after.at,
        limit,
        after.uri
    )
    .fetch_all(db)
    .await
}

/// Tracks with an image that self-label one of `values` (`/moderation/sensitive-images`), at
/// most `limit`.
pub async fn self_labelled_images(db: &PgPool, values: &[String], limit: i64) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT uri AS "uri: AtUri" FROM tracks
            WHERE self_labels && $1 AND image_url IS NOT NULL
            ORDER BY uri LIMIT $2"#,
        values,
        limit,
    )
    .fetch_all(db)
    .await
}

/// An artist's totals (`/artists/{did}/analytics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtistTotals {
    pub items: i64,
    pub seconds: i64,
    pub plays: i64,
}

pub async fn artist_totals(db: &PgPool, did: &Did) -> sqlx::Result<ArtistTotals> {
    sqlx::query_as!(
        ArtistTotals,
        r#"SELECT count(*) AS "items!", COALESCE(sum(t.duration), 0)::BIGINT AS "seconds!",
                  COALESCE(sum(s.plays), 0)::BIGINT AS "plays!"
             FROM tracks t LEFT JOIN subject_stats s ON s.subject_uri = t.uri
            WHERE t.did = $1"#,
        did as _
    )
    .fetch_one(db)
    .await
}

/// One of an artist's tracks with a count (likes or plays).
#[derive(Debug, Clone)]
pub struct CountedTrack {
    pub id: i64,
    pub title: String,
    pub n: i64,
}

/// The artist's track with the most likes, or with `plays` the most plays (ties: the newest);
/// `None` without tracks.
pub async fn top_track(db: &PgPool, did: &Did, plays: bool) -> sqlx::Result<Option<CountedTrack>> {
    sqlx::query_as!(
        CountedTrack,
        r#"SELECT t.id, t.title, c.n AS "n!"
             FROM tracks t LEFT JOIN subject_stats s ON s.subject_uri = t.uri
             CROSS JOIN LATERAL (SELECT COALESCE(CASE WHEN $2 THEN s.plays ELSE s.likes END, 0)::BIGINT AS n) c
            WHERE t.did = $1
            ORDER BY c.n DESC, t.sort_at DESC, t.uri DESC LIMIT 1"#,
        did as _,
        plays,
    )
    .fetch_optional(db)
    .await
}

/// The ten artists with the most plays (at least one), most first: plyr.fm's leaderboard,
/// which an artist's analytics `rank` is a position in. Ties: the smaller DID first.
pub async fn top_artists_by_plays(db: &PgPool) -> sqlx::Result<Vec<Did>> {
    sqlx::query_scalar!(
        r#"SELECT t.did AS "did!: Did" FROM subject_stats s JOIN tracks t ON t.uri = s.subject_uri
            WHERE s.plays > 0
            GROUP BY t.did ORDER BY sum(s.plays) DESC, t.did LIMIT 10"#
    )
    .fetch_all(db)
    .await
}

/// Events per UTC day from `from` to `to` (inclusive, zero-filled), counting what `/activity/`
/// lists from `since` on: likes, tracks, comments, new playlists and albums, tracks added to
/// playlists, by accounts that are not hidden.
pub async fn activity_per_day(
    db: &PgPool,
    since: DateTime<Utc>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> sqlx::Result<Vec<(chrono::NaiveDate, i64)>> {
    let rows = sqlx::query!(
        r#"WITH ev AS (
             SELECT x.did, x.sort_at AS at FROM likes x WHERE x.sort_at >= $1
             UNION ALL SELECT x.did, x.sort_at FROM tracks x WHERE x.sort_at >= $1
             UNION ALL SELECT x.did, x.sort_at FROM comments x WHERE x.sort_at >= $1
             UNION ALL SELECT x.did, x.sort_at FROM lists x
                        WHERE x.list_type IN ('playlist', 'album') AND x.sort_at >= $1
             UNION ALL SELECT l.did, li.added_at FROM list_items li JOIN lists l ON l.uri = li.list_uri
                        WHERE l.list_type = 'playlist' AND li.added_at <> l.created_at AND li.added_at >= $1)
           SELECT d.day AS "day!", count(ev.at) AS "count!"
             FROM generate_series($2::date, $3::date, interval '1 day') AS g(t)
             CROSS JOIN LATERAL (SELECT g.t::date AS day) d
             LEFT JOIN ev ON (ev.at AT TIME ZONE 'UTC')::date = d.day
                         AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = ev.did AND a.hidden)
            GROUP BY d.day ORDER BY d.day"#,
        since,
        from,
        to,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.day, r.count)).collect())
}

/// What `/sitemap-data` lists, newest first, each list at most `limit`: tracks (`id`, day
/// created), artists with a verified handle and a track (`handle`, day last indexed), albums
/// with a track (`handle`, name, day last changed).
pub async fn sitemap(db: &PgPool, limit: i64) -> sqlx::Result<Sitemap> {
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let tracks = sqlx::query!(
        r#"SELECT t.id, t.sort_at FROM tracks t
            WHERE NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
            ORDER BY t.sort_at DESC, t.uri DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.id, day(r.sort_at)))
    .collect();
    let artists = sqlx::query!(
        r#"SELECT a.handle AS "handle!", a.indexed_at FROM actors a
            WHERE a.handle_verified AND a.handle IS NOT NULL AND NOT a.hidden
              AND EXISTS (SELECT 1 FROM tracks t WHERE t.did = a.did)
            ORDER BY a.indexed_at DESC, a.did DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.handle, day(r.indexed_at)))
    .collect();
    let albums = sqlx::query!(
        r#"SELECT a.handle AS "handle!", l.name AS "name!", COALESCE(l.updated_at, l.created_at) AS "updated!"
             FROM lists l JOIN actors a ON a.did = l.did
            WHERE l.list_type = 'album' AND l.name IS NOT NULL AND a.handle_verified AND a.handle IS NOT NULL
              AND NOT a.hidden
              AND EXISTS (SELECT 1 FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                           WHERE li.list_uri = l.uri)
            ORDER BY COALESCE(l.updated_at, l.created_at) DESC, l.uri DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.handle, r.name, day(r.updated)))
    .collect();
    Ok(Sitemap { tracks, artists, albums })
}

/// [`sitemap`]'s lists.
#[derive(Debug, Default)]
pub struct Sitemap {
    pub tracks: Vec<(i64, String)>,
    pub artists: Vec<(String, String)>,
    pub albums: Vec<(String, String, String)>,
}
