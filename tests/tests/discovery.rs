//! A fresh install indexes the existing network: `indexer run` on an empty database asks the
//! relay for every repo with fm.plyr records and backfills them in the background while it
//! follows (here, an unreachable) Jetstream. The relay is a small local stand-in serving the
//! reference PDS's repos through `com.atproto.sync.listReposByCollection` (a relay cannot run
//! here), answering its first request with a 429. A restart does not discover again; the flag
//! turns discovery off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use plyr_e2e::pds::LocalPds;
use plyr_indexer::IndexerOptions;
use plyr_indexer::cli::{Cli, Command};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The stand-in relay: the PDS's repos for `fm.plyr.track`, none for other collections.
#[derive(Clone)]
struct Relay {
    pds: String,
    requests: Arc<AtomicUsize>,
}

async fn list_repos_by_collection(
    State(relay): State<Relay>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if relay.requests.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response();
    }
    if q.get("collection").map(String::as_str) != Some("fm.plyr.track") {
        return axum::Json(json!({ "repos": [] })).into_response();
    }
    let url = format!("{}/xrpc/com.atproto.sync.listRepos", relay.pds);
    let listed: Value = match reqwest::get(url).await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let repos: Vec<Value> =
        listed["repos"].as_array().into_iter().flatten().map(|r| json!({ "did": r["did"] })).collect();
    axum::Json(json!({ "repos": repos })).into_response()
}

async fn relay(pds: &LocalPds) -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let requests = Arc::new(AtomicUsize::new(0));
    let state = Relay { pds: pds.url().to_owned(), requests: Arc::clone(&requests) };
    let app = axum::Router::new()
        .route("/xrpc/com.atproto.sync.listReposByCollection", get(list_repos_by_collection))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, requests))
}

fn options(pds: &LocalPds, relay: &str, metrics: u16, discover: bool) -> anyhow::Result<IndexerOptions> {
    let cli = Cli::try_parse_from([
        "indexer",
        "run",
        "--jetstream",
        "ws://127.0.0.1:9",
        "--plc-url",
        pds.plc_url(),
        "--allow-test-network",
        "--handle-pds",
        pds.url(),
        "--metrics-listen",
        &format!("127.0.0.1:{metrics}"),
        "--discovery-relay",
        relay,
        "--discover",
        if discover { "true" } else { "false" },
    ])?;
    match cli.command {
        Command::Run(options) => Ok(options),
        _ => anyhow::bail!("not run"),
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn tracks(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tracks").fetch_one(&db.pool).await.unwrap_or(-1)
}

#[tokio::test]
async fn a_fresh_install_discovers_and_backfills_the_network_once() -> anyhow::Result<()> {
    let pds = LocalPds::start().await?;
    let client = pds.client();
    let alice = client.create_account("alice-disc.test", "alice-disc@example.com", "pw-alice").await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for title in ["First", "Second"] {
        let record = json!({ "$type": "fm.plyr.track", "title": title, "artist": "Alice", "fileType": "mp3",
                             "audioUrl": "https://audio.plyr.fm/audio/x.mp3", "createdAt": now });
        client.create_record(&alice, "fm.plyr.track", record, None).await?;
    }
    let (relay_url, requests) = relay(&pds).await?;
    let db = TestDb::new().await?;
    let metrics = free_port()?;

    let run = |discover: bool,
               db: &TestDb|
     -> anyhow::Result<(CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>)> {
        let options = options(&pds, &relay_url, metrics, discover)?;
        let stop = CancellationToken::new();
        let (pool, token) = (db.pool.clone(), stop.clone());
        Ok((stop, tokio::spawn(async move { plyr_indexer::cli::run_live(pool, &options, token).await })))
    };

    // Nothing was ever seen live: the tracks come from discovery and the background backfill.
    let (stop, task) = run(true, &db)?;
    let started = Instant::now();
    while tracks(&db).await < 2 {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "not backfilled within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("discovered and backfilled in {:?}", started.elapsed());
    assert!(requests.load(Ordering::SeqCst) >= 2, "the 429 was waited out and asked again");
    let health: Value = reqwest::get(format!("http://127.0.0.1:{metrics}/ready")).await?.json().await?;
    assert!(health["discovery"]["completed_at"].is_string(), "{health}");
    assert_eq!(health["discovery"]["repos"], 1, "{health}");
    stop.cancel();
    task.await??;

    // A restart finds the completed discovery and does not ask again.
    let asked = requests.load(Ordering::SeqCst);
    let (stop, task) = run(true, &db)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    task.await??;
    assert_eq!(requests.load(Ordering::SeqCst), asked, "discovered again after a restart");

    // With the flag off, a fresh database is not discovered.
    let other = TestDb::new().await?;
    let (stop, task) = run(false, &other)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    task.await??;
    assert_eq!(requests.load(Ordering::SeqCst), asked);
    assert_eq!(tracks(&other).await, 0);
    Ok(())
}
