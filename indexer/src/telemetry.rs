//! Prometheus metrics and the operator endpoints (`/metrics`, `/health`).
//!
//! `/health` asks the database itself (`SELECT 1`, given [`HEALTH_TIMEOUT`]): 200
//! `{"status":"ok","database":"up"}`, or 503 `{"status":"unavailable","database":"unreachable"}`
//! while it cannot be reached (the write path meanwhile waits for it).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use plyr_store::telemetry::install_recorder;

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

/// How long `/health` waits for the database before calling it unreachable.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

async fn health(State(ops): State<Ops>) -> (StatusCode, Json<serde_json::Value>) {
    let probe = tokio::time::timeout(HEALTH_TIMEOUT, sqlx::query("SELECT 1").execute(&ops.db)).await;
    match probe {
        Ok(Ok(_)) => {
            let mut body = serde_json::json!({ "status": "ok", "database": "up" });
            if let Ok(Some(d)) = crate::db::discoveries::latest(&ops.db).await {
                let pending = crate::db::discoveries::pending_repos(&ops.db).await.ok();
                body["discovery"] = serde_json::json!({
                    "relay": d.relay, "started_at": d.started_at, "completed_at": d.completed_at,
                    "repos": d.repos, "backfill_pending": pending,
                });
            }
            (StatusCode::OK, Json(body))
        }
        Ok(Err(_)) | Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
        ),
    }
}
