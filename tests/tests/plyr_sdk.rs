//! The proof with plyr.fm's own clients: the `plyrfm` SDK and CLI and the `plyrfm-mcp` server,
//! installed from PyPI into a virtualenv, pointed at the AppView with `PLYR_API_URL`, return
//! what was written to a reference PDS (from npm) and indexed: tracks by id and AT-URI, the
//! latest and top tracks, search of every kind, playlists, tags, and a download whose bytes are
//! the blob uploaded to the PDS. The checks run in `tests/py/plyr_sdk_check.py`.
//!
//! The virtualenv is [`plyr_e2e::python::venv`]: the first run installs (about half a minute),
//! later runs reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plyr_appview::{AppState, AppviewOptions};
use plyr_e2e::pds::{Account, LocalPds, RecordRef};
use plyr_e2e::python::{py_dir, venv};
use plyr_indexer::write::rules::{list_id, track_id};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn created(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Indexes the accounts' records as a Jetstream replay, with their handles, then marks the
/// handles verified and the PDS known, as the identity worker would.
async fn index(db: &TestDb, pds: &LocalPds, accounts: &[&Account]) -> anyhow::Result<()> {
    let client = pds.client();
    let mut t = chrono::Utc::now().timestamp_micros() - 60_000_000;
    let mut lines = Vec::new();
    for a in accounts {
        t += 1000;
        let identity = json!({ "did": a.did, "handle": a.handle, "seq": t, "time": created(0) });
        lines.push(
            json!({ "did": a.did, "time_us": t, "kind": "identity", "identity": identity }).to_string(),
        );
        // The Bluesky profile after the account's first fm.plyr record: the write path keeps it
        // from then on (earlier ones come with the account's backfill).
        for collection in ["fm.plyr.track", "fm.plyr.like", "fm.plyr.list", "app.bsky.actor.profile"] {
            for r in client.list_records(&a.did, collection).await? {
                t += 1000;
                let rkey =
                    r["uri"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
                let commit = json!({
                    "rev": tid(t), "operation": "create", "collection": collection, "rkey": rkey,
                    "cid": r["cid"], "record": r["value"],
                });
                lines.push(
                    json!({ "did": a.did, "time_us": t, "kind": "commit", "commit": commit }).to_string(),
                );
            }
        }
    }
    plyr_e2e::replay_lines(&db.pool, &lines).await?;
    for a in accounts {
        // The identity event precedes the account's first record, so the write path leaves the
        // handle to the identity worker; set what it would find.
        sqlx::query(
            "UPDATE actors SET handle = $3, handle_verified = TRUE, pds_endpoint = $2 WHERE did = $1",
        )
        .bind(&a.did)
        .bind(pds.url())
        .bind(&a.handle)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// A TID (base32-sortable) for the time `us` in microseconds: a commit rev.
fn tid(us: i64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let v = u64::try_from(us).unwrap_or_default() << 10;
    (0..13).rev().map(|i| char::from(ALPHABET[((v >> (i * 5)) & 31) as usize])).collect()
}

fn expected_track(r: &RecordRef, title: &str, likes: i64) -> Value {
    json!({ "id": track_id(&r.uri), "uri": r.uri, "title": title, "file_id": r.rkey(), "like_count": likes })
}

#[tokio::test]
async fn plyr_sdk_cli_and_mcp_read_the_appview() -> anyhow::Result<()> {
    let venv = tokio::task::spawn_blocking(|| venv(Path::new(env!("CARGO_TARGET_TMPDIR")))).await??;
    let pds = LocalPds::start().await?;
    let client = pds.client();
    let alice = client.create_account("alice.test", "alice@example.com", "alice-pw").await?;
    let bob = client.create_account("bob.test", "bob@example.com", "bob-pw").await?;
    client
        .create_record(
            &alice,
            "app.bsky.actor.profile",
            json!({ "$type": "app.bsky.actor.profile", "displayName": "Alice Liddell" }),
            Some("self"),
        )
        .await?;
    // Not an `ID3` header: the PDS sniffs content and fails on a truncated MP3.
    let morning_audio = b"plyr sdk proof: morning light ".repeat(300);
    let morning_blob = client.upload_blob(&alice, morning_audio.clone(), "audio/mpeg").await?;
    let other_blob = client.upload_blob(&alice, b"plyr sdk proof: other ".repeat(300), "audio/mpeg").await?;
    let track = |title: &str, artist: &str, blob: &Value, minutes_ago: i64| {
        json!({ "$type": "fm.plyr.track", "title": title, "artist": artist, "fileType": "mp3",
                "duration": 180, "audioBlob": blob, "createdAt": created(minutes_ago) })
    };
    let morning = client
        .create_record(&alice, "fm.plyr.track", track("Morning Light", "Alice", &morning_blob, 30), None)
        .await?;
    let evening = client
        .create_record(&alice, "fm.plyr.track", track("Evening Tide", "Alice", &other_blob, 20), None)
        .await?;
    let bob_blob = client.upload_blob(&bob, b"plyr sdk proof: lighthouse ".repeat(300), "audio/mpeg").await?;
    let lighthouse =
        client.create_record(&bob, "fm.plyr.track", track("Lighthouse", "Bob", &bob_blob, 10), None).await?;
    let like = |r: &RecordRef| json!({ "$type": "fm.plyr.like", "subject": r.strong_ref(), "createdAt": created(5) });
    client.create_record(&bob, "fm.plyr.like", like(&morning), None).await?;
    client.create_record(&alice, "fm.plyr.like", like(&morning), None).await?;
    client.create_record(&bob, "fm.plyr.like", like(&evening), None).await?;
    let list = |kind: &str, name: &str, items: &[&RecordRef]| {
        let items: Vec<Value> = items.iter().map(|r| json!({ "subject": r.strong_ref() })).collect();
        json!({ "$type": "fm.plyr.list", "listType": kind, "name": name, "items": items, "createdAt": created(4) })
    };
    client
        .create_record(&alice, "fm.plyr.list", list("album", "Light Works", &[&morning, &evening]), None)
        .await?;
    let playlist = client
        .create_record(&bob, "fm.plyr.list", list("playlist", "Bob Mix", &[&evening, &morning]), None)
        .await?;

    let db = TestDb::new().await?;
    index(&db, &pds, &[&alice, &bob]).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut options = AppviewOptions::defaults(format!("127.0.0.1:{port}").parse()?);
    options.public_url = Some(format!("http://127.0.0.1:{port}"));
    options.rate_limit_per_sec = 0; // the SDK check calls in bursts from one address
    options.allow_test_network = true; // the local PDS and PLC are on loopback, over http
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::serve(AppState::new(db.pool.clone(), options), shutdown.clone()));
    let api = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{api}/xrpc/_health")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let work = tempdir()?;
    let blob_path = work.join("morning.bin");
    std::fs::write(&blob_path, &morning_audio)?;
    let expect = json!({
        "api_url": api,
        "tracks": [
            expected_track(&lighthouse, "Lighthouse", 0),
            expected_track(&evening, "Evening Tide", 1),
            expected_track(&morning, "Morning Light", 2),
        ],
        "top": [track_id(&morning.uri), track_id(&evening.uri)],
        "playlist": {
            "id": list_id(&playlist.uri), "name": "Bob Mix", "owner_did": bob.did,
            "track_ids": [track_id(&evening.uri), track_id(&morning.uri)],
        },
        "search": {
            "tracks": ["morning", "Morning Light"],
            "artists": ["alice", alice.did],
            "albums": ["light works", "Light Works"],
            "playlists": ["bob mix", "Bob Mix"],
        },
        "search_cli": {
            "tracks": "Morning Light by Alice Liddell",
            "artists": "@alice.test: Alice Liddell",
            "albums": "Light Works by Alice Liddell",
            "playlists": "Bob Mix by bob.test",
        },
        "download": { "id": track_id(&morning.uri), "blob_path": blob_path },
    });
    let expect_path = work.join("expect.json");
    std::fs::write(&expect_path, serde_json::to_vec_pretty(&expect)?)?;

    let started = Instant::now();
    let script = py_dir().join("plyr_sdk_check.py");
    let python = venv.join("bin").join("python");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).arg(&expect_path).env_remove("PLYR_TOKEN").output()
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    println!("client checks took {:.1?}", started.elapsed());
    shutdown.cancel();
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&work);
    assert!(out.status.success() && stdout.contains("ALL CHECKS PASSED"), "the plyr.fm clients disagree");
    Ok(())
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("plyr-sdk-proof-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
