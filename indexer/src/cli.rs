//! The `indexer` command line (`run`, `replay`, `backfill`, `rank`, `label`, `migrate`) and the entry points `plyr`
//! shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::IndexerOptions;
use crate::firehose::{self, FirehoseConfig, SyncVerifier, VerifierConfig};
use crate::jetstream::{self, JetstreamConfig};
use crate::pipeline::{self, BatchConfig};
use crate::write::Writer;

/// The plyr indexer: ingest fm.plyr records from the network into PostgreSQL.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// PostgreSQL URL of the indexed database.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow Jetstream (or, with --firehose, the raw firehose) live, resuming from the stored
    /// cursors, until SIGINT/SIGTERM.
    Run(IndexerOptions),
    /// Apply a file of Jetstream v1 JSON lines through the same path, then exit.
    Replay {
        /// The file: one Jetstream v1 event (JSON) per line.
        file: PathBuf,
        /// Start from the first line even if an earlier replay of this file stored a position.
        #[arg(long)]
        restart: bool,
        #[command(flatten)]
        options: IndexerOptions,
    },
    /// Fetch whole repos from their PDSes (getRepo or listRecords) and apply them through the
    /// same write path, then exit: explicit DIDs, repos discovered on a relay or PDS, and with
    /// --all the pending queue. Repos already done are skipped, so a stopped backfill resumes.
    Backfill(crate::backfill::command::BackfillArgs),
    /// Recompute the top-track rankings once and exit (`run` keeps them fresh on its own; this
    /// is for a database written by other means, such as a restore or a bulk load).
    Rank,
    /// Apply pending schema migrations and exit (waiting up to 60 s for the database to be
    /// reachable, as when it starts beside this command).
    Migrate,
    /// The service's own labels: apply or negate one (an operator takedown: `--val
    /// '!takedown'`), applied by every AppView within a second, or list the audit trail.
    Label(crate::labeler::own::LabelArgs),
}

/// How long `run` and `replay` wait for a pooled connection before counting the database as
/// away: short, so an outage is noticed (and `/health` answers) within seconds and the write
/// path's own backoff sets the pace of reconnecting.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long `migrate` waits for an unreachable database before giving up.
pub const MIGRATE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = cli.database_url.context("DATABASE_URL (or --database-url) is required")?;
    let shutdown = CancellationToken::new();
    tokio::spawn(plyr_store::process::cancel_on_signal(shutdown.clone()));
    match cli.command {
        Command::Migrate => {
            // Often the first thing a container stack runs: give the database time to start.
            let pool = plyr_store::connect_patiently(&url, 2, MIGRATE_PATIENCE)
                .await
                .context("connecting to the database")?;
            plyr_store::migrate(&pool).await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Label(args) => {
            let pool = plyr_store::connect(&url, 2).await.context("connecting to the database")?;
            crate::labeler::own::run(&pool, args).await?;
        }
        Command::Rank => {
            let pool = plyr_store::connect(&url, 2).await.context("connecting to the database")?;
            crate::ranking::update_once(&pool, crate::ranking::Windows::Rebuild)
                .await
                .context("refreshing the top-track rankings")?;
        }
        Command::Run(options) => {
            let pool = plyr_store::connect_lazy(&url, options.db_connections, ACQUIRE_TIMEOUT)
                .context("connecting to the database")?;
            run_live(pool, &options, shutdown).await?;
        }
        Command::Replay { file, restart, options } => {
            let pool = plyr_store::connect_lazy(&url, options.db_connections, ACQUIRE_TIMEOUT)
                .context("connecting to the database")?;
            replay_file(pool, &options, &file, restart, shutdown).await?;
        }
        Command::Backfill(args) => {
            let pool = plyr_store::connect(&url, args.options.db_connections)
                .await
                .context("connecting to the database")?;
            crate::backfill::command::run(pool, &args, shutdown).await?;
        }
    }
    Ok(())
}

fn writer(pool: PgPool, options: &IndexerOptions) -> anyhow::Result<Arc<Writer>> {
    Ok(Arc::new(options.writer(pool).context("loading the lexicons")?))
}

fn batch_config(options: &IndexerOptions) -> BatchConfig {
    BatchConfig {
        max_events: options.batch_size.max(1),
        partitions: options.write_partitions,
        ..BatchConfig::default()
    }
}

/// Follows Jetstream (or, with `--firehose`, the raw firehose) into the database until
/// `shutdown`, serving metrics and health if configured. Writes only while holding the writer
/// lock ([`crate::leader`]): until then, and again if the lock's session is lost, it waits as a
/// hot standby.
pub async fn run_live(
    pool: PgPool,
    options: &IndexerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    crate::telemetry::install_recorder();
    if let Some(addr) = options.metrics_listen.0 {
        let (db, stop) = (pool.clone(), shutdown.clone());
        let ready = crate::telemetry::Readiness {
            max_lag: std::time::Duration::from_secs(options.ready_max_lag_secs),
        };
        tokio::spawn(async move {
            if let Err(err) = crate::telemetry::serve(addr, db, ready, stop).await {
                tracing::error!(%err, "metrics endpoint failed");
            }
        });
    }
    let poll = std::time::Duration::from_millis(options.leader_poll_ms);
    loop {
        let Some(lease) = crate::leader::acquire(&pool, poll, &shutdown).await else {
            tracing::info!("indexer stopped while waiting for the writer lock");
            return Ok(());
        };
        let (work, done) = (shutdown.child_token(), CancellationToken::new());
        let held = tokio::spawn(lease.hold(work.clone(), done.clone()));
        let led = lead(pool.clone(), options, work).await;
        done.cancel();
        let lost = held.await.unwrap_or(true);
        led?;
        if shutdown.is_cancelled() || !lost {
            return Ok(());
        }
    }
}

/// The writer's work until `shutdown`: the source, the pipeline, the ranker, identity
/// resolution, labelers and background backfill (all of it only ever in the lock holder).
async fn lead(pool: PgPool, options: &IndexerOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    if options.resolve_identities {
        let resolver = plyr_atproto::identity::IdentityResolver::new(options.identity_config())
            .context("building the identity resolver")?;
        let (db, stop) = (pool.clone(), shutdown.clone());
        tokio::spawn(crate::identity::run(db, resolver, Default::default(), stop));
    }
    tokio::spawn(crate::ranking::run(pool.clone(), options.ranker_config(), shutdown.clone()));
    if !options.labelers.is_empty() {
        let resolver = plyr_atproto::identity::IdentityResolver::new(options.identity_config())
            .context("building the identity resolver")?;
        let labelers = crate::labeler::run(
            pool.clone(),
            Arc::new(resolver),
            options.labelers.clone(),
            Default::default(),
            shutdown.clone(),
        );
        tokio::spawn(labelers);
    }
    let writer = writer(pool.clone(), options)?;
    let backfill = crate::backfill::command::spawn_worker(Arc::clone(&writer), options, shutdown.clone())?;
    if backfill.is_some() && options.backfill.discover {
        let relay = Url::parse(&options.backfill.discovery_relay).context("--discovery-relay")?;
        let discovery =
            crate::backfill::discovery::run(pool.clone(), options.backfill_config(), relay, shutdown.clone());
        tokio::spawn(discovery);
    }
    let (tx, rx) = pipeline::channel();
    let source = if options.firehose.is_empty() {
        jetstream_source(&writer, options, tx, shutdown.clone()).await?
    } else {
        firehose_source(&writer, options, tx, shutdown.clone()).await?
    };
    let totals = pipeline::run(writer, rx, batch_config(options), shutdown.clone()).await;
    shutdown.cancel();
    if let Some(Err(err)) = match backfill {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(%err, "backfill worker failed");
    }
    match source.await {
        Ok(Err(err)) => tracing::error!(%err, "source stopped"),
        Err(err) => tracing::error!(%err, "source task failed"),
        Ok(Ok(())) => {}
    }
    let totals = totals.context("applying events")?;
    tracing::info!(events = totals.events, applied = totals.applied, "indexer stopped");
    Ok(())
}

type SourceTask = tokio::task::JoinHandle<anyhow::Result<()>>;

/// Parses the configured upstream URLs of one kind of source, naming the bad one.
fn parse_urls(urls: &[String], kind: &str) -> anyhow::Result<Vec<Url>> {
    urls.iter().map(|u| Url::parse(u).with_context(|| format!("invalid {kind} URL {u:?}"))).collect()
}

/// Starts the Jetstream client, resuming from its stored cursor.
async fn jetstream_source(
    writer: &Writer,
    options: &IndexerOptions,
    tx: tokio::sync::mpsc::Sender<crate::event::SourceItem>,
    shutdown: CancellationToken,
) -> anyhow::Result<SourceTask> {
    let urls = parse_urls(&options.jetstreams, "Jetstream")?;
    let config = JetstreamConfig {
        max_record_bytes: options.max_record_bytes,
        ..JetstreamConfig::new(urls, options.protocol)
    };
    config.validate()?;
    let resume =
        writer.stored_cursor(jetstream::message::SOURCE, &shutdown).await.context("loading the cursor")?;
    match &resume {
        Some(c) => {
            tracing::info!(cursor = c.value, time_us = c.time_us, "resuming Jetstream from the stored cursor")
        }
        None => tracing::info!("no stored Jetstream cursor: starting live"),
    }
    Ok(tokio::spawn(async move { Ok(jetstream::run(config, resume, tx, shutdown).await?) }))
}

/// Starts one firehose client per `--firehose` host, each resuming after its stored seq, with
/// signing keys from the identity resolver.
async fn firehose_source(
    writer: &Writer,
    options: &IndexerOptions,
    tx: tokio::sync::mpsc::Sender<crate::event::SourceItem>,
    shutdown: CancellationToken,
) -> anyhow::Result<SourceTask> {
    let urls = parse_urls(&options.firehose, "firehose")?;
    let config = FirehoseConfig::new(urls);
    config.validate()?;
    let mut resume = HashMap::new();
    for base in &config.urls {
        let source = firehose::config::source_name(base);
        match writer.stored_cursor(&source, &shutdown).await.context("loading a firehose cursor")? {
            Some(c) => {
                tracing::info!(%source, seq = c.value, "resuming the firehose after the stored seq");
                resume.insert(source, c);
            }
            None => tracing::info!(%source, "no stored firehose cursor: starting live"),
        }
    }
    let keys = plyr_atproto::identity::IdentityResolver::new(options.identity_config())
        .context("building the identity resolver")?;
    let verifier_config = VerifierConfig {
        legacy_commits: options.firehose_legacy_commits,
        max_record_bytes: options.max_record_bytes,
        ..VerifierConfig::default()
    };
    let verifier = Arc::new(SyncVerifier::new(keys, verifier_config));
    Ok(tokio::spawn(async move { Ok(firehose::run(config, verifier, resume, tx, shutdown).await?) }))
}

/// Replays `file` into the database and logs what it did.
pub async fn replay_file(
    pool: PgPool,
    options: &IndexerOptions,
    file: &std::path::Path,
    restart: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let writer = writer(pool, options)?;
    let db = writer.pool().clone();
    let summary = crate::replay::replay(writer, file, restart, batch_config(options), shutdown)
        .await
        .with_context(|| format!("replaying {}", file.display()))?;
    let secs = started.elapsed().as_secs_f64();
    crate::ranking::update_once(&db, crate::ranking::Windows::Slide)
        .await
        .context("refreshing the top-track rankings")?;
    tracing::info!(
        file = %file.display(),
        lines = summary.lines,
        events = summary.totals.events,
        applied = summary.totals.applied,
        stale = summary.totals.stale,
        dropped = summary.totals.dropped,
        skipped = summary.totals.skipped + summary.skipped_lines,
        bad_lines = summary.bad_lines,
        seconds = format!("{secs:.2}"),
        events_per_second = format!("{:.0}", summary.totals.events as f64 / secs.max(1e-9)),
        "replay finished"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn is_send<T: Send>(_: &T) {}

    /// `run_live` is spawned onto a multi-threaded runtime (by `plyr`, by tests): it must stay
    /// `Send` through the writer lock's waits (a compile-time check).
    #[allow(dead_code)]
    fn the_writer_loop_can_be_spawned(
        pool: sqlx::PgPool,
        options: &crate::IndexerOptions,
        token: tokio_util::sync::CancellationToken,
    ) {
        is_send(&super::run_live(pool, options, token));
    }

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// A mistyped URL, origin or DID stops the indexer at startup, naming the flag and the value.
    #[test]
    fn bad_urls_origins_and_dids_are_refused_when_parsed() {
        use clap::Parser;
        let parse = |args: &[&str]| super::Cli::try_parse_from([&["indexer"], args].concat());
        assert!(parse(&["run", "--firehose", "wss://bsky.network"]).is_ok());
        for args in [
            ["run", "--jetstream", "https://jetstream.example"],
            ["run", "--firehose", "bsky.network"],
            ["run", "--trusted-audio-origin", "https://audio.plyr.fm/files"],
            ["run", "--plc-url", "plc.directory"],
            ["run", "--handle-pds", "ws://pds.example"],
            ["run", "--labeler", "mod.example"],
            ["backfill", "--did", "alice.example"],
            ["backfill", "--relay", "relay.example"],
            ["backfill", "--pds", "ftp://pds.example"],
        ] {
            let err = parse(&args).expect_err(args[1]).to_string();
            assert!(err.contains(args[1]) && err.contains(args[2]), "{args:?}: {err}");
        }
    }
}
