//! The router answers health checks and unknown methods the XRPC way (no socket needed).

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use plyr_appview::{AppState, AppviewOptions, router};
use plyr_store::testkit::TestDb;
use tower::ServiceExt;

fn options() -> AppviewOptions {
    let mut o = AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
    o.db_connections = 2;
    o.request_timeout_secs = 5;
    o
}

async fn get(state: AppState, uri: &str) -> (StatusCode, serde_json::Value) {
    let res = router(state)
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn health_reports_version_when_the_database_answers() {
    let db = TestDb::new().await.expect("test db");
    let state = AppState::new(db.pool.clone(), options());
    let (status, body) = get(state.clone(), "/xrpc/_health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    // Nothing built the search index yet (SQL answers searches meanwhile); once built, it says so.
    assert_eq!(body["searchIndex"], "building");
    state.caches.search.rebuild(&db.pool).await.expect("search index");
    let (_, body) = get(state, "/xrpc/_health").await;
    assert_eq!(body["searchIndex"], "ready");
}

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let db = TestDb::new().await.expect("test db");
    let pool = db.pool.clone();
    pool.close().await;
    let (status, body) = get(AppState::new(pool, options()), "/xrpc/_health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "ServiceUnavailable");
}

#[tokio::test]
async fn unknown_methods_are_501_method_not_implemented() {
    let db = TestDb::new().await.expect("test db");
    let (status, body) = get(AppState::new(db.pool.clone(), options()), "/xrpc/com.example.nope").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(body["error"], "MethodNotImplemented");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("com.example.nope")));
}

#[tokio::test]
async fn metrics_count_requests_per_method_and_status() {
    let db = TestDb::new().await.expect("test db");
    let state = AppState::new(db.pool.clone(), options());
    let _ = get(state.clone(), "/xrpc/com.example.nope").await;
    let _ = get(state.clone(), "/xrpc/fm.plyr.unspecced.getStats").await;
    let res = router(state)
        .oneshot(Request::get("/metrics").body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let text =
        String::from_utf8(to_bytes(res.into_body(), 1 << 20).await.expect("body").to_vec()).expect("utf-8");
    assert!(
        text.lines().any(|l| l.starts_with("appview_xrpc_requests_total")
            && l.contains("method=\"unknown\"")
            && l.contains("status=\"MethodNotImplemented\"")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("appview_xrpc_requests_total")
            && l.contains("fm.plyr.unspecced.getStats")
            && l.contains("status=\"ok\"")),
        "{text}"
    );
    // Memory, read at each scrape: the caches' entries and the allocator's figures.
    let gauge = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.to_owned())
    };
    for prefix in [
        "appview_cache_entries{cache=\"tracks\"}",
        "appview_cache_entries{cache=\"actors\"}",
        "appview_cache_entries{cache=\"responses\"}",
        "process_allocator_bytes{kind=\"allocated\"}",
        "process_allocator_bytes{kind=\"resident\"}",
    ] {
        let value = gauge(prefix).unwrap_or_else(|| panic!("no {prefix} in {text}"));
        assert!(value.parse::<f64>().is_ok_and(|v| v >= 0.0), "{prefix} = {value}");
    }
}

#[tokio::test]
async fn anonymous_answers_are_reused_until_the_index_changes() {
    let db = TestDb::new().await.expect("test db");
    let state = AppState::new(db.pool.clone(), options());
    let (_, before) = get(state.clone(), "/xrpc/fm.plyr.unspecced.getStats").await;
    assert_eq!(before["comments"], 0);
    sqlx::query(
        "INSERT INTO comments (uri, cid, rev, did, rkey, subject_uri, subject_cid, text, timestamp_ms, created_at, indexed_at, sort_at)
         VALUES ('at://did:plc:x/fm.plyr.comment/1', 'c', 'r', 'did:plc:x', '1', 'at://s', 'c', 't', 0, now(), now(), now())",
    )
    .execute(&db.pool)
    .await
    .expect("insert");
    let (_, cached) = get(state.clone(), "/xrpc/fm.plyr.unspecced.getStats").await;
    assert_eq!(cached["comments"], 0, "served from the response cache");
    state
        .caches
        .invalidate(&plyr_store::changes::Change { uris: vec!["at://s".into()], ..Default::default() })
        .await;
    let (_, after) = get(state.clone(), "/xrpc/fm.plyr.unspecced.getStats").await;
    assert_eq!(after["comments"], 1, "a change notification empties the response cache");
}

#[tokio::test]
async fn ready_follows_the_database_and_health_only_says_the_process_answers() {
    let db = TestDb::new().await.expect("test db");
    let (status, body) = get(AppState::new(db.pool.clone(), options()), "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "up");
    assert!(body["primary"].is_null() && body["replicaLagSeconds"].is_null(), "no replica: {body}");
    let pool = db.pool.clone();
    pool.close().await;
    let state = AppState::new(pool, options());
    let (status, body) = get(state.clone(), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["database"], "unreachable");
    let (status, body) = get(state, "/health").await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!({ "status": "ok" })), "liveness");
}
