//! The ordering guard: the newest rev applied per record URI.
//!
//! A live record's rev is on its own row (`tracks.rev`, `likes.rev`, …); a record whose newest
//! applied op removed it (a delete, an invalid version, a purged account) leaves a tombstone in
//! `records` with that rev (migration 0009). Creating a record writes no guard row of its own,
//! which halves the rows a like costs; bringing a tombstoned record back removes its tombstone.

use std::collections::HashMap;

use super::Tx;
use crate::write::rows;

/// What the guard knows about one record.
#[derive(Debug, Clone)]
pub struct GuardRow {
    pub uri: String,
    pub rev: String,
    /// True when the newest applied op removed the record (a tombstone).
    pub deleted: bool,
}

/// The guard rows for `uris`, each with its collection (missing ones were never seen). A live
/// row is looked up only in its collection's table; tombstones are looked up for every URI.
pub async fn fetch(tx: &mut Tx<'_>, uris: &[(&str, &str)]) -> sqlx::Result<Vec<GuardRow>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let of = |collection: &str| -> Vec<&str> {
        uris.iter().filter(|(c, _)| *c == collection).map(|(_, u)| *u).collect()
    };
    let all: Vec<&str> = uris.iter().map(|(_, u)| *u).collect();
    // Joins against the arrays probe each primary key once per URI (see `actors::statuses` for
    // why not `= ANY`). Tombstones are few, so a plain join there made the planner hash the whole
    // `records` table on every call (half of this query's time at the end of a 200,000-event
    // replay, and growing with the table); the lateral probe costs one index lookup per URI.
    let rows = sqlx::query_as!(
        GuardRow,
        r#"SELECT r.uri AS "uri!", r.rev AS "rev!", r.deleted AS "deleted!"
             FROM UNNEST($1::text[]) AS u(uri)
             CROSS JOIN LATERAL (SELECT uri, rev, deleted FROM records WHERE records.uri = u.uri) r
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($2::text[]) AS u(uri) JOIN likes x ON x.uri = u.uri
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($3::text[]) AS u(uri) JOIN tracks x ON x.uri = u.uri
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($4::text[]) AS u(uri) JOIN comments x ON x.uri = u.uri
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($5::text[]) AS u(uri) JOIN lists x ON x.uri = u.uri
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($6::text[]) AS u(uri)
                       JOIN plyr_profiles x ON x.uri = u.uri
           UNION ALL SELECT x.uri, x.rev, FALSE FROM UNNEST($7::text[]) AS u(uri)
                       JOIN bsky_profiles x ON x.uri = u.uri"#,
        &all as &[&str],
        &of(rows::LIKE) as &[&str],
        &of(rows::TRACK) as &[&str],
        &of(rows::COMMENT) as &[&str],
        &of(rows::LIST) as &[&str],
        &of(rows::PLYR_PROFILE) as &[&str],
        &of(rows::BSKY_PROFILE) as &[&str],
    )
    .fetch_all(&mut **tx)
    .await?;
    // A URI has a live row or a tombstone; should it ever have both, the newer rev decides.
    let mut newest: HashMap<String, GuardRow> = HashMap::with_capacity(rows.len());
    for row in rows {
        match newest.get(&row.uri) {
            Some(have) if have.rev >= row.rev => {}
            _ => {
                newest.insert(row.uri.clone(), row);
            }
        }
    }
    Ok(newest.into_values().collect())
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
