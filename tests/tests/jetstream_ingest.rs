//! Live ingest end to end: a generated network streamed by a real local Jetstream (v2) over a
//! real websocket into PostgreSQL through `indexer run`'s code path. The server drops the socket
//! mid-stream; the client resumes from its cursor and the database ends up exactly as a replay
//! of the same stream from a file leaves it. A resume below the server's retention floor records
//! the gap and queues the known repos for backfill.

use std::time::{Duration, Instant};

use plyr_e2e::jetstream_server::{Item, JetstreamServer, ServerConfig, TestBody, TestEvent};
use plyr_indexer::IndexerOptions;
use plyr_indexer::jetstream::Protocol;
use plyr_store::testkit::TestDb;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 3000;

/// Everything but the stream positions (live and replay keep theirs under different sources) and
/// the wall-clock columns.
fn volatile() -> Vec<&'static str> {
    let positions = ["cursors.source", "cursors.cursor", "cursors.time_us", "cursors.issuer"];
    positions.into_iter().chain(plyr_store::testkit::WALL_CLOCK.iter().copied()).collect()
}

fn options(url: &str) -> IndexerOptions {
    IndexerOptions {
        jetstreams: vec![url.to_owned()],
        protocol: Protocol::V2,
        firehose: Vec::new(),
        firehose_legacy_commits: false,
        trusted_audio_origins: vec!["https://audio.plyr.fm".into()],
        db_connections: 4,
        batch_size: 200,
        max_record_bytes: 1 << 20, // the default bound (PLYR_MAX_RECORD_BYTES)
        write_partitions: 2,
        plc_url: "http://127.0.0.1:9".into(),
        allow_test_network: true,
        resolve_identities: false,
        handle_pds: None,
        trust_stream_handles: false,
        metrics_listen: plyr_indexer::config::Listen(None),
        ranking_interval_ms: 200,
        ranking_max_age_secs: 60,
        leader_poll_ms: 1000,
        ready_max_lag_secs: 60,
        labelers: Vec::new(),
        backfill: plyr_indexer::config::BackfillOptions { auto_backfill: false, ..Default::default() },
    }
}

/// The generated stream as Jetstream v1 lines and as server events (seq = line number).
fn stream() -> (Vec<String>, Vec<TestEvent>) {
    let params = plyr_gen::NetworkParams::new(11, EVENTS);
    let lines: Vec<String> =
        plyr_gen::jetstream_lines(&params).expect("params").map(|l| l.expect("line")).collect();
    let events = lines.iter().enumerate().map(|(i, l)| to_test_event(i as i64 + 1, l)).collect();
    (lines, events)
}

fn to_test_event(seq: i64, line: &str) -> TestEvent {
    let v: Value = serde_json::from_str(line).expect("json");
    let did = v["did"].as_str().expect("did").to_owned();
    let time_us = v["time_us"].as_i64().expect("time_us");
    let body = match v["kind"].as_str() {
        Some("commit") => {
            let c = &v["commit"];
            let s = |k: &str| c[k].as_str().map(str::to_owned);
            TestBody::Commit {
                rev: s("rev").expect("rev"),
                operation: s("operation").expect("operation"),
                collection: s("collection").expect("collection"),
                rkey: s("rkey").expect("rkey"),
                record: c.get("record").cloned(),
                cid: s("cid"),
            }
        }
        Some("identity") => {
            TestBody::Identity { handle: v["identity"]["handle"].as_str().map(str::to_owned) }
        }
        Some("account") => TestBody::Account {
            active: v["account"]["active"].as_bool().expect("active"),
            status: v["account"]["status"].as_str().map(str::to_owned),
        },
        other => panic!("unexpected kind {other:?}"),
    };
    TestEvent { seq, time_us, did, body }
}

async fn stored_cursor(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT min(cursor) FROM cursors WHERE source = 'jetstream'")
        .fetch_optional(&db.pool)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Runs the live indexer until the stored cursor reaches `until`, then stops it.
async fn run_until(db: &TestDb, url: &str, until: i64) {
    let shutdown = CancellationToken::new();
    let (pool, opts, stop) = (db.pool.clone(), options(url), shutdown.clone());
    let task = tokio::spawn(async move { plyr_indexer::cli::run_live(pool, &opts, stop).await });
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_cursor(db).await < until {
        assert!(Instant::now() < deadline, "live ingest stalled at cursor {}", stored_cursor(db).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.expect("join").expect("indexer run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_ingest_survives_dropped_sockets_and_matches_a_replay() {
    let (lines, events) = stream();
    let server = JetstreamServer::start(ServerConfig {
        items: events.iter().cloned().map(Item::event).collect(),
        drop_after: vec![700, 1100], // two abrupt drops mid-stream
        ..ServerConfig::default()
    })
    .await
    .expect("server");
    // Start from the beginning of the archive, as a first run with a stored cursor of 0 would.
    let live = TestDb::new().await.expect("db");
    sqlx::query("INSERT INTO cursors (source, cursor, time_us, issuer, updated_at) VALUES ('jetstream', 1, $1, $2, now())")
        .bind(events[0].time_us - 1)
        .bind(server.url())
        .execute(&live.pool)
        .await
        .expect("seed cursor");
    run_until(&live, &server.url(), events.len() as i64).await;
    // The live ranker stopped wherever its schedule was; rank what was indexed, as its next turn
    // would (`indexer replay` ranks once at its end).
    plyr_indexer::ranking::refresh(&live.pool).await.expect("rankings");
    let connects = server.requests().len();
    assert!(connects >= 3, "expected reconnects after the drops, saw {connects} requests");

    let replayed = TestDb::new().await.expect("db");
    let file = std::env::temp_dir().join(format!("plyr-live-{}.jsonl", std::process::id()));
    std::fs::write(&file, lines.join("\n")).expect("write");
    plyr_indexer::cli::replay_file(
        replayed.pool.clone(),
        &options(&server.url()),
        &file,
        true,
        CancellationToken::new(),
    )
    .await
    .expect("replay");
    let _ = std::fs::remove_file(&file);
    let a = live.snapshot(&volatile()).await.expect("snapshot");
    let b = replayed.snapshot(&volatile()).await.expect("snapshot");
    assert!(a.contains("== tracks"), "snapshot has tables");
    plyr_store::testkit::assert_same(&a, &b, "live ingest with dropped sockets differs from a clean replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_below_the_retention_floor_records_a_gap_and_queues_backfills() {
    let (_, events) = stream();
    let first = JetstreamServer::start(ServerConfig {
        items: events[..1000].iter().cloned().map(Item::event).collect(),
        ..ServerConfig::default()
    })
    .await
    .expect("server");
    let db = TestDb::new().await.expect("db");
    sqlx::query("INSERT INTO cursors (source, cursor, time_us, issuer, updated_at) VALUES ('jetstream', 1, $1, $2, now())")
        .bind(events[0].time_us - 1)
        .bind(first.url())
        .execute(&db.pool)
        .await
        .expect("seed cursor");
    run_until(&db, &first.url(), 1000).await;
    let actors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM actors").fetch_one(&db.pool).await.expect("actors");
    assert!(actors > 0);

    // The same instance later only keeps events from seq 2000 on; live starts at 2500.
    sqlx::query("UPDATE cursors SET issuer = $1").bind(first.url()).execute(&db.pool).await.expect("issuer");
    drop(first);
    let later = JetstreamServer::start(ServerConfig {
        items: events.iter().cloned().map(Item::event).collect(),
        cursor_floor: Some(2000),
        live_from: 2500,
        ..ServerConfig::default()
    })
    .await
    .expect("server");
    sqlx::query("UPDATE cursors SET issuer = $1").bind(later.url()).execute(&db.pool).await.expect("issuer");
    run_until(&db, &later.url(), events.len() as i64).await;
    let gaps: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_gaps WHERE reason LIKE 'CursorTooOld%'")
        .fetch_one(&db.pool)
        .await
        .expect("gaps");
    assert_eq!(gaps, 1, "the gap is recorded once");
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM repos WHERE backfill = 'pending' AND reason = 'cursor-gap'")
            .fetch_one(&db.pool)
            .await
            .expect("repos");
    assert!(queued >= actors, "every repo known before the gap is queued ({queued} of {actors})");
}
