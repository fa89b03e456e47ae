//! `GET /ready`, the readiness probe: 200 `{"status":"ready",…}` while the database reads go to
//! answers (and, reading from a replica, the primary that carries the change notifications),
//! else 503 `{"status":"unavailable",…}`. `replicaLagSeconds` says how far behind the replica's
//! last replayed commit is (null without a replica). `/health` (plyr.fm's) only says the
//! process answers, for liveness probes; `/xrpc/_health` also checks the database.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// How long a probe waits for a database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn answers(db: &sqlx::PgPool) -> bool {
    matches!(tokio::time::timeout(PROBE_TIMEOUT, sqlx::query("SELECT 1").execute(db)).await, Ok(Ok(_)))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = answers(&state.db).await;
    let primary = match &state.primary {
        Some(primary) => Some(answers(primary).await),
        None => None,
    };
    let lag = match (&state.primary, database) {
        (Some(_), true) => crate::db::replica::replay_lag_seconds(&state.db).await.ok().flatten(),
        _ => None,
    };
    let ok = database && primary != Some(false);
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": if database { "up" } else { "unreachable" },
        "primary": primary.map(|up| if up { "up" } else { "unreachable" }),
        "replicaLagSeconds": lag,
        "searchIndex": if state.caches.search.ready() { "ready" } else { "building" },
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
