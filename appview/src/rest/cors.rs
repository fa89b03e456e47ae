//! CORS for every route. Any origin may call without credentials; the origins configured with
//! `--cors-origins` (the plyr.fm web frontend, which sends `credentials: 'include'`) also get
//! `Access-Control-Allow-Credentials: true`. With credentials a browser accepts no `*`, so the
//! origin, method and headers are mirrored from the request.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// The layer for `origins` (exact `scheme://host[:port]` strings; trailing slashes ignored).
pub fn layer(origins: &[String]) -> CorsLayer {
    if origins.is_empty() {
        return CorsLayer::permissive();
    }
    let allowed: Arc<Vec<String>> =
        Arc::new(origins.iter().map(|o| o.trim().trim_end_matches('/').to_owned()).collect());
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(AllowCredentials::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| allowed.iter().any(|a| a == o))
        }))
        .expose_headers([
            HeaderName::from_static("atproto-repo-rev"),
            HeaderName::from_static("content-disposition"),
        ])
        .max_age(Duration::from_secs(600))
}
