//! The events every source (Jetstream v1/v2, the firehose, backfill, replay files) produces and
//! the one write path consumes. Sources validate identifiers while decoding; record *contents*
//! are validated against the lexicons by the write path.

use ipld_core::ipld::Ipld;
use jacquard_common::types::string::{Did, Nsid, Rkey, Tid};

/// Which stream (or backfill) an event came from; names the row in the `cursors` table.
pub type SourceId = String;

/// One event about one repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The repo (account) the event is about.
    pub did: Did,
    /// When the network saw it (µs since the Unix epoch): becomes `indexed_at`, so replaying a
    /// stream reproduces the same rows.
    pub time_us: i64,
    pub body: EventBody,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// One record operation from a commit.
    Commit(RecordOp),
    /// The account's identity (handle or DID document) may have changed.
    Identity { handle: Option<String> },
    /// The account's hosting status changed.
    Account { active: bool, status: Option<String> },
    /// The repo's state was re-declared (sync 1.1 `#sync`): our copy may be stale.
    Sync { rev: Tid },
}

/// One create, update or delete of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOp {
    /// Rev (TID) of the commit that made this change: orders operations on a record.
    pub rev: Tid,
    pub collection: Nsid,
    pub rkey: Rkey,
    pub action: Action,
    /// CID of the new record version (absent on deletes).
    pub cid: Option<plyr_atproto::Cid>,
    /// The record (absent on deletes).
    pub record: Option<Record>,
}

/// A record as its source delivered it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Decoded into the ATProto data model.
    Data(Ipld),
    /// Left undecoded because its encoding (JSON text or DAG-CBOR block) is `bytes` long, over
    /// the record size bound (`--max-record-bytes`): the write path drops it as `too_large`.
    TooLarge { bytes: usize },
}

impl From<Ipld> for Record {
    fn from(value: Ipld) -> Self {
        Self::Data(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl RecordOp {
    /// `at://<did>/<collection>/<rkey>`.
    pub fn uri(&self, did: &str) -> String {
        format!("at://{did}/{}/{}", self.collection.as_str(), self.rkey.as_str())
    }
}

/// A position in a stream, stored (in the same transaction as the data it covers) once every
/// event up to it has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Names the `cursors` row (e.g. `jetstream`, `firehose:pds.example.com`).
    pub source: SourceId,
    /// The position on the issuing instance: Jetstream v2 `seq`, Jetstream v1 `time_us`,
    /// firehose `seq`.
    pub value: i64,
    /// The event time in µs: portable across instances (a Jetstream v1 cursor, or a v2
    /// timestamp cursor when failing over to another instance).
    pub time_us: i64,
    /// The instance that issued `value` (its URL), when `value` only means something there.
    pub issuer: Option<String>,
}

/// What a source hands to the pipeline.
#[derive(Debug, Clone, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "gaps are rare; boxing would allocate once per event")]
pub enum SourceItem {
    /// An event and the stream position that covers it (stored once it is applied).
    Event { event: Event, cursor: Cursor },
    /// The source could not resume where it left off: events between `from` and the next one
    /// delivered are lost (Jetstream v2 `CursorTooOld`). Recorded, and repos are flagged for
    /// backfill.
    Gap { from: i64, reason: String },
    /// The stream moved past messages that carried nothing to apply (the firehose filters
    /// client-side): stored like an event's cursor, so a restart does not replay them.
    Position(Cursor),
    /// A backfill applied every record of `did`'s repo snapshot at `rev` (the items before this
    /// one): marks the repo done in the same transaction as its last records.
    Backfilled { did: Did, rev: Tid },
}
