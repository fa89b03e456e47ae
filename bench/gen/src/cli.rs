//! The `plyr-gen` command line: parsed once with clap, then one subcommand per output format.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chrono::DateTime;

use crate::params::{DEFAULT_END_US, NetworkParams};
use crate::write_jetstream;

/// Generates a deterministic, plausible plyr.fm network for replay, tests and benchmarks.
#[derive(Debug, clap::Parser)]
#[command(name = "plyr-gen", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Writes the network as a Jetstream v1 JSON-lines stream (one event per line, oldest
    /// first), for `indexer replay`; prints a summary to stderr.
    Jetstream(JetstreamArgs),
}

#[derive(Debug, clap::Args)]
pub struct JetstreamArgs {
    /// Number of events (lines) to generate.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Seed of every random choice: same seed and options, same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Accounts that publish tracks [default: events / 200].
    #[arg(long)]
    pub artists: Option<usize>,
    /// Accounts that mostly like and comment [default: events / 40].
    #[arg(long)]
    pub listeners: Option<usize>,
    /// End of the period, RFC 3339 [default: 2026-01-01T00:00:00Z].
    #[arg(long, value_parser = parse_end)]
    pub end: Option<i64>,
    /// Length of the period in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Output file [default: stdout].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// RFC 3339 to µs since the Unix epoch.
fn parse_end(text: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_micros()).map_err(|e| format!("not RFC 3339: {e}"))
}

impl JetstreamArgs {
    /// The network these options describe.
    pub fn params(&self) -> NetworkParams {
        let defaults = NetworkParams::new(self.seed, self.events);
        NetworkParams {
            artists: self.artists.unwrap_or(defaults.artists),
            listeners: self.listeners.unwrap_or(defaults.listeners),
            end_us: self.end.unwrap_or(DEFAULT_END_US),
            span_us: i64::from(self.days) * 86_400 * 1_000_000,
            ..defaults
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Jetstream(args) => jetstream(&args),
    }
}

fn jetstream(args: &JetstreamArgs) -> anyhow::Result<()> {
    let params = args.params();
    let started = Instant::now();
    let summary = match &args.out {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
            write_jetstream(&params, BufWriter::with_capacity(1 << 20, file))
                .with_context(|| format!("writing {}", path.display()))?
        }
        None => write_jetstream(&params, BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
            .context("writing to stdout")?,
    };
    let elapsed = started.elapsed();
    let mut err = std::io::stderr().lock();
    writeln!(err, "{summary}")?;
    writeln!(
        err,
        "seed {}, {} artists, {} listeners: {} events in {:.2?}",
        params.seed, params.artists, params.listeners, summary.events, elapsed
    )?;
    Ok(())
}
