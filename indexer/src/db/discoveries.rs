//! Discovery of the existing network on a fresh install (`crate::backfill::discovery`): its
//! record per relay, and the queueing of the repos it found.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// One relay's discovery.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub relay: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub repos: i32,
}

/// Any completed discovery (from whichever relay).
pub async fn completed(pool: &PgPool) -> sqlx::Result<Option<Discovery>> {
    sqlx::query_as!(
        Discovery,
        "SELECT relay, started_at, completed_at, repos FROM discoveries
          WHERE completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT 1"
    )
    .fetch_optional(pool)
    .await
}

/// The newest discovery, finished or not (for `/health`).
pub async fn latest(pool: &PgPool) -> sqlx::Result<Option<Discovery>> {
    sqlx::query_as!(
        Discovery,
        "SELECT relay, started_at, completed_at, repos FROM discoveries ORDER BY started_at DESC LIMIT 1"
    )
    .fetch_optional(pool)
    .await
}

/// Records that discovery on `relay` began (again, after an interrupted attempt).
pub async fn start(pool: &PgPool, relay: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO discoveries (relay, started_at) VALUES ($1, now())
         ON CONFLICT (relay) DO UPDATE SET started_at = now(), completed_at = NULL, repos = 0",
        relay
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Queues the repos found (those with no backfill state yet; a done repo is not redone) and
/// marks the discovery complete, in one transaction. Returns how many were newly queued.
pub async fn finish(pool: &PgPool, relay: &str, dids: &[String]) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let queued = sqlx::query!(
        "INSERT INTO repos (did, backfill, reason, updated_at)
         SELECT did, 'pending', 'discovered', now() FROM UNNEST($1::text[]) AS d(did)
         ON CONFLICT (did) DO NOTHING",
        dids
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE discoveries SET completed_at = now(), repos = $2 WHERE relay = $1",
        relay,
        i32::try_from(dids.len()).unwrap_or(i32::MAX)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// Repos still waiting for their backfill.
pub async fn pending_repos(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM repos WHERE backfill = 'pending'"#)
        .fetch_one(pool)
        .await
}
