//! Whole-response cache for anonymous reads: the encoded (and compressed) bytes of a `200` answer
//! to a `GET` without `Authorization`, keyed by path, query and whether the client accepts gzip.
//!
//! Every answer of this kind is a function of the index alone, so it can be reused until the
//! index changes: every change notification from the indexer empties this cache (see
//! [`crate::cache::Caches::invalidate`]), entries also expire after `--response-cache-secs`
//! (time-windowed rankings move on their own), and the same epoch guard as the row caches keeps
//! an answer computed before a change from being stored after it. Authenticated requests carry
//! viewer state and are never cached. plyr.fm itself caches its anonymous first page for 60 s.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, VARY};
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
    vary: Option<HeaderValue>,
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
    !(path == "/metrics"
        || path.starts_with("/xrpc/_")
        || path.starts_with("/.well-known/")
        || path.starts_with("/audio/"))
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.options.response_cache_secs == 0
        || req.method() != Method::GET
        || req.headers().contains_key(AUTHORIZATION)
        || !cacheable(req.uri().path())
    {
        return next.run(req).await;
    }
    let gzip =
        req.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip"));
    let key = format!("{}|{gzip}", req.uri());
    let caches = &state.caches;
    if let Some(hit) = caches.responses.get(&key).await {
        metrics::counter!("appview_response_cache_total", "outcome" => "hit").increment(1);
        return replay(&hit);
    }
    metrics::counter!("appview_response_cache_total", "outcome" => "miss").increment(1);
    let epoch = caches.epoch();
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        // Too large to keep (or the body failed): answer an error rather than a truncated body.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let stored = Arc::new(Stored {
        content_type: parts.headers.get(CONTENT_TYPE).cloned(),
        content_encoding: parts.headers.get(CONTENT_ENCODING).cloned(),
        vary: parts.headers.get(VARY).cloned(),
        body: bytes,
    });
    if caches.epoch() == epoch {
        caches.responses.insert(key, stored.clone()).await;
    }
    let mut res = Response::from_parts(parts, Body::from(stored.body.clone()));
    res.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    res
}

fn replay(s: &Stored) -> Response {
    let mut res = Response::new(Body::from(s.body.clone()));
    let h = res.headers_mut();
    for (name, value) in
        [(CONTENT_TYPE, &s.content_type), (CONTENT_ENCODING, &s.content_encoding), (VARY, &s.vary)]
    {
        if let Some(v) = value {
            h.insert(name, v.clone());
        }
    }
    res
}
