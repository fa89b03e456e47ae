//! Backfill state per repo (`repos`): which repos wait for a backfill, marking them done (in the
//! transaction of their last records) or failed, and the records the database holds for a repo
//! (what a snapshot is compared with).

use sqlx::PgPool;

use super::Tx;

/// Marks `did`'s repo backfilled at `rev`. Runs inside the write path's transaction, so the mark
/// and the repo's last records commit together.
pub async fn mark_done(tx: &mut Tx<'_>, did: &str, rev: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO repos (did, backfill, backfill_rev, reason, updated_at)
           VALUES ($1, 'done', $2, 'manual', now())
           ON CONFLICT (did) DO UPDATE
             SET backfill = 'done', backfill_rev = EXCLUDED.backfill_rev, last_error = NULL,
                 updated_at = now()"#,
        did,
        rev,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The state of one repo: `(backfill, backfill_rev)`, if it has a row.
pub async fn state(pool: &PgPool, did: &str) -> sqlx::Result<Option<(String, Option<String>)>> {
    let row = sqlx::query!("SELECT backfill, backfill_rev FROM repos WHERE did = $1", did)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.backfill, r.backfill_rev)))
}

/// DIDs among `dids` whose backfill is done (a restarted backfill skips them).
pub async fn done_among(pool: &PgPool, dids: &[String]) -> sqlx::Result<Vec<String>> {
    if dids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!("SELECT did FROM repos WHERE did = ANY($1) AND backfill = 'done'", dids)
        .fetch_all(pool)
        .await
}

/// Up to `limit` repos waiting for a backfill, longest-waiting first; with `failed`, repos that
/// gave up are included again.
pub async fn pending(pool: &PgPool, failed: bool, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT did FROM repos
           WHERE backfill = 'pending' OR ($1 AND backfill = 'failed')
           ORDER BY updated_at, did
           LIMIT $2"#,
        failed,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Queues the repos of actors that have no backfill state yet (first seen live: their older
/// records are missing). Deleted accounts are left out. Returns how many were queued.
pub async fn queue_new(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"INSERT INTO repos (did, backfill, reason, updated_at)
           SELECT a.did, 'pending', 'new', now() FROM actors a
           WHERE a.status <> 'deleted' AND NOT EXISTS (SELECT 1 FROM repos r WHERE r.did = a.did)
           ON CONFLICT (did) DO NOTHING"#,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Records a failed attempt; with `give_up` the repo is marked failed (no longer pending).
pub async fn record_failure(pool: &PgPool, did: &str, error: &str, give_up: bool) -> sqlx::Result<()> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query!(
        r#"INSERT INTO repos (did, backfill, reason, attempts, last_error, updated_at)
           VALUES ($1, CASE WHEN $3 THEN 'failed' ELSE 'pending' END, 'manual', 1, $2, now())
           ON CONFLICT (did) DO UPDATE
             SET attempts = repos.attempts + 1, last_error = EXCLUDED.last_error,
                 backfill = CASE WHEN $3 THEN 'failed' ELSE repos.backfill END, updated_at = now()"#,
        did,
        error,
        give_up,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What the database holds for one record of a repo.
#[derive(Debug, Clone)]
pub struct HeldRecord {
    pub collection: String,
    pub rkey: String,
    /// CID of the indexed version; `None` on a tombstone.
    pub cid: Option<String>,
    pub rev: String,
}

/// Every live record the database holds for `did`, with the CID of its indexed version.
pub async fn held_records(pool: &PgPool, did: &str) -> sqlx::Result<Vec<HeldRecord>> {
    sqlx::query_as!(
        HeldRecord,
        r#"SELECT collection AS "collection!", rkey AS "rkey!", cid AS "cid?", rev AS "rev!"
             FROM live_records WHERE did = $1"#,
        did
    )
    .fetch_all(pool)
    .await
}

/// The first AT-URI of `did`'s repo (URI columns compare bytewise: migrations 0007 and 0008).
pub fn repo_start(did: &str) -> String {
    format!("at://{did}/")
}

/// The first AT-URI past `did`'s repo: '0' is the byte after '/', and DIDs hold no '/'.
pub fn repo_end(did: &str) -> String {
    format!("at://{did}0")
}
