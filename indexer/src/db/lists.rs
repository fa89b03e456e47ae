//! Lists and their ordered items.

use chrono::{DateTime, Utc};

use super::{Meta, Tx};

/// A `lists` row with its items.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: String,
    pub name: Option<String>,
    pub list_type: Option<String>,
    /// (subject uri, subject cid) in list order.
    pub items: Vec<(String, String)>,
    /// When each item's subject first appeared in the list (parallel to `items`); filled in by
    /// the fold, which sees every version of the list.
    pub added_at: Vec<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub sort_at: DateTime<Utc>,
}

/// `(uri, did, list_type)` of the lists among `uris` that exist now.
pub async fn types(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<(String, String, Option<String>)>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query!("SELECT uri, did, list_type FROM lists WHERE uri = ANY($1)", uris)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.uri, r.did, r.list_type)).collect())
}

/// One stored list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub list_uri: String,
    pub position: i32,
    pub subject_uri: String,
    pub subject_cid: String,
    pub added_at: DateTime<Utc>,
}

/// The current items of the lists `uris`, in list and position order.
pub async fn items(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<StoredItem>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as!(
        StoredItem,
        r#"SELECT list_uri, position, subject_uri, subject_cid, added_at FROM list_items
           WHERE list_uri = ANY($1) ORDER BY list_uri, position"#,
        uris
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn upsert(tx: &mut Tx<'_>, rows: &[(&Meta, &ListRow)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&Meta, &ListRow) -> String| rows.iter().map(|(m, r)| f(m, r)).collect::<Vec<_>>();
    let opt = |f: fn(&ListRow) -> Option<String>| rows.iter().map(|(_, r)| f(r)).collect::<Vec<_>>();
    let time =
        |f: fn(&Meta, &ListRow) -> DateTime<Utc>| rows.iter().map(|(m, r)| f(m, r)).collect::<Vec<_>>();
    let count: Vec<i32> =
        rows.iter().map(|(_, r)| i32::try_from(r.items.len()).unwrap_or(i32::MAX)).collect();
    let updated: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, r)| r.updated_at).collect();
    sqlx::query!(
        r#"INSERT INTO lists (uri, id, cid, rev, did, rkey, name, list_type, item_count, created_at, updated_at,
                              indexed_at, sort_at)
           SELECT uri, id::uuid, cid, rev, did, rkey, name, list_type, item_count, created_at, updated_at,
                  indexed_at, sort_at
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::int[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
                       $13::timestamptz[])
             AS u(uri, id, cid, rev, did, rkey, name, list_type, item_count, created_at, updated_at, indexed_at,
                  sort_at)
           ON CONFLICT (uri) DO UPDATE SET
             cid = EXCLUDED.cid, rev = EXCLUDED.rev, name = EXCLUDED.name, list_type = EXCLUDED.list_type,
             item_count = EXCLUDED.item_count, created_at = EXCLUDED.created_at,
             updated_at = EXCLUDED.updated_at, indexed_at = EXCLUDED.indexed_at, sort_at = EXCLUDED.sort_at"#,
        &text(|m, _| m.uri.to_string()),
        &text(|_, r| r.id.clone()),
        &text(|m, _| m.cid.as_deref().unwrap_or_default().to_owned()),
        &text(|m, _| m.rev.clone()),
        &text(|m, _| m.did.to_string()),
        &text(|m, _| m.rkey.clone()),
        &opt(|r| r.name.clone()) as &[Option<String>],
        &opt(|r| r.list_type.clone()) as &[Option<String>],
        &count,
        &time(|_, r| r.created_at),
        &updated as &[Option<DateTime<Utc>>],
        &time(|m, _| m.indexed_at),
        &time(|_, r| r.sort_at),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Item rows to write, as parallel columns.
#[derive(Debug, Default)]
pub struct ItemWrites {
    pub list_uri: Vec<String>,
    pub position: Vec<i32>,
    pub subject_uri: Vec<String>,
    pub subject_cid: Vec<String>,
    pub added_at: Vec<DateTime<Utc>>,
}

/// Replaces the items of each list in `lists` from position `keep` on (the items before it are
/// unchanged) with `items`.
pub async fn replace_items(
    tx: &mut Tx<'_>,
    lists: &[String],
    keep: &[i32],
    items: &ItemWrites,
) -> sqlx::Result<()> {
    if lists.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        // `l.list_uri = ANY($1)` gives the planner the primary key's list prefix to probe,
        // rather than joining the array against every item.
        r#"DELETE FROM list_items l USING UNNEST($1::text[], $2::int[]) AS u(uri, keep)
           WHERE l.list_uri = ANY($1) AND l.list_uri = u.uri AND l.position >= u.keep"#,
        lists,
        keep
    )
    .execute(&mut **tx)
    .await?;
    if items.list_uri.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO list_items (list_uri, position, subject_uri, subject_cid, added_at)
           SELECT * FROM UNNEST($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[])"#,
        &items.list_uri,
        &items.position,
        &items.subject_uri,
        &items.subject_cid,
        &items.added_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes lists and their items (items carry no foreign key: they go with their list here).
pub async fn delete(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM list_items WHERE list_uri = ANY($1)", uris).execute(&mut **tx).await?;
        sqlx::query!("DELETE FROM lists WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes every list of an account with its items (a list's URI starts with its repo's).
pub async fn purge(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM list_items WHERE list_uri >= $1 AND list_uri < $2",
        super::backfill::repo_start(did),
        super::backfill::repo_end(did)
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!("DELETE FROM lists WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}
