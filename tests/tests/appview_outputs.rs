//! Every AppView query's response, on a seeded network, validates against its lexicon's output
//! schema in the reference implementation (`@atproto/lexicon` from npm), and matches a committed
//! JSON snapshot with DIDs, CIDs, times and cursors redacted (`UPDATE_SNAPSHOTS=1` rewrites them).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use plyr_appview::{AppState, AppviewOptions};
use plyr_gen::NetworkParams;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn seeded() -> (TestDb, AppState) {
    let db = TestDb::new().await.expect("db");
    plyr_e2e::seed_generated(&db.pool, &NetworkParams::new(11, 3000)).await.expect("seed");
    let mut options = AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
    options.public_url = Some("http://appview.test".into());
    let state = AppState::new(db.pool.clone(), options);
    (db, state)
}

async fn get(state: &AppState, nsid: &str, query: &str) -> Value {
    let uri = format!("/xrpc/{nsid}?{query}");
    let res = plyr_appview::router(state.clone())
        .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 16 << 20).await.expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON body");
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

async fn one(db: &TestDb, sql: &str) -> String {
    sqlx::query_scalar::<_, String>(sql).fetch_one(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Replaces DIDs with stable placeholders (in order of appearance), CIDs, datetimes, cursors and
/// record keys with fixed markers, so snapshots show shape and content, not identifiers.
fn redact(v: &Value, dids: &mut HashMap<String, usize>) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "cid" | "cursor" => json!(format!("<{k}>")),
                        "createdAt" | "indexedAt" | "updatedAt" => json!("<time>"),
                        _ => redact(v, dids),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| redact(i, dids)).collect()),
        Value::String(s) => json!(redact_str(s, dids)),
        other => other.clone(),
    }
}

fn redact_str(s: &str, dids: &mut HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("did:plc:") {
        out.push_str(&rest[..i]);
        let end =
            rest[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == ':')).map_or(rest.len(), |e| i + e);
        let next = dids.len();
        let n = *dids.entry(rest[i..end].to_owned()).or_insert(next);
        out.push_str(&format!("did:plc:<{n}>"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    redact_rkeys(&out)
}

/// `.../fm.plyr.track/3kxyz...` → `.../fm.plyr.track/<rkey>`.
fn redact_rkeys(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let is_tid = part.len() == 13 && part.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase());
        out.push_str(if is_tid { "<rkey>" } else { part });
    }
    out
}

fn snapshot_path(name: &str) -> PathBuf {
    plyr_e2e::repo_root().join("tests").join("snapshots").join("appview").join(format!("{name}.json"))
}

#[tokio::test]
async fn every_query_output_validates_in_the_reference_implementation_and_matches_its_snapshot() {
    let (db, state) = seeded().await;
    let artist = one(&db, "SELECT did FROM tracks GROUP BY did ORDER BY count(*) DESC, did LIMIT 1").await;
    let liker = one(&db, "SELECT did FROM likes GROUP BY did ORDER BY count(*) DESC, did LIMIT 1").await;
    let liked =
        one(&db, "SELECT subject_uri FROM subject_stats ORDER BY likes DESC, subject_uri LIMIT 1").await;
    let commented =
        one(&db, "SELECT subject_uri FROM subject_stats ORDER BY comments DESC, subject_uri LIMIT 1").await;
    let list = one(&db, "SELECT uri FROM lists ORDER BY item_count DESC, uri LIMIT 1").await;
    let handle = one(&db, "SELECT handle FROM actors WHERE did = (SELECT did FROM tracks GROUP BY did ORDER BY count(*) DESC, did LIMIT 1)").await;
    let uris: Vec<String> = sqlx::query_scalar("SELECT uri FROM tracks ORDER BY uri LIMIT 5")
        .fetch_all(&db.pool)
        .await
        .expect("uris");
    let word = one(
        &db,
        "SELECT split_part(lower(title), ' ', 1) FROM tracks GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    .await;
    let tracks_q = uris.iter().map(|u| format!("uris={u}")).collect::<Vec<_>>().join("&");

    let calls: Vec<(&str, &str, String)> = vec![
        ("latest", "fm.plyr.feed.getLatestTracks", "limit=5".into()),
        ("actor-tracks", "fm.plyr.feed.getActorTracks", format!("actor={artist}&limit=5")),
        ("top-all", "fm.plyr.feed.getTopTracks", "period=all&limit=5".into()),
        ("top-week", "fm.plyr.feed.getTopTracks", "period=week&limit=5".into()),
        ("top-plays", "fm.plyr.feed.getTopTracks", "sort=plays&limit=5".into()),
        ("tracks", "fm.plyr.feed.getTracks", tracks_q),
        ("actor-likes", "fm.plyr.feed.getActorLikes", format!("actor={liker}&limit=5")),
        ("likes", "fm.plyr.feed.getLikes", format!("uri={liked}&limit=5")),
        ("comments", "fm.plyr.feed.getComments", format!("uri={commented}&limit=5")),
        ("search-tracks", "fm.plyr.feed.searchTracks", format!("q={word}&limit=5")),
        ("profile", "fm.plyr.actor.getProfile", format!("actor={handle}")),
        ("profiles", "fm.plyr.actor.getProfiles", format!("actors={artist}&actors={liker}")),
        ("search-actors", "fm.plyr.actor.searchActors", "q=a&limit=5".into()),
        ("now-playing", "fm.plyr.actor.getNowPlaying", format!("actor={handle}")),
        ("actor-lists", "fm.plyr.graph.getActorLists", format!("actor={artist}&limit=5")),
        ("list", "fm.plyr.graph.getList", format!("list={list}&limit=5")),
        ("stats", "fm.plyr.unspecced.getStats", String::new()),
        ("search", "fm.plyr.unspecced.search", format!("q={word}&limit=3")),
    ];
    let mut responses = Vec::new();
    let mut mismatches = Vec::new();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for (name, nsid, query) in &calls {
        let body = get(&state, nsid, query).await;
        let redacted = redact(&body, &mut HashMap::new());
        let path = snapshot_path(name);
        let text = serde_json::to_string_pretty(&redacted).expect("json") + "\n";
        if update {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("snapshot dir");
            std::fs::write(&path, &text).expect("write snapshot");
        } else {
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != text {
                mismatches.push(format!("{name} ({nsid}?{query}):\n{text}"));
            }
        }
        responses.push(json!({ "nsid": nsid, "body": body }));
    }

    plyr_e2e::ensure_npm_packages().expect("npm packages for tests/js");
    let file = std::env::temp_dir().join(format!("plyr-outputs-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&responses).expect("json")).expect("write responses");
    let out = Command::new("node")
        .arg("validate-outputs.mjs")
        .arg(&file)
        .current_dir(plyr_e2e::js_dir())
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the reference validator rejected a response:\n{stdout}");
    assert!(stdout.contains(&format!("outputs: {} passed, 0 failed", calls.len())), "{stdout}");
    assert!(
        mismatches.is_empty(),
        "snapshots differ (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
