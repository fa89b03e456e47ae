//! Connections over real sockets: a client that stalls in the middle of a request head is
//! disconnected after the header-read timeout, open connections are capped (more clients wait
//! and are served once others close, and the server's descriptors stay bounded), and the
//! per-client rate limit answers 429 with `RateLimit-*` headers to one address while another is
//! served.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use plyr_appview::{AppState, AppviewOptions};
use plyr_store::testkit::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    _db: TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(tune: impl FnOnce(&mut AppviewOptions)) -> Server {
    let db = TestDb::new().await.expect("test db");
    let mut options = support::options();
    tune(&mut options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    tokio::spawn(plyr_appview::serve_on(listener, AppState::new(db.pool.clone(), options), shutdown.clone()));
    Server { addr, shutdown, _db: db }
}

/// Reads until the server closes the connection; `None` if it is still open after `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

async fn get_once(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let got = closed_within(&mut s, Duration::from_secs(10)).await.expect("answered");
    String::from_utf8_lossy(&got).into_owned()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn a_client_that_stalls_mid_request_is_disconnected() {
    let server = start(|o| o.header_read_timeout_secs = 1).await;
    let mut stalled = TcpStream::connect(server.addr).await.expect("connect");
    stalled.write_all(b"GET /xrpc/_hea").await.expect("write");
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    assert!(
        closed_within(&mut stalled, Duration::from_secs(4)).await.is_some(),
        "half a request line: still open"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)).await.is_some(),
        "no bytes at all: still open"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // An idle keep-alive connection is closed by the same timer.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(b"GET /.well-known/did.json HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let got = closed_within(&mut idle, Duration::from_secs(4)).await.expect("closed after the answer");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_does_not_wait_for_clients_that_never_spoke() {
    let db = TestDb::new().await.expect("test db");
    let mut options = support::options();
    options.header_read_timeout_secs = 30;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::serve_on(
        listener,
        AppState::new(db.pool.clone(), options),
        shutdown.clone(),
    ));
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    assert!(get_once(addr, "/.well-known/did.json").await.starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("shut down").expect("joined");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    for mut s in silent {
        assert!(
            closed_within(&mut s, Duration::from_secs(2)).await.is_some(),
            "a silent client is still connected"
        );
    }
}

#[tokio::test]
async fn open_connections_are_capped_and_service_resumes_when_they_close() {
    let cap = 4;
    let server = start(|o| {
        o.max_connections = cap;
        o.header_read_timeout_secs = 1;
    })
    .await;
    assert!(get_once(server.addr, "/.well-known/did.json").await.starts_with("HTTP/1.1 200"));
    // More idle clients than the cap: a new client waits for a slot, and is served once the
    // idle ones time out.
    let mut idle = Vec::new();
    for _ in 0..cap + 2 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer = get_once(server.addr, "/.well-known/did.json").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "served at once ({waited:?}): the cap did not hold");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    idle.clear();

    // Descriptors: the test holds the client ends; the server may hold at most `cap` more.
    let before = open_fds();
    for _ in 0..200 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = open_fds().saturating_sub(before);
    assert!(grown <= 200 + cap as usize + 8, "descriptors grew by {grown} for 200 idle clients (cap {cap})");
    // Once they close, the server drains them and serves again.
    drop(idle);
    let started = Instant::now();
    assert!(get_once(server.addr, "/.well-known/did.json").await.starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn one_client_over_its_rate_is_refused_and_others_are_not() {
    let server = start(|o| {
        o.rate_limit_per_sec = 1;
        o.rate_limit_burst = 3;
    })
    .await;
    let base = format!("http://{}", server.addr);
    let from = |ip: &str| {
        reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().ok()).build().expect("client")
    };
    let first = from("127.0.0.1");
    for _ in 0..3 {
        let res = first.get(format!("{base}/.well-known/did.json")).send().await.expect("send");
        assert_eq!(res.status(), 200);
    }
    let res = first.get(format!("{base}/xrpc/fm.plyr.feed.getLatestTracks")).send().await.expect("send");
    assert_eq!(res.status(), 429);
    for name in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"] {
        assert!(res.headers().contains_key(name), "429 without {name}: {:?}", res.headers());
    }
    assert_eq!(res.headers()["ratelimit-limit"], "3");
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"], "RateLimitExceeded", "{body}");
    assert!(body["message"].is_string());
    let res = first.get(format!("{base}/tracks/")).send().await.expect("send");
    assert_eq!(res.status(), 429);
    let body: serde_json::Value = res.json().await.expect("json");
    assert!(body["detail"].is_string(), "{body}");
    // Another address has its own bucket.
    let res = from("127.0.0.2").get(format!("{base}/.well-known/did.json")).send().await.expect("send");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_rate_limit_can_be_turned_off() {
    let server = start(|o| {
        o.rate_limit_per_sec = 0;
        o.rate_limit_burst = 1;
    })
    .await;
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let res =
            client.get(format!("http://{}/.well-known/did.json", server.addr)).send().await.expect("send");
        assert_eq!(res.status(), 200);
    }
}
