//! Actors: identity, hosting status, profiles (fm.plyr and Bluesky) and counts.

use chrono::{DateTime, Utc};
use plyr_atproto::{Did, Handle};
use sqlx::PgPool;

/// Everything a profile view needs about one account.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorRow {
    pub did: Did,
    pub handle: Option<Handle>,
    pub handle_verified: bool,
    pub pds_endpoint: Option<String>,
    pub hidden: bool,
    pub indexed_at: DateTime<Utc>,
    pub display_name: Option<String>,
    pub avatar_cid: Option<String>,
    pub bio: Option<String>,
    pub plyr_avatar_url: Option<String>,
    pub profile_created_at: Option<DateTime<Utc>>,
    pub tracks: i64,
    pub albums: i64,
    pub playlists: i64,
    pub likes: i64,
}

/// The actors among `dids` that are known.
pub async fn by_dids(db: &PgPool, dids: &[Did]) -> sqlx::Result<Vec<ActorRow>> {
    sqlx::query_as!(
        ActorRow,
        r#"SELECT a.did AS "did: Did", a.handle AS "handle: Handle", a.handle_verified, a.pds_endpoint, a.hidden, a.indexed_at,
                  b.display_name AS "display_name?", b.avatar_cid AS "avatar_cid?",
                  p.bio AS "bio?", p.avatar_url AS "plyr_avatar_url?",
                  p.created_at AS "profile_created_at?",
                  COALESCE(s.tracks, 0)::BIGINT AS "tracks!", COALESCE(s.albums, 0)::BIGINT AS "albums!",
                  COALESCE(s.playlists, 0)::BIGINT AS "playlists!", COALESCE(s.likes, 0)::BIGINT AS "likes!"
             FROM actors a
             LEFT JOIN bsky_profiles b ON b.did = a.did
             LEFT JOIN plyr_profiles p ON p.did = a.did
             LEFT JOIN actor_stats s ON s.did = a.did
            WHERE a.did = ANY($1)"#,
        dids as _
    )
    .fetch_all(db)
    .await
}

/// The DID whose current handle is `handle` (case-insensitive), verified both ways: a handle an
/// account merely claims does not resolve to it.
pub async fn did_by_handle(db: &PgPool, handle: &str) -> sqlx::Result<Option<Did>> {
    sqlx::query_scalar!(
        r#"SELECT did AS "did: Did" FROM actors WHERE handle = lower($1) AND handle_verified ORDER BY updated_at DESC LIMIT 1"#,
        handle
    )
    .fetch_optional(db)
    .await
}

impl crate::row_cache::Weigh for ActorRow {
    fn weight(&self) -> usize {
        use crate::row_cache::opt;
        self.did.len()
            + self.handle.as_ref().map_or(0, |h| h.len())
            + opt(&self.pds_endpoint)
            + opt(&self.display_name)
            + opt(&self.avatar_cid)
            + opt(&self.bio)
            + opt(&self.plyr_avatar_url)
    }
}
