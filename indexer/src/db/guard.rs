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

/// The guard rows for `(collection, uri)` pairs (missing ones were never seen): tombstones for
/// every URI, and live rows from each collection's table through the `live_records` view.
pub async fn fetch(tx: &mut Tx<'_>, uris: &[(&str, &str)]) -> sqlx::Result<Vec<GuardRow>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let (collections, all): (Vec<&str>, Vec<&str>) = uris.iter().copied().unzip();
    // Both halves probe a primary key once per URI. Tombstones are few, so a plain join made the
    // planner hash the whole `records` table on every call; the lateral probe costs one index
    // lookup per URI. In the view, each branch's constant `collection` becomes a one-time filter
    // per URI, so only its own table is probed; the `LIMIT 1` keeps PostgreSQL from flattening
    // the lateral subquery into a join over the whole view (which it planned as a merge join
    // scanning every table: 230 ms for 3,500 URIs against 27 ms this way).
    let rows = sqlx::query_as!(
        GuardRow,
        r#"SELECT r.uri AS "uri!", r.rev AS "rev!", r.deleted AS "deleted!"
             FROM UNNEST($1::text[]) AS u(uri)
             CROSS JOIN LATERAL (SELECT uri, rev, deleted FROM records WHERE records.uri = u.uri) r
           UNION ALL SELECT l.uri, l.rev, FALSE
             FROM UNNEST($2::text[], $1::text[]) AS u(collection, uri)
             CROSS JOIN LATERAL (SELECT uri, rev FROM live_records
                                  WHERE live_records.collection = u.collection AND live_records.uri = u.uri
                                  LIMIT 1) l"#,
        &all as &[&str],
        &collections as &[&str],
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(newest(rows))
}

/// The newest guard row per URI: a URI has a live row or a tombstone; should it ever have both,
/// the newer rev decides.
fn newest(rows: Vec<GuardRow>) -> Vec<GuardRow> {
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
