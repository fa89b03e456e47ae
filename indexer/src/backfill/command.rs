//! `indexer backfill`: which repos (explicit DIDs, discovery on a relay or PDS, the pending
//! queue), skipping those already done, then the backfill itself and an identity pass so the
//! new actors get their handles.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use plyr_atproto::identity::IdentityResolver;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::progress::Progress;
use super::{Backfiller, Summary, discover};
use crate::IndexerOptions;
use crate::db;

/// The relay asked when `--all` is given without `--relay` or `--pds`.
pub const DEFAULT_RELAY: &str = "https://relay1.us-east.bsky.network";

/// Most pending repos taken from the queue by `--all`.
const MAX_QUEUED: i64 = 10_000_000;

/// Which repos `indexer backfill` fetches.
#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Backfill these repos (repeat the flag or separate with commas).
    #[arg(long = "did", value_delimiter = ',', value_parser = plyr_atproto::settings::did)]
    pub dids: Vec<String>,

    /// Also backfill every repo the relay lists for an fm.plyr collection and every repo
    /// waiting in the pending queue (first seen live, desynchronized, behind a stream gap).
    #[arg(long)]
    pub all: bool,

    /// Discover repos with com.atproto.sync.listReposByCollection on this relay (with --all and
    /// no --relay or --pds: https://relay1.us-east.bsky.network).
    #[arg(long, env = "PLYR_BACKFILL_RELAY", value_parser = plyr_atproto::settings::http_url)]
    pub relay: Option<String>,

    /// Discover the active repos of these PDSes with com.atproto.sync.listRepos (for hosts that
    /// serve no listReposByCollection, such as a lone PDS).
    #[arg(long = "pds", value_delimiter = ',', value_parser = plyr_atproto::settings::http_url)]
    pub pds: Vec<String>,

    /// Backfill repos already done again (by default a restarted backfill skips them).
    #[arg(long)]
    pub force: bool,

    /// With --all, also retry repos marked failed.
    #[arg(long)]
    pub retry_failed: bool,

    #[command(flatten)]
    pub options: IndexerOptions,
}

/// Runs `indexer backfill` against `pool`.
pub async fn run(pool: PgPool, args: &BackfillArgs, shutdown: CancellationToken) -> anyhow::Result<Summary> {
    let options = &args.options;
    let writer = Arc::new(options.writer(pool.clone()).context("loading the lexicons")?);
    let resolver =
        IdentityResolver::new(options.identity_config()).context("building the identity resolver")?;
    let backfiller = Backfiller::new(writer, resolver.clone(), options.backfill_config())?;
    let dids = select(&pool, args, &backfiller).await?;
    anyhow::ensure!(
        !dids.is_empty() || args.all || !args.pds.is_empty() || args.relay.is_some(),
        "nothing to backfill: give --did, --relay, --pds or --all"
    );
    let (todo, skipped) = if args.force { (dids, 0) } else { skip_done(&pool, dids).await? };
    tracing::info!(repos = todo.len(), skipped_done = skipped, "backfill starting");
    let progress = Progress::new(todo.len(), true);
    let summary = backfiller.run(todo, &progress, &shutdown).await;
    progress.finish();
    if options.resolve_identities && !shutdown.is_cancelled() {
        let config = crate::identity::IdentityWorkerConfig::default();
        while crate::identity::round(&pool, &resolver, &config).await.context("resolving identities")? > 0 {}
    }
    if summary.records > 0 {
        crate::ranking::update_once(&pool, crate::ranking::Windows::Slide)
            .await
            .context("refreshing the top-track rankings")?;
    }
    tracing::info!(
        done = summary.done,
        failed = summary.failed,
        skipped_done = skipped,
        records_written = summary.records,
        snapshot_records = summary.snapshot_records,
        seconds = format!("{:.2}", summary.seconds),
        records_per_second = format!("{:.0}", summary.snapshot_records as f64 / summary.seconds.max(1e-9)),
        "backfill finished"
    );
    Ok(summary)
}

/// `dids` without the repos whose backfill is done (what makes a restarted backfill resume),
/// and how many were left out.
pub async fn skip_done(pool: &PgPool, dids: Vec<String>) -> anyhow::Result<(Vec<String>, usize)> {
    let done: std::collections::HashSet<String> =
        db::backfill::done_among(pool, &dids).await.context("reading backfill state")?.into_iter().collect();
    let todo: Vec<String> = dids.into_iter().filter(|d| !done.contains(d)).collect();
    Ok((todo, done.len()))
}

/// Explicit DIDs, then discovered ones, then (with `--all`) the queue; invalid DIDs are errors.
async fn select<L: super::RepoLocator>(
    pool: &PgPool,
    args: &BackfillArgs,
    backfiller: &Backfiller<L>,
) -> anyhow::Result<Vec<String>> {
    let mut dids = Vec::new();
    for did in &args.dids {
        anyhow::ensure!(discover::valid_did(did), "--did {did:?} is not a DID");
        dids.push(did.clone());
    }
    let max_json = backfiller.config().max_json_bytes;
    let relay = match (&args.relay, args.all && args.pds.is_empty()) {
        (Some(relay), _) => Some(relay.as_str()),
        (None, true) => Some(DEFAULT_RELAY),
        (None, false) => None,
    };
    if let Some(relay) = relay {
        let url = Url::parse(relay).with_context(|| format!("invalid relay URL {relay:?}"))?;
        let found = discover::by_collection(backfiller.fetcher(), &url, super::plyr_collections(), max_json)
            .await
            .with_context(|| format!("listing repos on {}", url.host_str().unwrap_or_default()))?;
        tracing::info!(repos = found.len(), relay = url.host_str().unwrap_or_default(), "repos discovered");
        dids.extend(found);
    }
    for pds in &args.pds {
        let url = Url::parse(pds).with_context(|| format!("invalid PDS URL {pds:?}"))?;
        let found = discover::pds_repos(backfiller.fetcher(), &url, max_json)
            .await
            .with_context(|| format!("listing repos on {}", url.host_str().unwrap_or_default()))?;
        tracing::info!(repos = found.len(), pds = url.host_str().unwrap_or_default(), "repos discovered");
        dids.extend(found);
    }
    if args.all {
        dids.extend(
            db::backfill::pending(pool, args.retry_failed, MAX_QUEUED).await.context("reading the queue")?,
        );
    }
    let mut seen = std::collections::HashSet::new();
    dids.retain(|d| seen.insert(d.clone()));
    Ok(dids)
}

/// Starts the background worker of `indexer run` (when `--auto-backfill` is on).
pub fn spawn_worker(
    writer: Arc<crate::write::Writer>,
    options: &IndexerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !options.backfill.auto_backfill {
        return Ok(None);
    }
    let resolver =
        IdentityResolver::new(options.identity_config()).context("building the identity resolver")?;
    let backfiller = Backfiller::new(writer, resolver, options.backfill_config())?;
    Ok(Some(tokio::spawn(async move { backfiller.run_queue(Default::default(), shutdown).await })))
}
