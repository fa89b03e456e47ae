//! The firehose source end to end: a local websocket server sends signed `#commit` (and other)
//! frames; the real client, verifier, pipeline and write path put them into a fresh PostgreSQL
//! database, with the host's seq stored as the cursor; a dropped connection resumes from it.

mod firehose_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use firehose_support::*;
use futures_util::SinkExt;
use plyr_indexer::firehose::{self, FirehoseConfig, StaticKeys, SyncVerifier, VerifierConfig};
use plyr_indexer::pipeline::{self, BatchConfig};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const ALICE: &str = "did:plc:alice2222222222222222222";
const BOB: &str = "did:plc:bob22222222222222222222222";

/// Serves `batches[i]` on the i-th connection; the first one is closed when `close` fires, the
/// others stay open. Reports each connection's request URI.
async fn server(
    batches: Vec<Vec<Vec<u8>>>,
    close: oneshot::Receiver<()>,
) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let (uris, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut close = Some(close);
        for frames in batches {
            let Ok((stream, _)) = listener.accept().await else { return };
            let uris = uris.clone();
            #[expect(
                clippy::result_large_err,
                reason = "the signature tungstenite's handshake callback requires"
            )]
            let callback = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                let _ = uris.send(req.uri().to_string());
                Ok(resp)
            };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
            for frame in frames {
                if socket.send(Message::Binary(frame)).await.is_err() {
                    return;
                }
            }
            match close.take() {
                Some(close) => {
                    let _ = close.await;
                    drop(socket);
                }
                None => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(socket);
                    });
                }
            }
        }
    });
    (url, seen)
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&db.pool).await.unwrap_or(-1)
}

async fn wait_for(db: &TestDb, sql: &str, want: i64) {
    for _ in 0..200 {
        if count(db, sql).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for `{sql}` = {want} (is {})", count(db, sql).await);
}

#[tokio::test]
async fn firehose_frames_reach_the_database_and_resume_from_the_stored_seq() {
    let mut alice = TestRepo::new(ALICE, 1);
    let mut bob = TestRepo::new(BOB, 2);
    let frames = vec![
        identity(1, ALICE, "alice.test"),
        account(2, ALICE, true, None),
        alice.commit(3, vec![Write::Put("fm.plyr.track", tid(10), track("One"))]).await,
        alice
            .commit(
                4,
                vec![
                    Write::Put("fm.plyr.track", tid(11), track("Two")),
                    Write::Put("app.bsky.feed.post", tid(12), post("hi")),
                ],
            )
            .await,
        bob.commit(5, vec![Write::Put("app.bsky.feed.post", tid(13), post("not ours"))]).await,
        alice.commit(6, vec![Write::Delete("fm.plyr.track", tid(10))]).await,
        // Hostile: a frame with a forged signature (bob's key for alice's repo).
        TestRepo::new(ALICE, 2).commit(7, vec![Write::Put("fm.plyr.track", tid(99), track("Forged"))]).await,
        // A replayed seq from the same host.
        alice.commit(6, vec![Write::Put("fm.plyr.track", tid(98), track("Replayed seq"))]).await,
    ];
    let (close_tx, close_rx) = oneshot::channel();
    let (url, mut uris) = server(vec![frames, vec![]], close_rx).await;

    let db = TestDb::new().await.expect("test database");
    let writer = Arc::new(
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer"),
    );
    let (tx, rx) = pipeline::channel();
    let shutdown = CancellationToken::new();
    let batch = BatchConfig { max_delay: Duration::from_millis(10), ..BatchConfig::default() };
    let pipeline = tokio::spawn(pipeline::run(writer, rx, batch, shutdown.clone()));
    let keys = StaticKeys(HashMap::from([(ALICE.to_owned(), alice.key()), (BOB.to_owned(), bob.key())]));
    let verifier = Arc::new(SyncVerifier::new(keys, VerifierConfig::default()));
    let mut config = FirehoseConfig::new(vec![url.parse().expect("url")]);
    config.timing.backoff_base = Duration::from_millis(20);
    let source = tokio::spawn(firehose::run(config, verifier, HashMap::new(), tx, shutdown.clone()));

    let first =
        tokio::time::timeout(Duration::from_secs(10), uris.recv()).await.expect("connected").expect("uri");
    assert_eq!(first, "/xrpc/com.atproto.sync.subscribeRepos", "first connection is live");
    wait_for(&db, "SELECT count(*) FROM tracks WHERE title = 'Two'", 1).await;
    wait_for(&db, "SELECT count(*) FROM tracks", 1).await;
    let source_name = format!("firehose:{}", url.trim_start_matches("ws://"));
    wait_for(&db, &format!("SELECT min(cursor) FROM cursors WHERE source = '{source_name}'"), 6).await;
    assert_eq!(count(&db, "SELECT count(*) FROM tracks WHERE title IN ('Forged', 'Replayed seq')").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM records WHERE uri LIKE '%app.bsky.feed.post%'").await, 0);
    assert_eq!(
        count(&db, &format!("SELECT count(*) FROM actors WHERE did = '{ALICE}' AND repo_rev IS NOT NULL"))
            .await,
        1
    );
    assert_eq!(count(&db, &format!("SELECT count(*) FROM actors WHERE did = '{BOB}'")).await, 0);

    // The server drops the connection; the client comes back asking for what follows the last
    // seq it received (7: the forged frame was dropped, but the host's position moved past it).
    let _ = close_tx.send(());
    let second =
        tokio::time::timeout(Duration::from_secs(10), uris.recv()).await.expect("reconnected").expect("uri");
    assert_eq!(second, "/xrpc/com.atproto.sync.subscribeRepos?cursor=7");

    shutdown.cancel();
    let totals = pipeline.await.expect("pipeline task").expect("pipeline");
    assert!(totals.events >= 5, "{totals:?}");
    source.await.expect("source task").expect("source");
}
