//! A real labeler (`@skyware/labeler` 0.2.0) on 127.0.0.1, run from the locked npm package in
//! `tests/labeler`, its DID registered on a [`crate::pds::LocalPds`]'s PLC directory.
//!
//! [`LocalLabeler::start`] runs `tests/labeler/run.mjs` and waits for its ready line; commands
//! ([`LocalLabeler::label`], [`LocalLabeler::forged`], [`LocalLabeler::rotate`],
//! [`LocalLabeler::restart`]) are JSON lines on its stdin, answered one line each on stdout.
//! Dropping it closes stdin, which stops the labeler and deletes its scratch directory (the
//! process is killed if it has not gone after a grace period).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How long the script may take from spawn to its ready line, and to answer one command.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `tests/labeler`.
pub fn labeler_dir() -> std::path::PathBuf {
    crate::repo_root().join("tests").join("labeler")
}

/// A running labeler, stopped when dropped.
pub struct LocalLabeler {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    did: String,
    port: u16,
}

/// What a label command sets besides its subject and value.
#[derive(Debug, Default, Clone)]
pub struct LabelOptions<'a> {
    pub neg: bool,
    /// RFC 3339 expiry.
    pub exp: Option<&'a str>,
    /// The record version the label is pinned to.
    pub cid: Option<&'a str>,
}

impl LocalLabeler {
    /// Installs `tests/labeler` if needed and starts a labeler whose DID lives on `plc_url`.
    pub async fn start(plc_url: &str) -> anyhow::Result<LocalLabeler> {
        tokio::task::spawn_blocking(|| crate::ensure_npm_packages_in(&labeler_dir()))
            .await
            .context("npm install task panicked")?
            .context("installing tests/labeler")?;
        let mut child = Command::new("node")
            .args(["run.mjs", "--plc-url", plc_url])
            .current_dir(labeler_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning node tests/labeler/run.mjs (is Node.js installed?)")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut labeler = LocalLabeler { child, stdin, lines, did: String::new(), port: 0 };
        let ready = labeler.next_line().await.context("waiting for the labeler's ready line")?;
        anyhow::ensure!(ready["ready"] == true, "unexpected ready line {ready}");
        labeler.did = ready["did"].as_str().context("ready line without a did")?.to_owned();
        labeler.port =
            ready["port"].as_u64().and_then(|p| u16::try_from(p).ok()).context("ready line port")?;
        Ok(labeler)
    }

    /// The labeler's `did:plc`.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The port it listens on (127.0.0.1; its DID document says `http://localhost:PORT`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Applies (or with `neg`, negates) `val` on `uri`; returns the label's `seq`.
    pub async fn label(&mut self, uri: &str, val: &str, options: LabelOptions<'_>) -> anyhow::Result<i64> {
        let answer = self
            .command(json!({"cmd": "label", "uri": uri, "val": val, "neg": options.neg, "exp": options.exp, "cid": options.cid}))
            .await?;
        answer["seq"].as_i64().context("label answer without seq")
    }

    /// Sends a label signed with a key that is not the labeler's; returns its `seq`.
    pub async fn forged(&mut self, uri: &str, val: &str) -> anyhow::Result<i64> {
        let answer = self.command(json!({"cmd": "forged", "uri": uri, "val": val})).await?;
        answer["seq"].as_i64().context("forged answer without seq")
    }

    /// Publishes a new label key on PLC and restarts the labeler signing with it.
    pub async fn rotate(&mut self) -> anyhow::Result<()> {
        self.command(json!({"cmd": "rotate"})).await.map(drop)
    }

    /// Stops the labeler (dropping every subscriber) and starts it again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.command(json!({"cmd": "restart"})).await.map(drop)
    }

    async fn command(&mut self, command: Value) -> anyhow::Result<Value> {
        let stdin = self.stdin.as_mut().context("the labeler's stdin is closed")?;
        writeln!(stdin, "{command}").context("writing to the labeler")?;
        stdin.flush().context("writing to the labeler")?;
        let answer = self.next_line().await?;
        anyhow::ensure!(answer["ok"] == true, "labeler command {command} failed: {answer}");
        Ok(answer)
    }

    async fn next_line(&mut self) -> anyhow::Result<Value> {
        let line = tokio::time::timeout(TIMEOUT, self.lines.recv())
            .await
            .context("the labeler did not answer in time")?
            .context("the labeler exited")?;
        serde_json::from_str(&line).with_context(|| format!("parsing the labeler's line {line:?}"))
    }
}

impl Drop for LocalLabeler {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
