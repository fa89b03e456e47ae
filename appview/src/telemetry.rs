//! `GET /metrics`: Prometheus text for the process (request counts and latencies per XRPC
//! method, refused tokens by reason, cache invalidations).

use axum::extract::State;
use axum::http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Installs the process-wide Prometheus recorder once; `None` if another recorder was installed
/// first (e.g. by the indexer in the all-in-one `plyr` binary, which serves its own `/metrics`).
pub fn install_recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok()).clone()
}

pub async fn metrics(State(state): State<AppState>) -> (StatusCode, String) {
    match &state.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are served by another component of this process\n".to_owned(),
        ),
    }
}
