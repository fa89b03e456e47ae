//! Stream URLs as operators write them, against a local server that answers plain HTTP instead
//! of upgrading: `--firehose` may be a base URL or the full `subscribeRepos` URL (the request
//! path is the same either way), and a server that answers 404 (or closes without answering)
//! gets an error naming the status and the URL, for the firehose and Jetstream alike.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use plyr_indexer::firehose::config::subscribe_url;
use plyr_indexer::firehose::{self, FirehoseConfig, StaticKeys, SyncVerifier, VerifierConfig};
use plyr_indexer::jetstream::{JetstreamConfig, Protocol};
use plyr_indexer::websocket::{self, HandshakeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A plain HTTP server: every request gets `response` (none: the connection is closed without
/// an answer). Reports each request line.
async fn http_server(response: Option<&'static str>) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (lines, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let _ = lines.send(text.lines().next().unwrap_or_default().to_owned());
                if let Some(response) = response {
                    let _ = stream.write_all(response.as_bytes()).await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, seen)
}

const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<h1>404</h1>\n";

fn url(s: &str) -> Url {
    s.parse().expect("test URL")
}

#[tokio::test]
async fn a_404_instead_of_an_upgrade_is_an_error_naming_the_status_and_the_url() {
    let (port, mut requests) = http_server(Some(NOT_FOUND)).await;
    for given in [
        format!("ws://127.0.0.1:{port}"),
        format!("ws://user:secret@127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos"),
    ] {
        let config = FirehoseConfig::new(vec![url(&given)]);
        config.validate().expect("valid");
        let target = subscribe_url(&config.urls[0], None);
        let err =
            websocket::connect(&target, 1 << 20, Duration::from_secs(5)).await.expect_err("no websocket");
        let message = err.to_string();
        assert!(
            matches!(&err, HandshakeError::NotUpgraded { status, .. } if status.as_u16() == 404),
            "{err:?}"
        );
        assert!(message.contains("HTTP 404"), "{message}");
        assert!(
            message.contains(&format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos ")),
            "{message}"
        );
        assert!(!message.contains("secret"), "no credentials in the error: {message}");
        assert_eq!(err.outcome(), "rejected");
        let line = requests.recv().await.expect("the request reached the server");
        assert_eq!(
            line, "GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1",
            "{given}: the path is not doubled"
        );
    }

    // Jetstream, given its full v1 URL.
    let config = JetstreamConfig::new(vec![url(&format!("ws://127.0.0.1:{port}/subscribe"))], Protocol::V1);
    let target = config.subscribe_url(&config.urls[0], None);
    let err = websocket::connect(&target, 1 << 20, Duration::from_secs(5)).await.expect_err("no websocket");
    assert!(err.to_string().contains(&format!("ws://127.0.0.1:{port}/subscribe answered HTTP 404")), "{err}");
    let line = requests.recv().await.expect("request");
    assert!(line.starts_with("GET /subscribe?"), "{line}");
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_named_too() {
    let (port, _requests) = http_server(None).await;
    let target = url(&format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos"));
    let err = websocket::connect(&target, 1 << 20, Duration::from_secs(5)).await.expect_err("no websocket");
    assert!(matches!(err, HandshakeError::NoAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("without answering the websocket upgrade"), "{err}");
}

/// The client itself keeps retrying a host that answers 404, counting each attempt as
/// `rejected`, and stops cleanly on shutdown.
#[tokio::test]
async fn the_firehose_client_backs_off_from_a_404_and_counts_it() {
    let metrics = plyr_indexer::telemetry::install_recorder().expect("recorder");
    let (port, mut requests) = http_server(Some(NOT_FOUND)).await;
    let mut config = FirehoseConfig::new(vec![url(&format!(
        "ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos"
    ))]);
    config.timing.backoff_base = Duration::from_millis(20);
    config.timing.backoff_max = Duration::from_millis(50);
    let verifier = Arc::new(SyncVerifier::new(StaticKeys(HashMap::new()), VerifierConfig::default()));
    let (tx, _rx) = plyr_indexer::pipeline::channel();
    let shutdown = CancellationToken::new();
    let client = tokio::spawn(firehose::run(config, verifier, HashMap::new(), tx, shutdown.clone()));
    for _ in 0..3 {
        let line = tokio::time::timeout(Duration::from_secs(10), requests.recv()).await.expect("retried");
        assert_eq!(line.as_deref(), Some("GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1"));
    }
    shutdown.cancel();
    client.await.expect("join").expect("a clean stop");
    let rendered = metrics.render();
    assert!(
        rendered.lines().any(|l| l.starts_with("indexer_firehose_connects_total{outcome=\"rejected\"}")),
        "{rendered}"
    );
}
