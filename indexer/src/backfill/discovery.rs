//! A fresh install indexes the whole existing network: while no discovery has completed,
//! `indexer run` asks the relay (`--discovery-relay`) for every repo with `fm.plyr.*` records
//! (`listReposByCollection`, paged, waiting out 429s) and queues them for the background
//! backfill, which works through the queue while the stream is followed live and the AppView
//! serves. A completed discovery is recorded, so a restart does not ask again; an interrupted
//! one is asked again from the start (queueing is idempotent), and the queue itself survives
//! restarts. Progress: the log, `/metrics` (`indexer_discovery_repos`, `indexer_backfill_queue`)
//! and the indexer's `/health`.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::http::Fetcher;
use super::{BackfillConfig, discover};
use crate::backoff::Backoff;
use crate::db::discoveries;

/// Repos the completed discovery found.
pub const REPOS: &str = "indexer_discovery_repos";
/// Repos waiting for their backfill.
pub const PENDING: &str = "indexer_backfill_queue";

/// How often the queue's progress is logged and measured while repos wait.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Discovers the network on `relay` unless a discovery has completed, then reports the
/// backfill queue's progress until it is empty or `shutdown`.
pub async fn run(pool: PgPool, config: BackfillConfig, relay: Url, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    loop {
        match discover_once(&pool, &config, &relay).await {
            Ok(()) => break,
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(relay = %relay, error, delay_s = delay.as_secs(), "network discovery failed; trying again");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    report_progress(&pool, &shutdown).await;
}

/// One attempt: nothing when a discovery has completed, else list and queue every repo.
async fn discover_once(pool: &PgPool, config: &BackfillConfig, relay: &Url) -> Result<(), String> {
    if let Some(done) = discoveries::completed(pool).await.map_err(|e| e.to_string())? {
        tracing::info!(relay = %done.relay, repos = done.repos, "the network was discovered before; following live");
        metrics::gauge!(REPOS).set(f64::from(done.repos));
        return Ok(());
    }
    let shown = relay.host_str().unwrap_or_default().to_owned();
    tracing::info!(relay = %shown, "fresh database: discovering every repo with fm.plyr records");
    discoveries::start(pool, relay.as_str()).await.map_err(|e| e.to_string())?;
    let fetcher = Fetcher::new(config).map_err(|e| e.to_string())?;
    let dids = discover::by_collection(&fetcher, relay, super::plyr_collections(), config.max_json_bytes)
        .await
        .map_err(|e| e.to_string())?;
    let queued = discoveries::finish(pool, relay.as_str(), &dids).await.map_err(|e| e.to_string())?;
    metrics::gauge!(REPOS).set(dids.len() as f64);
    tracing::info!(relay = %shown, repos = dids.len(), queued, "network discovered; backfilling in the background");
    Ok(())
}

/// Logs and measures the backfill queue until it is empty.
async fn report_progress(pool: &PgPool, shutdown: &CancellationToken) {
    loop {
        match discoveries::pending_repos(pool).await {
            Ok(n) => {
                metrics::gauge!(PENDING).set(n as f64);
                if n == 0 {
                    return;
                }
                tracing::info!(pending = n, "backfill of discovered repos in progress");
            }
            Err(error) => tracing::debug!(%error, "reading the backfill queue failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PROGRESS_EVERY) => {}
        }
    }
}
