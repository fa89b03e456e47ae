//! The AppView soak (`bench/soak.sh`): many clients cycling over a list of distinct request
//! paths for a long time, while thousands of idle TCP connections are held open from other
//! loopback addresses and the database's backends are terminated at set times. It reports, per
//! window, requests by status class and the AppView's RSS, and at the end whether any 5xx fell
//! outside the short windows in which the database was away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::idle::Holders;

/// What one soak run does.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The AppView's base URL (`http://127.0.0.1:PORT`).
    pub base: String,
    /// Request paths (with query), each one request; cycled in order.
    pub paths: Vec<String>,
    /// Concurrent clients sending requests back to back.
    pub clients: usize,
    /// Load before the measured run, without idle connections, after which the starting RSS
    /// is read: at least this long, and until every path was requested once (the caches fill
    /// first).
    pub warmup: Duration,
    /// The measured run.
    pub duration: Duration,
    /// Idle connections held open during the measured run (reopened when the server closes
    /// them), from 127.0.0.2 to 127.0.0.254.
    pub idle: usize,
    /// PostgreSQL admin URL and the database whose backends are terminated at `terminate_at`
    /// (offsets into the measured run).
    pub terminate: Option<(String, String)>,
    pub terminate_at: Vec<Duration>,
    /// How long after a termination 5xx answers are counted as "database away".
    pub outage_grace: Duration,
    /// The AppView's process id, for its RSS.
    pub pid: u32,
    /// Length of a reporting window.
    pub window: Duration,
    /// Rest (no requests, no idle connections) before the first and last RSS readings.
    pub settle: Duration,
}

/// Requests by outcome in one window.
#[derive(Debug, Default)]
struct Window {
    ok: AtomicU64,
    client_error: AtomicU64,
    server_error: AtomicU64,
    server_error_in_outage: AtomicU64,
    failed: AtomicU64,
    latency_us: AtomicU64,
}

/// The whole run's outcome.
#[derive(Debug, Default)]
pub struct SoakReport {
    pub requests: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors_outside_outage: u64,
    pub server_errors_in_outage: u64,
    pub failed: u64,
    /// Under load, after the warm-up.
    pub rss_loaded_start_kib: u64,
    /// At rest after the warm-up, and at rest after the run with the idle connections closed.
    pub rss_start_kib: u64,
    pub rss_max_kib: u64,
    pub rss_run_end_kib: u64,
    pub rss_end_kib: u64,
    pub lazy_free_end_kib: u64,
    pub idle_held_min: usize,
    pub idle_reopened: u64,
}

/// A `Key:   123 kB` field of a `/proc/<pid>/` file, in KiB.
fn proc_kib(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// The AppView's resident set size in KiB.
fn rss_kib(pid: u32) -> u64 {
    proc_kib(pid, "status", "VmRSS:")
}

/// Of the RSS, what the allocator gave back with `MADV_FREE`: still counted as resident until
/// the kernel needs the pages, but no longer the process's.
fn lazy_free_kib(pid: u32) -> u64 {
    proc_kib(pid, "smaps_rollup", "LazyFree:")
}

struct Shared {
    config: SoakConfig,
    client: reqwest::Client,
    next: AtomicUsize,
    /// The clock everything is measured on; the measured run starts `run_start_ns` after it.
    base: Instant,
    run_start_ns: AtomicU64,
    /// Whether requests are counted (false during the warm-up).
    counting: AtomicBool,
    windows: Vec<Window>,
    outages: std::sync::Mutex<Vec<Instant>>,
    stop_load: AtomicBool,
    /// Clients wait while set (the quiet RSS readings).
    paused: AtomicBool,
}

impl Shared {
    fn in_outage(&self, at: Instant) -> bool {
        let grace = self.config.outage_grace;
        self.outages.lock().map(|o| o.iter().any(|t| at >= *t && at <= *t + grace)).unwrap_or(false)
    }

    fn run_start(&self) -> Instant {
        self.base + Duration::from_nanos(self.run_start_ns.load(Ordering::Relaxed))
    }

    fn window(&self, at: Instant) -> Option<&Window> {
        let i =
            at.saturating_duration_since(self.run_start()).as_nanos() / self.config.window.as_nanos().max(1);
        self.windows.get(usize::try_from(i).ok()?)
    }
}

async fn client_loop(shared: Arc<Shared>) {
    while !shared.stop_load.load(Ordering::Relaxed) {
        if shared.paused.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed) % shared.config.paths.len();
        let url = format!("{}{}", shared.config.base, shared.config.paths[i]);
        let sent = Instant::now();
        let outcome = match shared.client.get(&url).send().await {
            Ok(res) => {
                let status = res.status();
                let _ = res.bytes().await;
                Some(status)
            }
            Err(_) => None,
        };
        if !shared.counting.load(Ordering::Relaxed) {
            continue;
        }
        let done = Instant::now();
        let Some(w) = shared.window(sent) else { continue };
        w.latency_us
            .fetch_add(u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        match outcome {
            Some(s) if s.is_server_error() => {
                // Only a 503 says "the database is away"; a 500 is a bug even then.
                if s.as_u16() == 503 && (shared.in_outage(sent) || shared.in_outage(done)) {
                    w.server_error_in_outage.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("5xx other than a 503 during an outage: {} {url}", s.as_u16());
                    w.server_error.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(s) if s.is_client_error() => {
                eprintln!("4xx on a well-formed request: {} {url}", s.as_u16());
                w.client_error.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {
                w.ok.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                w.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn terminate_backends(admin: &str, database: &str) -> anyhow::Result<u64> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin).await.context("connecting as admin")?;
    let rows: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .fetch_all(&mut conn)
    .await
    .context("terminating backends")?;
    Ok(u64::try_from(rows.len()).unwrap_or(0))
}

/// Runs the soak, printing a line per window, and returns the totals.
pub async fn run(config: SoakConfig) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(!config.paths.is_empty(), "no request paths");
    let target: std::net::SocketAddr = url::Url::parse(&config.base)?
        .socket_addrs(|| Some(80))?
        .into_iter()
        .next()
        .context("the base URL names no address")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let windows =
        usize::try_from(config.duration.as_secs() / config.window.as_secs().max(1) + 2).unwrap_or(64);
    let shared = Arc::new(Shared {
        config: config.clone(),
        client,
        next: AtomicUsize::new(0),
        base: Instant::now(),
        run_start_ns: AtomicU64::new(0),
        counting: AtomicBool::new(false),
        windows: (0..windows).map(|_| Window::default()).collect(),
        outages: std::sync::Mutex::new(Vec::new()),
        stop_load: AtomicBool::new(false),
        paused: AtomicBool::new(false),
    });

    // Warm-up: the load runs uncounted while the caches fill; then the starting RSS is read.
    let load: Vec<_> = (0..config.clients).map(|_| tokio::spawn(client_loop(Arc::clone(&shared)))).collect();
    // At least `warmup`, and until every path was requested once: the caches then hold what
    // the run will ask for, and the starting RSS includes them.
    let warming = Instant::now();
    while warming.elapsed() < config.warmup || shared.next.load(Ordering::Relaxed) < config.paths.len() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut report = SoakReport { rss_loaded_start_kib: rss_kib(config.pid), ..SoakReport::default() };
    // The starting level: the AppView at rest with its caches warm (the in-flight work of 256
    // requests comes and goes with the load and is read separately, per window).
    shared.paused.store(true, Ordering::Relaxed);
    tokio::time::sleep(config.settle).await;
    report.rss_start_kib = rss_kib(config.pid);
    shared.paused.store(false, Ordering::Relaxed);
    println!(
        "phase=warm rss_kib={} rss_at_rest_kib={} after_s={}",
        report.rss_loaded_start_kib,
        report.rss_start_kib,
        warming.elapsed().as_secs()
    );

    // The idle connections, then the measured run.
    let idle = Holders::spawn(target, config.idle)?;
    let opening = Instant::now();
    while idle.held() < config.idle && opening.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("phase=idle held={} after_ms={}", idle.held(), opening.elapsed().as_millis());

    let started = Instant::now();
    shared
        .run_start_ns
        .store(u64::try_from((started - shared.base).as_nanos()).unwrap_or(0), Ordering::Relaxed);
    shared.counting.store(true, Ordering::Relaxed);
    let mut terminations = config.terminate_at.clone();
    terminations.sort();
    let mut next_term = terminations.into_iter().peekable();
    let mut printed = 0usize;
    report.idle_held_min = usize::MAX;
    report.rss_max_kib = report.rss_start_kib;
    while started.elapsed() < config.duration {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let elapsed = started.elapsed();
        let rss = rss_kib(config.pid);
        let held = idle.held();
        report.rss_max_kib = report.rss_max_kib.max(rss);
        report.idle_held_min = report.idle_held_min.min(held);
        if let (Some(at), Some((admin, db))) = (next_term.peek(), &config.terminate)
            && elapsed >= *at
        {
            if let Ok(mut o) = shared.outages.lock() {
                o.push(Instant::now());
            }
            let killed = terminate_backends(admin, db).await?;
            println!("event=terminate at_s={} backends={killed}", elapsed.as_secs());
            next_term.next();
        }
        let current = usize::try_from(elapsed.as_nanos() / config.window.as_nanos().max(1)).unwrap_or(0);
        if printed < current.min(shared.windows.len()) {
            let memory = memory_figures(&shared.client, &config.base).await;
            while printed < current.min(shared.windows.len()) {
                print_window(&shared.windows[printed], printed, &config, rss, held, &memory);
                printed += 1;
            }
        }
    }
    // The run is over: the load stops and the idle connections close; the last reading is
    // taken as the first was, at rest.
    shared.counting.store(false, Ordering::Relaxed);
    report.rss_run_end_kib = rss_kib(config.pid);
    shared.stop_load.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    report.idle_reopened = idle.reopened();
    idle.stop().await?;
    tokio::time::sleep(config.settle).await;
    report.rss_end_kib = rss_kib(config.pid);
    report.lazy_free_end_kib = lazy_free_kib(config.pid);
    for w in &shared.windows {
        report.ok += w.ok.load(Ordering::Relaxed);
        report.client_errors += w.client_error.load(Ordering::Relaxed);
        report.server_errors_outside_outage += w.server_error.load(Ordering::Relaxed);
        report.server_errors_in_outage += w.server_error_in_outage.load(Ordering::Relaxed);
        report.failed += w.failed.load(Ordering::Relaxed);
    }
    report.requests = report.ok
        + report.client_errors
        + report.server_errors_outside_outage
        + report.server_errors_in_outage
        + report.failed;
    Ok(report)
}

/// The AppView's own account of its memory from `/metrics`: what live objects hold
/// (`allocated`), what the allocator keeps (`resident`) and each cache's entries, as
/// `name=value` pairs for the window line (empty if the scrape fails).
async fn memory_figures(client: &reqwest::Client, base: &str) -> String {
    let Ok(resp) = client.get(format!("{base}/metrics")).send().await else { return String::new() };
    let Ok(text) = resp.text().await else { return String::new() };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let label = |key: &str| name.split(&format!("{key}=\"")).nth(1).and_then(|r| r.split('"').next());
        if name.starts_with("process_allocator_bytes")
            && let Some(kind) = label("kind")
        {
            out.push(format!("alloc_{kind}_mib={:.0}", value / 1048576.0));
        } else if name.starts_with("appview_cache_entries")
            && let Some(cache) = label("cache")
        {
            out.push(format!("cache_{cache}={value:.0}"));
        }
    }
    out.join(" ")
}

fn print_window(w: &Window, index: usize, config: &SoakConfig, rss: u64, held: usize, memory: &str) {
    let n = w.ok.load(Ordering::Relaxed)
        + w.client_error.load(Ordering::Relaxed)
        + w.server_error.load(Ordering::Relaxed)
        + w.server_error_in_outage.load(Ordering::Relaxed)
        + w.failed.load(Ordering::Relaxed);
    let secs = config.window.as_secs_f64();
    println!(
        "window={index} req_per_s={:.0} ok={} 4xx={} 5xx={} 5xx_outage={} failed={} mean_ms={:.1} rss_kib={rss} idle_held={held} {memory}",
        n as f64 / secs,
        w.ok.load(Ordering::Relaxed),
        w.client_error.load(Ordering::Relaxed),
        w.server_error.load(Ordering::Relaxed),
        w.server_error_in_outage.load(Ordering::Relaxed),
        w.failed.load(Ordering::Relaxed),
        w.latency_us.load(Ordering::Relaxed) as f64 / 1000.0 / (n.max(1) as f64),
    );
}
