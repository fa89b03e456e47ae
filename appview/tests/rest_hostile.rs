//! The REST surface against hostile data: a feed where 1,200 tracks share one `createdAt`
//! pages through every track exactly once, and PDS endpoints that are not https URLs on public
//! hosts never become a redirect or a URL handed out.

mod support;

use std::collections::HashSet;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use plyr_appview::{AppState, router};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

/// Tracks sharing one `createdAt` (more than the old 1,000-row tie cap).
const TIED: usize = 1_200;

async fn send(state: &AppState, uri: &str) -> (StatusCode, HeaderMap, Value) {
    let req = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let res = router(state.clone()).oneshot(req).await.expect("response");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = to_bytes(res.into_body(), 64 << 20).await.expect("body");
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Follows `next_cursor` from `first` until it is null; every item's `key`, in order.
async fn page_all(
    state: &AppState,
    path: &str,
    items: &str,
    key: &dyn Fn(&Value) -> Option<String>,
) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut uri = path.to_owned();
    for _ in 0..2 * TIED {
        let (status, _, page) = send(state, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        let list = page[items].as_array().unwrap_or_else(|| panic!("{items} in {page}"));
        assert!(list.len() <= 100, "a page never exceeds its limit");
        seen.extend(list.iter().filter_map(key));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["has_more"], true);
                uri = format!("{path}{sep}cursor={}", enc(cursor));
            }
            None => {
                assert_eq!(page["has_more"], false);
                return seen;
            }
        }
    }
    panic!("{path} never ended");
}

fn exactly_once(seen: &[String], expected: &HashSet<String>, what: &str) {
    let distinct: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "{what}: an item was served twice");
    assert_eq!(&distinct, expected, "{what}: every item is reached");
}

#[tokio::test]
async fn rest_feeds_reach_every_track_of_a_huge_tie_exactly_once() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    let created = at(5, 12);
    let uris: HashSet<String> = (0..TIED)
        .map(|i| n.create(ALICE, "fm.plyr.track", track(&format!("Tie {i}"), "Alice", &created)))
        .collect();
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = state(&db);

    let track_uri = |t: &Value| t["atproto_record_uri"].as_str().map(str::to_owned);
    for limit in [100, 7] {
        let seen = page_all(&state, &format!("/tracks/?limit={limit}"), "tracks", &track_uri).await;
        exactly_once(&seen, &uris, &format!("/tracks/ limit {limit}"));
    }
    let seen =
        page_all(&state, &format!("/tracks/?limit=100&artist_did={ALICE}"), "tracks", &track_uri).await;
    exactly_once(&seen, &uris, "/tracks/?artist_did");

    // Activity: one `track` event per track.
    let event_title =
        |e: &Value| (e["type"] == "track").then(|| e["track"]["title"].as_str().map(str::to_owned)).flatten();
    let titles: HashSet<String> = (0..TIED).map(|i| format!("Tie {i}")).collect();
    let seen = page_all(&state, "/activity/?limit=100", "events", &event_title).await;
    exactly_once(&seen, &titles, "/activity/");
}

/// A world of one blob track (with an avatar) whose artist's PDS endpoint is `endpoint`.
async fn world(db: &TestDb, endpoint: &str, allow_test_network: bool) -> (AppState, String) {
    sqlx::query("UPDATE actors SET pds_endpoint = $1").bind(endpoint).execute(&db.pool).await.expect("pds");
    let mut options = options();
    options.avatar_cdn = String::new();
    options.allow_test_network = allow_test_network;
    let state = AppState::new(db.pool.clone(), options);
    let (_, _, page) = send(&state, "/tracks/").await;
    let file_id = page["tracks"][0]["file_id"].as_str().expect("file id").to_owned();
    (state, file_id)
}

#[tokio::test]
async fn pds_endpoints_off_the_public_https_web_are_never_redirect_targets() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.create(ALICE, "fm.plyr.track", track("Morning Light", "Alice", &at(2, 0)));
    // Bluesky profiles count from an account's first fm.plyr record on.
    let avatar = json!({ "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "image/jpeg", "size": 1000 });
    n.put(
        ALICE,
        "app.bsky.actor.profile",
        "self",
        json!({ "$type": "app.bsky.actor.profile", "avatar": avatar }),
    );
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;

    let refused = [
        "http://evil.example",
        "http://pds.example.com",
        "https://127.0.0.1",
        "https://10.0.0.1",
        "https://[::1]",
        "https://localhost",
        "https://pds.example.com:8443",
        "https://user@pds.example.com",
        "javascript:alert(1)//",
        "https://pds.example.com/?next=https://evil.example",
    ];
    for endpoint in refused {
        let (state, file_id) = world(&db, endpoint, false).await;
        for (path, detail) in [
            (format!("/audio/{file_id}"), "audio file not found"),
            (format!("/audio/{file_id}/download"), "no downloadable file"),
        ] {
            let (status, headers, body) = send(&state, &path).await;
            assert_eq!(
                (status, body),
                (StatusCode::NOT_FOUND, json!({ "detail": detail })),
                "{endpoint} {path}"
            );
            assert!(headers.get("location").is_none(), "{endpoint}: no redirect");
        }
        // Nothing handed out points at the endpoint: not the REST track, not the XRPC view.
        for path in ["/tracks/", "/xrpc/fm.plyr.feed.getLatestTracks"] {
            let (status, _, body) = send(&state, path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let text = body.to_string();
            assert!(!text.contains("getBlob") && !text.contains("getRecord"), "{endpoint} {path}: {text}");
        }
        let (_, _, page) = send(&state, "/tracks/").await;
        assert_eq!(page["tracks"][0]["r2_url"], format!("http://appview.test/audio/{file_id}"), "{endpoint}");
    }

    let (state, file_id) = world(&db, "https://pds.example.com", false).await;
    let (status, headers, _) = send(&state, &format!("/audio/{file_id}")).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let blob = format!("https://pds.example.com/xrpc/com.atproto.sync.getBlob?did={ALICE}&cid={BLOB}");
    assert_eq!(headers["location"], blob.as_str());
    let (_, _, page) = send(&state, "/tracks/").await;
    assert!(
        page["tracks"][0]["artist_avatar_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://pds.example.com/"))
    );

    // An operator's test network: a local PDS over http on loopback is a redirect target.
    let (state, file_id) = world(&db, "http://localhost:2583", true).await;
    let (status, headers, _) = send(&state, &format!("/audio/{file_id}")).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert!(headers["location"].to_str().is_ok_and(|l| l.starts_with("http://localhost:2583/xrpc/")));
}
