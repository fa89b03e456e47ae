//! The HTTP server: routes, middleware, limits and graceful shutdown.
//!
//! Layers, outermost first: [`limits`] (URL, header and body sizes, NUL, JSON error bodies),
//! CORS, the per-client [`ratelimit`] (only when serving a socket), the request timeout, the
//! response cache, [`gzip`], tracing. [`accept`] owns the connections.

pub mod accept;
pub mod gzip;
pub mod limits;
pub mod ratelimit;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::{
    AppState, cache, moderation, ready, response_cache, rest, subsonic, telemetry, well_known, xrpc,
};

/// Every route the AppView serves, without the per-client rate limit (which needs the peer
/// address of a connection; [`serve`] adds it).
pub fn router(state: AppState) -> Router {
    app(state, None)
}

fn app(state: AppState, rate_limit: Option<ratelimit::RateLimitLayer>) -> Router {
    let timeout = Duration::from_secs(state.options.request_timeout_secs);
    let cors = rest::cors::layer(&state.options.cors_origins);
    let router = Router::new()
        .route("/xrpc/_health", get(xrpc::health::health))
        .route("/ready", get(ready::ready))
        .route("/xrpc/{nsid}", get(xrpc::dispatch).post(xrpc::post))
        .route("/.well-known/did.json", get(well_known::did_json))
        .merge(rest::router())
        .merge(subsonic::router())
        .route("/metrics", get(telemetry::metrics))
        // Server errors are logged where they are handled (`XrpcError::Internal`); the rest
        // (an unknown method's 501, a timeout) must not let a client choose what is logged.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        // Inside the response cache, which runs a miss in a task of its own: the request's
        // labelers are set where the handler runs.
        .layer(axum::middleware::from_fn_with_state(state.clone(), moderation::layer))
        .layer(axum::middleware::from_fn(gzip::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), response_cache::layer))
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout));
    let router = match rate_limit {
        Some(layer) => router.layer(layer),
        None => router,
    };
    router.layer(cors).layer(axum::middleware::from_fn(limits::guard)).with_state(state)
}

/// Serves until `shutdown` is cancelled, then finishes in-flight requests. Also listens for the
/// indexer's change notifications to keep the caches fresh.
pub async fn serve(state: AppState, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.options.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, did = state.auth.service_did(), "AppView listening");
    serve_on(listener, state, shutdown).await;
    Ok(())
}

/// [`serve`] on a listener already bound (tests bind 127.0.0.1:0 and read the port).
pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState, shutdown: CancellationToken) {
    tokio::spawn(cache::follow(
        state.db.clone(),
        state.primary.clone(),
        state.caches.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(cache::update_search(state.db.clone(), state.caches.clone(), shutdown.clone()));
    let o = &state.options;
    let limits = accept::ConnLimits {
        max_connections: usize::try_from(o.max_connections).unwrap_or(usize::MAX).max(1),
        header_read_timeout: Duration::from_secs(o.header_read_timeout_secs.max(1)),
        grace: Duration::from_secs(o.request_timeout_secs.saturating_add(1)),
    };
    let rate_limit = ratelimit::config(o).map(|config| {
        tokio::spawn(forget_idle_clients(config.clone(), shutdown.clone()));
        ratelimit::layer(config, o.rate_limit_burst)
    });
    accept::run(listener, app(state, rate_limit), limits, shutdown).await;
}

/// Drops the buckets of clients that have been quiet long enough to be full again, so the
/// limiter's memory follows the active clients, not every address ever seen.
async fn forget_idle_clients(
    config: std::sync::Arc<
        tower_governor::governor::GovernorConfig<ratelimit::ClientIp, governor::middleware::NoOpMiddleware>,
    >,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every.tick() => {
                config.limiter().retain_recent();
                config.limiter().shrink_to_fit();
            }
            () = shutdown.cancelled() => return,
        }
    }
}
