//! Database trouble is a fast 503 with a JSON body, never a 500 or a request timeout: an
//! unreachable server, backends terminated under a query or between queries, and a statement
//! that runs past `statement_timeout`.

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use plyr_appview::XrpcError;
use plyr_appview::db::failure::{Failure, classify};
use plyr_store::testkit::TestDb;

#[tokio::test]
async fn an_unreachable_database_is_a_fast_json_503() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut options = support::options();
    options.db_acquire_timeout_ms = 500;
    let pool =
        plyr_appview::db::connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/plyr"), &options)
            .expect("lazy pool");
    let state = plyr_appview::AppState::new(pool, options);
    for (uri, xrpc) in [
        ("/xrpc/fm.plyr.feed.getLatestTracks", true),
        ("/xrpc/fm.plyr.actor.getProfile?actor=alice.test", true),
        ("/xrpc/fm.plyr.feed.getTopTracks?period=week", true),
        ("/tracks/", false),
        ("/tracks/top?period=day", false),
        ("/search/?q=abc", false),
    ] {
        let started = Instant::now();
        let (status, body) = support::call(&state, uri, &[]).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        if xrpc {
            assert_eq!(body["error"], "ServiceUnavailable", "{uri}: {body}");
        } else {
            assert!(body["detail"].is_string(), "{uri}: {body}");
        }
        assert!(took < Duration::from_secs(2), "{uri} took {took:?} (acquire timeout 500 ms)");
    }
}

async fn backend_pids(db: &TestDb) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&db.pool)
    .await
    .expect("pids")
}

#[tokio::test]
async fn a_backend_terminated_under_a_query_is_unavailable_not_internal() {
    let db = TestDb::new().await.expect("test db");
    let pool = plyr_appview::db::connect(&db.url, &support::options()).await.expect("pool");
    let running = tokio::spawn({
        let pool = pool.clone();
        async move { sqlx::query("SELECT pg_sleep(3)").execute(&pool).await }
    });
    // Wait until the sleep runs, then terminate it as an administrator (or a failover) would.
    let mut terminated = false;
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'SELECT pg_sleep(3)' AND state = 'active'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("terminate");
        if n > 0 {
            terminated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(terminated, "the query was never seen running");
    let err = running.await.expect("task").expect_err("the query was terminated");
    assert_eq!(classify(&err), Failure::Unavailable, "{err:?}");
    let answer = XrpcError::from(err);
    assert!(matches!(answer, XrpcError::Unavailable(_)), "{answer:?}");
}

#[tokio::test]
async fn requests_after_backends_were_terminated_are_never_a_500() {
    let db = TestDb::new().await.expect("test db");
    let options = support::options();
    let pool = plyr_appview::db::connect(&db.url, &options).await.expect("pool");
    let state = plyr_appview::AppState::new(pool.clone(), options);
    let uri = "/xrpc/fm.plyr.feed.getLatestTracks";
    assert_eq!(support::call(&state, uri, &[]).await.0, StatusCode::OK);
    for pid in backend_pids(&db).await {
        let _ = sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&db.pool).await;
    }
    for uri in [uri, "/tracks/?limit=3", "/xrpc/fm.plyr.unspecced.getStats"] {
        let (status, body) = support::call(&state, uri, &[]).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn no_statement_outlives_the_statement_timeout() {
    let db = TestDb::new().await.expect("test db");
    let mut options = support::options();
    options.db_statement_timeout_ms = 200;
    let pool = plyr_appview::db::connect(&db.url, &options).await.expect("pool");
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)").execute(&pool).await.expect_err("cancelled");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(classify(&err), Failure::TooSlow, "{err:?}");
    assert!(matches!(XrpcError::from(err), XrpcError::Unavailable(_)));
}

#[tokio::test]
async fn a_database_closed_to_connections_is_a_503_until_it_reopens() {
    let db = TestDb::new().await.expect("test db");
    let mut options = support::options();
    options.response_cache_secs = 0; // every answer below comes from the database
    let pool = plyr_appview::db::connect(&db.url, &options).await.expect("pool");
    let state = plyr_appview::AppState::new(pool.clone(), options);
    let routes = ["/xrpc/fm.plyr.feed.getLatestTracks", "/tracks/?limit=3"];
    assert_eq!(support::call(&state, routes[0], &[]).await.0, StatusCode::OK);

    // Maintenance: the database refuses new sessions ("not currently accepting connections").
    db.set_accepting_connections(false).await.expect("close the database");
    let refused = sqlx::PgPool::connect(&db.url).await.expect_err("closed to connections");
    assert_eq!(classify(&refused), Failure::Unavailable, "{refused:?}");
    for uri in routes {
        // The first answer may come from a pooled connection ended under it; both are 503s.
        for _ in 0..2 {
            let (status, body) = support::call(&state, uri, &[]).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
            assert!(body["error"].is_string() || body["detail"].is_string(), "{uri}: {body}");
        }
    }

    db.set_accepting_connections(true).await.expect("reopen the database");
    for uri in routes {
        assert_eq!(support::call(&state, uri, &[]).await.0, StatusCode::OK, "{uri} after reopening");
    }
}
