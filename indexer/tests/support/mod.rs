//! Shared test helpers: Jetstream v1 events built as JSON (and decoded by the real decoder, so
//! the decoder and the write path are tested together), valid records, and a writer on a fresh
//! database.

#![allow(dead_code)]

use plyr_indexer::event::SourceItem;
use plyr_indexer::jetstream::{Frame, FrameDecoder, Protocol};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};

/// A small deterministic PRNG (splitmix64) for random kill points: reproducible failures.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 2026-01-01T00:00:00Z in µs: event times start here.
pub const T0: i64 = 1_767_225_600_000_000;

/// Columns that legitimately differ between two runs over the same events (when, not what).
pub const VOLATILE: &[&str] = plyr_store::testkit::WALL_CLOCK;

pub async fn setup() -> (TestDb, Writer) {
    let db = TestDb::new().await.expect("test database");
    let writer =
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer");
    (db, writer)
}

/// Builds events with increasing times.
#[derive(Debug)]
pub struct Events {
    pub time_us: i64,
    decoder: FrameDecoder,
}

impl Default for Events {
    fn default() -> Self {
        Self { time_us: T0, decoder: FrameDecoder::new(Protocol::V1, "") }
    }
}

impl Events {
    fn decode(&mut self, line: Value) -> SourceItem {
        match self.decoder.decode(line.to_string().as_bytes()) {
            Ok(Frame::Event { event, cursor }) => SourceItem::Event { event, cursor },
            other => panic!("not an event: {other:?} from {line}"),
        }
    }

    fn tick(&mut self) -> i64 {
        self.time_us += 1_000_000;
        self.time_us
    }

    /// A create or update with `record` (its CID computed), or a delete when `record` is `None`.
    pub fn commit(
        &mut self,
        did: &str,
        rev: &str,
        collection: &str,
        rkey: &str,
        record: Option<Value>,
    ) -> SourceItem {
        let t = self.tick();
        let commit = match record {
            Some(record) => json!({
                "rev": rev, "operation": "create", "collection": collection, "rkey": rkey,
                "cid": cid_of(&record), "record": record,
            }),
            None => json!({ "rev": rev, "operation": "delete", "collection": collection, "rkey": rkey }),
        };
        self.decode(json!({ "did": did, "time_us": t, "kind": "commit", "commit": commit }))
    }

    pub fn account(&mut self, did: &str, active: bool, status: Option<&str>) -> SourceItem {
        let t = self.tick();
        let mut account = json!({ "active": active, "did": did, "seq": 1, "time": "2026-01-01T00:00:00Z" });
        if let Some(s) = status {
            account["status"] = json!(s);
        }
        self.decode(json!({ "did": did, "time_us": t, "kind": "account", "account": account }))
    }

    pub fn identity(&mut self, did: &str, handle: &str) -> SourceItem {
        let t = self.tick();
        let identity = json!({ "did": did, "handle": handle, "seq": 1, "time": "2026-01-01T00:00:00Z" });
        self.decode(json!({ "did": did, "time_us": t, "kind": "identity", "identity": identity }))
    }
}

pub fn cid_of(record: &Value) -> String {
    let ipld = plyr_atproto::record_from_json(record.clone()).expect("data model");
    plyr_atproto::cid_for_record(&ipld).expect("cid").to_string()
}

pub const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

pub fn track(title: &str) -> Value {
    json!({
        "$type": "fm.plyr.track", "title": title, "artist": "Artist", "fileType": "mp3",
        "createdAt": "2026-01-01T00:00:00.000Z", "duration": 180,
        "audioBlob": { "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "audio/mpeg", "size": 12345 },
    })
}

pub fn like(subject: &str) -> Value {
    json!({ "$type": "fm.plyr.like", "subject": { "uri": subject, "cid": BLOB_RECORD }, "createdAt": "2026-01-02T00:00:00.000Z" })
}

pub fn comment(subject: &str, text: &str, ms: i64) -> Value {
    json!({
        "$type": "fm.plyr.comment", "subject": { "uri": subject, "cid": BLOB_RECORD }, "text": text,
        "timestampMs": ms, "createdAt": "2026-01-02T00:00:00.000Z",
    })
}

pub fn list(list_type: &str, name: &str, items: &[&str]) -> Value {
    let items: Vec<Value> =
        items.iter().map(|u| json!({ "subject": { "uri": u, "cid": BLOB_RECORD } })).collect();
    json!({ "$type": "fm.plyr.list", "name": name, "listType": list_type, "items": items, "createdAt": "2026-01-03T00:00:00.000Z" })
}

/// A syntactically valid record CID (dag-cbor) for strongRefs.
pub const BLOB_RECORD: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

pub fn uri(did: &str, collection: &str, rkey: &str) -> String {
    format!("at://{did}/{collection}/{rkey}")
}

pub const ALICE: &str = "did:plc:alice2222222222222222222";
pub const BOB: &str = "did:plc:bob22222222222222222222222";
pub const CAROL: &str = "did:plc:carol2222222222222222222";

/// A TID for `n` (monotonic in n).
pub fn tid(n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let v = (1_767_225_600_000_000u64 + n * 1000) << 10;
    (0..13).rev().map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char).collect()
}

pub async fn scalar_i64(db: &TestDb, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&db.pool).await.expect(sql)
}

#[allow(unused_imports)] // used by some of the test crates that share this module
pub use plyr_store::testkit::assert_same;
