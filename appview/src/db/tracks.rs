//! Track rows for hydration, with their like, comment and play counts.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

/// A track as stored, with its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    pub uri: AtUri,
    pub id: i64,
    pub cid: String,
    pub did: Did,
    pub rkey: String,
    pub title: String,
    pub artist: String,
    pub album: Option<String>,
    pub duration: Option<i32>,
    pub description: Option<String>,
    pub file_type: String,
    pub file_id: String,
    pub image_url: Option<String>,
    pub audio_url: Option<String>,
    pub audio_blob_cid: Option<String>,
    pub audio_blob_mime: Option<String>,
    pub audio_blob_size: Option<i64>,
    pub features: Vec<Did>,
    pub support_gate: Option<String>,
    pub self_labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub indexed_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
    pub like_count: i64,
    pub comment_count: i64,
    pub play_count: i64,
}

/// The tracks among `uris` that are indexed.
pub async fn by_uris(db: &PgPool, uris: &[AtUri]) -> sqlx::Result<Vec<TrackRow>> {
    sqlx::query_as!(
        TrackRow,
        r#"SELECT t.uri AS "uri: AtUri", t.id, t.cid, t.did AS "did: Did", t.rkey, t.title, t.artist, t.album, t.duration,
                  t.description, t.file_type, t.file_id, t.image_url, t.audio_url, t.audio_blob_cid,
                  t.audio_blob_mime, t.audio_blob_size, t.features AS "features: Vec<Did>", t.support_gate, t.self_labels,
                  t.created_at, t.indexed_at, t.sort_at,
                  COALESCE(s.likes, 0)::BIGINT AS "like_count!",
                  COALESCE(s.comments, 0)::BIGINT AS "comment_count!",
                  COALESCE(s.plays, 0)::BIGINT AS "play_count!"
             FROM tracks t LEFT JOIN subject_stats s ON s.subject_uri = t.uri
            WHERE t.uri = ANY($1)"#,
        uris as _
    )
    .fetch_all(db)
    .await
}

/// The URI of the track with public id `id`.
pub async fn uri_by_id(db: &PgPool, id: i64) -> sqlx::Result<Option<AtUri>> {
    sqlx::query_scalar!(r#"SELECT uri AS "uri: AtUri" FROM tracks WHERE id = $1"#, id)
        .fetch_optional(db)
        .await
}

/// The URIs of the tracks whose `file_id` is `file_id`, newest first.
pub async fn uris_by_file_id(db: &PgPool, file_id: &str) -> sqlx::Result<Vec<AtUri>> {
    sqlx::query_scalar!(
        r#"SELECT uri AS "uri: AtUri" FROM tracks WHERE file_id = $1 ORDER BY sort_at DESC, uri DESC LIMIT 5"#,
        file_id
    )
    .fetch_all(db)
    .await
}

/// Totals over everything indexed (`fm.plyr.unspecced.getStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub tracks: i64,
    pub artists: i64,
    pub likes: i64,
    pub plays: i64,
    pub comments: i64,
    pub lists: i64,
    pub duration_seconds: i64,
}

pub async fn totals(db: &PgPool) -> sqlx::Result<Totals> {
    sqlx::query_as!(
        Totals,
        r#"SELECT (SELECT count(*) FROM tracks) AS "tracks!",
                  (SELECT count(DISTINCT did) FROM tracks) AS "artists!",
                  (SELECT COALESCE(sum(likes), 0)::BIGINT FROM subject_stats) AS "likes!",
                  (SELECT COALESCE(sum(s.plays), 0)::BIGINT FROM subject_stats s JOIN tracks t ON t.uri = s.subject_uri) AS "plays!",
                  (SELECT count(*) FROM comments) AS "comments!",
                  (SELECT count(*) FROM lists) AS "lists!",
                  (SELECT COALESCE(sum(duration), 0)::BIGINT FROM tracks) AS "duration_seconds!""#
    )
    .fetch_one(db)
    .await
}

impl crate::row_cache::Weigh for TrackRow {
    fn weight(&self) -> usize {
        use crate::row_cache::opt;
        self.uri.len()
            + self.cid.len()
            + self.did.len()
            + self.rkey.len()
            + self.title.len()
            + self.artist.len()
            + opt(&self.album)
            + opt(&self.description)
            + self.file_type.len()
            + self.file_id.len()
            + opt(&self.image_url)
            + opt(&self.audio_url)
            + opt(&self.audio_blob_cid)
            + opt(&self.audio_blob_mime)
            + opt(&self.support_gate)
            + self.features.iter().map(|d| d.len() + 16).sum::<usize>()
            + self.self_labels.iter().map(|l| l.len() + 24).sum::<usize>()
    }
}
