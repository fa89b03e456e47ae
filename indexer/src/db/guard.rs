//! The ordering guard (`records`): the highest rev applied per record URI, and tombstones.

use super::Tx;

/// What the guard knows about one record.
#[derive(Debug, Clone)]
pub struct GuardRow {
    pub uri: String,
    pub rev: String,
    /// True when the newest applied op removed the record (a tombstone).
    pub deleted: bool,
}

/// The guard rows for `uris` (missing ones were never seen).
pub async fn fetch(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<GuardRow>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as!(GuardRow, "SELECT uri, rev, deleted FROM records WHERE uri = ANY($1)", uris)
        .fetch_all(&mut **tx)
        .await
}

/// Guard rows to write, as parallel columns.
#[derive(Debug, Default)]
pub struct GuardWrites {
    pub uri: Vec<String>,
    pub did: Vec<String>,
    pub collection: Vec<String>,
    pub rkey: Vec<String>,
    pub rev: Vec<String>,
    pub cid: Vec<Option<String>>,
    pub deleted: Vec<bool>,
}

/// Stores the new rev (and tombstone state) of each record. The `WHERE` keeps the guard
/// monotonic even if two writers ever raced.
pub async fn store(tx: &mut Tx<'_>, w: &GuardWrites) -> sqlx::Result<()> {
    if w.uri.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO records (uri, did, collection, rkey, rev, cid, deleted)
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[])
           ON CONFLICT (uri) DO UPDATE
             SET rev = EXCLUDED.rev, cid = EXCLUDED.cid, deleted = EXCLUDED.deleted
             WHERE records.rev < EXCLUDED.rev"#,
        &w.uri,
        &w.did,
        &w.collection,
        &w.rkey,
        &w.rev,
        &w.cid as &[Option<String>],
        &w.deleted,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
