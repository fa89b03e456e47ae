//! `GET /xrpc/_health`: the version and whether searches are answered from the in-process index
//! yet (`searchIndex`: `ready` or `building`; SQL answers them meanwhile), and 503 while the
//! database does not answer.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::{AppState, XrpcError};

pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, XrpcError> {
    sqlx::query("SELECT 1")
        .execute(&state.db)
        .await
        .map_err(|_| XrpcError::Unavailable("database unavailable".into()))?;
    let search = if state.caches.search.ready() { "ready" } else { "building" };
    Ok(Json(json!({ "version": env!("CARGO_PKG_VERSION"), "searchIndex": search })))
}
