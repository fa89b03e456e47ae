//! Failover: two `indexer run` processes follow one local Jetstream (v1, a real websocket
//! server replaying a generated 60,000-event stream from any cursor) into one database, and
//! exactly one of them writes. The writer is killed with SIGKILL at ten random points of the
//! stream (and stopped with SIGTERM at two more: it finishes or abandons its batch, releases the
//! lock and exits 0) and restarted as the new standby each time; the standby takes over within
//! 10 s every time, and once caught up the database equals a clean single-process run row for
//! row.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use plyr_store::testkit::TestDb;
use support::{VOLATILE, assert_same, next};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

const EVENTS: usize = 60_000;
const KILLS: usize = 10;
/// The rounds (of KILLS + 2) whose writer is stopped with SIGTERM instead.
const TERMS: [usize; 2] = [3, 8];
const TAKEOVER_LIMIT: Duration = Duration::from_secs(10);

/// Serves `lines` (each with its `time_us`) as a Jetstream v1 server does: from the first event
/// at or after the request's `cursor`, then stays open, as live streams do.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn jetstream(lines: Arc<Vec<(i64, String)>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let lines = Arc::clone(&lines);
            tokio::spawn(async move {
                let mut cursor = 0i64;
                let read_cursor = |request: &Request, response: Response| {
                    let query = request.uri().query().unwrap_or_default();
                    cursor = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("cursor="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    Ok(response)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, read_cursor).await else {
                    return;
                };
                let from = lines.partition_point(|(t, _)| *t < cursor);
                for (_, line) in &lines[from..] {
                    if ws.feed(Message::text(line.clone())).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
                // Live and quiet: hold the connection until the client goes.
                use futures_util::StreamExt;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One `indexer run` process with its metrics port and log file.
struct Indexer {
    child: Child,
    metrics: u16,
    log: PathBuf,
}

impl Indexer {
    fn start(db: &TestDb, jetstream: u16, dir: &Path, name: &str) -> Indexer {
        let metrics = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_indexer"))
            .args(["run", "--jetstream-protocol", "v1", "--resolve-identities", "false"])
            .args(["--auto-backfill", "false", "--batch-size", "500"])
            .arg(format!("--jetstream=ws://127.0.0.1:{jetstream}"))
            .arg(format!("--metrics-listen=127.0.0.1:{metrics}"))
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start indexer");
        Indexer { child, metrics, log }
    }

    /// The role its `/health` reports (`None` while it does not answer).
    async fn role(&self, client: &reqwest::Client) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/health", self.metrics);
        let body: serde_json::Value = client.get(url).send().await.ok()?.json().await.ok()?;
        body["role"].as_str().map(str::to_owned)
    }

    async fn wait_for_role(&self, client: &reqwest::Client, role: &str, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.role(client).await.as_deref() == Some(role) {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// SIGTERM; the exit status, if it exits within `limit`.
    async fn terminate(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success());
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("poll") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill();
        None
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
        self.child.wait().expect("reap");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The stream position every lane has committed (0 before the first commit).
async fn position(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT min(time_us) FROM cursors WHERE source LIKE 'jetstream%'")
        .fetch_one(&db.pool)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

async fn wait_until_caught_up(db: &TestDb, last: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while position(db).await < last {
        assert!(Instant::now() < deadline, "{what}: not caught up within 300 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the ranker's next tick replace what the last commits changed.
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_within_seconds_of_each_sigkill_and_nothing_differs() {
    let dir = std::env::temp_dir().join(format!("plyr-failover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut text = Vec::new();
    plyr_gen::write_jetstream(&plyr_gen::NetworkParams::new(11, EVENTS), &mut text).expect("generate stream");
    let lines: Vec<(i64, String)> = String::from_utf8(text)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("a JSON event");
            (event["time_us"].as_i64().expect("time_us"), line.to_owned())
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0].0 < w[1].0), "the generated stream's times increase");
    let last = lines.last().expect("events").0;
    let times: Vec<i64> = lines.iter().map(|(t, _)| *t).collect();
    let port = jetstream(Arc::new(lines)).await;
    let client = reqwest::Client::new();

    let clean = TestDb::new().await.expect("clean db");
    let alone = Indexer::start(&clean, port, &dir, "clean");
    wait_until_caught_up(&clean, last, "the clean run").await;
    alone.kill();
    let expected = clean.snapshot(VOLATILE).await.expect("snapshot");
    let tracks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tracks").fetch_one(&clean.pool).await.expect("count");
    assert!(tracks > 100, "the stream should index plenty of tracks, got {tracks}");

    let db = TestDb::new().await.expect("failover db");
    let mut leader = Indexer::start(&db, port, &dir, "first");
    assert!(
        leader.wait_for_role(&client, "leader", Duration::from_secs(30)).await.is_some(),
        "the first indexer takes the lock: {}",
        leader.log()
    );
    let mut standby = Indexer::start(&db, port, &dir, "second");
    assert!(
        standby.wait_for_role(&client, "standby", Duration::from_secs(30)).await.is_some(),
        "the second indexer waits: {}",
        standby.log()
    );
    let mut rng = u64::from(std::process::id());
    let (mut takeovers, mut mid_stream) = (Vec::new(), 0);
    let rounds = KILLS + TERMS.len();
    let span = EVENTS / (rounds + 1);
    for round in 0..rounds {
        let target = times[(round + 1) * span + (next(&mut rng) as usize % span)];
        let deadline = Instant::now() + Duration::from_secs(120);
        while position(&db).await < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(next(&mut rng) % 200)).await;
        if position(&db).await < last {
            mid_stream += 1;
        }
        let graceful = TERMS.contains(&round);
        if graceful {
            let log = leader.log.clone();
            let status = leader.terminate(Duration::from_secs(10)).await;
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let status =
                status.unwrap_or_else(|| panic!("round {round}: no exit within 10 s of SIGTERM: {log}"));
            assert!(status.success(), "round {round}: SIGTERM exit status {status}: {log}");
        } else {
            leader.kill();
        }
        let took = standby.wait_for_role(&client, "leader", TAKEOVER_LIMIT).await;
        let Some(took) = took else {
            panic!("round {round}: the standby did not take over within 10 s: {}", standby.log());
        };
        if !graceful {
            takeovers.push(took);
        }
        leader = standby;
        standby = Indexer::start(&db, port, &dir, &format!("restart-{round}"));
        assert!(
            standby.wait_for_role(&client, "standby", Duration::from_secs(30)).await.is_some(),
            "round {round}: the restarted indexer waits: {}",
            standby.log()
        );
    }
    wait_until_caught_up(&db, last, "after the failovers").await;
    assert_eq!(standby.role(&client).await.as_deref(), Some("standby"), "still exactly one writer");
    leader.kill();
    standby.kill();
    let ms: Vec<u128> = takeovers.iter().map(Duration::as_millis).collect();
    println!("takeover after SIGKILL (ms): {ms:?}; max {:?} ms", ms.iter().max());
    assert!(mid_stream >= rounds - 1, "only {mid_stream} of {rounds} stops hit a writer mid-stream");
    assert_same(
        &db.snapshot(VOLATILE).await.expect("snapshot"),
        &expected,
        "the database after ten failovers differs from a clean run",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
