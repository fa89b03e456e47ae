//! The HTTP server: routes, middleware and graceful shutdown.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::{AppState, cache, response_cache, rest, telemetry, well_known, xrpc};

/// Every route the AppView serves.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.options.request_timeout_secs);
    let cors = rest::cors::layer(&state.options.cors_origins);
    Router::new()
        .route("/xrpc/_health", get(xrpc::health::health))
        .route("/xrpc/{nsid}", get(xrpc::dispatch).post(xrpc::post))
        .route("/.well-known/did.json", get(well_known::did_json))
        .merge(rest::router())
        .route("/metrics", get(telemetry::metrics))
        .layer(TraceLayer::new_for_http())
        // Fastest deflate: the default level was 38 % of the CPU a cached feed costs.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(axum::middleware::from_fn_with_state(state.clone(), response_cache::layer))
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, then finishes in-flight requests. Also listens for the
/// indexer's change notifications to keep the caches fresh.
pub async fn serve(state: AppState, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.options.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, did = state.auth.service_did(), "AppView listening");
    tokio::spawn(cache::listen(state.db.clone(), state.caches.clone(), shutdown.clone()));
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
