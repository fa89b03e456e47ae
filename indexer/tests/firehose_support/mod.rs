//! Helpers for the firehose tests: frames built from the JSON form of recorded messages, the
//! relay scenario files, and a signing repo that produces real sync 1.1 `#commit` frames
//! (plyr-gen's `SigningRepo`: jacquard's MST, a k256 key, covering proofs).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use cid::Cid;
use ipld_core::ipld::Ipld;
use plyr_atproto::identity::SigningKey;
use plyr_gen::signing::{self, Signer, SigningRepo};
use plyr_indexer::firehose::StaticKeys;
use serde_json::Value;

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

pub fn json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture JSON")
}

pub fn cbor(value: &Ipld) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(value).expect("encode")
}

/// A binary message: the DAG-CBOR header then the DAG-CBOR body (JSON with `$bytes`/`$link`).
pub fn frame_from_json(header: &Value, body: &Value) -> Vec<u8> {
    let mut out = cbor(&plyr_atproto::ipld_from_json(header.clone()).expect("header"));
    out.extend(cbor(&plyr_atproto::ipld_from_json(body.clone()).expect("body")));
    out
}

/// A header `{op: 1, t}` followed by `body`.
pub fn frame(t: &str, body: &Ipld) -> Vec<u8> {
    let header = Ipld::Map(BTreeMap::from([
        ("op".to_owned(), Ipld::Integer(1)),
        ("t".to_owned(), Ipld::String(t.to_owned())),
    ]));
    let mut out = cbor(&header);
    out.extend(cbor(body));
    out
}

/// A relay scenario file: its keys, and each message with whether it must be dropped.
pub struct Scenario {
    pub lenient: bool,
    pub keys: StaticKeys,
    pub messages: Vec<(Vec<u8>, bool)>,
}

pub fn scenario(name: &str) -> Scenario {
    let d = json(&format!("relay/{name}"));
    let mut keys = HashMap::new();
    for account in d["accounts"].as_array().expect("accounts") {
        let identity = &account["identity"];
        let multibase = identity["keys"]["atproto"]["publicKeyMultibase"].as_str().expect("key");
        let key = SigningKey::from_multikey(multibase).expect("multikey");
        keys.insert(identity["did"].as_str().expect("did").to_owned(), key);
    }
    let messages = d["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                frame_from_json(&m["frame"]["header"], &m["frame"]["body"]),
                m["drop"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    Scenario { lenient: d["lenient"].as_bool().unwrap_or(false), keys: StaticKeys(keys), messages }
}

/// A TID for `n` (monotonic in n).
pub fn tid(n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let v = (1_767_225_600_000_000u64 + n * 1000) << 10;
    (0..13).rev().map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char).collect()
}

/// One write in a generated commit.
pub enum Write {
    Put(&'static str, String, Value),
    Delete(&'static str, String),
}

/// A repo that signs real commits: plyr-gen's [`SigningRepo`] (the one signing-repo
/// implementation), with revs numbered from 1 and times derived from `seq`.
pub struct TestRepo {
    pub did: String,
    inner: SigningRepo,
    revs: u64,
}

impl TestRepo {
    pub fn new(did: &str, seed: u8) -> Self {
        Self { did: did.to_owned(), inner: SigningRepo::new(did, Signer::repeated(seed)), revs: 0 }
    }

    /// The public key, as DID documents publish it.
    pub fn key(&self) -> SigningKey {
        self.inner.key()
    }

    /// Signs with another key from now on (the DID document changes with it).
    pub fn rotate(&mut self, seed: u8) {
        self.inner.rotate(Signer::repeated(seed));
    }

    pub async fn root(&self) -> Cid {
        self.inner.root().await.expect("root")
    }

    /// Applies `writes` and returns the `#commit` message for them (`seq`, time from `seq`).
    pub async fn commit(&mut self, seq: i64, writes: Vec<Write>) -> Vec<u8> {
        let writes = writes
            .into_iter()
            .map(|w| match w {
                Write::Put(collection, rkey, record) => signing::Write::Put {
                    key: format!("{collection}/{rkey}"),
                    record: cbor(&plyr_atproto::record_from_json(record).expect("record")),
                },
                Write::Delete(collection, rkey) => {
                    signing::Write::Delete { key: format!("{collection}/{rkey}") }
                }
            })
            .collect();
        self.revs += 1;
        self.inner.commit(seq, &tid(self.revs), &time(seq), writes).await.expect("commit").frame
    }

    /// A `#sync` message declaring the current tree at a new rev.
    pub async fn sync(&mut self, seq: i64) -> Vec<u8> {
        self.revs += 1;
        self.inner.sync(seq, &tid(self.revs), &time(seq)).await.expect("sync")
    }
}

/// An `#identity` or `#account` message.
pub fn identity(seq: i64, did: &str, handle: &str) -> Vec<u8> {
    frame(
        "#identity",
        &Ipld::Map(BTreeMap::from([
            ("seq".to_owned(), Ipld::Integer(seq.into())),
            ("did".to_owned(), Ipld::String(did.to_owned())),
            ("handle".to_owned(), Ipld::String(handle.to_owned())),
            ("time".to_owned(), Ipld::String(time(seq))),
        ])),
    )
}

pub fn account(seq: i64, did: &str, active: bool, status: Option<&str>) -> Vec<u8> {
    let mut body = BTreeMap::from([
        ("seq".to_owned(), Ipld::Integer(seq.into())),
        ("did".to_owned(), Ipld::String(did.to_owned())),
        ("active".to_owned(), Ipld::Bool(active)),
        ("time".to_owned(), Ipld::String(time(seq))),
    ]);
    if let Some(status) = status {
        body.insert("status".to_owned(), Ipld::String(status.to_owned()));
    }
    frame("#account", &Ipld::Map(body))
}

/// `2026-01-01T00:00:00Z` plus `seq` seconds.
pub fn time(seq: i64) -> String {
    let t = chrono::DateTime::from_timestamp(1_767_225_600 + seq, 0).unwrap_or_default();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn track(title: &str) -> Value {
    serde_json::json!({
        "$type": "fm.plyr.track", "title": title, "artist": "Artist", "fileType": "mp3",
        "createdAt": "2026-01-01T00:00:00.000Z", "duration": 180,
        "audioBlob": { "$type": "blob", "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" }, "mimeType": "audio/mpeg", "size": 12345 },
    })
}

pub fn post(text: &str) -> Value {
    serde_json::json!({ "$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z" })
}
