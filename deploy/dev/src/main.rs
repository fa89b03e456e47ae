//! `plyr`: the whole service on one machine with nothing configured.
//!
//! It finds a database (`DATABASE_URL`, else 127.0.0.1:5432, else a private cluster under
//! `--data-dir`), applies the schema, starts the indexer (live from Jetstream, or `--replay FILE`)
//! and serves the AppView, all in one process, until Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use plyr_appview::{AppState, AppviewOptions};
use tokio_util::sync::CancellationToken;

/// Run the plyr indexer and AppView together, with sane defaults.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// PostgreSQL URL. Without it: 127.0.0.1:5432 if a server answers, else a private cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Folder for the private PostgreSQL cluster (created on first use).
    #[arg(long, env = "PLYR_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Ingest this file of Jetstream v1 JSON lines instead of connecting to Jetstream (works
    /// offline; `deploy/sample/jetstream.jsonl` is a bundled sample).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,

    #[command(flatten)]
    appview: AppviewOptions,

    #[command(flatten)]
    indexer: plyr_indexer::IndexerOptions,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    plyr_store::process::init();
    let mut args = Args::parse();
    // One process: the labelers it follows are the ones it applies, whichever flag named them.
    let mut labelers = args.indexer.labelers.clone();
    labelers.extend(args.appview.labelers.iter().filter(|d| !args.indexer.labelers.contains(d)).cloned());
    args.indexer.labelers = labelers.clone();
    args.appview.labelers = labelers;

    let located = plyr_store::locate(args.database_url.as_deref(), &args.data_dir, "plyr")
        .await
        .context("finding or starting PostgreSQL")?;
    tracing::info!(database = %located.description, "using database");
    args.appview.check().map_err(anyhow::Error::msg)?;
    {
        // Migrations run without the read pool's statement timeout.
        let admin = plyr_store::connect(&located.url, 2).await.context("connecting")?;
        plyr_store::migrate(&admin).await.context("applying migrations")?;
        admin.close().await;
    }
    let pool = plyr_appview::db::connect(&located.url, &args.appview).await.context("connecting")?;

    let shutdown = CancellationToken::new();
    tokio::spawn(plyr_store::process::cancel_on_signal(shutdown.clone()));
    let indexer_pool =
        plyr_store::connect(&located.url, args.indexer.db_connections).await.context("connecting")?;
    let indexer = {
        let (options, stop) = (args.indexer.clone(), shutdown.clone());
        match args.replay.clone() {
            Some(file) => tokio::spawn(async move {
                // The sample is applied once; the AppView keeps serving it afterwards.
                plyr_indexer::cli::replay_file(indexer_pool, &options, &file, false, stop).await
            }),
            None => {
                tokio::spawn(async move { plyr_indexer::cli::run_live(indexer_pool, &options, stop).await })
            }
        }
    };
    let served = plyr_appview::serve(AppState::new(pool, args.appview), shutdown.clone()).await;
    shutdown.cancel();
    match indexer.await {
        Ok(Err(err)) => tracing::error!(error = %format!("{err:#}"), "indexer stopped with an error"),
        Err(err) => tracing::error!(%err, "indexer task failed"),
        Ok(Ok(())) => {}
    }

    if let Some(cluster) = &located.cluster
        && let Err(err) = cluster.stop().await
    {
        tracing::warn!(%err, "could not stop the private PostgreSQL cluster");
    }
    served.context("serving HTTP")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Args::command().debug_assert();
    }
}
