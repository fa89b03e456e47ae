//! Lists (albums, playlists, liked lists) and their items in record order.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use sqlx::PgPool;

use super::Skel;
use crate::cursor::TimeKey;

#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    pub uri: AtUri,
    /// The public id (a UUID, as text).
    pub id: String,
    pub cid: String,
    pub did: Did,
    pub rkey: String,
    pub name: Option<String>,
    pub list_type: Option<String>,
    pub item_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub indexed_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

impl crate::row_cache::Weigh for ListRow {
    fn weight(&self) -> usize {
        use crate::row_cache::opt;
        self.uri.len()
            + self.id.len()
            + self.cid.len()
            + self.did.len()
            + self.rkey.len()
            + opt(&self.name)
            + opt(&self.list_type)
    }
}

pub async fn by_uris(db: &PgPool, uris: &[AtUri]) -> sqlx::Result<Vec<ListRow>> {
    sqlx::query_as!(
        ListRow,
        r#"SELECT uri AS "uri: AtUri", id::TEXT AS "id!", cid, did AS "did: Did", rkey, name, list_type, item_count, created_at, updated_at,
                  indexed_at, sort_at
             FROM lists WHERE uri = ANY($1)"#,
        uris as _
    )
    .fetch_all(db)
    .await
}

/// The URI of the list with public id `id`.
pub async fn uri_by_id(db: &PgPool, id: &str) -> sqlx::Result<Option<AtUri>> {
    sqlx::query_scalar!(r#"SELECT uri AS "uri: AtUri" FROM lists WHERE id = $1::TEXT::UUID"#, id)
        .fetch_optional(db)
        .await
}

/// One actor's lists, newest first, optionally of one type.
pub async fn by_actor(
    db: &PgPool,
    did: &Did,
    list_type: Option<&str>,
    after: &TimeKey,
    limit: i64,
) -> sqlx::Result<Vec<Skel>> {
    sqlx::query_as!(
        Skel,
        r#"SELECT uri AS "uri: AtUri", sort_at AS at FROM lists
            WHERE did = $1 AND ($2::TEXT IS NULL OR list_type = $2) AND (sort_at, uri) < ($3, $4)
            ORDER BY sort_at DESC, uri DESC LIMIT $5"#,
        did.as_str(),
        list_type,
        after.at,
        after.uri,
        limit
    )
    .fetch_all(db)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    pub position: i32,
    pub subject_uri: AtUri,
    pub subject_cid: String,
}

/// Items of `list` at positions after `after`, in order.
pub async fn items(db: &PgPool, list: &AtUri, after: i32, limit: i64) -> sqlx::Result<Vec<ItemRow>> {
    sqlx::query_as!(
        ItemRow,
        r#"SELECT position, subject_uri AS "subject_uri: AtUri", subject_cid FROM list_items
            WHERE list_uri = $1 AND position > $2 ORDER BY position LIMIT $3"#,
        list.as_str(),
        after,
        limit
    )
    .fetch_all(db)
    .await
}
