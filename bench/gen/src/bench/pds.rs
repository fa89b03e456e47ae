//! A PDS and PLC directory in one loopback HTTP server, serving the repos `plyr-gen repos`
//! wrote, so `indexer backfill --pds URL --plc-url URL` runs against them unchanged:
//!
//! - `GET /xrpc/com.atproto.sync.listRepos`: every repo, active, paged by DID;
//! - `GET /xrpc/com.atproto.sync.getRepo?did=`: the repo's CAR;
//! - `GET /<did>`: the DID document (the `#atproto` key from `keys.json`, this server as the
//!   `#atproto_pds`), as a PLC directory answers.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::GenError;
use crate::keys::KeyFile;

/// Most repos per `listRepos` page.
const MAX_PAGE: usize = 1000;

/// What the server holds.
#[derive(Debug)]
struct Repos {
    /// This server's base URL (the PDS endpoint of every DID document).
    url: String,
    cars: HashMap<String, Bytes>,
    keys: KeyFile,
}

/// A running server.
#[derive(Debug)]
pub struct PdsServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The repos served.
    pub repos: usize,
    /// Stops the server.
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Loads every `<did>.car` of `dir` and its `keys.json`, and serves them on `listen`.
pub async fn serve(dir: &Path, listen: SocketAddr) -> Result<PdsServer, GenError> {
    let keys = KeyFile::read(&dir.join("keys.json"))?;
    let mut cars = HashMap::new();
    for did in keys.0.keys() {
        let bytes = tokio::fs::read(dir.join(format!("{did}.car"))).await?;
        cars.insert(did.clone(), Bytes::from(bytes));
    }
    serve_repos(keys, cars, listen).await
}

/// Serves the DID documents of `keys` alone (no repos): a PLC directory.
pub async fn serve_keys(keys: KeyFile, listen: SocketAddr) -> Result<PdsServer, GenError> {
    serve_repos(keys, HashMap::new(), listen).await
}

async fn serve_repos(
    keys: KeyFile,
    cars: HashMap<String, Bytes>,
    listen: SocketAddr,
) -> Result<PdsServer, GenError> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let repos = cars.len();
    let state = Arc::new(Repos { url: url.clone(), cars, keys });
    let app = Router::new()
        .route("/xrpc/com.atproto.sync.listRepos", get(list_repos))
        .route("/xrpc/com.atproto.sync.getRepo", get(get_repo))
        .route("/{did}", get(did_document))
        .with_state(state);
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { stopped.cancelled().await }).await
    });
    Ok(PdsServer { url, repos, stop, task })
}

fn xrpc_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn list_repos(State(repos): State<Arc<Repos>>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(500).clamp(1, MAX_PAGE);
    let after = q.get("cursor").map(String::as_str).unwrap_or_default();
    let page: Vec<&String> = repos.keys.0.keys().filter(|d| d.as_str() > after).take(limit).collect();
    let cursor = (page.len() == limit).then(|| page.last().map(|d| d.to_string())).flatten();
    let list: Vec<_> = page.iter().map(|did| json!({ "did": did, "active": true })).collect();
    axum::Json(json!({ "repos": list, "cursor": cursor })).into_response()
}

async fn get_repo(State(repos): State<Arc<Repos>>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    match q.get("did").and_then(|did| repos.cars.get(did)) {
        Some(car) => ([("content-type", "application/vnd.ipld.car")], car.clone()).into_response(),
        None => xrpc_error(StatusCode::BAD_REQUEST, "RepoNotFound"),
    }
}

async fn did_document(State(repos): State<Arc<Repos>>, UrlPath(did): UrlPath<String>) -> Response {
    let Some(key) = repos.keys.0.get(&did) else {
        return xrpc_error(StatusCode::NOT_FOUND, "NotFound");
    };
    axum::Json(json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": repos.url }],
    }))
    .into_response()
}
