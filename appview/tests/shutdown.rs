//! SIGTERM to `appview serve`: it stops accepting at once, lets the requests in flight finish
//! (a read blocked behind a table lock answers 200 once the lock goes), and exits 0; a request
//! that cannot finish does not hold the exit past the request timeout; logs to a closed pipe
//! change none of that.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plyr_store::testkit::TestDb;

fn start(db: &TestDb, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_appview"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--request-timeout-secs",
            "4",
            "--db-statement-timeout-ms",
            "3000",
            "--rate-limit-per-sec",
            "0",
        ])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start appview")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

async fn wait_up(base: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the AppView did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the child's exit status (at most `limit`).
async fn exited(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("poll") {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A running `appview serve` with a read in flight, blocked behind a table lock the test holds
/// (released by committing or rolling back the returned transaction).
async fn blocked_read(
    db: &TestDb,
) -> (Child, u16, sqlx::Transaction<'static, sqlx::Postgres>, tokio::task::JoinHandle<reqwest::Result<u16>>) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = start(db, port);
    wait_up(&base).await;
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE tracks IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");
    let in_flight = tokio::spawn({
        // One artist's tracks: read from the locked table (everyone's latest tracks are paged
        // from the search index once it is built, which this lock would not block).
        let url = format!("{base}/tracks/?artist_did=did:plc:ewvi7nxzyoun6zhxrhs64oiz");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    (child, port, lock, in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_accepting_finishes_what_is_in_flight_and_exits() {
    let db = TestDb::new().await.expect("test db");
    let (mut child, port, lock, in_flight) = blocked_read(&db).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "no new connection is accepted after SIGTERM"
    );
    assert!(child.try_wait().expect("poll").is_none(), "it waits for the request in flight");
    lock.rollback().await.expect("release");
    let status = in_flight.await.expect("join").expect("the request in flight is answered");
    assert_eq!(status, 200, "the request in flight finishes normally");
    let code = exited(&mut child, Duration::from_secs(5)).await.expect("exits once it is done");
    assert!(code.success(), "exit status {code}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_finish_does_not_hold_the_exit_past_the_request_timeout() {
    let db = TestDb::new().await.expect("test db");
    let (mut child, _, lock, in_flight) = blocked_read(&db).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    sigterm(&child);
    let code = exited(&mut child, Duration::from_secs(10)).await.expect("exits within the request timeout");
    assert!(code.success(), "exit status {code}");
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "bounded by the 4 s request timeout: {:?}",
        asked.elapsed()
    );
    // The blocked read was answered (503: its statement or request timed out), not dropped.
    let status = in_flight.await.expect("join").expect("answered");
    assert_eq!(status, 503);
    lock.rollback().await.expect("release");
}

/// Logs to a closed pipe (whoever read the output has gone) neither stop the service nor
/// keep it from shutting down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_log_pipe_neither_kills_the_service_nor_blocks_its_shutdown() {
    let db = TestDb::new().await.expect("test db");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_appview"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--rate-limit-per-sec", "0"])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start appview");
    drop(child.stdout.take());
    drop(child.stderr.take());
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&base).await;
    for _ in 0..20 {
        let status = reqwest::get(format!("{base}/tracks/")).await.expect("answered").status();
        assert_eq!(status, 200, "serving while every log line fails to write");
    }
    sigterm(&child);
    let code = exited(&mut child, Duration::from_secs(10)).await.expect("exits on SIGTERM");
    assert!(code.success(), "exit status {code}");
}
