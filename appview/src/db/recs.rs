//! Engagement edges for recommendations: an account liked a track, or added it to one of its
//! playlists (`list_items.added_at` is when the item first appeared in the list).

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

/// One edge: `did` engaged with `track` at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub did: Did,
    pub track: AtUri,
    pub at: DateTime<Utc>,
}

/// The viewer's seeds: tracks by others they engaged with, newest engagement first.
pub async fn seeds(db: &PgPool, viewer: &Did, limit: i64) -> sqlx::Result<Vec<Edge>> {
    sqlx::query_as!(
        Edge,
        r#"SELECT $1::TEXT AS "did!: Did", e.track AS "track!: AtUri", max(e.at) AS "at!" FROM (
               SELECT subject_uri AS track, created_at AS at FROM likes WHERE did = $1
               UNION ALL
               SELECT li.subject_uri, li.added_at FROM list_items li JOIN lists l ON l.uri = li.list_uri
                WHERE l.did = $1 AND l.list_type = 'playlist'
             ) e JOIN tracks t ON t.uri = e.track
            WHERE t.did <> $1
            GROUP BY e.track ORDER BY max(e.at) DESC LIMIT $2"#,
        viewer as _,
        limit
    )
    .fetch_all(db)
    .await
}

/// Every edge of accounts other than `viewer` on `tracks`.
pub async fn edges_on(db: &PgPool, viewer: &Did, tracks: &[AtUri]) -> sqlx::Result<Vec<Edge>> {
    sqlx::query_as!(
        Edge,
        r#"SELECT did AS "did!: Did", subject_uri AS "track!: AtUri", created_at AS "at!" FROM likes
            WHERE subject_uri = ANY($2) AND did <> $1
           UNION ALL
           SELECT l.did, li.subject_uri, li.added_at FROM list_items li JOIN lists l ON l.uri = li.list_uri
            WHERE li.subject_uri = ANY($2) AND l.did <> $1 AND l.list_type = 'playlist'"#,
        viewer as _,
        tracks as _
    )
    .fetch_all(db)
    .await
}

/// Every edge of `dids`.
pub async fn edges_of(db: &PgPool, dids: &[Did]) -> sqlx::Result<Vec<Edge>> {
    sqlx::query_as!(
        Edge,
        r#"SELECT did AS "did!: Did", subject_uri AS "track!: AtUri", created_at AS "at!" FROM likes WHERE did = ANY($1)
           UNION ALL
           SELECT l.did, li.subject_uri, li.added_at FROM list_items li JOIN lists l ON l.uri = li.list_uri
            WHERE l.did = ANY($1) AND l.list_type = 'playlist'"#,
        dids as _
    )
    .fetch_all(db)
    .await
}

/// Total edges on each of `tracks` (its popularity).
pub async fn popularity(db: &PgPool, tracks: &[AtUri]) -> sqlx::Result<Vec<(AtUri, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT track AS "track!: AtUri", count(*) AS "n!" FROM (
               SELECT subject_uri AS track FROM likes WHERE subject_uri = ANY($1)
               UNION ALL
               SELECT li.subject_uri FROM list_items li JOIN lists l ON l.uri = li.list_uri
                WHERE li.subject_uri = ANY($1) AND l.list_type = 'playlist'
             ) e GROUP BY track"#,
        tracks as _
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.track, r.n)).collect())
}

/// Cold start: tracks not by `viewer` with the most edges since `since`, most first.
pub async fn popular_since(
    db: &PgPool,
    viewer: &Did,
    since: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT e.track AS "track!: AtUri" FROM (
               SELECT subject_uri AS track FROM likes WHERE sort_at >= $2
               UNION ALL
               SELECT li.subject_uri FROM list_items li JOIN lists l ON l.uri = li.list_uri
                WHERE li.added_at >= $2 AND l.list_type = 'playlist'
             ) e JOIN tracks t ON t.uri = e.track
            WHERE t.did <> $1
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
            GROUP BY e.track, t.sort_at ORDER BY count(*) DESC, t.sort_at DESC, e.track DESC LIMIT $3"#,
        viewer as _,
        since,
        limit
    )
    .fetch_all(db)
    .await
}
