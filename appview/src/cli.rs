//! The `appview` command line: `serve` and `migrate`.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::{AppState, AppviewOptions};

/// The plyr AppView: XRPC and plyr.fm-compatible reads over the indexed database.
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
    /// Serve HTTP until SIGINT/SIGTERM.
    Serve(Box<AppviewOptions>),
    /// Apply pending schema migrations and exit (waiting up to 60 s for the database to be
    /// reachable, as when it starts beside this command).
    Migrate,
}

/// How long `migrate` waits for an unreachable database before giving up.
pub const MIGRATE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    use anyhow::Context;
    let url = cli.database_url.context("DATABASE_URL (or --database-url) is required")?;
    match cli.command {
        Command::Migrate => {
            // Often the first thing a container stack runs: give the database time to start.
            let pool = plyr_store::connect_patiently(&url, 2, MIGRATE_PATIENCE)
                .await
                .context("connecting to the database")?;
            plyr_store::migrate(&pool).await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Serve(options) => {
            options.check().map_err(anyhow::Error::msg)?;
            let shutdown = CancellationToken::new();
            tokio::spawn(plyr_store::process::cancel_on_signal(shutdown.clone()));
            let state = match options.read_database_url.clone() {
                Some(read_url) => {
                    let read = crate::db::connect(&read_url, &options)
                        .await
                        .context("connecting to the read replica")?;
                    // Notifications and WAL positions only: two connections.
                    let primary = plyr_store::connect(&url, 2).await.context("connecting to the primary")?;
                    tracing::info!("reading from the replica; change notifications from the primary");
                    AppState::with_replica(read, primary, *options)
                }
                None => {
                    let pool =
                        crate::db::connect(&url, &options).await.context("connecting to the database")?;
                    AppState::new(pool, *options)
                }
            };
            crate::serve(state, shutdown).await.context("serving HTTP")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// A mistyped URL, origin or DID stops `serve` at startup, naming the flag and the value.
    #[test]
    fn bad_urls_origins_and_dids_are_refused_when_parsed() {
        use clap::Parser;
        let serve = |flag: &str, value: &str| super::Cli::try_parse_from(["appview", "serve", flag, value]);
        assert!(serve("--service-did", "did:web:api.plyr.fm").is_ok());
        for (flag, value) in [
            ("--public-url", "api.plyr.fm"),
            ("--service-did", "api.plyr.fm"),
            ("--appview-plc-url", "ftp://plc.example"),
            ("--avatar-cdn", "cdn.example/img"),
            ("--cors-origins", "https://plyr.fm/app"),
            ("--frontend-url", "plyr.fm"),
        ] {
            let err = serve(flag, value).expect_err(flag).to_string();
            assert!(err.contains(flag) && err.contains(value), "{flag}: {err}");
        }
    }
}
