//! Prometheus metrics and the operator endpoints (`/metrics`, `/health`).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Installs the process-wide Prometheus recorder (once; later calls reuse it).
pub fn install_recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok()).clone()
}

#[derive(Clone)]
struct Ops {
    metrics: Option<PrometheusHandle>,
    db: PgPool,
}

/// Serves `/metrics` and `/health` on `addr` until `shutdown`.
pub async fn serve(addr: SocketAddr, db: PgPool, shutdown: CancellationToken) -> std::io::Result<()> {
    let ops = Ops { metrics: install_recorder(), db };
    let app = Router::new().route("/metrics", get(render)).route("/health", get(health)).with_state(ops);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "indexer metrics and health listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn render(State(ops): State<Ops>) -> (StatusCode, String) {
    match ops.metrics {
        Some(h) => (StatusCode::OK, h.render()),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed\n".into()),
    }
}

async fn health(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&ops.db).await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}
