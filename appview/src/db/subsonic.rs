//! Reads only the Subsonic API makes: albums with their totals (the SQL function `list_totals`,
//! migration 0016: songs, duration, plays, likes, cover) in the orders `getAlbumList2` offers,
//! one artist's albums, the artist index, random tracks, playlist totals and everyone's now
//! playing. An album is a `listType: album` list with a name and at least one indexed track;
//! hidden accounts' albums, and their tracks in the totals, are left out here, and the hydration
//! applies every other rule to what is shown (a labelled track still counts in its album's
//! totals).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

/// An album with its totals over its indexed tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumRow {
    pub uri: AtUri,
    pub id: String,
    pub name: String,
    pub did: Did,
    pub created_at: DateTime<Utc>,
    pub songs: i64,
    /// Seconds, over the tracks whose duration is known.
    pub duration: i64,
    pub plays: i64,
    pub likes: i64,
    /// The first track's cover that has one.
    pub image_url: Option<String>,
}

/// The orders of `getAlbumList2` this index can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlbumOrder {
    Newest,
    Random,
    /// Most played (teal.fm plays of its tracks).
    Frequent,
    /// Most liked (likes of its tracks).
    Highest,
    ByName,
    ByArtist,
    /// Created within the years `from..=to`, oldest first (newest first when `from > to`).
    ByYear {
        from: i32,
        to: i32,
    },
}

impl AlbumOrder {
    fn name(self) -> &'static str {
        match self {
            AlbumOrder::Newest => "newest",
            AlbumOrder::Random => "random",
            AlbumOrder::Frequent => "frequent",
            AlbumOrder::Highest => "highest",
            AlbumOrder::ByName => "alphabeticalByName",
            AlbumOrder::ByArtist => "alphabeticalByArtist",
            AlbumOrder::ByYear { .. } => "byYear",
        }
    }
}

/// One page of every album in `order`: the page's albums are chosen first, computing totals only
/// where the order needs them, then the totals of that page alone are read.
pub async fn albums(db: &PgPool, order: AlbumOrder, limit: i64, offset: i64) -> sqlx::Result<Vec<AlbumRow>> {
    let uris = match order {
        AlbumOrder::Newest => newest_albums(db, limit, offset).await?,
        AlbumOrder::Random => random_albums(db, limit).await?,
        AlbumOrder::Frequent | AlbumOrder::Highest => albums_by_score(db, order, limit, offset).await?,
        _ => sorted_albums(db, order, limit, offset).await?,
    };
    let mut rows: HashMap<AtUri, AlbumRow> =
        lists_by_uris(db, &uris).await?.into_iter().map(|r| (r.uri.clone(), r)).collect();
    Ok(uris.iter().filter_map(|u| rows.remove(u)).collect())
}

/// Newest first, by the lists' own index (`lists_type_idx`): a page costs its depth, not the
/// number of albums. "Has a visible track" is a per-album probe (`LIMIT 1` keeps the planner
/// from turning it into one semi-join over every list item: 7 s at a million tracks).
async fn newest_albums(db: &PgPool, limit: i64, offset: i64) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT l.uri AS "uri!: AtUri" FROM lists l
            CROSS JOIN LATERAL (SELECT 1 FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                                 WHERE li.list_uri = l.uri
                                   AND NOT EXISTS (SELECT 1 FROM actors ta WHERE ta.did = t.did AND ta.hidden)
                                 LIMIT 1) has_track
            WHERE l.list_type = 'album' AND l.name IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = l.did AND a.hidden)
            ORDER BY l.sort_at DESC, l.uri DESC
            LIMIT $1 OFFSET $2"#,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

/// Most played or most liked: every album's sum over its visible tracks, ranked.
async fn albums_by_score(
    db: &PgPool,
    order: AlbumOrder,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT l.uri AS "uri!: AtUri"
             FROM lists l
             JOIN list_items li ON li.list_uri = l.uri
             JOIN tracks t ON t.uri = li.subject_uri
             LEFT JOIN subject_stats s ON s.subject_uri = t.uri
            WHERE l.list_type = 'album' AND l.name IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = l.did AND a.hidden)
              AND NOT EXISTS (SELECT 1 FROM actors ta WHERE ta.did = t.did AND ta.hidden)
            GROUP BY l.uri
            ORDER BY sum(CASE WHEN $1 = 'frequent' THEN COALESCE(s.plays, 0) ELSE COALESCE(s.likes, 0) END) DESC,
                     lower(min(l.name)), l.uri
            LIMIT $2 OFFSET $3"#,
        order.name(),
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

/// `n` albums at random, in random order: the `n` that follow a random UUID in the public-id
/// index (ids are hashes of the URIs, so neighbours by id are unrelated albums), wrapping around
/// at the end, each with a visible track. One range read of the index, and a network with at
/// most `n` albums always gets all of them (independent probes at random points missed an album
/// whose id followed another's closely).
async fn random_albums(db: &PgPool, n: i64) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"WITH albums AS NOT MATERIALIZED (
               SELECT l.id, l.uri FROM lists l
                WHERE l.list_type = 'album' AND l.name IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = l.did AND a.hidden)
                  AND EXISTS (SELECT 1 FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                               WHERE li.list_uri = l.uri
                                 AND NOT EXISTS (SELECT 1 FROM actors ta WHERE ta.did = t.did AND ta.hidden)
                               LIMIT 1)),
           start AS MATERIALIZED (SELECT gen_random_uuid() AS at),
           picked AS (
               (SELECT a.uri, 0 AS part, a.id FROM albums a
                 WHERE a.id >= (SELECT at FROM start) ORDER BY a.id LIMIT $1)
               UNION ALL
               (SELECT a.uri, 1 AS part, a.id FROM albums a
                 WHERE a.id < (SELECT at FROM start) ORDER BY a.id LIMIT $1))
           SELECT w.uri AS "uri!: AtUri"
             FROM (SELECT uri FROM picked ORDER BY part, id LIMIT $1) w
            ORDER BY random()"#,
        n
    )
    .fetch_all(db)
    .await
}

/// By name, by artist or by year.
async fn sorted_albums(db: &PgPool, order: AlbumOrder, limit: i64, offset: i64) -> sqlx::Result<Vec<AtUri>> {
    let (from, to) = match order {
        AlbumOrder::ByYear { from, to } => (Some(from), Some(to)),
        _ => (None, None),
    };
    sqlx::query_scalar!(
        r#"SELECT l.uri AS "uri!: AtUri" FROM lists l
             LEFT JOIN actors a ON a.did = l.did
             LEFT JOIN bsky_profiles b ON b.did = l.did
             CROSS JOIN LATERAL (SELECT 1 FROM list_items li JOIN tracks t ON t.uri = li.subject_uri
                                  WHERE li.list_uri = l.uri
                                    AND NOT EXISTS (SELECT 1 FROM actors ta WHERE ta.did = t.did AND ta.hidden)
                                  LIMIT 1) has_track
            WHERE l.list_type = 'album' AND l.name IS NOT NULL AND NOT COALESCE(a.hidden, false)
              AND ($2::INT IS NULL OR extract(year FROM l.created_at)::INT BETWEEN least($2, $3) AND greatest($2, $3))
            ORDER BY CASE WHEN $1 = 'byYear' AND $2 > $3 THEN l.created_at END DESC NULLS LAST,
                     CASE WHEN $1 = 'byYear' THEN l.created_at END ASC NULLS LAST,
                     CASE WHEN $1 = 'alphabeticalByArtist'
                          THEN lower(COALESCE(NULLIF(btrim(b.display_name), ''), a.handle, l.did)) END ASC NULLS LAST,
                     lower(l.name), l.uri
            LIMIT $4 OFFSET $5"#,
        order.name(),
        from,
        to,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

/// One artist's albums, by name.
pub async fn albums_of(db: &PgPool, did: &Did) -> sqlx::Result<Vec<AlbumRow>> {
    sqlx::query_as!(
        AlbumRow,
        r#"SELECT l.uri AS "uri: AtUri", l.id::TEXT AS "id!", l.name AS "name!", l.did AS "did: Did", l.created_at,
                  agg.songs AS "songs!", agg.duration AS "duration!", agg.plays AS "plays!", agg.likes AS "likes!",
                  agg.image_url
             FROM lists l
             CROSS JOIN LATERAL list_totals(l.uri) agg
            WHERE l.did = $1 AND l.list_type = 'album' AND l.name IS NOT NULL AND agg.songs > 0
            ORDER BY lower(l.name), l.uri
            LIMIT 1000"#,
        did.as_str()
    )
    .fetch_all(db)
    .await
}

/// The album or playlist with public id `id` (a UUID; anything else is no list), with its
/// totals; albums must have a track, as everywhere.
pub async fn list_by_id(db: &PgPool, id: &str, list_type: &str) -> sqlx::Result<Option<AlbumRow>> {
    sqlx::query_as!(
        AlbumRow,
        r#"SELECT l.uri AS "uri: AtUri", l.id::TEXT AS "id!", COALESCE(l.name, '') AS "name!", l.did AS "did: Did", l.created_at,
                  agg.songs AS "songs!", agg.duration AS "duration!", agg.plays AS "plays!", agg.likes AS "likes!",
                  agg.image_url
             FROM lists l
             CROSS JOIN LATERAL list_totals(l.uri) agg
            WHERE l.id = $1::TEXT::UUID AND l.list_type = $2
              AND ($2 <> 'album' OR (l.name IS NOT NULL AND agg.songs > 0))"#,
        id,
        list_type
    )
    .fetch_optional(db)
    .await
}

/// Totals of each of `lists` (playlists), as [`AlbumRow`]s.
pub async fn lists_by_uris(db: &PgPool, lists: &[AtUri]) -> sqlx::Result<Vec<AlbumRow>> {
    sqlx::query_as!(
        AlbumRow,
        r#"SELECT l.uri AS "uri: AtUri", l.id::TEXT AS "id!", COALESCE(l.name, '') AS "name!", l.did AS "did: Did", l.created_at,
                  agg.songs AS "songs!", agg.duration AS "duration!", agg.plays AS "plays!", agg.likes AS "likes!",
                  agg.image_url
             FROM lists l
             CROSS JOIN LATERAL list_totals(l.uri) agg
            WHERE l.uri = ANY($1)"#,
        lists as _
    )
    .fetch_all(db)
    .await
}

/// An artist of the index: an account with indexed tracks, and its album count.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistRow {
    pub did: Did,
    pub albums: i64,
}

/// The accounts with indexed tracks, most tracks first, at most `limit`; hidden ones left out.
pub async fn artists(db: &PgPool, limit: i64) -> sqlx::Result<Vec<ArtistRow>> {
    sqlx::query_as!(
        ArtistRow,
        r#"SELECT a.did AS "did: Did", s.albums::BIGINT AS "albums!"
             FROM actor_stats s JOIN actors a ON a.did = s.did
            WHERE s.tracks > 0 AND NOT a.hidden
            ORDER BY s.tracks DESC, a.did
            LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await
}

/// About `n` tracks picked at random (fewer when picks collide): each a probe of the id index
/// at a random point, so the cost does not grow with the table. The point is computed outside
/// the probe: a volatile `random()` in its condition would be evaluated per row scanned.
pub async fn random_tracks(db: &PgPool, n: i64) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT pick.uri AS "uri!: AtUri"
             FROM (SELECT min(id) AS lo, max(id) AS hi FROM tracks) b
             CROSS JOIN generate_series(1, $1::INT) g
             CROSS JOIN LATERAL (SELECT b.lo + floor(random() * (b.hi - b.lo + 1))::BIGINT AS at, g) r
             CROSS JOIN LATERAL (SELECT t.uri FROM tracks t WHERE t.id >= r.at ORDER BY t.id LIMIT 1) pick
            GROUP BY pick.uri
            ORDER BY random()"#,
        i32::try_from(n).unwrap_or(i32::MAX)
    )
    .fetch_all(db)
    .await
}

/// A listener whose teal.fm status holds now, with the track it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayingRow {
    pub did: Did,
    pub started_at: DateTime<Utc>,
    pub track: AtUri,
}

/// Everyone playing an indexed track at `now`, most recently started first, at most `limit`.
pub async fn now_playing(db: &PgPool, now: DateTime<Utc>, limit: i64) -> sqlx::Result<Vec<PlayingRow>> {
    sqlx::query_as!(
        PlayingRow,
        r#"SELECT p.did AS "did: Did", p.started_at, p.track AS "track!: AtUri" FROM (
               SELECT s.did, s.started_at, COALESCE(s.direct_uri, play_match(s.play_key, s.artist_name, s.duration)) AS track
                 FROM statuses s
                WHERE s.expires_at > $1
                  AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = s.did AND a.hidden)
                ORDER BY s.started_at DESC
                LIMIT $2) p
            WHERE p.track IS NOT NULL"#,
        now,
        limit
    )
    .fetch_all(db)
    .await
}
