//! Likes, comments and the viewer's own likes.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

use crate::cursor::{NumKey, TimeKey};

#[derive(Debug, Clone, PartialEq)]
pub struct LikeRow {
    pub uri: AtUri,
    pub cid: String,
    pub did: Did,
    pub subject_uri: AtUri,
    pub created_at: DateTime<Utc>,
    pub indexed_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

/// Likes of `subject`, newest first, one per account (its first like: likes count once per
/// account and subject).
pub async fn likes_of(
    db: &PgPool,
    subject: &AtUri,
    after: &TimeKey,
    limit: i64,
) -> sqlx::Result<Vec<LikeRow>> {
    sqlx::query_as!(
        LikeRow,
        r#"SELECT l.uri AS "uri: AtUri", l.cid, l.did AS "did: Did", l.subject_uri AS "subject_uri: AtUri", l.created_at, l.indexed_at, l.sort_at
             FROM likes l
            WHERE l.subject_uri = $1 AND (l.sort_at, l.uri) < ($2, $3)
              AND NOT EXISTS (SELECT 1 FROM likes e WHERE e.subject_uri = l.subject_uri
                                AND e.did = l.did AND (e.sort_at, e.uri) < (l.sort_at, l.uri))
            ORDER BY l.sort_at DESC, l.uri DESC LIMIT $4"#,
        subject.as_str(),
        after.at,
        after.uri,
        limit
    )
    .fetch_all(db)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommentRow {
    pub uri: AtUri,
    pub cid: String,
    pub did: Did,
    pub subject_uri: AtUri,
    pub text: String,
    pub timestamp_ms: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub indexed_at: DateTime<Utc>,
}

/// Comments on `subject` in playback order (then URI), after `after`.
pub async fn comments_on(
    db: &PgPool,
    subject: &AtUri,
    after: Option<&NumKey>,
    limit: i64,
) -> sqlx::Result<Vec<CommentRow>> {
    let (n, uri) = after.map_or((-1, ""), |k| (k.n, k.uri.as_str()));
    sqlx::query_as!(
        CommentRow,
        r#"SELECT uri AS "uri: AtUri", cid, did AS "did: Did", subject_uri AS "subject_uri: AtUri", text, timestamp_ms, created_at, updated_at, indexed_at
             FROM comments
            WHERE subject_uri = $1 AND (timestamp_ms, uri) > ($2, $3)
            ORDER BY timestamp_ms, uri LIMIT $4"#,
        subject.as_str(),
        n,
        uri,
        limit
    )
    .fetch_all(db)
    .await
}

/// The viewer's like on each of `subjects` that they liked: `(subject, like uri)`, the
/// earliest like when there are several.
pub async fn viewer_likes(
    db: &PgPool,
    viewer: &Did,
    subjects: &[AtUri],
) -> sqlx::Result<Vec<(AtUri, AtUri)>> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (subject_uri) subject_uri AS "subject_uri: AtUri", uri AS "uri: AtUri" FROM likes
            WHERE did = $1 AND subject_uri = ANY($2)
            ORDER BY subject_uri, sort_at, uri"#,
        viewer as _,
        subjects as _
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.subject_uri, r.uri)).collect())
}

/// The newest commit rev indexed for `did`'s repo (`Atproto-Repo-Rev`).
pub async fn repo_rev(db: &PgPool, did: &Did) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar!("SELECT repo_rev FROM actors WHERE did = $1", did.as_str())
        .fetch_optional(db)
        .await?
        .flatten())
}
