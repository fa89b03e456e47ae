//! teal.fm statuses (now playing), with the track each one matches.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

/// An account's status as stored, with the indexed track it matches (the AT-URI it names,
/// else `play_match`: the rule plays are counted by).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRow {
    pub track_name: String,
    pub artist_name: String,
    pub release_name: Option<String>,
    pub duration: Option<i32>,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub track: Option<AtUri>,
}

/// The status of `did` that still holds at `now`; none for a hidden account.
pub async fn now_playing(db: &PgPool, did: &Did, now: DateTime<Utc>) -> sqlx::Result<Option<StatusRow>> {
    sqlx::query_as!(
        StatusRow,
        r#"SELECT s.track_name, s.artist_name, s.release_name, s.duration, s.started_at, s.expires_at,
                  COALESCE(s.direct_uri, play_match(s.play_key, s.artist_name, s.duration)) AS "track: AtUri"
             FROM statuses s
            WHERE s.did = $1 AND s.expires_at > $2
              AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = s.did AND a.hidden)"#,
        did as _,
        now,
    )
    .fetch_optional(db)
    .await
}
