//! `GET /metrics`: Prometheus text for the process (request counts and latencies per XRPC
//! method, refused tokens by reason, cache invalidations), with the caches' sizes and the
//! allocator's figures read at each scrape.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// The process's recorder; in the all-in-one `plyr` binary the indexer installs the same one, so
/// both `/metrics` endpoints render every component's metrics.
pub use plyr_store::telemetry::install_recorder;

pub async fn metrics(State(state): State<AppState>) -> (StatusCode, String) {
    match &state.metrics {
        Some(handle) => {
            state.caches.record_gauges();
            plyr_store::telemetry::record_pool("appview", &state.db);
            record_allocator();
            (StatusCode::OK, handle.render())
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are served by another component of this process\n".to_owned(),
        ),
    }
}

/// jemalloc's own figures (the AppView and indexer binaries run on it): `allocated` is what
/// live objects hold, `resident` what the allocator keeps mapped, so a rising RSS with flat
/// `allocated` is the allocator's keeping, and rising `allocated` is something held.
fn record_allocator() {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are a snapshot refreshed by advancing the epoch.
    if epoch::advance().is_err() {
        return;
    }
    let figures = [
        ("allocated", stats::allocated::read()),
        ("active", stats::active::read()),
        ("resident", stats::resident::read()),
        ("retained", stats::retained::read()),
    ];
    for (kind, value) in figures {
        if let Ok(bytes) = value {
            metrics::gauge!("process_allocator_bytes", "kind" => kind).set(bytes as f64);
        }
    }
}
