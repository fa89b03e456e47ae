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

/// One entry of a top-tracks ranking (computed by the indexer's ranker).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub uri: AtUri,
    /// What it ranks by: its likes or plays in the window.
    pub score: i64,
    pub at: DateTime<Utc>,
}

/// Every stored ranking entry with its ranking's name, each ranking in rank order.
pub async fn rankings(db: &PgPool) -> sqlx::Result<Vec<(String, Ranked)>> {
    let rows = sqlx::query!(
        r#"SELECT period, subject_uri AS "uri: AtUri", score, sort_at FROM rankings ORDER BY period, position"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.period, Ranked { uri: r.uri, score: r.score, at: r.sort_at })).collect())
}

/// When each period's ranking was last computed.
pub async fn ranking_periods(db: &PgPool) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    let rows = sqlx::query!("SELECT period, computed_at FROM ranking_periods").fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.period, r.computed_at)).collect())
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
