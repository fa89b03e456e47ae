//! Smoke run of the AppView benchmark (`bench/appview.sh`): the dataset it measures, loaded with
//! `plyr-gen load` at a tiny scale, answers every request kind the benchmark sends, through the
//! real router and its response cache, with non-empty results; a second round is served the
//! same bytes. Keeps the benchmark from rotting without being part of its figures.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use plyr_appview::{AppState, AppviewOptions, router};
use plyr_gen::DEFAULT_END_US;
use plyr_gen::load::{LoadOptions, LoadParams, load};
use plyr_store::testkit::TestDb;
use serde_json::Value;
use tower::ServiceExt;

fn options() -> AppviewOptions {
    AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"))
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Vec<u8>) {
    let res = router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("router");
    let status = res.status();
    (status, to_bytes(res.into_body(), 1 << 22).await.expect("body").to_vec())
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmarked_request_answers_on_a_tiny_loaded_dataset() {
    let db = TestDb::new().await.expect("test database");
    // The benchmark's dataset at 1/1000 scale, ending now so `period=week` has likes.
    let end = chrono::Utc::now().timestamp_micros().max(DEFAULT_END_US);
    let params = LoadParams::new(42, 1_000, 10_000, 100, end);
    let quick = LoadOptions { jobs: 2, work_mem: "64MB".into(), vacuum: false };
    load(&db.url, &params, &quick).await.expect("plyr-gen load");
    let state = AppState::new(db.pool.clone(), options());

    // The same targets bench/appview.sh derives from the database.
    let uris: Vec<String> = sqlx::query_scalar("SELECT uri FROM tracks ORDER BY id LIMIT 25")
        .fetch_all(&db.pool)
        .await
        .expect("uris");
    let prolific: String = sqlx::query_scalar(
        "SELECT a.handle FROM actor_stats s JOIN actors a USING (did) WHERE NOT a.hidden ORDER BY s.tracks DESC, a.did LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("prolific artist");
    let id: i64 = sqlx::query_scalar("SELECT id FROM tracks ORDER BY uri LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .expect("id");
    let word: String =
        sqlx::query_scalar("SELECT split_part(lower(title), ' ', 1) FROM tracks ORDER BY uri LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .expect("a title word");
    let tracks_query = uris.iter().map(|u| format!("uris={}", enc(u))).collect::<Vec<_>>().join("&");
    // Deep pages are reached by paging, as bench/appview_targets.py does.
    let (_, first) = get(&state, "/xrpc/fm.plyr.feed.getLatestTracks?limit=50").await;
    let first: Value = serde_json::from_slice(&first).expect("JSON");
    let cursor = first["cursor"].as_str().expect("a first page of 50 has a cursor").to_owned();
    let (_, rest_first) = get(&state, "/tracks/?limit=50").await;
    let rest_first: Value = serde_json::from_slice(&rest_first).expect("JSON");
    let rest_cursor = rest_first["next_cursor"].as_str().expect("a REST first page has a cursor").to_owned();
    let prefix: String = prolific.chars().take(4).collect();
    // (request, JSON pointer of the list that must not be empty)
    let requests = [
        ("/xrpc/fm.plyr.feed.getLatestTracks?limit=50".to_owned(), "/tracks"),
        (format!("/xrpc/fm.plyr.feed.getLatestTracks?limit=50&cursor={}", enc(&cursor)), "/tracks"),
        (format!("/tracks/?limit=50&cursor={}", enc(&rest_cursor)), "/tracks"),
        (format!("/xrpc/fm.plyr.actor.searchActors?q={}&limit=25", enc(&prefix)), "/actors"),
        (format!("/xrpc/fm.plyr.unspecced.search?q={}&limit=25", enc(&word)), "/tracks"),
        ("/tracks/top?period=all_time&limit=7".to_owned(), ""),
        (format!("/xrpc/fm.plyr.feed.getTracks?{tracks_query}"), "/tracks"),
        (format!("/xrpc/fm.plyr.feed.getActorTracks?actor={prolific}&limit=50"), "/tracks"),
        ("/xrpc/fm.plyr.feed.getTopTracks?period=week&limit=50".to_owned(), "/tracks"),
        (format!("/xrpc/fm.plyr.feed.searchTracks?q={}&limit=25", enc(&word)), "/tracks"),
        (format!("/xrpc/fm.plyr.actor.getProfile?actor={prolific}"), "/did"),
        ("/tracks/?limit=50".to_owned(), "/tracks"),
        (format!("/tracks/{id}"), "/id"),
        ("/tracks/top?period=week&limit=50".to_owned(), ""),
        (format!("/search/?q={}&limit=20", enc(&word)), "/results"),
    ];
    for (uri, pointer) in &requests {
        let (status, body) = get(&state, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
        let json: Value = serde_json::from_slice(&body).expect("JSON");
        let value = json.pointer(pointer).unwrap_or_else(|| panic!("{uri}: no {pointer} in {json}"));
        let empty = match value {
            Value::Array(a) => a.is_empty(),
            Value::String(s) => s.is_empty(),
            Value::Null => true,
            _ => false,
        };
        assert!(!empty, "{uri}: {pointer} is empty");
        let (again, cached) = get(&state, uri).await;
        assert_eq!((again, cached), (StatusCode::OK, body), "{uri}: a repeat is the same answer");
    }
}
