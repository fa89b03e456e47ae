//! Keeping actors' identities fresh: a background worker resolves every actor whose identity is
//! unknown (new, or invalidated by an `#identity` event) or stale, verifies the handle both ways,
//! and stores handle, PDS endpoint and signing key. A handle that does not verify is stored as
//! invalid (`handle_verified = false`); a DID that does not resolve is retried later. Actors
//! whose handle or PDS changed are announced on the change channel, as the write path announces
//! records, so AppViews drop what they cached of them.

use std::time::Duration;

use futures_util::StreamExt;
use plyr_atproto::identity::{Identity, IdentityResolver};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::write::failure::Failure;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct IdentityWorkerConfig {
    /// Re-resolve identities older than this.
    pub refresh_after: Duration,
    /// After a failed resolution, wait this long before trying the DID again.
    pub retry_after: Duration,
    /// Actors resolved per round.
    pub batch: i64,
    /// Resolutions in flight at once.
    pub concurrency: usize,
    /// Pause between rounds that found nothing to do.
    pub idle: Duration,
}

impl Default for IdentityWorkerConfig {
    fn default() -> Self {
        Self {
            refresh_after: Duration::from_secs(24 * 3600),
            retry_after: Duration::from_secs(3600),
            batch: 64,
            concurrency: 8,
            idle: Duration::from_secs(5),
        }
    }
}

/// Runs until `shutdown`.
pub async fn run(
    pool: PgPool,
    resolver: IdentityResolver,
    config: IdentityWorkerConfig,
    shutdown: CancellationToken,
) {
    loop {
        let done = match round(&pool, &resolver, &config).await {
            Ok(n) => n,
            // The write path reports outages (once each); here they only postpone the round.
            Err(err) if crate::write::failure::of_sqlx(&err) == Failure::Transient => {
                tracing::debug!(%err, "identity round failed: database unavailable");
                0
            }
            Err(err) => {
                tracing::warn!(%err, "identity round failed");
                0
            }
        };
        if done == 0 {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(config.idle) => {}
            }
        } else if shutdown.is_cancelled() {
            return;
        }
    }
}

/// Resolves one batch of actors; returns how many were processed.
pub async fn round(
    pool: &PgPool,
    resolver: &IdentityResolver,
    config: &IdentityWorkerConfig,
) -> sqlx::Result<usize> {
    let refresh = i64::try_from(config.refresh_after.as_secs()).unwrap_or(i64::MAX);
    let retry = i64::try_from(config.retry_after.as_secs()).unwrap_or(i64::MAX);
    let dids = db::actors::needing_identity(pool, refresh, retry, config.batch).await?;
    let count = dids.len();
    let mut touched = plyr_store::changes::Touched::default();
    let results: Vec<(String, Result<Identity, String>)> = futures_util::stream::iter(dids)
        .map(|did| async move {
            resolver.invalidate(&did).await;
            let result = resolver.verify(&did).await.map_err(|e| e.to_string());
            (did, result)
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    for (did, result) in results {
        match result {
            Ok(id) => {
                metrics::counter!("indexer_identity_total", "outcome" => if id.handle_verified { "verified" } else { "unverified" })
                    .increment(1);
                let key = id.signing_key.as_ref().map(|k| k.to_multikey());
                let changed = db::actors::store_identity(
                    pool,
                    &did,
                    id.handle.as_deref(),
                    id.handle_verified,
                    id.pds_endpoint.as_deref(),
                    key.as_deref(),
                )
                .await?;
                if changed {
                    touched.did(&did);
                }
            }
            Err(err) => {
                metrics::counter!("indexer_identity_total", "outcome" => "failed").increment(1);
                tracing::debug!(%did, %err, "identity resolution failed; will retry");
                db::actors::identity_failed(pool, &did).await?;
            }
        }
    }
    plyr_store::changes::announce(pool, &touched).await?;
    Ok(count)
}
