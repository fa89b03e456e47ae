//! The process-wide Prometheus recorder both services install: once per process, with its
//! upkeep running, so the indexer, the AppView and the all-in-one `plyr` binary share one
//! definition of how metrics are kept.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the process-wide recorder (once; later calls get the same handle). `None` if another
/// recorder was installed first.
pub fn install_recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok().inspect(start_upkeep)).clone()
}

/// Histogram samples accumulate in the recorder until upkeep folds them into its summaries; the
/// exporter leaves that to whoever installs it, so without this a process nobody scrapes grows by
/// every latency it records.
fn start_upkeep(handle: &PrometheusHandle) {
    let handle = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the metrics upkeep thread; histograms grow until scraped");
    }
}
