//! A database outage in the middle of a stream: the indexer reaches PostgreSQL through a TCP
//! proxy run by the test, which cuts every connection and then refuses new ones for a while.
//! The pipeline waits (it must not stop), `/ready` answers 503 while the database is away and
//! 200 after (`/health`, the liveness probe, stays 200 throughout), and once it is back the result equals a run that saw no outage: nothing lost,
//! nothing doubled, the cursor at the end.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plyr_indexer::event::SourceItem;
use plyr_indexer::pipeline::{self, BatchConfig};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use support::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";

/// A TCP forwarder to PostgreSQL that can be taken down (every open connection cut, new ones
/// closed at once, as a server that is restarting) and brought back.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, watcher) = watch::channel(0u64);
        let accepting = Arc::clone(&up);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                if !accepting.load(Ordering::SeqCst) {
                    drop(client); // the server is away: close at once
                    continue;
                }
                let mut cut = watcher.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let (mut client, mut server) = (client, server);
                    cut.borrow_and_update();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {} // both sockets dropped: the connection is cut
                    }
                });
            }
        });
        Self { port, up, generation }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// 600 events over 6 accounts: tracks, and likes of earlier tracks.
fn stream() -> Vec<SourceItem> {
    let dids: Vec<String> = (0..6).map(|i| format!("did:plc:outage{i:019}")).collect();
    let mut events = Events::default();
    let mut tracks: Vec<String> = Vec::new();
    (0..600u64)
        .map(|i| {
            let did = &dids[(i % 6) as usize];
            let rkey = tid(i + 1);
            if i % 3 == 2 {
                let subject = tracks[(i as usize * 7) % tracks.len()].clone();
                events.commit(did, &rkey, LIKE, &rkey, Some(like(&subject)))
            } else {
                tracks.push(uri(did, TRACK, &rkey));
                events.commit(did, &rkey, TRACK, &rkey, Some(track(&format!("track {i}"))))
            }
        })
        .collect()
}

fn config() -> BatchConfig {
    BatchConfig { max_events: 40, max_delay: Duration::from_millis(10), attempts: 5, partitions: 2 }
}

async fn ready(client: &reqwest::Client, addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let response = client.get(format!("http://{addr}/ready")).send().await.expect("ready answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn the_pipeline_waits_out_a_database_outage_and_loses_nothing() {
    let items = stream();

    // The reference: the same events, no outage.
    let reference = TestDb::new().await.expect("reference database");
    {
        let writer = Arc::new(
            Writer::new(reference.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"]))
                .expect("writer"),
        );
        let (tx, rx) = pipeline::channel();
        let feed = tokio::spawn(async move {
            for item in stream() {
                tx.send(item).await.expect("queued");
            }
        });
        pipeline::run(writer, rx, config(), CancellationToken::new()).await.expect("reference run");
        feed.await.expect("feed");
    }

    let db = TestDb::new().await.expect("test database");
    let proxy = Proxy::start("127.0.0.1:5432".to_owned()).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/{}", proxy.port, db.name());
    let pool = plyr_store::connect_lazy(&url, 4, Duration::from_secs(1)).expect("pool");
    let writer =
        Arc::new(Writer::new(pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer"));

    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let shutdown = CancellationToken::new();
    let ops = tokio::spawn(plyr_indexer::telemetry::serve(
        addr,
        pool.clone(),
        Default::default(),
        shutdown.clone(),
    ));
    let client = reqwest::Client::new();
    let mut up = None;
    for _ in 0..50 {
        if client.get(format!("http://{addr}/health")).send().await.is_ok() {
            up = Some(ready(&client, addr).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = up.expect("the health endpoint listens");
    assert_eq!((status, body["database"].as_str()), (200, Some("up")), "{body}");

    let (tx, rx) = pipeline::channel();
    let run = tokio::spawn(pipeline::run(Arc::clone(&writer), rx, config(), CancellationToken::new()));
    let (first, second) = items.split_at(200);
    for item in first {
        tx.send(item.clone()).await.expect("queued");
    }
    // Let some batches commit, then take the database away while more events arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.down();
    let feed = {
        let (tx, second) = (tx.clone(), second.to_vec());
        tokio::spawn(async move {
            for item in second {
                tx.send(item).await.expect("queued");
            }
        })
    };
    drop(tx);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = ready(&client, addr).await;
    assert_eq!((status, body["database"].as_str()), (503, Some("unreachable")), "{body}");
    let alive = client.get(format!("http://{addr}/health")).send().await.expect("health answers");
    assert_eq!(alive.status(), 200, "a liveness probe must not restart an indexer waiting out an outage");
    // Longer than the five attempts a part used to get before the indexer gave up and exited.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(!run.is_finished(), "the pipeline waits for the database instead of stopping");
    assert!(!writer.health().is_up(), "the write path saw the outage");

    proxy.restore();
    let totals = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the pipeline finishes once the database is back")
        .expect("join")
        .expect("the pipeline ends without an error");
    feed.await.expect("feed");
    assert!(writer.health().is_up());
    let (status, body) = ready(&client, addr).await;
    assert_eq!((status, body["database"].as_str()), (200, Some("up")), "{body}");
    assert_eq!(totals.dropped, 0);

    let expected = reference.snapshot(VOLATILE).await.expect("reference snapshot");
    let actual = db.snapshot(VOLATILE).await.expect("snapshot");
    assert_same(&actual, &expected, "the outage changed what was stored");
    assert!(
        actual.contains("== tracks (400 rows)") && actual.contains("== likes (200 rows)"),
        "everything applied"
    );
    shutdown.cancel();
    ops.await.expect("join").expect("serve");
}

#[tokio::test]
async fn a_database_closed_to_connections_is_an_outage_not_a_fatal_error() {
    use plyr_indexer::write::failure::{Failure, of_sqlx};
    let db = TestDb::new().await.expect("db");
    db.set_accepting_connections(false).await.expect("close the database");
    let refused = sqlx::PgPool::connect(&db.url).await.expect_err("closed to connections");
    assert_eq!(of_sqlx(&refused), Failure::Transient, "{refused:?}");
    db.set_accepting_connections(true).await.expect("reopen the database");
}
