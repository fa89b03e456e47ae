//! The edge of the HTTP surface, through the router (no socket): NUL characters anywhere in a
//! path or query, oversized URLs, headers, bodies and search queries, unknown routes, wrong
//! methods, unparsable bodies and timeouts all answer a 4xx/503 with a JSON body in the
//! surface's shape (`{"error", "message"}` under `/xrpc`, `{"detail"}` elsewhere), never a 500.

mod support;

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use plyr_appview::{AppState, router};
use plyr_store::testkit::TestDb;
use serde_json::Value;
use tower::ServiceExt;

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, Value, String) {
    let res = router(state.clone()).oneshot(req).await.expect("response");
    let status = res.status();
    let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = to_bytes(res.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), ctype)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value, String) {
    send(state, Request::get(uri).body(Body::empty()).expect("request")).await
}

/// The body is an error in the shape of the surface `uri` belongs to.
fn assert_shape(uri: &str, status: StatusCode, body: &Value, ctype: &str) {
    assert!(ctype.starts_with("application/json"), "{uri}: {status} content-type {ctype:?}, body {body}");
    if uri.starts_with("/xrpc") {
        assert!(body["error"].is_string() && body["message"].is_string(), "{uri}: {status} {body}");
    } else {
        assert!(body.get("detail").is_some(), "{uri}: {status} {body}");
    }
}

const TRACK: &str = "at://did:plc:aliceaaaaaaaaaaaaaaaaaaa/fm.plyr.track/3lzyxwvutsrqp";

#[tokio::test]
async fn nul_anywhere_in_a_request_is_a_client_error_on_every_route() {
    let db = TestDb::new().await.expect("test db");
    let state = support::state(&db);
    let xrpc = [
        "/xrpc/fm.plyr.feed.getLatestTracks?cursor=1::at://%00".to_owned(),
        "/xrpc/fm.plyr.feed.getActorTracks?actor=alice.test&cursor=1::%00".to_owned(),
        "/xrpc/fm.plyr.feed.getTopTracks?period=%00".to_owned(),
        "/xrpc/fm.plyr.feed.getTopTracks?cursor=%00".to_owned(),
        format!("/xrpc/fm.plyr.feed.getTracks?uris={TRACK}%00"),
        "/xrpc/fm.plyr.feed.getActorLikes?actor=alice.test&cursor=1::%00".to_owned(),
        format!("/xrpc/fm.plyr.feed.getLikes?uri={TRACK}&cursor=1::at://%00"),
        format!("/xrpc/fm.plyr.feed.getComments?uri={TRACK}&cursor=1::at://%00"),
        "/xrpc/fm.plyr.feed.searchTracks?q=ab%00".to_owned(),
        "/xrpc/fm.plyr.feed.searchTracks?q=ab&cursor=%00".to_owned(),
        "/xrpc/fm.plyr.feed.getForYou?cursor=%00".to_owned(),
        "/xrpc/fm.plyr.actor.getProfile?actor=%00".to_owned(),
        "/xrpc/fm.plyr.actor.getProfiles?actors=alice.test%00".to_owned(),
        "/xrpc/fm.plyr.actor.searchActors?q=ab%00".to_owned(),
        "/xrpc/fm.plyr.graph.getActorLists?actor=alice.test&listType=%00".to_owned(),
        format!("/xrpc/fm.plyr.graph.getList?list={TRACK}&cursor=%00"),
        "/xrpc/fm.plyr.unspecced.getStats?x=%00".to_owned(),
        "/xrpc/fm.plyr.unspecced.search?q=ab%00".to_owned(),
        "/xrpc/parts.page.mention.search?service=x&search=ab%00".to_owned(),
        "/xrpc/%00".to_owned(),
        "/xrpc/fm.plyr.feed.getLatestTracks%00".to_owned(),
    ];
    let rest = [
        "/tracks/?cursor=%00",
        "/tracks/?artist_did=did:plc:%00",
        "/tracks/?tags=%00",
        "/tracks/top?period=%00",
        "/tracks/by-uri?uri=%00",
        "/tracks/tags?q=%00",
        "/tracks/tags/%00",
        "/tracks/%00",
        "/tracks/1%00",
        "/tracks/%00/likes",
        "/tracks/%00/comments",
        "/users/%00/likes",
        "/artists/by-handle/%00",
        "/artists/did:plc:%00",
        "/albums/%00",
        "/albums/alice.test/%00",
        "/lists/playlists/by-artist/%00",
        "/lists/playlists/by-uri?uri=at://%00",
        "/lists/playlists/%00",
        "/lists/by-uri?uri=at://%00",
        "/search/?q=ab%00",
        "/activity/?cursor=%00",
        "/stats?x=%00",
        "/oembed?url=https://plyr.fm/track/%00",
        "/audio/%00",
        "/audio/%00/download",
        "/.well-known/did.json?%00",
    ];
    let mut failures = Vec::new();
    for uri in xrpc.iter().map(String::as_str).chain(rest) {
        let (status, body, ctype) = get(&state, uri).await;
        let expected: &[StatusCode] = if uri.starts_with("/xrpc") {
            &[StatusCode::BAD_REQUEST]
        } else {
            &[StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY]
        };
        if !expected.contains(&status) {
            failures.push(format!("{uri}: {status} {body}"));
            continue;
        }
        assert_shape(uri, status, &body, &ctype);
    }
    assert!(failures.is_empty(), "{} routes answered NUL wrongly:\n{}", failures.len(), failures.join("\n"));
    // The XRPC answer names the parameter; the REST one is FastAPI's validation list.
    let (_, body, _) = get(&state, "/xrpc/fm.plyr.feed.searchTracks?q=ab%00").await;
    assert_eq!(body["error"], "InvalidRequest");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("q")), "{body}");
    let (_, body, _) = get(&state, "/search/?q=ab%00").await;
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["query", "q"]), "{body}");
}

#[tokio::test]
async fn oversized_search_queries_are_refused_before_the_database() {
    let db = TestDb::new().await.expect("test db");
    let state = support::state(&db);
    let q = "a".repeat(8 * 1024);
    for nsid in ["fm.plyr.feed.searchTracks", "fm.plyr.actor.searchActors", "fm.plyr.unspecced.search"] {
        let started = Instant::now();
        let (status, body, _) = get(&state, &format!("/xrpc/{nsid}?q={q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{nsid}: {body}");
        assert_eq!(body["error"], "InvalidRequest", "{nsid}");
        assert!(started.elapsed() < Duration::from_secs(1), "{nsid} took {:?}", started.elapsed());
    }
    // Cursors are bounded too.
    for nsid in ["fm.plyr.feed.searchTracks", "fm.plyr.actor.searchActors"] {
        let (status, _, _) = get(&state, &format!("/xrpc/{nsid}?q=ab&cursor={q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{nsid} cursor");
    }
    let (status, body, _) = get(&state, &format!("/xrpc/fm.plyr.feed.getLatestTracks?cursor={q}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // 100 characters of a three-byte script are still a query.
    let cjk = "音".repeat(100);
    let (status, body, _) = get(&state, &format!("/xrpc/fm.plyr.feed.searchTracks?q={cjk}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = get(&state, &format!("/search/?q={q}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["type"], "string_too_long");
}

#[tokio::test]
async fn every_error_answer_has_a_json_body_in_the_surface_shape() {
    let db = TestDb::new().await.expect("test db");
    let state = support::state(&db);
    let long_url = format!("/tracks/?cursor={}", "a".repeat(20 * 1024));
    let long_xrpc = format!("/xrpc/fm.plyr.feed.getLatestTracks?cursor={}", "a".repeat(20 * 1024));
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (Request::get("/nope").body(Body::empty()).expect("req"), StatusCode::NOT_FOUND, "/nope"),
        (Request::get("/xrpc/").body(Body::empty()).expect("req"), StatusCode::NOT_FOUND, "/xrpc/"),
        (Request::get("/xrpc").body(Body::empty()).expect("req"), StatusCode::NOT_FOUND, "/xrpc"),
        (
            Request::get("/xrpc/com.example.unknown").body(Body::empty()).expect("req"),
            StatusCode::NOT_IMPLEMENTED,
            "/xrpc/com.example.unknown",
        ),
        (
            Request::builder().method(Method::DELETE).uri("/tracks/").body(Body::empty()).expect("req"),
            StatusCode::METHOD_NOT_ALLOWED,
            "/tracks/",
        ),
        (
            Request::builder().method(Method::DELETE).uri("/xrpc/_health").body(Body::empty()).expect("req"),
            StatusCode::METHOD_NOT_ALLOWED,
            "/xrpc/_health",
        ),
        (
            Request::post("/artists/batch")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .expect("req"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/artists/batch",
        ),
        // A path segment that is not UTF-8: axum's `Path` rejection.
        (
            Request::get("/tracks/%FF").body(Body::empty()).expect("req"),
            StatusCode::BAD_REQUEST,
            "/tracks/%FF",
        ),
        (
            Request::post("/artists/batch")
                .header("content-type", "application/json")
                .body(Body::from(format!("[\"{}\"]", "a".repeat(2 << 20))))
                .expect("req"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "/artists/batch",
        ),
        (
            Request::post("/xrpc/fm.plyr.feed.getLatestTracks")
                .header("content-length", (4u64 << 20).to_string())
                .body(Body::from(vec![b'x'; 4 << 20]))
                .expect("req"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "/xrpc/fm.plyr.feed.getLatestTracks",
        ),
        (
            Request::get(long_url.as_str()).body(Body::empty()).expect("req"),
            StatusCode::URI_TOO_LONG,
            "/tracks/",
        ),
        (
            Request::get(long_xrpc.as_str()).body(Body::empty()).expect("req"),
            StatusCode::URI_TOO_LONG,
            "/xrpc/",
        ),
        (
            Request::get("/stats").header("x-junk", "a".repeat(40 * 1024)).body(Body::empty()).expect("req"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "/stats",
        ),
        (
            Request::get("/xrpc/_health")
                .header("x-junk", "a".repeat(40 * 1024))
                .body(Body::empty())
                .expect("req"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "/xrpc/_health",
        ),
    ];
    for (req, expected, uri) in cases {
        let (status, body, ctype) = send(&state, req).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert_shape(uri, status, &body, &ctype);
    }
    let (_, body, _) = get(&state, "/nope").await;
    assert_eq!(body, serde_json::json!({ "detail": "Not Found" }));
    let (_, body, _) = get(&state, "/xrpc/").await;
    assert_eq!(body["error"], "NotFound");
}

#[tokio::test]
async fn a_request_timeout_answers_json() {
    let db = TestDb::new().await.expect("test db");
    let mut options = support::options();
    options.request_timeout_secs = 1;
    options.db_acquire_timeout_ms = 5_000;
    // One connection, held here: every request waits for it past the request timeout.
    let pool = plyr_appview::db::connect(&db.url, &{
        let mut o = options.clone();
        o.db_connections = 1;
        o
    })
    .await
    .expect("pool");
    let _held = pool.acquire().await.expect("hold the only connection");
    let state = AppState::new(pool.clone(), options);
    for uri in ["/xrpc/fm.plyr.feed.getLatestTracks", "/tracks/"] {
        let started = Instant::now();
        let (status, body, ctype) = get(&state, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert_shape(uri, status, &body, &ctype);
        assert!(started.elapsed() < Duration::from_secs(3), "{uri}: {:?}", started.elapsed());
    }
}

/// Counts events at WARN or above.
struct Loud(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Loud {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::WARN
            && let Ok(mut seen) = self.0.lock()
        {
            seen.push(format!("{} {}", event.metadata().level(), event.metadata().target()));
        }
    }
}

#[tokio::test]
async fn client_mistakes_never_log_at_warn_or_error() {
    use tracing_subscriber::layer::SubscriberExt;
    let db = TestDb::new().await.expect("test db");
    let state = support::state(&db);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Loud(seen.clone()));
    // The test runtime is single-threaded: the router runs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    for uri in [
        "/xrpc/com.example.unknown",
        "/xrpc/",
        "/nope",
        "/xrpc/fm.plyr.feed.getLatestTracks?cursor=1::at://%00",
        "/xrpc/fm.plyr.feed.getLatestTracks?cursor=garbage",
        "/xrpc/fm.plyr.feed.searchTracks?q=ab%00",
        "/audio/%00",
        "/tracks/%FF",
        "/search/?q=a",
    ] {
        let (status, _, _) = get(&state, uri).await;
        assert!(status.is_client_error() || status == StatusCode::NOT_IMPLEMENTED, "{uri}: {status}");
    }
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(seen.is_empty(), "client mistakes logged at WARN/ERROR: {seen:?}");
}
