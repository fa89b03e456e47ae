//! A real local Jetstream for tests: a websocket server on 127.0.0.1 (port 0) that speaks the v1
//! (`/subscribe`, optionally dictionary-zstd) and v2 (`subscribeEvents`) wires from one list of
//! prepared items. It serves from the requested cursor on (v1: `time_us >= cursor`; v2:
//! `seq >= cursor`, or `time_us >= cursor` for cursors of 1e15 and up), can drop a connection
//! abruptly after N frames, answers `400 CursorTooOld` below a seq floor, and records every
//! request's path and query so tests can check how a client resumed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

/// Cursors from here on are timestamps (µs), below it v2 seqs.
pub const TIMESTAMP_CURSOR_MIN: i64 = 1_000_000_000_000_000;
/// v1 and v2 endpoint paths.
pub const V1_PATH: &str = "/subscribe";
pub const V2_PATH: &str = "/xrpc/network.bsky.jetstream.subscribeEvents";

/// One event, described once and rendered in either wire format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestEvent {
    /// The v2 sequence number.
    pub seq: i64,
    /// The event time (v1 `time_us`; v2 `time` and `witnessedAt`).
    pub time_us: i64,
    pub did: String,
    #[serde(flatten)]
    pub body: TestBody,
}

/// What happened, in wire terms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TestBody {
    Commit {
        rev: String,
        operation: String,
        collection: String,
        rkey: String,
        record: Option<Value>,
        cid: Option<String>,
    },
    Identity {
        handle: Option<String>,
    },
    Account {
        active: bool,
        status: Option<String>,
    },
    /// v2 only (v1 never sends `#sync`).
    Sync {
        rev: String,
    },
}

/// RFC 3339 with microseconds, as Jetstream v2 writes times.
pub fn rfc3339(time_us: i64) -> String {
    DateTime::from_timestamp_micros(time_us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// The v1 frame of an event (`None` for `#sync`, which v1 does not have).
pub fn v1_frame(e: &TestEvent) -> Option<Value> {
    let time = rfc3339(e.time_us);
    let mut frame = json!({"did": e.did, "time_us": e.time_us});
    match &e.body {
        TestBody::Commit { rev, operation, collection, rkey, record, cid } => {
            frame["kind"] = json!("commit");
            frame["commit"] =
                json!({"rev": rev, "operation": operation, "collection": collection, "rkey": rkey});
            if let Some(record) = record {
                frame["commit"]["record"] = record.clone();
            }
            if let Some(cid) = cid {
                frame["commit"]["cid"] = json!(cid);
            }
        }
        TestBody::Identity { handle } => {
            frame["kind"] = json!("identity");
            frame["identity"] = json!({"did": e.did, "handle": handle, "seq": e.seq, "time": time});
        }
        TestBody::Account { active, status } => {
            frame["kind"] = json!("account");
            frame["account"] = json!({"active": active, "did": e.did, "seq": e.seq, "time": time});
            if let Some(status) = status {
                frame["account"]["status"] = json!(status);
            }
        }
        TestBody::Sync { .. } => return None,
    }
    Some(frame)
}

/// The v2 frame of an event.
pub fn v2_frame(e: &TestEvent) -> Value {
    let time = rfc3339(e.time_us);
    let mut payload = json!({"seq": e.seq, "did": e.did, "time": time, "witnessedAt": time});
    let inner = json!({"seq": e.seq, "did": e.did, "time": time});
    let kind = match &e.body {
        TestBody::Commit { rev, operation, collection, rkey, record, cid } => {
            for (key, value) in
                [("rev", rev), ("operation", operation), ("collection", collection), ("rkey", rkey)]
            {
                payload[key] = json!(value);
            }
            if let Some(record) = record {
                payload["record"] = record.clone();
            }
            if let Some(cid) = cid {
                payload["cid"] = json!(cid);
            }
            "commit"
        }
        TestBody::Identity { handle } => {
            payload["identity"] = inner;
            if let Some(handle) = handle {
                payload["identity"]["handle"] = json!(handle);
            }
            "identity"
        }
        TestBody::Account { active, status } => {
            payload["account"] = inner;
            payload["account"]["active"] = json!(active);
            if let Some(status) = status {
                payload["account"]["status"] = json!(status);
            }
            "account"
        }
        TestBody::Sync { rev } => {
            payload["sync"] = inner;
            payload["sync"]["rev"] = json!(rev);
            payload["sync"]["blocks"] = json!("");
            "sync"
        }
    };
    payload["$type"] = json!(format!("network.bsky.jetstream.subscribeEvents#{kind}"));
    json!({"$type": "message", "payload": payload})
}

/// What one served item is.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Rendered in the wire format of the connection.
    Event(TestEvent),
    /// Sent as is (compressed first on a v1 `compress=true` connection).
    Text(String),
    /// Sent as is, on every connection.
    Binary(Vec<u8>),
}

/// One item of the stream, at a position (`seq` for v2, `time_us` for v1 and timestamp cursors).
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: i64,
    pub time_us: i64,
    pub payload: Payload,
}

impl Item {
    /// An event at its own position.
    pub fn event(e: TestEvent) -> Self {
        Self { seq: e.seq, time_us: e.time_us, payload: Payload::Event(e) }
    }

    /// A raw text frame at a position.
    pub fn text(seq: i64, time_us: i64, text: impl Into<String>) -> Self {
        Self { seq, time_us, payload: Payload::Text(text.into()) }
    }

    /// A raw binary frame at a position.
    pub fn binary(seq: i64, time_us: i64, bytes: Vec<u8>) -> Self {
        Self { seq, time_us, payload: Payload::Binary(bytes) }
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    pub items: Vec<Item>,
    /// The n-th streaming connection is dropped abruptly (no close frame) after `drop_after[n]`
    /// frames; connections past the list are not dropped.
    pub drop_after: Vec<usize>,
    /// v2: seq cursors below this are refused with `400 {"error":"CursorTooOld"}`.
    pub cursor_floor: Option<i64>,
    /// A connection without a cursor ("live") starts at this index of `items` (default 0).
    pub live_from: usize,
}

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct JetstreamServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl JetstreamServer {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared { config, requests: requests.clone(), streams: AtomicUsize::new(0) });
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, shared.clone()));
            }
        });
        Ok(Self { port, requests, task })
    }

    /// `ws://127.0.0.1:<port>`, the base URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Path and query of every request so far, in order (refused ones included).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for JetstreamServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: ServerConfig,
    requests: Arc<Mutex<Vec<String>>>,
    streams: AtomicUsize,
}

/// What the handshake asked for.
#[derive(Debug, Default)]
struct Subscription {
    v2: bool,
    cursor: Option<i64>,
    compress: bool,
}

/// The handshake callback: records the request and decides how to answer it.
struct Handshake<'a> {
    shared: &'a Shared,
    subscription: &'a mut Subscription,
}

impl Callback for Handshake<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let uri = request.uri();
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).push(uri.to_string());
        match subscription(uri.path(), uri.query().unwrap_or(""), &self.shared.config) {
            Ok(subscription) => {
                *self.subscription = subscription;
                Ok(response)
            }
            Err(rejection) => Err(rejection.response()),
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut subscription = Subscription::default();
    let callback = Handshake { shared: &shared, subscription: &mut subscription };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let index = shared.streams.fetch_add(1, Ordering::SeqCst);
    let drop_after = shared.config.drop_after.get(index).copied();
    let items = &shared.config.items;
    let start = match subscription.cursor {
        None => shared.config.live_from,
        Some(c) if subscription.v2 && c < TIMESTAMP_CURSOR_MIN => items.partition_point(|i| i.seq < c),
        Some(c) => items.partition_point(|i| i.time_us < c),
    };
    let mut dictionary = if subscription.compress {
        zstd::bulk::Compressor::with_dictionary(3, plyr_indexer::jetstream::zstd::DICTIONARY).ok()
    } else {
        None
    };
    let mut sent = 0;
    for item in items.iter().skip(start) {
        if drop_after.is_some_and(|n| sent >= n) {
            return; // dropping `ws` closes the TCP connection without a close frame
        }
        let text = match &item.payload {
            Payload::Event(e) if subscription.v2 => v2_frame(e).to_string(),
            Payload::Event(e) => match v1_frame(e) {
                Some(frame) => frame.to_string(),
                None => continue,
            },
            Payload::Text(text) => text.clone(),
            Payload::Binary(bytes) => {
                if ws.send(Message::Binary(bytes.clone())).await.is_err() {
                    return;
                }
                sent += 1;
                continue;
            }
        };
        let message = match dictionary.as_mut() {
            Some(c) => match c.compress(text.as_bytes()) {
                Ok(bytes) => Message::Binary(bytes),
                Err(_) => return,
            },
            None => Message::Text(text),
        };
        if ws.send(message).await.is_err() {
            return;
        }
        sent += 1;
    }
    if drop_after.is_some_and(|n| sent >= n) {
        return;
    }
    // Keep the connection open (answering pings) until the client goes away.
    while let Some(Ok(_)) = ws.next().await {}
}

/// An HTTP error answer to a subscription request.
struct Rejection {
    status: StatusCode,
    error: &'static str,
    message: &'static str,
}

impl Rejection {
    fn response(&self) -> ErrorResponse {
        let body = json!({"error": self.error, "message": self.message}).to_string();
        let mut response = ErrorResponse::new(Some(body));
        *response.status_mut() = self.status;
        response
    }
}

/// Reads the request line: what to stream, or why not.
fn subscription(path: &str, query: &str, config: &ServerConfig) -> Result<Subscription, Rejection> {
    let v2 = match path {
        V1_PATH => false,
        V2_PATH => true,
        _ => {
            return Err(Rejection {
                status: StatusCode::NOT_FOUND,
                error: "NotFound",
                message: "no such endpoint",
            });
        }
    };
    let mut subscription = Subscription { v2, ..Subscription::default() };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "cursor" => match value.parse() {
                Ok(cursor) => subscription.cursor = Some(cursor),
                Err(_) => {
                    return Err(Rejection {
                        status: StatusCode::BAD_REQUEST,
                        error: "InvalidRequest",
                        message: "bad cursor",
                    });
                }
            },
            "compress" => subscription.compress = !v2 && value == "true",
            _ => {}
        }
    }
    if let (true, Some(cursor), Some(floor)) = (v2, subscription.cursor, config.cursor_floor)
        && cursor < TIMESTAMP_CURSOR_MIN
        && cursor < floor
    {
        return Err(Rejection {
            status: StatusCode::BAD_REQUEST,
            error: "CursorTooOld",
            message: "cursor is older than the lookback",
        });
    }
    Ok(subscription)
}
