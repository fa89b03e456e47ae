//! Whole-response cache for anonymous reads: the encoded (and compressed) bytes of a `200` answer
//! to a `GET` without `Authorization`, keyed by path, query, whether the client accepts gzip
//! and the labelers it asks for (`atproto-accept-labelers`, [`crate::moderation`]).
//!
//! Every answer of this kind is a function of the index alone, so it can be reused until the
//! index changes: every change notification from the indexer empties this cache (see
//! [`crate::cache::Caches::invalidate`]), entries also expire after `--response-cache-secs`
//! (time-windowed rankings move on their own), and the same epoch guard as the row caches keeps
//! an answer computed before a change from being stored after it. Concurrent misses of one key
//! share one computation. Authenticated requests carry viewer state and are never cached.
//! plyr.fm itself caches its anonymous first page for 60 s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use moka::future::Cache;

use crate::AppState;

/// Largest body kept (bigger answers are served, not cached).
const MAX_BODY: usize = 1 << 20;

/// A stored answer.
#[derive(Debug)]
pub struct Stored {
    content_type: Option<HeaderValue>,
    content_encoding: Option<HeaderValue>,
    /// Every `Vary` value, in order.
    vary: Vec<HeaderValue>,
    content_labelers: Option<HeaderValue>,
    body: Bytes,
}

/// The cache, bounded by the bytes it holds.
pub type Responses = Cache<String, Arc<Stored>>;

pub fn new(max_bytes: u64, ttl: Duration) -> Responses {
    Cache::builder()
        .weigher(|k: &String, v: &Arc<Stored>| u32::try_from(k.len() + v.body.len()).unwrap_or(u32::MAX))
        .max_capacity(max_bytes)
        .time_to_live(ttl)
        .build()
}

/// Routes whose answers depend on more than the index (or must stay live) are never cached.
fn cacheable(path: &str) -> bool {
    // `/` answers a page or JSON by `Accept`, which the key does not hold.
    !(path == "/"
        || path == "/metrics"
        || path.starts_with("/xrpc/_")
        || path.starts_with("/.well-known/")
        || path.starts_with("/audio/")
        // Subsonic clients salt their credentials per request, so no URL comes twice.
        || path.starts_with("/rest/")
        // Now playing moves with the clock (progress, expiry), not only with the index.
        || path.starts_with("/now-playing/")
        || path == "/xrpc/fm.plyr.actor.getNowPlaying")
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.options.response_cache_secs == 0
        || req.method() != Method::GET
        || req.headers().contains_key(AUTHORIZATION)
        || !cacheable(req.uri().path())
    {
        return next.run(req).await;
    }
    let gzip = crate::server::gzip::accepts(req.headers());
    // The labelers asked for, as asked: equal choices worded differently are kept apart.
    let labelers = req.headers().get(crate::moderation::ACCEPT_LABELERS);
    let labelers = labelers.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let key = format!("{}|{gzip}|{labelers}", req.uri());
    if let Some(hit) = state.caches.responses.get(&key).await {
        metrics::counter!("appview_response_cache_total", "outcome" => "hit").increment(1);
        return replay(&hit);
    }
    metrics::counter!("appview_response_cache_total", "outcome" => "miss").increment(1);
    // A GET's body is empty: the request is its head, kept to run it again if need be.
    let (head, _) = req.into_parts();
    // Concurrent misses of one key wait for a single computation (a burst of the same search
    // costs one search, not one per client). The computation runs in its own task, so it
    // finishes and is kept even if every client waiting for it has gone.
    let own: Arc<Mutex<Option<Response>>> = Arc::default();
    let init = {
        let (state, head, next, own, key) =
            (state.clone(), head.clone(), next.clone(), own.clone(), key.clone());
        async move {
            match tokio::spawn(compute(state, key, Request::from_parts(head, Body::empty()), next)).await {
                Ok(Computed::Keep(stored)) => Ok(stored),
                Ok(Computed::Pass(res)) => {
                    if let Ok(mut slot) = own.lock() {
                        *slot = Some(res);
                    }
                    Err(NotKept)
                }
                Err(_) => Err(NotKept), // the handler panicked; the caller runs it again below
            }
        }
    };
    match state.caches.responses.try_get_with(key, init).await {
        Ok(stored) => replay(&stored),
        Err(_) => match own.lock().ok().and_then(|mut slot| slot.take()) {
            Some(res) => res,
            // This request waited for another one whose answer is not kept: answer it itself.
            None => next.run(Request::from_parts(head, Body::empty())).await,
        },
    }
}

/// An answer that is not kept (not a `200`, too large, or computed across an index change).
#[derive(Debug)]
struct NotKept;

enum Computed {
    Keep(Arc<Stored>),
    Pass(Response),
}

/// Runs the request and keeps its answer under `key` if it may be kept (itself, so an answer whose
/// clients have all gone is still kept).
async fn compute(state: AppState, key: String, req: Request, next: Next) -> Computed {
    let epoch = state.caches.epoch();
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return Computed::Pass(res);
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        // Too large to keep (or the body failed): answer an error rather than a truncated body.
        return Computed::Pass(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    let stored = Arc::new(Stored {
        content_type: parts.headers.get(CONTENT_TYPE).cloned(),
        content_encoding: parts.headers.get(CONTENT_ENCODING).cloned(),
        vary: parts.headers.get_all(VARY).iter().cloned().collect(),
        content_labelers: parts.headers.get(crate::moderation::CONTENT_LABELERS).cloned(),
        body: bytes,
    });
    if state.caches.epoch() != epoch {
        // The index changed while this was computed: answer it, but do not keep it.
        return Computed::Pass(replay(&stored));
    }
    state.caches.responses.insert(key, stored.clone()).await;
    Computed::Keep(stored)
}

fn replay(s: &Stored) -> Response {
    let mut res = Response::new(Body::from(s.body.clone()));
    let h = res.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, &s.content_type),
        (CONTENT_ENCODING, &s.content_encoding),
        (crate::moderation::CONTENT_LABELERS, &s.content_labelers),
    ] {
        if let Some(v) = value {
            h.insert(name, v.clone());
        }
    }
    for v in &s.vary {
        h.append(VARY, v.clone());
    }
    res
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use crate::AppState;
    use crate::config::AppviewOptions;

    /// A router whose one route counts how often it really runs (slowly, so requests overlap),
    /// answering `status`, behind the response cache.
    fn app(status: StatusCode) -> (Router, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        // Never connected: these routes do not touch the database.
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("lazy pool");
        let state = AppState::new(pool, AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr")));
        let counter = runs.clone();
        let router = Router::new()
            .route(
                "/x",
                get(move || {
                    let counter = counter.clone();
                    async move {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        (status, format!("run {n}"))
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(state.clone(), super::layer))
            .with_state(state);
        (router, runs)
    }

    async fn call(router: Router) -> (StatusCode, String) {
        let res =
            router.oneshot(Request::get("/x").body(Body::empty()).expect("request")).await.expect("call");
        let status = res.status();
        let body = to_bytes(res.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn live_and_negotiated_routes_are_not_cached() {
        let cases = [
            ("/", false),
            ("/metrics", false),
            ("/xrpc/_health", false),
            ("/.well-known/did.json", false),
            ("/audio/abc", false),
            ("/rest/ping.view", false),
            ("/now-playing/by-did/did:plc:x", false),
            ("/tracks/", true),
            ("/lexicons/", true),
            ("/xrpc/fm.plyr.feed.getLatestTracks", true),
        ];
        for (path, cached) in cases {
            assert_eq!(super::cacheable(path), cached, "{path}");
        }
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_request_share_one_computation() {
        let (router, runs) = app(StatusCode::OK);
        let answers = futures_util::future::join_all((0..16).map(|_| call(router.clone()))).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "16 overlapping misses ran the handler once");
        assert!(answers.iter().all(|a| *a == (StatusCode::OK, "run 1".to_owned())), "{answers:?}");
        assert_eq!(call(router).await.1, "run 1", "and later requests are hits");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn answers_that_are_not_kept_reach_every_caller() {
        let (router, runs) = app(StatusCode::NOT_FOUND);
        let answers = futures_util::future::join_all((0..4).map(|_| call(router.clone()))).await;
        assert!(answers.iter().all(|(status, _)| *status == StatusCode::NOT_FOUND), "{answers:?}");
        let n = runs.load(Ordering::SeqCst);
        assert!((1..=4).contains(&n), "each 404 comes from a real run, at most one per caller: {n}");
        call(router).await;
        assert_eq!(runs.load(Ordering::SeqCst), n + 1, "a 404 is never served from the cache");
    }

    #[tokio::test]
    async fn a_computation_finishes_and_is_kept_when_its_client_goes_away() {
        let (router, runs) = app(StatusCode::OK);
        let gone = tokio::time::timeout(Duration::from_millis(50), call(router.clone())).await;
        assert!(gone.is_err(), "the first client gave up before the answer");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(call(router).await.1, "run 1", "the abandoned computation was kept");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
