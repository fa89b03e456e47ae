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

/// Publishes `pool`'s connections as `plyr_db_pool_connections{pool, state="in_use"|"idle"}`
/// and its cap as `plyr_db_pool_max_connections{pool}`: in use over the cap is the pool's
/// saturation (requests then wait for a connection, and past the acquire timeout fail).
pub fn record_pool(name: &'static str, pool: &sqlx::PgPool) {
    let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
    metrics::gauge!("plyr_db_pool_connections", "pool" => name, "state" => "in_use")
        .set((size - idle).max(0.0));
    metrics::gauge!("plyr_db_pool_connections", "pool" => name, "state" => "idle").set(idle);
    metrics::gauge!("plyr_db_pool_max_connections", "pool" => name)
        .set(f64::from(pool.options().get_max_connections()));
}
