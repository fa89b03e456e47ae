//! A real reference PDS (`@atproto/pds` 0.4.217) and an in-memory PLC directory
//! (`@did-plc/server`) on 127.0.0.1, run from the locked npm package in `tests/pds`, plus the
//! XRPC client the tests drive them with ([`PdsClient`]).
//!
//! [`LocalPds::start`] installs the package if needed, runs `tests/pds/run.cjs` and waits for its
//! ready line. The process lives as long as the [`LocalPds`]: dropping it closes the script's
//! stdin, which makes it stop both servers and delete its scratch directory (killed after a grace
//! period). A test process that dies also closes that stdin, so nothing is left behind.
//! [`LocalPds::shared`] gives one PDS per test binary; it holds no runtime resources, so tests on
//! different `#[tokio::test]` runtimes can use it, each with its own [`LocalPds::client`].

mod xrpc;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

pub use xrpc::{Account, PdsClient, RecordRef, Write};

/// How long the script may take from spawn to its ready line (normally about 2 s).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a dropped PDS may take to stop by itself before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Lines of the script's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 200;

/// A running PDS and PLC directory, stopped when dropped.
pub struct LocalPds {
    process: Process,
    pds_port: u16,
    plc_port: u16,
    url: String,
    plc_url: String,
    admin_password: String,
}

/// The script's ready line.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    ready: bool,
    pds_port: u16,
    plc_port: u16,
    admin_password: String,
    data_dir: PathBuf,
}

impl LocalPds {
    /// Installs `tests/pds` if needed, starts PLC then PDS, and waits until both listen.
    pub async fn start() -> anyhow::Result<LocalPds> {
        tokio::task::spawn_blocking(|| crate::ensure_npm_packages_in(&crate::pds_dir()))
            .await
            .context("npm install task panicked")?
            .context("installing tests/pds")?;

        let mut child = Command::new("node")
            .arg("run.cjs")
            .current_dir(crate::pds_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning node tests/pds/run.cjs (is Node.js installed?)")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr = child.stderr.take().context("child stderr")?;
        let stdin = child.stdin.take();
        let mut process = Process { child, stdin, data_dir: None, stderr_tail: Arc::default() };
        drain_lines(stderr, Arc::clone(&process.stderr_tail));

        let (tx, rx) = tokio::sync::oneshot::channel();
        let tail = Arc::clone(&process.stderr_tail);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Anything else on stdout is unexpected; keep it with stderr for diagnosis.
            for line in lines.map_while(Result::ok) {
                push_line(&tail, line);
            }
        });

        let line = match tokio::time::timeout(READY_TIMEOUT, rx).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                anyhow::bail!("the local PDS exited before it was ready:\n{}", process.stderr_tail())
            }
            Err(_) => anyhow::bail!(
                "the local PDS was not ready within {READY_TIMEOUT:?}:\n{}",
                process.stderr_tail()
            ),
        };
        let ready: Ready = serde_json::from_str(&line)
            .with_context(|| format!("parsing the local PDS's ready line {line:?}"))?;
        anyhow::ensure!(ready.ready, "unexpected ready line {line:?}");
        process.data_dir = Some(ready.data_dir);
        Ok(LocalPds {
            process,
            pds_port: ready.pds_port,
            plc_port: ready.plc_port,
            url: format!("http://localhost:{}", ready.pds_port),
            plc_url: format!("http://localhost:{}", ready.plc_port),
            admin_password: ready.admin_password,
        })
    }

    /// One PDS for the whole test binary, started on first use and stopped when the binary exits
    /// (its stdin closes). Tests sharing it should use their own handles.
    pub async fn shared() -> anyhow::Result<&'static LocalPds> {
        static SHARED: tokio::sync::OnceCell<LocalPds> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_try_init(LocalPds::start).await
    }

    /// The PDS's base URL, `http://localhost:PORT` (the name its DIDs and tokens use).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PLC directory's base URL, `http://localhost:PORT`.
    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// The PDS's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.pds_port
    }

    /// The PLC directory's port on 127.0.0.1.
    pub fn plc_port(&self) -> u16 {
        self.plc_port
    }

    /// The PDS's host and port as it names itself: `localhost:PORT`.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.pds_port)
    }

    /// The firehose: `ws://localhost:PORT/xrpc/com.atproto.sync.subscribeRepos`.
    pub fn firehose_url(&self) -> String {
        format!("ws://localhost:{}/xrpc/com.atproto.sync.subscribeRepos", self.pds_port)
    }

    /// The random admin password (basic auth `admin:<password>` on `com.atproto.admin.*`).
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// The Node process's id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// The last lines the script wrote to stderr (set `LOG_ENABLED=true` for the PDS's own logs).
    pub fn stderr_tail(&self) -> String {
        self.process.stderr_tail()
    }

    /// A fresh XRPC client for this PDS. Make one per test: a reqwest client's connections
    /// belong to the runtime that opened them.
    pub fn client(&self) -> PdsClient {
        PdsClient::new(&self.url, &self.admin_password)
    }
}

/// The Node child, its stdin (closing it stops the script) and its scratch directory.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    data_dir: Option<PathBuf>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The script removes it itself unless it was killed.
        if let Some(dir) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads `from` line by line on a thread into the bounded `tail`.
fn drain_lines(from: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            push_line(&tail, line);
        }
    });
}

fn push_line(tail: &Mutex<VecDeque<String>>, line: String) {
    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    if tail.len() == STDERR_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}
