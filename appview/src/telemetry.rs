//! `GET /metrics`: Prometheus text for the process (request counts and latencies per XRPC
//! method, refused tokens by reason, cache invalidations), with the caches' sizes and the
//! allocator's figures read at each scrape.

use axum::extract::State;
use axum::http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Installs the process-wide Prometheus recorder once; `None` if another recorder was installed
/// first (e.g. by the indexer in the all-in-one `plyr` binary, which serves its own `/metrics`).
pub fn install_recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok().inspect(start_upkeep)).clone()
}

/// Histogram samples accumulate in the recorder until upkeep folds them into its summaries; the
/// exporter leaves that to whoever installs it, so without this a process nobody scrapes grows by
/// every latency it records.
fn start_upkeep(handle: &PrometheusHandle) {
    let handle = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            handle.run_upkeep();
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the metrics upkeep thread; histograms grow until scraped");
    }
}

pub async fn metrics(State(state): State<AppState>) -> (StatusCode, String) {
    match &state.metrics {
        Some(handle) => {
            state.caches.record_gauges();
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
