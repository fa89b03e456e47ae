//! The `indexer` command line.

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::IndexerOptions;

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
    /// Apply pending schema migrations and exit.
    Migrate,
    /// Show the options `run` accepts.
    Config(IndexerOptions),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = cli.database_url.context("DATABASE_URL (or --database-url) is required")?;
    match cli.command {
        Command::Migrate => {
            let pool = plyr_store::connect(&url, 2).await.context("connecting to the database")?;
            plyr_store::migrate(&pool).await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Config(options) => println!("{options:#?}"),
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
}
