//! Feed skeletons: which tracks, in which order, from which position.
//!
//! Keyset pagination everywhere: `(sort_at, uri) < (cursor)` with the matching index, so a deep
//! page costs the same as the first. Hidden actors are filtered here too, so a page is not
//! emptied by a hidden artist with many tracks (the rules step still checks every item).

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

use super::Skel;
use crate::cursor::TimeKey;

/// Newest tracks first, after `after`.
pub async fn latest(db: &PgPool, after: &TimeKey, limit: i64) -> sqlx::Result<Vec<Skel>> {
    sqlx::query_as!(
        Skel,
        r#"SELECT t.uri AS "uri: AtUri", t.sort_at AS at FROM tracks t
            WHERE (t.sort_at, t.uri) < ($1, $2)
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
            ORDER BY t.sort_at DESC, t.uri DESC LIMIT $3"#,
        after.at,
        after.uri,
        limit
    )
    .fetch_all(db)
    .await
}

/// One actor's tracks, newest first.
pub async fn by_actor(db: &PgPool, did: &Did, after: &TimeKey, limit: i64) -> sqlx::Result<Vec<Skel>> {
    sqlx::query_as!(
        Skel,
        r#"SELECT uri AS "uri: AtUri", sort_at AS at FROM tracks
            WHERE did = $1 AND (sort_at, uri) < ($2, $3)
            ORDER BY sort_at DESC, uri DESC LIMIT $4"#,
        did.as_str(),
        after.at,
        after.uri,
        limit
    )
    .fetch_all(db)
    .await
}

/// One entry of a top-tracks ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub uri: AtUri,
    pub likes: i64,
    pub at: DateTime<Utc>,
}

/// Tracks by the number of distinct accounts that liked them with a like created at or after
/// `since` (all likes when `None`), most liked first, ties broken by recency then URI. At most
/// `cap` entries.
pub async fn top(db: &PgPool, since: Option<DateTime<Utc>>, cap: i64) -> sqlx::Result<Vec<Ranked>> {
    match since {
        None => {
            sqlx::query_as!(
                Ranked,
                r#"SELECT t.uri AS "uri: AtUri", s.likes::BIGINT AS "likes!", t.sort_at AS at
                     FROM subject_stats s JOIN tracks t ON t.uri = s.subject_uri
                    WHERE s.likes > 0
                      AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
                    ORDER BY s.likes DESC, t.sort_at DESC, t.uri DESC LIMIT $1"#,
                cap
            )
            .fetch_all(db)
            .await
        }
        Some(since) => {
            sqlx::query_as!(
                Ranked,
                r#"SELECT t.uri AS "uri: AtUri", w.n AS "likes!", t.sort_at AS at
                     FROM (SELECT subject_uri, count(DISTINCT did) AS n FROM likes
                            WHERE created_at >= $1 GROUP BY subject_uri) w
                     JOIN tracks t ON t.uri = w.subject_uri
                    WHERE NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
                    ORDER BY w.n DESC, t.sort_at DESC, t.uri DESC LIMIT $2"#,
                since,
                cap
            )
            .fetch_all(db)
            .await
        }
    }
}

/// The tracks an actor liked, most recent like first; the key is the like's.
#[derive(Debug, Clone, PartialEq)]
pub struct LikedTrack {
    pub like_uri: AtUri,
    pub at: DateTime<Utc>,
    pub subject_uri: AtUri,
}

pub async fn liked_by(db: &PgPool, did: &Did, after: &TimeKey, limit: i64) -> sqlx::Result<Vec<LikedTrack>> {
    sqlx::query_as!(
        LikedTrack,
        r#"SELECT uri AS "like_uri: AtUri", sort_at AS at, subject_uri AS "subject_uri: AtUri" FROM likes
            WHERE did = $1 AND (sort_at, uri) < ($2, $3)
            ORDER BY sort_at DESC, uri DESC LIMIT $4"#,
        did.as_str(),
        after.at,
        after.uri,
        limit
    )
    .fetch_all(db)
    .await
}
