//! Helpers for the backfill tests: whole signed repos built in memory (plyr-gen's `repo_car`:
//! jacquard's MST, a k256 key), and a mock PDS/relay on 127.0.0.1 (axum) serving them through `getRepo`,
//! `getLatestCommit`, `describeRepo`, `listRecords` (two records per page, to exercise paging)
//! and `listReposByCollection`, with request counts and scripted failures (429s, 5xx).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ipld_core::ipld::Ipld;
use plyr_atproto::identity::SigningKey;
use plyr_gen::signing::{Signer, repo_car};
use plyr_indexer::backfill::{RepoHost, StaticLocator};
use serde_json::{Value, json};

/// A repo: its records (collection/rkey → JSON), signed at a rev.
#[derive(Clone)]
pub struct MemRepo {
    pub did: String,
    pub seed: u8,
    pub rev: String,
    pub records: BTreeMap<String, Value>,
}

impl MemRepo {
    pub fn new(did: &str, seed: u8, rev: &str) -> Self {
        Self { did: did.to_owned(), seed, rev: rev.to_owned(), records: BTreeMap::new() }
    }

    pub fn put(&mut self, collection: &str, rkey: &str, record: Value) -> &mut Self {
        self.records.insert(format!("{collection}/{rkey}"), record);
        self
    }

    /// The public key that verifies this repo's commits.
    pub fn key(&self) -> SigningKey {
        Signer::repeated(self.seed).public()
    }

    /// The repo as `getRepo` returns it (plyr-gen's `repo_car`): CAR v1, root = the signed commit.
    pub async fn car(&self) -> Vec<u8> {
        let records = self.records.iter().map(|(key, record)| {
            (key.clone(), cbor(&plyr_atproto::record_from_json(record.clone()).expect("record")))
        });
        repo_car(&self.did, &Signer::repeated(self.seed), &self.rev, records).await.expect("CAR")
    }
}

pub fn cbor(value: &Ipld) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(value).expect("dag-cbor")
}

/// What the mock answers and counts.
#[derive(Default)]
pub struct Script {
    pub repos: HashMap<String, (MemRepo, Vec<u8>)>,
    /// Requests per XRPC method.
    pub calls: HashMap<String, usize>,
    /// The next N requests (any method) answer 429 with these headers.
    pub rate_limit: Vec<Vec<(&'static str, String)>>,
    /// DIDs whose getRepo/getLatestCommit answer this status.
    pub broken: HashMap<String, u16>,
}

#[derive(Clone)]
pub struct MockPds {
    pub url: String,
    pub script: Arc<Mutex<Script>>,
}

impl MockPds {
    pub async fn start() -> Self {
        let script: Arc<Mutex<Script>> = Arc::default();
        let app = Router::new().route("/xrpc/{method}", get(xrpc)).with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, script }
    }

    /// Serves `repo` (replacing an earlier version).
    pub async fn serve(&self, repo: &MemRepo) {
        let car = repo.car().await;
        self.lock().repos.insert(repo.did.clone(), (repo.clone(), car));
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().expect("script")
    }

    pub fn calls(&self, method: &str) -> usize {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// A locator sending every served repo's DID here, with its key.
    pub fn locator(&self) -> StaticLocator {
        let script = self.lock();
        StaticLocator(
            script
                .repos
                .values()
                .map(|(r, _)| {
                    (r.did.clone(), RepoHost { pds: self.url.parse().expect("url"), key: Some(r.key()) })
                })
                .collect(),
        )
    }
}

async fn xrpc(
    State(script): State<Arc<Mutex<Script>>>,
    axum::extract::Path(method): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
    _uri: Uri,
) -> Response {
    let mut s = script.lock().expect("script");
    *s.calls.entry(method.clone()).or_default() += 1;
    if !s.rate_limit.is_empty() {
        let headers = s.rate_limit.remove(0);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(k, v.parse().expect("header"));
        }
        return (StatusCode::TOO_MANY_REQUESTS, map, "{\"error\":\"RateLimitExceeded\"}").into_response();
    }
    let did = q.get("did").or_else(|| q.get("repo")).cloned().unwrap_or_default();
    if let Some(status) = s.broken.get(&did) {
        let status = StatusCode::from_u16(*status).expect("status");
        return (status, axum::Json(json!({ "error": "Broken", "message": "scripted" }))).into_response();
    }
    let not_found =
        || (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "RepoNotFound" }))).into_response();
    match method.as_str() {
        "com.atproto.sync.getRepo" => match s.repos.get(&did) {
            Some((_, car)) => ([("content-type", "application/vnd.ipld.car")], car.clone()).into_response(),
            None => not_found(),
        },
        "com.atproto.sync.getLatestCommit" => match s.repos.get(&did) {
            Some((r, _)) => axum::Json(
                json!({ "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", "rev": r.rev }),
            )
            .into_response(),
            None => not_found(),
        },
        "com.atproto.repo.describeRepo" => match s.repos.get(&did) {
            Some((r, _)) => {
                let mut collections: Vec<&str> =
                    r.records.keys().filter_map(|k| k.split_once('/')).map(|(c, _)| c).collect();
                collections.dedup();
                axum::Json(json!({ "did": did, "handle": "x.test", "collections": collections }))
                    .into_response()
            }
            None => not_found(),
        },
        "com.atproto.repo.listRecords" => match s.repos.get(&did) {
            Some((r, _)) => {
                let collection = q.get("collection").cloned().unwrap_or_default();
                let after = q.get("cursor").cloned().unwrap_or_default();
                let page: Vec<(String, Value)> = r
                    .records
                    .iter()
                    .filter_map(|(k, v)| {
                        k.split_once('/')
                            .filter(|(c, _)| *c == collection)
                            .map(|(_, rk)| (rk.to_owned(), v.clone()))
                    })
                    .filter(|(rk, _)| after.is_empty() || *rk > after)
                    .take(2)
                    .collect();
                let cursor = if page.len() == 2 { page.last().map(|(rk, _)| rk.clone()) } else { None };
                let records: Vec<Value> = page
                    .into_iter()
                    .map(|(rk, v)| {
                        let cid = plyr_atproto::cid_for_record(&plyr_atproto::record_from_json(v.clone()).expect("record")).expect("cid");
                        json!({ "uri": format!("at://{did}/{collection}/{rk}"), "cid": cid.to_string(), "value": v })
                    })
                    .collect();
                axum::Json(json!({ "records": records, "cursor": cursor })).into_response()
            }
            None => not_found(),
        },
        "com.atproto.sync.listReposByCollection" => {
            let collection = q.get("collection").cloned().unwrap_or_default();
            let mut dids: Vec<&String> = s
                .repos
                .values()
                .filter(|(r, _)| r.records.keys().any(|k| k.starts_with(&format!("{collection}/"))))
                .map(|(r, _)| &r.did)
                .collect();
            dids.sort();
            let after = q.get("cursor").cloned().unwrap_or_default();
            let page: Vec<&String> =
                dids.into_iter().filter(|d| after.is_empty() || **d > after).take(1).collect();
            let cursor = page.last().map(|d| (*d).clone());
            let repos: Vec<Value> = page.iter().map(|d| json!({ "did": d })).collect();
            axum::Json(json!({ "repos": repos, "cursor": cursor })).into_response()
        }
        _ => (StatusCode::NOT_IMPLEMENTED, "{}").into_response(),
    }
}
