//! Prometheus metrics and the operator endpoints (`/metrics`, `/health`, `/ready`).
//!
//! `/health` says the process is alive (200 `{"status":"ok","role":…}`, whatever the database
//! does: a liveness probe must not restart an indexer that is waiting out an outage). `/ready`
//! asks the database itself (`SELECT 1`, given [`HEALTH_TIMEOUT`]) and the write progress
//! ([`crate::status`]): 200 `{"status":"ready","database":"up","role":…,"lag_seconds":…}` for a
//! hot standby or a writer caught up within `--ready-max-lag-secs`; 503 with `"status"`
//! `"unavailable"` (database unreachable; the write path meanwhile waits for it) or `"behind"`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::status::{Progress, Role};

pub use plyr_store::telemetry::install_recorder;

/// What `/ready` requires of a writer.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// The newest commit may trail now by this much while events are arriving.
    pub max_lag: Duration,
}

impl Default for Readiness {
    fn default() -> Self {
        Self { max_lag: Duration::from_secs(60) }
    }
}

#[derive(Clone)]
struct Ops {
    metrics: Option<PrometheusHandle>,
    db: PgPool,
    ready: Readiness,
}

/// Serves `/metrics`, `/health` and `/ready` on `addr` until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    db: PgPool,
    ready: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let ops = Ops { metrics: install_recorder(), db, ready };
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/health", get(health))
        .route("/ready", get(ready_check))
        .with_state(ops);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "indexer metrics and health listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn render(State(ops): State<Ops>) -> (StatusCode, String) {
    match ops.metrics {
        Some(h) => {
            plyr_store::telemetry::record_pool("indexer", &ops.db);
            (StatusCode::OK, h.render())
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed\n".into()),
    }
}

/// How long `/ready` waits for the database before calling it unreachable.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "role": crate::status::role() }))
}

async fn ready_check(State(ops): State<Ops>) -> (StatusCode, Json<serde_json::Value>) {
    let role = crate::status::role();
    let probe = tokio::time::timeout(HEALTH_TIMEOUT, sqlx::query("SELECT 1").execute(&ops.db)).await;
    if !matches!(probe, Ok(Ok(_))) {
        let body = json!({ "status": "unavailable", "database": "unreachable", "role": role });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    let progress = Progress::now();
    let behind = role == Role::Leader && !progress.caught_up(ops.ready.max_lag);
    let mut body = json!({
        "status": if behind { "behind" } else { "ready" },
        "database": "up",
        "role": role,
        "lag_seconds": progress.lag_seconds,
        "max_lag_seconds": ops.ready.max_lag.as_secs(),
    });
    if let Ok(Some(d)) = crate::db::discoveries::latest(&ops.db).await {
        let pending = crate::db::discoveries::pending_repos(&ops.db).await.ok();
        body["discovery"] = json!({
            "relay": d.relay, "started_at": d.started_at, "completed_at": d.completed_at,
            "repos": d.repos, "backfill_pending": pending,
        });
    }
    let status = if behind { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(body))
}
