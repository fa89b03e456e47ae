//! The Jetstream v1 wire (`/subscribe`): `{did, time_us, kind, commit | identity | account}`.
//! The cursor is the event's `time_us`; the `cursor` field a v2 server adds is ignored.

use plyr_atproto::syntax::{PRESENTABLE_MAX_US, PRESENTABLE_MIN_US};
use serde::Deserialize;

use super::{AccountFields, CommitFields, DecodeError, Frame, IdentityFields, SOURCE, did};
use crate::event::{Cursor, Event, EventBody};

#[derive(Debug, Deserialize)]
struct Wire<'a> {
    did: Option<String>,
    time_us: Option<i64>,
    kind: Option<String>,
    #[serde(borrow)]
    commit: Option<CommitFields<'a>>,
    identity: Option<IdentityFields>,
    account: Option<AccountFields>,
}

/// Decodes one v1 event.
pub(super) fn decode(bytes: &[u8], max_record_bytes: usize) -> Result<Frame, DecodeError> {
    let wire: Wire = serde_json::from_slice(bytes)?;
    let kind = wire.kind.ok_or(DecodeError::Missing("kind"))?;
    let body = match kind.as_str() {
        "commit" => {
            EventBody::Commit(wire.commit.ok_or(DecodeError::Missing("commit"))?.into_op(max_record_bytes)?)
        }
        "identity" => wire.identity.ok_or(DecodeError::Missing("identity"))?.into_body(),
        "account" => wire.account.ok_or(DecodeError::Missing("account"))?.into_body(),
        _ => return Err(DecodeError::UnknownKind(kind)),
    };
    let did = did(wire.did.as_deref().ok_or(DecodeError::Missing("did"))?)?;
    let time_us = wire.time_us.ok_or(DecodeError::Missing("time_us"))?;
    // The event time becomes `indexed_at`: only instants of the datetime range are storable.
    if !(PRESENTABLE_MIN_US..=PRESENTABLE_MAX_US).contains(&time_us) {
        return Err(DecodeError::Time(time_us.to_string()));
    }
    let cursor = Cursor { source: SOURCE.to_owned(), value: time_us, time_us, issuer: None };
    Ok(Frame::Event { event: Event { did, time_us, body }, cursor })
}
