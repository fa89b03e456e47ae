//! The ordering guard: the newest rev applied per record URI.
//!
//! A live record's rev is on its own row (`tracks.rev`, `likes.rev`, …); a record whose newest
//! applied op removed it (a delete, an invalid version, a purged account) leaves a tombstone in
//! `records` with that rev (migration 0009). Creating a record writes no guard row of its own,
//! which halves the rows a like costs; bringing a tombstoned record back removes its tombstone.

use std::collections::HashMap;

use super::Tx;

/// What the guard knows about one record.
#[derive(Debug, Clone)]
pub struct GuardRow {
    pub uri: String,
    pub rev: String,
    /// True when the newest applied op removed the record (a tombstone).
    pub deleted: bool,
}

/// The tombstones among `uris` (each collection's module looks up its live rows: see
/// `write::collections::Collection::live_revs`).
pub async fn tombstones(tx: &mut Tx<'_>, uris: &[&str]) -> sqlx::Result<Vec<GuardRow>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    // Tombstones are few, so a plain join made the planner hash the whole `records` table on
    // every call (half of this query's time at the end of a 200,000-event replay, and growing
    // with the table); the lateral probe costs one index lookup per URI.
    sqlx::query_as!(
        GuardRow,
        r#"SELECT r.uri AS "uri!", r.rev AS "rev!", r.deleted AS "deleted!"
             FROM UNNEST($1::text[]) AS u(uri)
             CROSS JOIN LATERAL (SELECT uri, rev, deleted FROM records WHERE records.uri = u.uri) r"#,
        uris as &[&str],
    )
    .fetch_all(&mut **tx)
    .await
}

/// The newest guard row per URI: a URI has a live row or a tombstone; should it ever have both,
/// the newer rev decides.
pub fn newest(rows: Vec<GuardRow>) -> Vec<GuardRow> {
    let mut newest: HashMap<String, GuardRow> = HashMap::with_capacity(rows.len());
    for row in rows {
        match newest.get(&row.uri) {
            Some(have) if have.rev >= row.rev => {}
            _ => {
                newest.insert(row.uri.clone(), row);
            }
        }
    }
    newest.into_values().collect()
}

/// Tombstones to write, as parallel columns.
#[derive(Debug, Default)]
pub struct Tombstones {
    pub uri: Vec<String>,
    pub did: Vec<String>,
    pub collection: Vec<String>,
    pub rkey: Vec<String>,
    pub rev: Vec<String>,
}

/// Stores tombstones at their revs. The `WHERE` keeps the guard monotonic even if two writers
/// ever raced.
pub async fn bury(tx: &mut Tx<'_>, t: &Tombstones) -> sqlx::Result<()> {
    if t.uri.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO records (uri, did, collection, rkey, rev, cid, deleted)
           SELECT u, d, c, k, r, NULL, TRUE FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS x(u, d, c, k, r)
           ON CONFLICT (uri) DO UPDATE SET rev = EXCLUDED.rev, cid = NULL, deleted = TRUE
             WHERE records.rev < EXCLUDED.rev"#,
        &t.uri,
        &t.did,
        &t.collection,
        &t.rkey,
        &t.rev,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes the tombstones of records that are live again.
pub async fn unbury(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM records WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}
