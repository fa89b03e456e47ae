//! The `plyr-bench` command line. Each subcommand prints its figures as `key=value` pairs on
//! one line of stdout, for the benchmark scripts to read and people to see.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::Context as _;
use url::Url;

use crate::frames::read_frames;
use crate::keys::KeyFile;

/// Drives the indexer's firehose and backfill code with generated data, for benchmarks.
#[derive(Debug, clap::Parser)]
#[command(name = "plyr-bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Feeds a frames file (`plyr-gen firehose`) through the indexer's firehose FrameProcessor
    /// (decode, sync 1.1 verification with the keys file, filtering) on one thread and prints
    /// frames/s, events and drops.
    Firehose {
        /// The frames file.
        #[arg(long)]
        frames: PathBuf,
        /// The keys file written with it (DID -> did:key).
        #[arg(long)]
        keys: PathBuf,
        /// Passes over the file, each with a fresh verifier; the best one is printed.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Serves a `plyr-gen repos` directory as a PDS (listRepos, getRepo) and a PLC directory
    /// (DID documents) on loopback; prints `url=...` once listening, runs until SIGINT/SIGTERM.
    Pds {
        /// The directory of `<did>.car` files and `keys.json`.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Serves the DID documents of the viewers in `--dids` (one DID per line; keys derived from
    /// each DID) as a PLC directory; prints `url=...` once listening, runs until SIGINT/SIGTERM.
    ViewersPlc {
        #[arg(long)]
        dids: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Signed-in load on a running AppView: `--concurrency` clients cycle over the XRPC paths of
    /// `--paths` and the viewers of `--dids`, each request with a fresh service token (audience
    /// `--aud`, the path's method); prints `requests_per_sec p50_ms p99_ms ok_ratio` on one line.
    SignedLoad {
        #[arg(long)]
        base: String,
        #[arg(long)]
        paths: PathBuf,
        #[arg(long)]
        dids: PathBuf,
        #[arg(long)]
        aud: String,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 3.0)]
        warmup_secs: f64,
        #[arg(long, default_value_t = 15.0)]
        duration_secs: f64,
    },
    /// Fetches every repo of a keys file from a PDS with getRepo and verifies and decodes it
    /// with the indexer's backfill code, writing nothing; prints records/s.
    Snapshots {
        /// Base URL of the PDS.
        #[arg(long)]
        pds: Url,
        /// The keys file of the repos (`keys.json` of a `plyr-gen repos` directory).
        #[arg(long)]
        keys: PathBuf,
        /// Repos fetched at once (the backfill's default is 8).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Soaks a running AppView: `--clients` clients cycle over the request paths of `--paths`
    /// (one per line, e.g. `/xrpc/fm.plyr.feed.getTracks?uris=...`) for `--duration-secs`, while
    /// `--idle` idle connections are held open from 127.0.0.2-254 and the database's backends
    /// are terminated at `--terminate-at` seconds; prints a line per window and the totals.
    /// Holds `--count` idle connections to `--target` (sending nothing, reopened when closed),
    /// printing `held=N reopened=M` every 250 ms until stdin closes. `soak` starts these.
    HoldIdle {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long)]
        count: usize,
        /// Index of the first connection (which source address it uses).
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    Soak {
        /// The AppView's base URL.
        #[arg(long)]
        base: String,
        /// The request paths file.
        #[arg(long)]
        paths: PathBuf,
        #[arg(long, default_value_t = 256)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 600)]
        duration_secs: u64,
        #[arg(long, default_value_t = 20_000)]
        idle: usize,
        /// PostgreSQL admin URL used to terminate the AppView database's backends.
        #[arg(long)]
        admin_url: Option<String>,
        /// The AppView's database name.
        #[arg(long)]
        database: Option<String>,
        /// Offsets into the measured run, in seconds, at which backends are terminated.
        #[arg(long, value_delimiter = ',')]
        terminate_at: Vec<u64>,
        /// Seconds after a termination during which 5xx answers count as "database away".
        #[arg(long, default_value_t = 5)]
        outage_grace_secs: u64,
        /// The AppView's process id (for its RSS).
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 10)]
        window_secs: u64,
        /// Seconds at rest (no requests, no idle connections) before the starting and the final
        /// RSS readings.
        #[arg(long, default_value_t = 15)]
        settle_secs: u64,
    },
}

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Firehose { frames, keys, repeat } => firehose(&frames, &keys, repeat),
        Command::Pds { dir, listen } => pds(&dir, listen),
        Command::ViewersPlc { dids, listen } => viewers_plc(&dids, listen),
        Command::SignedLoad { base, paths, dids, aud, concurrency, warmup_secs, duration_secs } => {
            let (paths, dids) = (lines(&paths)?, lines(&dids)?);
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
            let f = runtime.block_on(super::signed::run(
                &base,
                paths,
                &dids,
                &aud,
                concurrency,
                Duration::from_secs_f64(warmup_secs),
                Duration::from_secs_f64(duration_secs),
            ))?;
            println!("{:.1} {:.3} {:.3} {:.4}", f.requests_per_sec, f.p50_ms, f.p99_ms, f.ok_ratio);
            Ok(())
        }
        Command::Snapshots { pds, keys, concurrency } => snapshots(&pds, &keys, concurrency),
        Command::HoldIdle { target, count, offset } => {
            current_thread()?.block_on(super::idle::hold(target, count, offset))
        }
        Command::Soak {
            base,
            paths,
            clients,
            warmup_secs,
            duration_secs,
            idle,
            admin_url,
            database,
            terminate_at,
            outage_grace_secs,
            pid,
            window_secs,
            settle_secs,
        } => {
            let paths = std::fs::read_to_string(&paths)
                .with_context(|| format!("reading {}", paths.display()))?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            soak(super::soak::SoakConfig {
                base: base.trim_end_matches('/').to_owned(),
                paths,
                clients,
                warmup: Duration::from_secs(warmup_secs),
                duration: Duration::from_secs(duration_secs),
                idle,
                terminate: admin_url.zip(database),
                terminate_at: terminate_at.into_iter().map(Duration::from_secs).collect(),
                outage_grace: Duration::from_secs(outage_grace_secs),
                pid,
                window: Duration::from_secs(window_secs.max(1)),
                settle: Duration::from_secs(settle_secs),
            })
        }
    }
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")
}

fn firehose(frames: &Path, keys: &Path, repeat: u32) -> anyhow::Result<()> {
    let file = std::fs::File::open(frames).with_context(|| format!("opening {}", frames.display()))?;
    let frames = read_frames(std::io::BufReader::new(file)).context("reading the frames")?;
    let keys = KeyFile::read(keys).context("reading the keys")?.static_keys();
    let runtime = current_thread()?;
    let mut best: Option<super::firehose::FirehoseRun> = None;
    for _ in 0..repeat.max(1) {
        let run = runtime.block_on(super::firehose::run(&frames, keys.clone()));
        if best.as_ref().is_none_or(|b| run.seconds < b.seconds) {
            best = Some(run);
        }
    }
    let run = best.context("no pass")?;
    let dropped: Vec<String> = run.dropped.iter().map(|(r, n)| format!("{r}:{n}")).collect();
    println!(
        "frames={} bytes={} seconds={:.3} frames_per_s={:.0} events={} plyr_ops={} dropped={} drop_reasons={}",
        run.frames,
        run.bytes,
        run.seconds,
        run.frames_per_second(),
        run.events,
        run.plyr_ops,
        run.drops(),
        if dropped.is_empty() { "-".to_owned() } else { dropped.join(",") }
    );
    Ok(())
}

fn pds(dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let server =
            super::pds::serve(dir, listen).await.with_context(|| format!("serving {}", dir.display()))?;
        println!("url={} repos={}", server.url, server.repos);
        let stop = server.stop.clone();
        tokio::spawn(plyr_store::process::cancel_on_signal(stop));
        server.task.await.context("server task")?.context("serving")?;
        Ok(())
    })
}

/// The non-empty lines of a file.
fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

fn viewers_plc(dids: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let dids = lines(dids)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let server = super::signed::serve_plc(&dids, listen).await.context("serving the viewers")?;
        println!("url={} viewers={}", server.url, dids.len());
        let stop = server.stop.clone();
        tokio::spawn(plyr_store::process::cancel_on_signal(stop));
        server.task.await.context("server task")?.context("serving")?;
        Ok(())
    })
}

fn snapshots(pds: &Url, keys: &Path, concurrency: usize) -> anyhow::Result<()> {
    let keys = KeyFile::read(keys).context("reading the keys")?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let run = runtime.block_on(super::snapshots::run(pds, &keys, concurrency)).context("fetching")?;
    println!(
        "repos={} records={} failed={} seconds={:.3} records_per_s={:.0}",
        run.repos,
        run.records,
        run.failed,
        run.seconds,
        run.records_per_second()
    );
    Ok(())
}

fn soak(config: super::soak::SoakConfig) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    let r = runtime.block_on(super::soak::run(config))?;
    println!(
        "requests={} ok={} client_errors={} server_errors_outside_outage={} server_errors_in_outage={} failed={} \
         rss_loaded_start_kib={} rss_start_kib={} rss_max_kib={} rss_run_end_kib={} rss_end_kib={} lazy_free_end_kib={} idle_held_min={} idle_reopened={}",
        r.requests,
        r.ok,
        r.client_errors,
        r.server_errors_outside_outage,
        r.server_errors_in_outage,
        r.failed,
        r.rss_loaded_start_kib,
        r.rss_start_kib,
        r.rss_max_kib,
        r.rss_run_end_kib,
        r.rss_end_kib,
        r.lazy_free_end_kib,
        r.idle_held_min,
        r.idle_reopened
    );
    Ok(())
}
