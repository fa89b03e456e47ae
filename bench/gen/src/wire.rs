//! The Jetstream v1 wire format: one JSON object per event, `{did, time_us, kind, commit |
//! identity | account}`, rendered from the generator's [`Event`]s.

use serde::Serialize;

use crate::GenError;
use crate::ids::{datetime, tid};
use crate::records::Record;

/// A commit operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    /// The Jetstream spelling: `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// What one event says about one account.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "commits are nearly every event; boxing them only adds an allocation"
)]
pub(crate) enum Body {
    /// A record operation; `record` and `cid` are absent on deletes.
    Commit {
        operation: Operation,
        collection: &'static str,
        rkey: String,
        record: Option<Record>,
        cid: Option<String>,
    },
    /// The account's handle is (now) `handle`.
    Identity { handle: String },
    /// The account's hosting status changed.
    Account { active: bool, status: Option<&'static str> },
}

/// One event, before it is given a time and rendered.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// Index of the account in the world.
    pub actor: u32,
    pub body: Body,
}

impl Event {
    pub fn commit(actor: u32, operation: Operation, rkey: String, record: Record) -> Result<Self, GenError> {
        let cid = record.cid()?;
        let collection = record.collection();
        Ok(Self {
            actor,
            body: Body::Commit { operation, collection, rkey, record: Some(record), cid: Some(cid) },
        })
    }

    pub fn delete(actor: u32, collection: &'static str, rkey: String) -> Self {
        Self {
            actor,
            body: Body::Commit { operation: Operation::Delete, collection, rkey, record: None, cid: None },
        }
    }

    /// The CID of the record written, if any.
    pub fn cid(&self) -> Option<&str> {
        match &self.body {
            Body::Commit { cid, .. } => cid.as_deref(),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    did: &'a str,
    time_us: i64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<CommitWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<IdentityWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<AccountWire<'a>>,
}

#[derive(Serialize)]
struct CommitWire<'a> {
    rev: String,
    operation: &'static str,
    collection: &'static str,
    rkey: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<&'a str>,
}

#[derive(Serialize)]
struct IdentityWire<'a> {
    did: &'a str,
    handle: &'a str,
    seq: u64,
    time: String,
}

#[derive(Serialize)]
struct AccountWire<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    did: &'a str,
    seq: u64,
    time: String,
}

/// Where an event sits in the stream: the repo, its time, the repo's TID clock and the
/// relay sequence number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub did: &'a str,
    pub time_us: i64,
    pub clock_id: u16,
    pub seq: u64,
}

/// Renders `body` as one Jetstream v1 line (no trailing newline).
pub(crate) fn render(stamp: Stamp<'_>, body: &Body) -> Result<String, GenError> {
    let Stamp { did, time_us, clock_id, seq } = stamp;
    let mut line = Line { did, time_us, kind: "commit", commit: None, identity: None, account: None };
    match body {
        Body::Commit { operation, collection, rkey, record, cid } => {
            line.commit = Some(CommitWire {
                rev: tid(time_us, clock_id),
                operation: operation.as_str(),
                collection,
                rkey,
                record: record.as_ref(),
                cid: cid.as_deref(),
            });
        }
        Body::Identity { handle } => {
            line.kind = "identity";
            line.identity = Some(IdentityWire { did, handle, seq, time: datetime(time_us) });
        }
        Body::Account { active, status } => {
            line.kind = "account";
            line.account =
                Some(AccountWire { active: *active, status: *status, did, seq, time: datetime(time_us) });
        }
    }
    Ok(serde_json::to_string(&line)?)
}
