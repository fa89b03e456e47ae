//! `plyr`: the whole service on one machine with nothing configured.
//!
//! It finds a database (`DATABASE_URL`, else 127.0.0.1:5432, else a private cluster under
//! `--data-dir`), applies the schema, starts the indexer (live from Jetstream, or `--replay FILE`)
//! and serves the AppView, all in one process, until Ctrl-C. Once the AppView listens (and the
//! replay, if any, is applied) it prints the URL to open on stdout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
    /// offline; `deploy/sample/jetstream.jsonl` is a bundled sample). Implies
    /// --trust-stream-handles: the file's handles are shown where its DIDs do not resolve.
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
    // A replayed file's DIDs resolve nowhere (the bundled sample's are made up): show the
    // handles it announces rather than `handle.invalid` (logged as a warning by the replay).
    if args.replay.is_some() {
        args.indexer.trust_stream_handles = true;
    }

    args.appview.check().map_err(anyhow::Error::msg)?;
    // Bound before PostgreSQL is found or started, so a port in use stops nothing half-started.
    let listen = args.appview.listen;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let bound = listener.local_addr().context("reading the listening address")?;

    let located = plyr_store::locate(args.database_url.as_deref(), &args.data_dir, "plyr")
        .await
        .context("finding or starting PostgreSQL")?;
    tracing::info!(database = %located.description, "using database");
    {
        // Migrations run without the read pool's statement timeout.
        let admin = plyr_store::connect(&located.url, 2).await.context("connecting")?;
        plyr_store::migrate(&admin).await.context("applying migrations")?;
        admin.close().await;
    }
    let pool = plyr_appview::db::connect(&located.url, &args.appview).await.context("connecting")?;

    let shutdown = CancellationToken::new();
    tokio::spawn(plyr_store::process::cancel_on_signal(shutdown.clone()));
    let state = match args.appview.read_database_url.clone() {
        Some(read_url) => {
            let read = plyr_appview::db::connect(&read_url, &args.appview)
                .await
                .context("connecting to the replica")?;
            AppState::with_replica(read, pool, args.appview)
        }
        None => AppState::new(pool, args.appview),
    };
    tracing::info!(addr = %bound, did = state.auth.service_did(), "AppView listening");
    let ready = format!("plyr is ready: open {}", open_url(bound));
    let indexer_pool =
        plyr_store::connect(&located.url, args.indexer.db_connections).await.context("connecting")?;
    let indexer = async {
        let indexed = match &args.replay {
            Some(file) => {
                // The sample is applied once; the AppView keeps serving it afterwards.
                let replayed = plyr_indexer::cli::replay_file(
                    indexer_pool,
                    &args.indexer,
                    file,
                    false,
                    shutdown.clone(),
                )
                .await;
                if replayed.is_ok() && !shutdown.is_cancelled() {
                    say(&ready);
                }
                replayed
            }
            None => {
                say(&ready);
                plyr_indexer::cli::run_live(indexer_pool, &args.indexer, shutdown.clone()).await
            }
        };
        // The AppView keeps serving what was indexed; the error is told when it happens.
        if let Err(err) = indexed {
            tracing::error!(error = %format!("{err:#}"), "indexer stopped with an error");
        }
    };
    let server = async {
        plyr_appview::serve_on(listener, state, shutdown.clone()).await;
        shutdown.cancel();
    };
    // Both run in this task (what they start runs on the runtime's threads), so neither future
    // has to be `Send`.
    tokio::join!(server, indexer);

    if let Some(cluster) = &located.cluster
        && let Err(err) = cluster.stop().await
    {
        tracing::warn!(%err, "could not stop the private PostgreSQL cluster");
    }
    Ok(())
}

/// The URL a person on this machine opens: an unspecified listening address (`0.0.0.0`, `::`)
/// is reached through loopback.
fn open_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, bound.port()))
}

/// The one line meant for the person who started `plyr` rather than for the log: plain, on
/// stdout, where a script can wait for it too.
fn say(line: &str) {
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Args::command().debug_assert();
    }

    #[test]
    fn the_url_to_open_reaches_unspecified_addresses_through_loopback() {
        let cases = [
            ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
            ("0.0.0.0:8080", "http://127.0.0.1:8080/"),
            ("[::]:9000", "http://[::1]:9000/"),
            ("192.168.1.20:80", "http://192.168.1.20:80/"),
        ];
        for (bound, url) in cases {
            assert_eq!(super::open_url(bound.parse().expect("addr")), url, "{bound}");
        }
    }
}
