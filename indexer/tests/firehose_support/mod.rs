//! Helpers for the firehose tests: frames built from the JSON form of recorded messages, the
//! relay scenario files, and a small signing repo that produces real sync 1.1 `#commit` frames
//! (jacquard's MST for the tree, a k256 key for the signature, the whole new tree as the proof).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use ipld_core::ipld::Ipld;
use jacquard_repo::Mst;
use jacquard_repo::storage::MemoryBlockStore;
use k256::ecdsa::signature::Signer;
use plyr_atproto::identity::{Curve, SigningKey};
use plyr_indexer::firehose::StaticKeys;
use plyr_indexer::repo::car::cid_of;
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

/// A repo that signs real commits.
pub struct TestRepo {
    pub did: String,
    signer: k256::ecdsa::SigningKey,
    tree: Mst<MemoryBlockStore>,
    revs: u64,
    last_rev: Option<String>,
}

impl TestRepo {
    pub fn new(did: &str, seed: u8) -> Self {
        let signer = k256::ecdsa::SigningKey::from_slice(&[seed.max(1); 32]).expect("key");
        Self {
            did: did.to_owned(),
            signer,
            tree: Mst::new(Arc::new(MemoryBlockStore::new())),
            revs: 0,
            last_rev: None,
        }
    }

    /// The public key, as DID documents publish it.
    pub fn key(&self) -> SigningKey {
        let point = self.signer.verifying_key().to_encoded_point(true);
        SigningKey::from_sec1(Curve::K256, point.as_bytes()).expect("public key")
    }

    /// Signs with another key from now on (the DID document changes with it).
    pub fn rotate(&mut self, seed: u8) {
        self.signer = k256::ecdsa::SigningKey::from_slice(&[seed.max(1); 32]).expect("key");
    }

    pub async fn root(&self) -> Cid {
        self.tree.get_pointer().await.expect("root")
    }

    /// Applies `writes` and returns the `#commit` message for them (`seq`, time from `seq`).
    pub async fn commit(&mut self, seq: i64, writes: Vec<Write>) -> Vec<u8> {
        let prev_data = self.root().await;
        let mut ops = Vec::new();
        let mut records: BTreeMap<Cid, Bytes> = BTreeMap::new();
        for write in writes {
            match write {
                Write::Put(collection, rkey, record) => {
                    let key = format!("{collection}/{rkey}");
                    let bytes = cbor(&plyr_atproto::record_from_json(record).expect("record"));
                    let cid = cid_of(&bytes);
                    records.insert(cid, bytes.into());
                    let prev = self.tree.get(&key).await.expect("get");
                    self.tree = match prev {
                        Some(_) => self.tree.update(&key, cid).await.expect("update"),
                        None => self.tree.add(&key, cid).await.expect("add"),
                    };
                    let action = if prev.is_some() { "update" } else { "create" };
                    ops.push(op(action, &key, Some(cid), prev));
                }
                Write::Delete(collection, rkey) => {
                    let key = format!("{collection}/{rkey}");
                    let prev = self.tree.get(&key).await.expect("get");
                    self.tree = self.tree.delete(&key).await.expect("delete");
                    ops.push(op("delete", &key, None, prev));
                }
            }
        }
        let (data, mut blocks) = self.tree.collect_blocks().await.expect("blocks");
        blocks.extend(records);
        self.revs += 1;
        let rev = tid(self.revs);
        let (commit_cid, commit_block) = self.sign(data, &rev);
        blocks.insert(commit_cid, commit_block.into());
        let car = jacquard_repo::car::write_car_bytes(commit_cid, blocks).await.expect("CAR");
        let since = self.last_rev.replace(rev.clone()).map_or(Ipld::Null, Ipld::String);
        let body = Ipld::Map(BTreeMap::from([
            ("seq".to_owned(), Ipld::Integer(seq.into())),
            ("repo".to_owned(), Ipld::String(self.did.clone())),
            ("rev".to_owned(), Ipld::String(rev)),
            ("since".to_owned(), since),
            ("commit".to_owned(), Ipld::Link(commit_cid)),
            ("blocks".to_owned(), Ipld::Bytes(car)),
            ("ops".to_owned(), Ipld::List(ops)),
            ("prevData".to_owned(), Ipld::Link(prev_data)),
            ("blobs".to_owned(), Ipld::List(vec![])),
            ("rebase".to_owned(), Ipld::Bool(false)),
            ("tooBig".to_owned(), Ipld::Bool(false)),
            ("time".to_owned(), Ipld::String(time(seq))),
        ]));
        frame("#commit", &body)
    }

    /// A `#sync` message declaring the current tree at a new rev.
    pub async fn sync(&mut self, seq: i64) -> Vec<u8> {
        let data = self.root().await;
        self.revs += 1;
        let rev = tid(self.revs);
        self.last_rev = Some(rev.clone());
        let (commit_cid, commit_block) = self.sign(data, &rev);
        let blocks = BTreeMap::from([(commit_cid, Bytes::from(commit_block))]);
        let car = jacquard_repo::car::write_car_bytes(commit_cid, blocks).await.expect("CAR");
        let body = Ipld::Map(BTreeMap::from([
            ("seq".to_owned(), Ipld::Integer(seq.into())),
            ("did".to_owned(), Ipld::String(self.did.clone())),
            ("rev".to_owned(), Ipld::String(rev)),
            ("blocks".to_owned(), Ipld::Bytes(car)),
            ("time".to_owned(), Ipld::String(time(seq))),
        ]));
        frame("#sync", &body)
    }

    fn sign(&self, data: Cid, rev: &str) -> (Cid, Vec<u8>) {
        let mut commit = BTreeMap::from([
            ("did".to_owned(), Ipld::String(self.did.clone())),
            ("version".to_owned(), Ipld::Integer(3)),
            ("data".to_owned(), Ipld::Link(data)),
            ("rev".to_owned(), Ipld::String(rev.to_owned())),
            ("prev".to_owned(), Ipld::Null),
        ]);
        let sig: k256::ecdsa::Signature = self.signer.sign(&cbor(&Ipld::Map(commit.clone())));
        let sig = sig.normalize_s().unwrap_or(sig);
        commit.insert("sig".to_owned(), Ipld::Bytes(sig.to_bytes().to_vec()));
        let block = cbor(&Ipld::Map(commit));
        (cid_of(&block), block)
    }
}

fn op(action: &str, path: &str, cid: Option<Cid>, prev: Option<Cid>) -> Ipld {
    Ipld::Map(BTreeMap::from([
        ("action".to_owned(), Ipld::String(action.to_owned())),
        ("path".to_owned(), Ipld::String(path.to_owned())),
        ("cid".to_owned(), cid.map_or(Ipld::Null, Ipld::Link)),
        ("prev".to_owned(), prev.map_or(Ipld::Null, Ipld::Link)),
    ]))
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
