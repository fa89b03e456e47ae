//! The Jetstream v2 wire (`network.bsky.jetstream.subscribeEvents`): `{"$type": "message",
//! payload: {"$type": "...#commit" | "#identity" | "#account" | "#sync" | "#info", ...}}` and
//! `{"$type": "error", error, message}`. The cursor is the payload's `seq`, tagged with the
//! instance that issued it; its portable time is `witnessedAt` (else `time`).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{AccountFields, CommitFields, DecodeError, Frame, IdentityFields, SOURCE, did, micros, tid};
use crate::event::{Cursor, Event, EventBody};

/// The NSID the payload `$type`s are fragments of.
const NSID: &str = "network.bsky.jetstream.subscribeEvents";

#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "$type")]
    kind: Option<String>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(rename = "$type")]
    kind: Option<String>,
    seq: Option<i64>,
    did: Option<String>,
    time: Option<String>,
    witnessed_at: Option<String>,
    // #commit: the fields of `CommitFields`, listed rather than `#[serde(flatten)]`ed, which
    // would buffer the record as a generic tree and cannot hand out its raw JSON text.
    rev: Option<String>,
    operation: Option<String>,
    collection: Option<String>,
    rkey: Option<String>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
    cid: Option<String>,
    // #identity, #account, #sync
    identity: Option<IdentityFields>,
    account: Option<AccountFields>,
    sync: Option<SyncInfo>,
    // #info
    name: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SyncInfo {
    rev: String,
}

/// Decodes one v2 frame from the instance `issuer`.
pub(super) fn decode(bytes: &[u8], issuer: &str, max_record_bytes: usize) -> Result<Frame, DecodeError> {
    let envelope: Envelope = serde_json::from_slice(bytes)?;
    match envelope.kind.as_deref() {
        Some("message") => {
            message(envelope.payload.ok_or(DecodeError::Missing("payload"))?, issuer, max_record_bytes)
        }
        Some("error") => Ok(Frame::Error {
            error: envelope.error.ok_or(DecodeError::Missing("error"))?,
            message: envelope.message,
        }),
        Some(other) => Err(DecodeError::UnknownKind(other.to_owned())),
        None => Err(DecodeError::Missing("$type")),
    }
}

fn message(p: Payload<'_>, issuer: &str, max_record_bytes: usize) -> Result<Frame, DecodeError> {
    let kind = p.kind.as_deref().ok_or(DecodeError::Missing("payload.$type"))?;
    let fragment = kind.strip_prefix(NSID).unwrap_or(kind);
    let body = match fragment {
        "#commit" => {
            let commit = CommitFields {
                rev: p.rev,
                operation: p.operation,
                collection: p.collection,
                rkey: p.rkey,
                record: p.record,
                cid: p.cid,
            };
            EventBody::Commit(commit.into_op(max_record_bytes)?)
        }
        "#identity" => p.identity.ok_or(DecodeError::Missing("identity"))?.into_body(),
        "#account" => p.account.ok_or(DecodeError::Missing("account"))?.into_body(),
        "#sync" => EventBody::Sync { rev: tid(&p.sync.ok_or(DecodeError::Missing("sync"))?.rev)? },
        "#info" => {
            let name = p.name.ok_or(DecodeError::Missing("name"))?;
            return Ok(match name.as_str() {
                "OutdatedCursor" => Frame::OutdatedCursor { message: p.message },
                _ => Frame::Info { name, message: p.message },
            });
        }
        _ => return Err(DecodeError::UnknownKind(kind.to_owned())),
    };
    let did = did(p.did.as_deref().ok_or(DecodeError::Missing("did"))?)?;
    let seq = p.seq.ok_or(DecodeError::Missing("seq"))?;
    let time_us = micros(p.time.as_deref().ok_or(DecodeError::Missing("time"))?)?;
    let witnessed_us = p.witnessed_at.as_deref().map(micros).transpose()?.unwrap_or(time_us);
    let cursor = Cursor {
        source: SOURCE.to_owned(),
        value: seq,
        time_us: witnessed_us,
        issuer: Some(issuer.to_owned()),
    };
    Ok(Frame::Event { event: Event { did, time_us, body }, cursor })
}
