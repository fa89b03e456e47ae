//! The `plyr-gen` command line: parsed once with clap, then one subcommand per output format.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chrono::DateTime;

use crate::firehose::FirehoseParams;
use crate::load::encode::thousands;
use crate::load::{LoadOptions, LoadParams};
use crate::params::{DEFAULT_END_US, NetworkParams};
use crate::repos::ReposParams;
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
    /// Writes a file of signed sync 1.1 firehose messages (#commit with CAR slices from real
    /// MSTs, a few #identity and #account), each prefixed by its length (4 bytes, big-endian),
    /// and a keys file; prints a summary to stderr.
    Firehose(FirehoseArgs),
    /// Writes one repository CAR per account (`<did>.car`: signed commit, full MST, fm.plyr
    /// and other apps' records) and `keys.json` into a directory; prints a summary to stderr.
    Repos(ReposArgs),
    /// Fills a freshly migrated database with a large network as the indexer would have
    /// indexed it (COPY, indexes rebuilt afterwards), for AppView benchmarks; prints the load
    /// time per phase to stderr.
    Load(LoadArgs),
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// PostgreSQL URL of the target database (migrated here if needed; must hold no rows).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Tracks to publish.
    #[arg(long, default_value_t = 1_000_000)]
    pub tracks: u64,
    /// Likes, each a distinct (account, track) pair.
    #[arg(long, default_value_t = 10_000_000)]
    pub likes: u64,
    /// Accounts that publish tracks.
    #[arg(long, default_value_t = 100_000)]
    pub artists: u64,
    /// Accounts that only like, comment and make playlists [default: 4 per artist].
    #[arg(long)]
    pub listeners: Option<u64>,
    /// Timed comments [default: one per 20 likes].
    #[arg(long)]
    pub comments: Option<u64>,
    /// Playlists [default: one per artist].
    #[arg(long)]
    pub playlists: Option<u64>,
    /// Seed of every random choice: same seed, options and end, same rows.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// End of the period, RFC 3339 [default: now, so `period=week` rankings have data].
    #[arg(long, value_parser = parse_end)]
    pub end: Option<i64>,
    /// Length of the period in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Connections that rebuild indexes and vacuum in parallel.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// `maintenance_work_mem` of those connections.
    #[arg(long, default_value = "1GB")]
    pub maintenance_work_mem: String,
}

impl LoadArgs {
    /// The dataset these options describe.
    pub fn params(&self) -> LoadParams {
        let end_us = self.end.unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
        let defaults = LoadParams::new(self.seed, self.tracks, self.likes, self.artists, end_us);
        LoadParams {
            listeners: self.listeners.unwrap_or(defaults.listeners),
            comments: self.comments.unwrap_or(defaults.comments),
            playlists: self.playlists.unwrap_or(defaults.playlists),
            span_us: i64::from(self.days) * 86_400 * 1_000_000,
            ..defaults
        }
    }
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

#[derive(Debug, clap::Args)]
pub struct FirehoseArgs {
    /// The frames file to write.
    #[arg(long, short)]
    pub out: PathBuf,
    /// The keys file to write: a JSON object of DID -> did:key of its signing key.
    #[arg(long)]
    pub keys: PathBuf,
    /// Number of messages.
    #[arg(long, default_value_t = 200_000)]
    pub frames: usize,
    /// Share of messages from the plyr network (fm.plyr commits, their profiles, identity and
    /// account events); the rest are other apps' commits (posts, likes, follows, reposts).
    #[arg(long, default_value_t = 0.1)]
    pub plyr_share: f64,
    /// Accounts that only use other apps [default: frames / 20].
    #[arg(long)]
    pub other_repos: Option<usize>,
    /// Average number of records each repo holds before the stream starts (not sent; they
    /// give the MST proofs a lived-in depth).
    #[arg(long, default_value_t = 40)]
    pub preload: u64,
    /// Seed of every random choice: same seed and options, same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, clap::Args)]
pub struct ReposArgs {
    /// The directory to write `<did>.car` files and `keys.json` into (created if needed).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Accounts of the generated plyr network; deleted and deactivated ones get no repo.
    #[arg(long, default_value_t = 2_000)]
    pub repos: usize,
    /// Average number of other apps' records (posts, likes, follows, reposts) per repo, on top
    /// of its fm.plyr records (about 30 per account on average, power-law distributed).
    #[arg(long, default_value_t = 100)]
    pub records_per_repo: u64,
    /// Seed of every random choice: same seed and options, same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
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
        Command::Firehose(args) => firehose(&args),
        Command::Repos(args) => repos(&args),
        Command::Load(args) => load(&args),
    }
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")
}

fn firehose(args: &FirehoseArgs) -> anyhow::Result<()> {
    let defaults = FirehoseParams::new(args.seed, args.frames);
    let params = FirehoseParams {
        plyr_share: args.plyr_share,
        other_repos: args.other_repos.unwrap_or(defaults.other_repos),
        preload: args.preload,
        ..defaults
    };
    let started = Instant::now();
    let file = File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let (summary, keys) = current_thread()?
        .block_on(crate::firehose::generate(&params, &mut out))
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.flush().with_context(|| format!("writing {}", args.out.display()))?;
    keys.write(&args.keys).with_context(|| format!("writing {}", args.keys.display()))?;
    let mut err = std::io::stderr().lock();
    writeln!(err, "{summary}")?;
    writeln!(err, "seed {}: {} messages in {:.2?}", params.seed, summary.frames, started.elapsed())?;
    Ok(())
}

fn repos(args: &ReposArgs) -> anyhow::Result<()> {
    let params =
        ReposParams { other_records: args.records_per_repo, ..ReposParams::new(args.seed, args.repos) };
    let started = Instant::now();
    let summary = current_thread()?
        .block_on(crate::repos::generate(&params, &args.out))
        .with_context(|| format!("writing repos into {}", args.out.display()))?;
    let mut err = std::io::stderr().lock();
    writeln!(err, "{summary}")?;
    writeln!(err, "seed {}: {} repos in {:.2?}", params.seed, summary.repos, started.elapsed())?;
    Ok(())
}

fn load(args: &LoadArgs) -> anyhow::Result<()> {
    let params = args.params();
    let options = LoadOptions { jobs: args.jobs, work_mem: args.maintenance_work_mem.clone(), vacuum: true };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let report = runtime
        .block_on(crate::load::load(&args.database_url, &params, &options))
        .context("loading the dataset")?;
    let mut err = std::io::stderr().lock();
    let c = &report.counts;
    writeln!(
        err,
        "dataset (seed {}): {} artists + {} listeners; {} tracks, {} likes, {} comments, {} lists ({} items), {} + {} profiles",
        params.seed,
        thousands(params.artists),
        thousands(params.listeners),
        thousands(c.tracks),
        thousands(c.likes),
        thousands(c.comments),
        thousands(c.lists),
        thousands(c.list_items),
        thousands(c.plyr_profiles),
        thousands(c.bsky_profiles),
    )?;
    let rows: Vec<String> = report.rows.iter().map(|(t, n)| format!("{t} {}", thousands(*n))).collect();
    writeln!(err, "rows: {}", rows.join(", "))?;
    for (name, took) in report.index_builds.iter().take(8) {
        writeln!(err, "  index {name}: {:.1} s", took.as_secs_f64())?;
    }
    writeln!(
        err,
        "load: generate + COPY {:.1} s ({:.0} MiB), indexes {:.1} s, vacuum analyze {:.1} s, total {:.1} s",
        report.copy_time.as_secs_f64(),
        report.copy_bytes as f64 / (1024.0 * 1024.0),
        report.index_time.as_secs_f64(),
        report.vacuum_time.as_secs_f64(),
        report.total().as_secs_f64(),
    )?;
    Ok(())
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
