//! Keeping actors' identities fresh: a background worker resolves every actor whose identity is
//! unknown (new, or invalidated by an `#identity` event) or stale, verifies the handle both ways,
//! and stores handle, PDS endpoint and signing key. A handle that does not verify is stored as
//! invalid (`handle_verified = false`); a DID that does not resolve is retried later. Actors
//! whose handle or PDS changed are announced on the change channel, as the write path announces
//! records, so AppViews drop what they cached of them.
//!
//! A replay of a local file can also trust the handles its `#identity` events announce
//! ([`resolve_or_trust`], `--trust-stream-handles`): its DIDs usually resolve nowhere, and
//! without that every artist of the offline demo would read `handle.invalid`.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use plyr_atproto::identity::{Identity, IdentityConfig, IdentityResolver};
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
                if store_resolved(pool, &did, &id).await? {
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

/// Stores what resolving `did` found, and counts it; true when what views show changed.
async fn store_resolved(pool: &PgPool, did: &str, id: &Identity) -> sqlx::Result<bool> {
    let outcome = if id.handle_verified { "verified" } else { "unverified" };
    metrics::counter!("indexer_identity_total", "outcome" => outcome).increment(1);
    let key = id.signing_key.as_ref().map(|k| k.to_multikey());
    db::actors::store_identity(
        pool,
        did,
        id.handle.as_deref(),
        id.handle_verified,
        id.pds_endpoint.as_deref(),
        key.as_deref(),
    )
    .await
}

/// The handles a stream's `#identity` events announced: the newest per DID.
#[derive(Debug, Default)]
pub struct ClaimedHandles(HashMap<String, (i64, String)>);

impl ClaimedHandles {
    /// Notes that `did` announced `handle` at `time_us` (a handle that is not one is ignored).
    pub fn claim(&mut self, did: &str, handle: &str, time_us: i64) {
        if !plyr_atproto::syntax::is_valid_handle(handle) {
            return;
        }
        let newest = self.0.get(did).is_none_or(|(at, _)| time_us >= *at);
        if newest {
            self.0.insert(did.to_owned(), (time_us, handle.to_ascii_lowercase()));
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What [`resolve_or_trust`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrustReport {
    /// Identities the network answered for (stored as the worker stores them).
    pub resolved: usize,
    /// Claims whose DID did not resolve: their handle is stored, as if verified, for the
    /// accounts that are indexed (a claim by any other DID changes nothing).
    pub trusted: usize,
}

/// For each claimed handle: the account's identity as the network has it when its DID resolves;
/// when it does not, the claimed handle, stored as verified although it is not, and counted
/// (`indexer_identity_total{outcome="trusted"}`). Only accounts already indexed are touched.
/// For local replays only (`--trust-stream-handles`): whoever wrote the file chose the handles.
pub async fn resolve_or_trust(
    pool: &PgPool,
    config: IdentityConfig,
    claims: ClaimedHandles,
) -> sqlx::Result<TrustReport> {
    let resolver = IdentityResolver::new(config)
        .map_err(|e| tracing::warn!(error = %e, "no identity resolver: every claimed handle is trusted"))
        .ok();
    let results: Vec<(String, String, Option<Identity>)> = futures_util::stream::iter(claims.0)
        .map(|(did, (_, handle))| {
            let resolver = resolver.clone();
            async move {
                let id = match resolver {
                    Some(r) => r.verify(&did).await.ok(),
                    None => None,
                };
                (did, handle, id)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut report = TrustReport::default();
    let mut touched = plyr_store::changes::Touched::default();
    for (did, handle, id) in results {
        let changed = match id {
            Some(id) => {
                report.resolved += 1;
                store_resolved(pool, &did, &id).await?
            }
            None => {
                report.trusted += 1;
                metrics::counter!("indexer_identity_total", "outcome" => "trusted").increment(1);
                db::actors::store_identity(pool, &did, Some(&handle), true, None, None).await?
            }
        };
        if changed {
            touched.did(&did);
        }
    }
    plyr_store::changes::announce(pool, &touched).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::ClaimedHandles;

    #[test]
    fn the_newest_valid_claim_of_each_did_is_kept() {
        let mut c = ClaimedHandles::default();
        c.claim("did:plc:a", "Old.Test", 1);
        c.claim("did:plc:a", "new.test", 3);
        c.claim("did:plc:a", "older.test", 2);
        c.claim("did:plc:a", "not a handle", 4);
        c.claim("did:plc:b", "b.test", 1);
        assert_eq!(c.len(), 2);
        assert_eq!(c.0["did:plc:a"], (3, "new.test".to_owned()));
        c.claim("did:plc:b", "B2.Test", 1);
        assert_eq!(c.0["did:plc:b"].1, "b2.test", "an equal time: the later line wins, lower-cased");
    }
}
