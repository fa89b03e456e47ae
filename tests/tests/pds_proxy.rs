//! PDS service proxying end to end: a user calls their own reference PDS (from npm) with
//! `atproto-proxy: did:web:localhost%3A<port>#plyr_appview`; the PDS reads our
//! `/.well-known/did.json`, signs a service JWT with the user's key, and forwards the call; the
//! AppView verifies the token against the user's DID document in the local PLC directory and
//! answers with that user's viewer state.

use std::time::Duration;

use plyr_appview::{AppState, AppviewOptions};
use plyr_e2e::pds::LocalPds;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Indexes the accounts' records as a Jetstream replay (the firehose path has its own tests).
async fn index(db: &TestDb, pds: &LocalPds, dids: &[&str]) -> anyhow::Result<()> {
    let client = pds.client();
    let mut lines = Vec::new();
    let mut t = chrono::Utc::now().timestamp_micros() - 60_000_000;
    for did in dids {
        for collection in ["fm.plyr.track", "fm.plyr.like"] {
            for r in client.list_records(did, collection).await? {
                t += 1000;
                let uri = r["uri"].as_str().unwrap_or_default();
                let rkey = uri.rsplit('/').next().unwrap_or_default();
                lines.push(
                    json!({ "did": did, "time_us": t, "kind": "commit", "commit": {
                        "rev": rkey, "operation": "create", "collection": collection, "rkey": rkey,
                        "cid": r["cid"], "record": r["value"],
                    }})
                    .to_string(),
                );
            }
        }
    }
    plyr_e2e::replay_lines(&db.pool, &lines).await?;
    for did in dids {
        sqlx::query("UPDATE actors SET handle_verified = TRUE, pds_endpoint = $2 WHERE did = $1")
            .bind(did)
            .bind(pds.url())
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test]
async fn a_call_proxied_by_the_users_pds_carries_their_viewer_state() -> anyhow::Result<()> {
    let pds = LocalPds::start().await?;
    let client = pds.client();
    let alice = client.create_account("alice.test", "alice@example.com", "alice-pw").await?;
    let bob = client.create_account("bob.test", "bob@example.com", "bob-pw").await?;
    // Not an `ID3` header: the PDS sniffs content and fails on a truncated MP3.
    let blob = client.upload_blob(&bob, b"stand-in audio ".repeat(64), "audio/mpeg").await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let track = |title: &str| {
        json!({ "$type": "fm.plyr.track", "title": title, "artist": "Bob", "fileType": "mp3",
                "audioBlob": blob, "createdAt": now })
    };
    let liked = client.create_record(&bob, "fm.plyr.track", track("Liked"), None).await?;
    let other = client.create_record(&bob, "fm.plyr.track", track("Not liked"), None).await?;
    let like = client
        .create_record(
            &alice,
            "fm.plyr.like",
            json!({ "$type": "fm.plyr.like", "subject": liked.strong_ref(), "createdAt": now }),
            None,
        )
        .await?;

    let db = TestDb::new().await?;
    index(&db, &pds, &[&alice.did, &bob.did]).await?;

    let port = free_port()?;
    let mut options = AppviewOptions::defaults(format!("127.0.0.1:{port}").parse()?);
    options.public_url = Some(format!("http://localhost:{port}"));
    options.plc_url = pds.plc_url().to_owned();
    options.allow_test_network = true; // the local PDS and PLC are on loopback, over http
    let service_did = options.service_did();
    assert_eq!(service_did, format!("did:web:localhost%3A{port}"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::serve(AppState::new(db.pool.clone(), options), shutdown.clone()));
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/xrpc/_health")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let did_doc: Value =
        reqwest::get(format!("http://localhost:{port}/.well-known/did.json")).await?.json().await?;
    assert_eq!(did_doc["id"], service_did.as_str());
    assert_eq!(did_doc["service"][0]["id"], "#plyr_appview");
    assert_eq!(did_doc["service"][1]["id"], "#mention_search");

    let proxy = format!("{service_did}#plyr_appview");
    let res = client.proxied_get(&alice, "fm.plyr.feed.getLatestTracks", &[], &proxy).await?;
    let status = res.status();
    let body: Value = res.json().await?;
    assert_eq!(status, 200, "{body}\nPDS log:\n{}", pds.stderr_tail());
    let tracks = body["tracks"].as_array().cloned().unwrap_or_default();
    let by_uri = |u: &str| tracks.iter().find(|t| t["uri"] == u).cloned().unwrap_or(Value::Null);
    assert_eq!(
        by_uri(&liked.uri)["viewer"]["like"],
        like.uri.as_str(),
        "alice's like, seen as alice: {body}"
    );
    assert_eq!(by_uri(&other.uri)["viewer"], json!({}), "viewer state without a like");
    assert_eq!(by_uri(&liked.uri)["likeCount"], 1);
    assert_eq!(
        by_uri(&liked.uri)["audio"]["url"],
        format!(
            "{}/xrpc/com.atproto.sync.getBlob?did={}&cid={}",
            pds.url(),
            bob.did,
            blob["ref"]["$link"].as_str().unwrap_or_default()
        )
    );

    // getForYou needs a viewer: through the PDS it has one; without, it is refused.
    let res = client.proxied_get(&alice, "fm.plyr.feed.getForYou", &[], &proxy).await?;
    assert_eq!(res.status(), 200, "{}", res.text().await?);
    let anon = reqwest::get(format!("http://127.0.0.1:{port}/xrpc/fm.plyr.feed.getForYou")).await?;
    assert_eq!(anon.status(), 401);

    // The token the PDS hands out for another method is refused for this one.
    let token = client.get_service_auth(&alice, &service_did, "fm.plyr.feed.getTopTracks").await?;
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/xrpc/fm.plyr.feed.getLatestTracks"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await?;
    assert_eq!(err["error"], "InvalidToken");

    shutdown.cancel();
    let _ = server.await;
    Ok(())
}
