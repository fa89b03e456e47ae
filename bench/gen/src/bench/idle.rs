//! Idle connections for the soak: TCP connections to the AppView that send nothing, each
//! reopened whenever the server closes it, from the loopback sources 127.0.0.2-254.
//!
//! One process cannot hold more descriptors than its hard limit (20,000 on the machine these
//! benchmarks run on, which a container cannot raise), so [`Holders`] spreads the connections
//! over child processes (`plyr-bench hold-idle`), each reporting `held=N reopened=M` lines on
//! stdout and exiting, its sockets closed, when its stdin closes.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};

/// Connections per child process: well under a 20,000 descriptor limit.
pub const PER_PROCESS: usize = 8_000;

/// Counters shared by the holding tasks of one process.
#[derive(Debug, Default)]
pub struct Counters {
    pub held: AtomicUsize,
    pub reopened: AtomicU64,
    pub stop: AtomicBool,
}

/// The source address of connection `i` (127.0.0.2 to 127.0.0.254).
fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, u8::try_from(2 + i % 253).unwrap_or(2)))
}

/// Holds one idle connection from `source`, reopening it whenever the server closes it, until
/// `stop`.
async fn hold_one(counters: Arc<Counters>, source: IpAddr, target: SocketAddr) {
    while !counters.stop.load(Ordering::Relaxed) {
        let connected = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(target).await
        }
        .await;
        let Ok(mut stream) = connected else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        counters.held.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 64];
        tokio::select! {
            _ = stream.read(&mut buf) => {
                counters.reopened.fetch_add(1, Ordering::Relaxed);
            }
            () = async {
                while !counters.stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            } => {}
        }
        counters.held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `plyr-bench hold-idle`: holds `count` connections (sources from index `offset` on) and
/// reports on stdout every 250 ms until stdin closes.
pub async fn hold(target: SocketAddr, count: usize, offset: usize) -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let tasks: Vec<_> = (0..count)
        .map(|i| tokio::spawn(hold_one(Arc::clone(&counters), source(offset + i), target)))
        .collect();
    {
        // A blocking read on its own thread: the parent closing our stdin is the stop signal.
        let counters = Arc::clone(&counters);
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while matches!(std::io::Read::read(&mut std::io::stdin(), &mut buf), Ok(n) if n > 0) {}
            counters.stop.store(true, Ordering::Relaxed);
        });
    }
    let mut out = std::io::stdout();
    while !counters.stop.load(Ordering::Relaxed) {
        let line = format!(
            "held={} reopened={}\n",
            counters.held.load(Ordering::Relaxed),
            counters.reopened.load(Ordering::Relaxed)
        );
        if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
            break; // the parent is gone
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    counters.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// The child processes holding a soak's idle connections.
pub struct Holders {
    children: Vec<Child>,
    /// Latest report of each child: (held, reopened).
    reports: Arc<Vec<(AtomicUsize, AtomicU64)>>,
}

impl Holders {
    /// Starts enough `hold-idle` children of this executable to hold `total` connections.
    pub fn spawn(target: SocketAddr, total: usize) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating plyr-bench")?;
        let n = total.div_ceil(PER_PROCESS);
        let reports: Arc<Vec<(AtomicUsize, AtomicU64)>> =
            Arc::new((0..n).map(|_| (AtomicUsize::new(0), AtomicU64::new(0))).collect());
        let mut children = Vec::with_capacity(n);
        for k in 0..n {
            let count = PER_PROCESS.min(total - k * PER_PROCESS);
            let mut child = Command::new(&exe)
                .args(["hold-idle", "--target", &target.to_string()])
                .args(["--count", &count.to_string(), "--offset", &(k * PER_PROCESS).to_string()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("starting a hold-idle process")?;
            let stdout = child.stdout.take().context("the child's stdout")?;
            let reports = Arc::clone(&reports);
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let field = |key: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(key));
                    let held = field("held=").and_then(|v| v.parse::<usize>().ok());
                    let reopened = field("reopened=").and_then(|v| v.parse::<u64>().ok());
                    if let (Some(held), Some(reopened)) = (held, reopened) {
                        reports[k].0.store(held, Ordering::Relaxed);
                        reports[k].1.store(reopened, Ordering::Relaxed);
                    }
                }
                reports[k].0.store(0, Ordering::Relaxed);
            });
            children.push(child);
        }
        Ok(Self { children, reports })
    }

    /// Connections held now, over every child.
    pub fn held(&self) -> usize {
        self.reports.iter().map(|r| r.0.load(Ordering::Relaxed)).sum()
    }

    /// Connections the server closed and the children reopened.
    pub fn reopened(&self) -> u64 {
        self.reports.iter().map(|r| r.1.load(Ordering::Relaxed)).sum()
    }

    /// Closes every child's stdin and waits for it to close its sockets and exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for child in &mut self.children {
            drop(child.stdin.take());
        }
        for child in &mut self.children {
            let status = child.wait().await.context("waiting for a hold-idle process")?;
            anyhow::ensure!(status.success(), "a hold-idle process failed: {status}");
        }
        Ok(())
    }
}
