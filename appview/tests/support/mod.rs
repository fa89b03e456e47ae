//! Test support: a small network written as Jetstream v1 lines and applied through the
//! indexer's real replay path (decoder, pipeline, write path) into a fresh database, and a way to
//! call the AppView's router and check each response against its lexicon.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use plyr_appview::{AppState, AppviewOptions, router};
use plyr_atproto::{Catalog, LexiconDoc, XrpcBody};
use plyr_indexer::pipeline::BatchConfig;
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const ALICE: &str = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
pub const BOB: &str = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";
pub const CAROL: &str = "did:plc:carolcccccccccccccccccccc";
pub const DAVE: &str = "did:plc:daveddddddddddddddddddddd";
pub const PDS: &str = "https://pds.example.com";
pub const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

/// A network under construction: Jetstream v1 lines with increasing times, revs and rkeys.
#[derive(Debug)]
pub struct Net {
    lines: Vec<String>,
    time_us: i64,
    seq: u64,
    /// Accounts whose handle the identity worker would have verified (DID, handle).
    verified: Vec<(String, String)>,
}

impl Default for Net {
    fn default() -> Self {
        // 2026-02-01: after every `createdAt` the tests use, so none counts as from the future.
        Net { lines: Vec::new(), time_us: 1_769_904_000_000_000, seq: 0, verified: Vec::new() }
    }
}

/// A TID from a counter (monotonic).
pub fn tid_of(n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let v = (1_767_225_600_000_000u64 + n) << 10;
    (0..13).rev().map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char).collect()
}

impl Net {
    /// A network whose events happen now (for reads that count recent days).
    pub fn now() -> Self {
        Net { time_us: chrono::Utc::now().timestamp_micros() - 60_000_000, ..Net::default() }
    }

    fn next(&mut self) -> (i64, String) {
        self.time_us += 1_000_000;
        self.seq += 1;
        (self.time_us, tid_of(self.seq))
    }

    /// An account with a handle (verified, hosted on [`PDS`]).
    pub fn actor(&mut self, did: &str, handle: &str) {
        let (t, _) = self.next();
        let identity =
            json!({ "did": did, "handle": handle, "seq": self.seq, "time": "2026-01-01T00:00:00Z" });
        self.lines
            .push(json!({ "did": did, "time_us": t, "kind": "identity", "identity": identity }).to_string());
        self.verified.push((did.to_owned(), handle.to_owned()));
    }

    /// An account whose handle is claimed but not verified.
    pub fn unverified_actor(&mut self, did: &str, handle: &str) {
        let (t, _) = self.next();
        let identity =
            json!({ "did": did, "handle": handle, "seq": self.seq, "time": "2026-01-01T00:00:00Z" });
        self.lines
            .push(json!({ "did": did, "time_us": t, "kind": "identity", "identity": identity }).to_string());
    }

    pub fn account(&mut self, did: &str, active: bool, status: Option<&str>) {
        let (t, _) = self.next();
        let mut account =
            json!({ "did": did, "active": active, "seq": self.seq, "time": "2026-01-01T00:00:00Z" });
        if let Some(s) = status {
            account["status"] = json!(s);
        }
        self.lines
            .push(json!({ "did": did, "time_us": t, "kind": "account", "account": account }).to_string());
    }

    /// Writes `record` at a fresh rkey; returns its URI.
    pub fn create(&mut self, did: &str, collection: &str, record: Value) -> String {
        // The rkey is the rev of the commit that creates it, as PDSes do.
        let rkey = tid_of(self.seq + 1);
        self.put(did, collection, &rkey, record)
    }

    /// Creates or updates the record at `rkey`; returns its URI.
    pub fn put(&mut self, did: &str, collection: &str, rkey: &str, record: Value) -> String {
        let (t, rev) = self.next();
        let ipld = plyr_atproto::record_from_json(record.clone()).expect("data model");
        let cid = plyr_atproto::cid_for_record(&ipld).expect("cid").to_string();
        let commit = json!({
            "rev": rev, "operation": "create", "collection": collection, "rkey": rkey,
            "record": record, "cid": cid,
        });
        self.lines.push(json!({ "did": did, "time_us": t, "kind": "commit", "commit": commit }).to_string());
        format!("at://{did}/{collection}/{rkey}")
    }

    pub fn delete(&mut self, uri: &str) {
        let (t, rev) = self.next();
        let rest = uri.strip_prefix("at://").expect("at uri");
        let mut parts = rest.splitn(3, '/');
        let (did, collection, rkey) =
            (parts.next().expect("did"), parts.next().expect("collection"), parts.next().expect("rkey"));
        let commit = json!({ "rev": rev, "operation": "delete", "collection": collection, "rkey": rkey });
        self.lines.push(json!({ "did": did, "time_us": t, "kind": "commit", "commit": commit }).to_string());
    }

    /// The Jetstream lines so far.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Applies the lines through the indexer's replay path, then sets verified handles as the
    /// identity worker would (it needs the network, which tests do not have; an identity event
    /// that precedes an account's first record is not applied by the write path).
    pub async fn apply(&self, db: &TestDb) {
        apply_lines(db, &self.lines).await;
        for (did, handle) in &self.verified {
            sqlx::query(
                "UPDATE actors SET handle = $3, handle_verified = TRUE, pds_endpoint = $2 WHERE did = $1",
            )
            .bind(did)
            .bind(PDS)
            .bind(handle)
            .execute(&db.pool)
            .await
            .expect("verify handle");
        }
    }
}

/// Replays Jetstream lines into `db` through the indexer.
pub async fn apply_lines(db: &TestDb, lines: &[String]) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("plyr-appview-test-{}-{n}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write lines");
    let writer = Arc::new(writer(db));
    let summary =
        plyr_indexer::replay::replay(writer, &path, true, BatchConfig::default(), CancellationToken::new())
            .await
            .expect("replay");
    let _ = std::fs::remove_file(&path);
    assert_eq!(summary.bad_lines, 0, "every test line decodes");
    // What the indexer's ranker does within seconds of a change.
    plyr_indexer::ranking::refresh(&db.pool).await.expect("rankings");
}

/// The indexer's writer, trusting the test audio host and the indexer's default origins.
pub fn writer(db: &TestDb) -> Writer {
    let mut origins = vec!["https://audio.example.com"];
    origins.extend(plyr_indexer::config::DEFAULT_TRUSTED_AUDIO_ORIGINS);
    Writer::new(db.pool.clone(), TrustedOrigins::new(origins)).expect("writer")
}

pub fn at(day: u32, hour: u32) -> String {
    format!("2026-01-{day:02}T{hour:02}:00:00.000Z")
}

pub fn track(title: &str, artist: &str, created_at: &str) -> Value {
    json!({
        "$type": "fm.plyr.track", "title": title, "artist": artist, "fileType": "mp3",
        "createdAt": created_at, "duration": 200,
        "audioBlob": { "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "audio/mpeg", "size": 4242 },
    })
}

pub fn strong_ref(uri: &str) -> Value {
    json!({ "uri": uri, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm" })
}

pub fn like(subject: &str, created_at: &str) -> Value {
    json!({ "$type": "fm.plyr.like", "subject": strong_ref(subject), "createdAt": created_at })
}

pub fn comment(subject: &str, text: &str, ms: i64, created_at: &str) -> Value {
    json!({
        "$type": "fm.plyr.comment", "subject": strong_ref(subject), "text": text,
        "timestampMs": ms, "createdAt": created_at,
    })
}

pub fn list(list_type: &str, name: &str, items: &[&str], created_at: &str) -> Value {
    let items: Vec<Value> = items.iter().map(|u| json!({ "subject": strong_ref(u) })).collect();
    json!({ "$type": "fm.plyr.list", "name": name, "listType": list_type, "items": items, "createdAt": created_at })
}

pub fn bsky_profile(name: &str) -> Value {
    json!({ "$type": "app.bsky.actor.profile", "displayName": name })
}

pub fn plyr_profile(bio: &str, created_at: &str) -> Value {
    json!({ "$type": "fm.plyr.actor.profile", "bio": bio, "createdAt": created_at })
}

pub fn options() -> AppviewOptions {
    let mut o = AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
    o.public_url = Some("http://appview.test".into());
    o.db_connections = 4;
    o.labelers = vec![LABELER.to_owned()];
    o
}

/// The labeler the test AppViews follow.
pub const LABELER: &str = "did:plc:labeler";

pub fn state(db: &TestDb) -> AppState {
    AppState::new(db.pool.clone(), options())
}

/// Every lexicon of this project, compiled once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let docs = plyr_lexicons::schemas::LEXICONS
            .iter()
            .map(|(_, json)| LexiconDoc::from_json(json).expect("lexicon parses"));
        Catalog::from_documents(docs).expect("catalog")
    })
}

/// `GET uri` with optional headers; the status and the JSON body.
pub async fn call(state: &AppState, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let (status, body, _) = call_raw(state, uri, headers).await;
    (status, body)
}

/// `GET /xrpc/<nsid>?<query>` anonymously; a 200 body is checked against the method's output
/// schema.
pub async fn xrpc(state: &AppState, nsid: &str, query: &str) -> (StatusCode, Value) {
    let (status, body) = call(state, &format!("/xrpc/{nsid}?{query}"), &[]).await;
    if status == StatusCode::OK {
        assert_valid_output(nsid, &body);
    }
    (status, body)
}

/// `xrpc`, expecting 200.
pub async fn ok(state: &AppState, nsid: &str, query: &str) -> Value {
    let (status, body) = xrpc(state, nsid, query).await;
    assert_eq!(status, StatusCode::OK, "{nsid}?{query}: {body}");
    body
}

pub fn assert_valid_output(nsid: &str, body: &Value) {
    let ipld = plyr_atproto::ipld_from_json(body.clone()).expect("output is atproto data");
    if let Err(v) = catalog().validate_xrpc_body(nsid, XrpcBody::Output, &ipld) {
        panic!("{nsid} output violates its lexicon: {v:?}\n{body:#}");
    }
}

/// The `uri`s of the objects in `body[key]`.
pub fn uris(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array in {body}"))
        .iter()
        .map(|t| t["uri"].as_str().expect("uri").to_owned())
        .collect()
}

/// `GET uri` with headers; the status, the JSON body and the `Atproto-Repo-Rev` header.
pub async fn call_raw(
    state: &AppState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res =
        router(state.clone()).oneshot(req.body(Body::empty()).expect("request")).await.expect("response");
    let status = res.status();
    let rev = res.headers().get("atproto-repo-rev").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = to_bytes(res.into_body(), 16 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), rev)
}

/// The cache listener of a test's AppView, subscribed before `start` returns.
pub struct Listening {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    pub async fn start(db: &TestDb, state: &AppState) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(plyr_appview::cache::listen(
            db.pool.clone(),
            state.caches.clone(),
            shutdown.clone(),
        ));
        wait_listening(db).await;
        Listening { shutdown, task }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Waits (at most 10 s) until a session of `db` is listening for the indexer's announcements
/// (a spawned `cache::listen`), so nothing announced afterwards can be missed.
pub async fn wait_listening(db: &TestDb) {
    let started = std::time::Instant::now();
    loop {
        let listening: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%')",
        )
        .fetch_one(&db.pool)
        .await
        .expect("pg_stat_activity");
        if listening {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the listener did not subscribe within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
