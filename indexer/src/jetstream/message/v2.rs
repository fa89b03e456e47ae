//! The Jetstream v2 wire (`network.bsky.jetstream.subscribeEvents`): `{"$type": "message",
//! payload: {"$type": "...#commit" | "#identity" | "#account" | "#sync" | "#info", ...}}` and
//! `{"$type": "error", error, message}`. The cursor is the payload's `seq`, tagged with the
//! instance that issued it; its portable time is `witnessedAt` (else `time`).

use serde::Deserialize;

use super::{CommitFields, DecodeError, Frame, SOURCE, did, micros, tid};
use crate::event::{Cursor, Event, EventBody};

/// The NSID the payload `$type`s are fragments of.
const NSID: &str = "network.bsky.jetstream.subscribeEvents";

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "$type")]
    kind: Option<String>,
    payload: Option<Payload>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(rename = "$type")]
    kind: Option<String>,
    seq: Option<i64>,
    did: Option<String>,
    time: Option<String>,
    witnessed_at: Option<String>,
    // #commit
    rev: Option<String>,
    operation: Option<String>,
    collection: Option<String>,
    rkey: Option<String>,
    record: Option<serde_json::Value>,
    cid: Option<String>,
    // #identity, #account, #sync
    identity: Option<Identity>,
    account: Option<Account>,
    sync: Option<SyncInfo>,
    // #info
    name: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Identity {
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Account {
    active: bool,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SyncInfo {
    rev: String,
}

/// Decodes one v2 frame from the instance `issuer`.
pub(super) fn decode(bytes: &[u8], issuer: &str) -> Result<Frame, DecodeError> {
    let envelope: Envelope = serde_json::from_slice(bytes)?;
    match envelope.kind.as_deref() {
        Some("message") => message(envelope.payload.ok_or(DecodeError::Missing("payload"))?, issuer),
        Some("error") => Ok(Frame::Error {
            error: envelope.error.ok_or(DecodeError::Missing("error"))?,
            message: envelope.message,
        }),
        Some(other) => Err(DecodeError::UnknownKind(other.to_owned())),
        None => Err(DecodeError::Missing("$type")),
    }
}

fn message(p: Payload, issuer: &str) -> Result<Frame, DecodeError> {
    let kind = p.kind.as_deref().ok_or(DecodeError::Missing("payload.$type"))?;
    let fragment = kind.strip_prefix(NSID).unwrap_or(kind);
    let body = match fragment {
        "#commit" => EventBody::Commit(
            CommitFields {
                rev: p.rev,
                operation: p.operation,
                collection: p.collection,
                rkey: p.rkey,
                record: p.record,
                cid: p.cid,
            }
            .into_op()?,
        ),
        "#identity" => {
            EventBody::Identity { handle: p.identity.ok_or(DecodeError::Missing("identity"))?.handle }
        }
        "#account" => {
            let account = p.account.ok_or(DecodeError::Missing("account"))?;
            EventBody::Account { active: account.active, status: account.status }
        }
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
