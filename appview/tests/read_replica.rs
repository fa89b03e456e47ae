//! Reads from a real streaming replica: the test starts its own primary (`initdb`), clones it
//! with `pg_basebackup` into a hot standby on another loopback port that applies WAL 1.5 s late
//! (`recovery_min_apply_delay`), and serves an AppView reading from the standby with change
//! notifications from the primary. After each like committed on the primary, no answer (REST
//! and XRPC, polled one after another, the caches warm) shows the old count once one has shown
//! the new one, and the new count shows within the lag plus 1 s.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plyr_appview::AppState;
use plyr_indexer::pipeline::BatchConfig;
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::LocalCluster;
use support::{ALICE, BOB, Net, at, like, strong_ref, track};
use tokio_util::sync::CancellationToken;

const APPLY_DELAY: Duration = Duration::from_millis(1500);
const LIKES: usize = 3;

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool (as the `postgres` user when we are root: the server refuses root).
fn pg(tool: &str, args: &[&str]) {
    let mut cmd = if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", tool]);
        c
    } else {
        Command::new(tool)
    };
    let out = cmd.args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Stops both servers and removes their folder, also when the test fails.
struct Clusters(PathBuf);

impl Drop for Clusters {
    fn drop(&mut self) {
        for name in ["replica", "primary"] {
            let data = self.0.join(name).join("data");
            if data.exists() {
                let mut cmd = if as_root() {
                    let mut c = Command::new("runuser");
                    c.args(["-u", "postgres", "--", "pg_ctl"]);
                    c
                } else {
                    Command::new("pg_ctl")
                };
                let _ = cmd.args(["stop", "-m", "immediate", "-D"]).arg(&data).output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A hot standby of `primary` in `dir`, applying WAL `APPLY_DELAY` late.
async fn standby(primary: &LocalCluster, dir: &Path) -> LocalCluster {
    std::fs::create_dir_all(dir).expect("replica folder");
    if as_root() {
        let out = Command::new("chown").arg("postgres").arg(dir).output().expect("chown");
        assert!(out.status.success());
    }
    let data = dir.join("data");
    let port = primary.port().to_string();
    let target = data.to_str().expect("utf-8 path");
    pg(
        "pg_basebackup",
        &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", target, "-R", "-X", "stream", "-c", "fast"],
    );
    let conf = data.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&conf).expect("auto.conf");
    text.push_str(&format!("recovery_min_apply_delay = '{}ms'\nhot_standby = on\n", APPLY_DELAY.as_millis()));
    std::fs::write(&conf, text).expect("auto.conf");
    LocalCluster::start(dir).await.expect("start the standby")
}

async fn get(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = client.get(url).send().await.expect("answer");
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_never_go_back_to_an_older_count_and_catch_up_within_the_lag_plus_a_second() {
    let dir = std::env::temp_dir().join(format!("plyr-replica-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _cleanup = Clusters(dir.clone());
    let primary = LocalCluster::start(&dir.join("primary")).await.expect("start the primary");
    let admin = plyr_store::connect(&primary.url("postgres"), 1).await.expect("admin");
    sqlx::query("CREATE DATABASE plyr").execute(&admin).await.expect("create database");
    let write_pool = plyr_store::connect(&primary.url("plyr"), 4).await.expect("primary");
    plyr_store::migrate(&write_pool).await.expect("migrate");
    let replica = standby(&primary, &dir.join("replica")).await;

    let mut origins = vec!["https://audio.example.com"];
    origins.extend(plyr_indexer::config::DEFAULT_TRUSTED_AUDIO_ORIGINS);
    let writer = Arc::new(Writer::new(write_pool.clone(), TrustedOrigins::new(origins)).expect("writer"));
    let lines_dir = dir.clone();
    let apply = |lines: Vec<String>, n: usize| {
        let (writer, path) = (Arc::clone(&writer), lines_dir.join(format!("lines-{n}.jsonl")));
        async move {
            std::fs::write(&path, lines.join("\n") + "\n").expect("lines");
            plyr_indexer::replay::replay(
                writer,
                &path,
                true,
                BatchConfig::default(),
                CancellationToken::new(),
            )
            .await
            .expect("replay");
        }
    };
    let mut net = Net::now();
    net.actor(ALICE, "alice.test");
    net.actor(BOB, "bob.test");
    let song = net.create(ALICE, "fm.plyr.track", track("song", "alice", &at(2, 10)));
    apply(net.lines().to_vec(), 0).await;

    let read =
        plyr_appview::db::connect(&replica.url("plyr"), &support::options()).await.expect("replica pool");
    // One client polling as fast as it can: no per-client rate limit.
    let options = plyr_appview::AppviewOptions { rate_limit_per_sec: 0, ..support::options() };
    let state = AppState::with_replica(read.clone(), write_pool.clone(), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::server::serve_on(listener, state, shutdown.clone()));
    let client = reqwest::Client::new();

    // The standby has the track once it has replayed it; the AppView is listening on the primary.
    let started = Instant::now();
    loop {
        let ready = get(&client, &format!("{base}/ready")).await;
        assert_eq!(ready["primary"], "up", "{ready}");
        let listening: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN%')")
                .fetch_one(&write_pool)
                .await
                .expect("pg_stat_activity");
        let found =
            client.get(format!("{base}/tracks/by-uri?uri={song}")).send().await.expect("answer").status();
        if listening && found.is_success() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the standby never showed the track");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rest = format!("{base}/tracks/by-uri?uri={song}");
    let xrpc = format!("{base}/xrpc/fm.plyr.feed.getTracks?uris={song}");
    let count = |rest: serde_json::Value, xrpc: serde_json::Value| {
        (
            rest["like_count"].as_i64().expect("like_count"),
            xrpc["tracks"][0]["likeCount"].as_i64().expect("likeCount"),
        )
    };

    let mut lags = Vec::new();
    for n in 1..=LIKES {
        let expected_before = (n - 1) as i64;
        // Warm every cache with the current count.
        for _ in 0..3 {
            let seen = count(get(&client, &rest).await, get(&client, &xrpc).await);
            assert_eq!(seen, (expected_before, expected_before));
        }
        let mut net_like = Net::now();
        let liker = format!("did:plc:liker{n:0>20}");
        net_like.actor(&liker, &format!("liker{n}.test"));
        net_like.create(&liker, "fm.plyr.like", like(&song, &at(3, 10)));
        let _ = strong_ref(&song);
        apply(net_like.lines().to_vec(), n).await;
        let committed = Instant::now();

        let mut first_new = None;
        let mut answers = 0;
        while committed.elapsed() < APPLY_DELAY + Duration::from_secs(4) {
            for url in [&rest, &xrpc] {
                let body = get(&client, url).await;
                let seen = body["like_count"].as_i64().or_else(|| body["tracks"][0]["likeCount"].as_i64());
                let seen = seen.expect("a like count");
                answers += 1;
                match first_new {
                    None if seen == expected_before + 1 => first_new = Some(committed.elapsed()),
                    None => assert_eq!(seen, expected_before, "like {n}: an unexpected count"),
                    Some(at) => assert_eq!(
                        seen,
                        expected_before + 1,
                        "like {n}: {url} went back to the old count after the new one showed at {at:?}"
                    ),
                }
            }
        }
        let shown = first_new.unwrap_or_else(|| panic!("like {n}: the new count never showed"));
        assert!(
            shown <= APPLY_DELAY + Duration::from_secs(1),
            "like {n}: the new count showed after {shown:?}, more than the lag plus 1 s"
        );
        assert!(shown >= APPLY_DELAY / 2, "like {n}: shown after {shown:?}: the standby did not lag?");
        println!("like {n}: new count after {} ms ({answers} answers polled)", shown.as_millis());
        lags.push(shown);
    }
    let ready = get(&client, &format!("{base}/ready")).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["replicaLagSeconds"].is_number(), "a standby reports its replay lag: {ready}");
    shutdown.cancel();
    let _ = server.await;
    read.close().await;
    write_pool.close().await;
    admin.close().await;
}
