//! Decoding one Jetstream frame (v1 or v2 JSON, already decompressed) into a [`Frame`]: an
//! [`Event`] with the [`Cursor`] that covers it, a server notice, or a typed [`DecodeError`]
//! the client counts and skips. Identifiers are validated here; record *contents* only have to
//! be atproto data (the write path validates them against the lexicons). A record whose JSON
//! text is over the size bound is not parsed at all: it is handed on as [`Record::TooLarge`] for
//! the write path to drop and count. Events of collections we do not index are decoded like any
//! other: filtering is the write path's job.

mod v1;
mod v2;

use jacquard_common::types::string::{AtStrError, Did, Nsid, Rkey, Tid};
use plyr_atproto::DataModelError;
use plyr_atproto::data::JsonData;
use serde_json::value::RawValue;

use super::config::Protocol;
use crate::event::{Action, Cursor, Event, EventBody, Record, RecordOp};

/// The `source` of every Jetstream cursor (the `cursors` row it is stored in).
pub const SOURCE: &str = "jetstream";

/// What one frame says.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "events are nearly every frame; boxing would only add an allocation"
)]
pub enum Frame {
    /// An event and the stream position that covers it.
    Event { event: Event, cursor: Cursor },
    /// v2 `#info OutdatedCursor`: the timestamp cursor we asked for was older than the instance
    /// keeps and was moved forward, so events before the first one delivered are lost.
    OutdatedCursor { message: Option<String> },
    /// Another `#info` notice (`FutureCursor`, or one we do not know): logged, nothing else.
    Info { name: String, message: Option<String> },
    /// A v2 error frame (`ConsumerTooSlow`, ...): terminal, the server closes the socket next.
    Error { error: String, message: Option<String> },
}

/// Why a frame could not be decoded. The client counts each by [`DecodeError::reason`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not the shape of a Jetstream frame.
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A DID, NSID, record key or TID that does not parse.
    #[error("invalid {field}: {source}")]
    Identifier {
        field: &'static str,
        #[source]
        source: AtStrError,
    },
    /// A record version's CID that does not parse.
    #[error("invalid cid: {0}")]
    Cid(plyr_atproto::SyntaxError),
    /// A timestamp that is not RFC 3339.
    #[error("invalid timestamp {0:?}")]
    Time(String),
    /// The record is not atproto data (floats, bad `$link`, ...).
    #[error("record is not atproto data: {0}")]
    Record(#[from] DataModelError),
    /// An event kind (v1 `kind`, v2 `$type`) we do not know.
    #[error("unknown event kind {0:?}")]
    UnknownKind(String),
    /// A commit operation other than create, update or delete.
    #[error("unknown commit operation {0:?}")]
    UnknownOperation(String),
}

impl DecodeError {
    /// The `reason` label of `indexer_jetstream_dropped_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Json(_) | Self::Missing(_) => "malformed",
            Self::Identifier { .. } | Self::Cid(_) => "bad_identifier",
            Self::Time(_) => "bad_time",
            Self::Record(_) => "bad_record",
            Self::UnknownKind(_) | Self::UnknownOperation(_) => "unknown_kind",
        }
    }
}

/// Decodes the frames of one instance.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    protocol: Protocol,
    issuer: String,
    max_record_bytes: usize,
}

impl FrameDecoder {
    /// A decoder for frames from `issuer` (the instance's base URL; tags v2 cursors), with the
    /// default record size bound ([`plyr_atproto::MAX_RECORD_BYTES`]).
    pub fn new(protocol: Protocol, issuer: impl Into<String>) -> Self {
        Self { protocol, issuer: issuer.into(), max_record_bytes: plyr_atproto::MAX_RECORD_BYTES }
    }

    /// The same decoder with records of more than `bytes` of JSON left undecoded
    /// ([`Record::TooLarge`]).
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Decodes one (decompressed) frame.
    pub fn decode(&self, bytes: &[u8]) -> Result<Frame, DecodeError> {
        match self.protocol {
            Protocol::V1 => v1::decode(bytes, self.max_record_bytes),
            Protocol::V2 => v2::decode(bytes, &self.issuer, self.max_record_bytes),
        }
    }
}

/// `#identity` fields as both wire formats carry them.
#[derive(Debug, serde::Deserialize)]
struct IdentityFields {
    handle: Option<String>,
}

impl IdentityFields {
    fn into_body(self) -> EventBody {
        EventBody::Identity { handle: self.handle }
    }
}

/// `#account` fields as both wire formats carry them.
#[derive(Debug, serde::Deserialize)]
struct AccountFields {
    active: bool,
    status: Option<String>,
}

impl AccountFields {
    fn into_body(self) -> EventBody {
        EventBody::Account { active: self.active, status: self.status }
    }
}

/// Commit fields as both wire formats carry them (v1 nests them under `commit`, v2 inlines them).
#[derive(Debug, Default, serde::Deserialize)]
struct CommitFields<'a> {
    rev: Option<String>,
    operation: Option<String>,
    collection: Option<String>,
    rkey: Option<String>,
    /// The record's JSON text, borrowed from the frame: its size is checked before it is read
    /// into atproto data (straight, with no `serde_json::Value` tree in between).
    #[serde(borrow)]
    record: Option<&'a RawValue>,
    cid: Option<String>,
}

impl CommitFields<'_> {
    fn into_op(self, max_record_bytes: usize) -> Result<RecordOp, DecodeError> {
        let action = match self.operation.as_deref() {
            Some("create") => Action::Create,
            Some("update") => Action::Update,
            Some("delete") => Action::Delete,
            Some(other) => return Err(DecodeError::UnknownOperation(other.to_owned())),
            None => return Err(DecodeError::Missing("operation")),
        };
        let rev = tid(self.rev.as_deref().ok_or(DecodeError::Missing("rev"))?)?;
        let collection: Nsid = Nsid::new_owned(self.collection.ok_or(DecodeError::Missing("collection"))?)
            .map_err(|source| DecodeError::Identifier { field: "collection", source })?;
        let rkey: Rkey = Rkey::new_owned(self.rkey.ok_or(DecodeError::Missing("rkey"))?)
            .map_err(|source| DecodeError::Identifier { field: "rkey", source })?;
        let (cid, record) = match action {
            Action::Delete => (None, None),
            Action::Create | Action::Update => {
                let raw = self.record.filter(|r| r.get() != "null").ok_or(DecodeError::Missing("record"))?;
                let cid = self.cid.map(plyr_atproto::Cid::try_from).transpose().map_err(DecodeError::Cid)?;
                (cid, Some(record(raw, max_record_bytes)?))
            }
        };
        Ok(RecordOp { rev, collection, rkey, action, cid, record })
    }
}

/// A record's JSON text as a [`Record`]: left undecoded when it is over `max_bytes`, else read
/// into atproto data.
fn record(raw: &RawValue, max_bytes: usize) -> Result<Record, DecodeError> {
    let text = raw.get();
    if text.len() > max_bytes {
        return Ok(Record::TooLarge { bytes: text.len() });
    }
    let data: JsonData = serde_json::from_str(text)?;
    Ok(Record::Data(data.into_record()?))
}

fn did(s: &str) -> Result<Did, DecodeError> {
    Did::new_owned(s).map_err(|source| DecodeError::Identifier { field: "did", source })
}

fn tid(s: &str) -> Result<Tid, DecodeError> {
    Tid::new(s).map_err(|source| DecodeError::Identifier { field: "rev", source })
}

/// An RFC 3339 timestamp in µs since the Unix epoch.
fn micros(s: &str) -> Result<i64, DecodeError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|_| DecodeError::Time(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::EventBody;

    const DID: &str = "did:plc:abcdefghijklmnopqrstuvwx";
    const REV: &str = "3l3qo2vuowo2b";
    const CID: &str = "bafyreihc5ukfe7ahsv6xqsbwwz4yqj6rkyvpqwxqvmrjk3q2qlyhp7wbpa";
    const T0: i64 = 1_725_911_162_329_308;
    const ISSUER: &str = "wss://js.example.com";

    fn track() -> serde_json::Value {
        json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3",
               "createdAt": "2024-09-09T19:46:02.102Z"})
    }

    fn commit(action: Action, collection: &str, record: Option<serde_json::Value>) -> EventBody {
        let record = record.map(|r| Record::Data(plyr_atproto::record_from_json(r).expect("test record")));
        EventBody::Commit(RecordOp {
            rev: Tid::new(REV).expect("test TID"),
            collection: Nsid::new_owned(collection).expect("test NSID"),
            rkey: Rkey::new_owned("3l3qo2vutsw2b").expect("test rkey"),
            action,
            cid: record.as_ref().map(|_| plyr_atproto::Cid::new(CID).expect("test CID")),
            record,
        })
    }

    fn v1_event(time_us: i64, body: EventBody) -> Frame {
        let cursor = Cursor { source: SOURCE.to_owned(), value: time_us, time_us, issuer: None };
        Frame::Event { event: Event { did: did(DID).expect("test DID"), time_us, body }, cursor }
    }

    fn v2_event(seq: i64, time_us: i64, witnessed_us: i64, body: EventBody) -> Frame {
        let cursor = Cursor {
            source: SOURCE.to_owned(),
            value: seq,
            time_us: witnessed_us,
            issuer: Some(ISSUER.to_owned()),
        };
        Frame::Event { event: Event { did: did(DID).expect("test DID"), time_us, body }, cursor }
    }

    fn v1_commit(op: &str, collection: &str, rkey: &str, record: Option<serde_json::Value>) -> String {
        let mut c = json!({"rev": REV, "operation": op, "collection": collection, "rkey": rkey});
        if let Some(record) = record {
            c["record"] = record;
            c["cid"] = json!(CID);
        }
        json!({"did": DID, "time_us": T0, "kind": "commit", "commit": c}).to_string()
    }

    fn v2_msg(payload: serde_json::Value) -> String {
        json!({"$type": "message", "payload": payload}).to_string()
    }

    const TIME: &str = "2024-09-09T19:46:02.329308Z";
    const WITNESSED: &str = "2024-09-09T19:46:03.000001Z";
    const WITNESSED_US: i64 = 1_725_911_163_000_001;

    #[test]
    fn decodes_v1_frames() {
        let rk = "3l3qo2vutsw2b";
        let cases: Vec<(String, Result<Frame, &str>)> = vec![
            (
                v1_commit("create", "fm.plyr.track", rk, Some(track())),
                Ok(v1_event(T0, commit(Action::Create, "fm.plyr.track", Some(track())))),
            ),
            (
                v1_commit("update", "app.bsky.feed.post", rk, Some(json!({"text": "hi"}))),
                Ok(v1_event(T0, commit(Action::Update, "app.bsky.feed.post", Some(json!({"text": "hi"}))))),
            ),
            (v1_commit("delete", "fm.plyr.like", rk, None), Ok(v1_event(T0, commit(Action::Delete, "fm.plyr.like", None)))),
            (
                json!({"did": DID, "time_us": T0, "kind": "identity",
                       "identity": {"did": DID, "handle": "a.example.com", "seq": 1, "time": TIME}})
                .to_string(),
                Ok(v1_event(T0, EventBody::Identity { handle: Some("a.example.com".into()) })),
            ),
            (
                json!({"did": DID, "time_us": T0, "kind": "account", "cursor": 77,
                       "account": {"active": false, "status": "takendown", "did": DID, "seq": 2, "time": TIME}})
                .to_string(),
                Ok(v1_event(T0, EventBody::Account { active: false, status: Some("takendown".into()) })),
            ),
            ("{not json".into(), Err("malformed")),
            (json!({"did": DID, "time_us": T0, "kind": "commit"}).to_string(), Err("malformed")),
            (v1_commit("create", "fm.plyr.track", rk, None), Err("malformed")),
            (v1_commit("create", "fm.plyr.track", rk, Some(track())).replace(DID, "did:bad"), Err("bad_identifier")),
            (v1_commit("create", "not an nsid", rk, Some(track())), Err("bad_identifier")),
            (v1_commit("create", "fm.plyr.track", "a/b", Some(track())), Err("bad_identifier")),
            (v1_commit("create", "fm.plyr.track", rk, Some(track())).replace(REV, "notatid"), Err("bad_identifier")),
            // The version's CID is stored as the row's `cid`: a string that is no CID never gets there.
            (v1_commit("create", "fm.plyr.track", rk, Some(track())).replace(CID, "not-a-cid"), Err("bad_identifier")),
            (v1_commit("create", "fm.plyr.track", rk, Some(json!({"duration": 1.5}))), Err("bad_record")),
            (v1_commit("create", "fm.plyr.track", rk, Some(json!([1]))), Err("bad_record")),
            (v1_commit("upsert", "fm.plyr.track", rk, Some(track())), Err("unknown_kind")),
            (json!({"did": DID, "time_us": T0, "kind": "labels"}).to_string(), Err("unknown_kind")),
            (v1_commit("delete", "fm.plyr.like", rk, None).replace(&T0.to_string(), &i64::MAX.to_string()), Err("bad_time")),
            (v1_commit("delete", "fm.plyr.like", rk, None).replace(&T0.to_string(), &i64::MIN.to_string()), Err("bad_time")),
        ];
        let decoder = FrameDecoder::new(Protocol::V1, ISSUER);
        for (input, expected) in cases {
            let got = decoder.decode(input.as_bytes()).map_err(|e| e.reason());
            assert_eq!(got, expected, "input: {input}");
        }
    }

    #[test]
    fn decodes_v2_frames() {
        let commit_payload = |witnessed: Option<&str>| {
            let mut p = json!({"$type": "network.bsky.jetstream.subscribeEvents#commit", "seq": 42, "did": DID,
                               "time": TIME, "rev": REV, "operation": "create", "collection": "fm.plyr.track",
                               "rkey": "3l3qo2vutsw2b", "record": track(), "cid": CID});
            if let Some(w) = witnessed {
                p["witnessedAt"] = json!(w);
            }
            p
        };
        let cases: Vec<(String, Result<Frame, &str>)> = vec![
            (
                v2_msg(commit_payload(Some(WITNESSED))),
                Ok(v2_event(42, T0, WITNESSED_US, commit(Action::Create, "fm.plyr.track", Some(track())))),
            ),
            (
                v2_msg(commit_payload(None)),
                Ok(v2_event(42, T0, T0, commit(Action::Create, "fm.plyr.track", Some(track())))),
            ),
            (
                v2_msg(json!({"$type": "#identity", "seq": 7, "did": DID, "time": TIME,
                              "identity": {"seq": 3, "did": DID, "time": TIME}})),
                Ok(v2_event(7, T0, T0, EventBody::Identity { handle: None })),
            ),
            (
                v2_msg(
                    json!({"$type": "network.bsky.jetstream.subscribeEvents#account", "seq": 8, "did": DID,
                              "time": TIME, "witnessedAt": WITNESSED,
                              "account": {"seq": 4, "did": DID, "time": TIME, "active": true}}),
                ),
                Ok(v2_event(8, T0, WITNESSED_US, EventBody::Account { active: true, status: None })),
            ),
            (
                v2_msg(json!({"$type": "network.bsky.jetstream.subscribeEvents#sync", "seq": 9, "did": DID,
                              "time": TIME, "sync": {"seq": 5, "did": DID, "rev": REV, "blocks": "", "time": TIME}})),
                Ok(v2_event(9, T0, T0, EventBody::Sync { rev: Tid::new(REV).expect("test TID") })),
            ),
            (
                v2_msg(
                    json!({"$type": "network.bsky.jetstream.subscribeEvents#info", "name": "OutdatedCursor",
                              "message": "clamped"}),
                ),
                Ok(Frame::OutdatedCursor { message: Some("clamped".into()) }),
            ),
            (
                v2_msg(
                    json!({"$type": "network.bsky.jetstream.subscribeEvents#info", "name": "FutureCursor"}),
                ),
                Ok(Frame::Info { name: "FutureCursor".into(), message: None }),
            ),
            (
                json!({"$type": "error", "error": "ConsumerTooSlow", "message": "bye"}).to_string(),
                Ok(Frame::Error { error: "ConsumerTooSlow".into(), message: Some("bye".into()) }),
            ),
            (
                v2_msg(json!({"$type": "network.bsky.jetstream.subscribeEvents#labels", "seq": 1})),
                Err("unknown_kind"),
            ),
            (json!({"$type": "hello"}).to_string(), Err("unknown_kind")),
            (v2_msg(commit_payload(Some("yesterday"))), Err("bad_time")),
            (v2_msg(commit_payload(None)).replace(DID, "did:plc:"), Err("bad_identifier")),
            (v2_msg(commit_payload(None)).replace("\"seq\":42,", ""), Err("malformed")),
            (v1_commit("create", "fm.plyr.track", "3l3qo2vutsw2b", Some(track())), Err("malformed")),
            ("[]".into(), Err("malformed")),
        ];
        let decoder = FrameDecoder::new(Protocol::V2, ISSUER);
        for (input, expected) in cases {
            let got = decoder.decode(input.as_bytes()).map_err(|e| e.reason());
            assert_eq!(got, expected, "input: {input}");
        }
    }

    #[test]
    fn records_over_the_bound_are_left_undecoded_on_both_wires() {
        let rk = "3l3qo2vutsw2b";
        let size = serde_json::to_string(&track()).expect("json").len();
        let v1 = v1_commit("create", "fm.plyr.track", rk, Some(track()));
        let v2 = v2_msg(json!({"$type": "#commit", "seq": 42, "did": DID, "time": TIME, "rev": REV,
                               "operation": "create", "collection": "fm.plyr.track", "rkey": rk,
                               "record": track(), "cid": CID}));
        for (protocol, line) in [(Protocol::V1, v1), (Protocol::V2, v2)] {
            let record = |max: usize| match FrameDecoder::new(protocol, ISSUER)
                .with_max_record_bytes(max)
                .decode(line.as_bytes())
            {
                Ok(Frame::Event { event: Event { body: EventBody::Commit(op), .. }, .. }) => op.record,
                other => panic!("{other:?}"),
            };
            assert!(matches!(record(size), Some(Record::Data(_))), "{protocol:?}: at the bound");
            assert_eq!(record(size - 1), Some(Record::TooLarge { bytes: size }), "{protocol:?}");
        }
        // Over the bound, a record is not even parsed: a float inside does not fail the frame.
        let float = v1_commit("create", "fm.plyr.track", rk, Some(json!({"duration": 1.5})));
        let decoder = FrameDecoder::new(Protocol::V1, ISSUER).with_max_record_bytes(4);
        assert!(decoder.decode(float.as_bytes()).is_ok());
    }
}
