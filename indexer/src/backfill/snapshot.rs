//! One repo at one rev, as far as the indexer cares: the records of the indexed collections.
//! Built from a `getRepo` CAR (verified: block hashes, commit signature, MST) or from
//! `listRecords` pages. A record that cannot be decoded is left out and counted
//! (`indexer_backfill_dropped_total{reason}`), so the write path never sees it; a record over the
//! size bound is not decoded at all and goes on as [`Record::TooLarge`], which the write path
//! drops as `too_large` (like an invalid record, it replaces the version held before).

use jacquard_common::types::string::{Nsid, Rkey, Tid};
use plyr_atproto::data::JsonData;
use plyr_atproto::identity::SigningKey;
use serde_json::value::RawValue;

use super::BackfillError;
use super::locate::clip;
use crate::event::Record;
use plyr_atproto::repo::{RepoError, SignedCommit, mst, read_car};

/// A repo's indexed records at `rev`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The commit rev the records are as of.
    pub rev: Tid,
    pub records: Vec<SnapshotRecord>,
    /// How the snapshot was fetched: `car` or `list`.
    pub source: &'static str,
}

/// One record of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRecord {
    pub collection: Nsid,
    pub rkey: Rkey,
    /// The record's CID.
    pub cid: plyr_atproto::Cid,
    pub record: Record,
}

/// Whether backfill applies records of `collection`.
pub fn wanted(collection: &str) -> bool {
    crate::write::collections::get(collection).is_some()
}

/// Reads a `getRepo` CAR of `did`: every block checked against its CID, the root commit's repo
/// and signature checked with `key`, the MST walked, and the records of indexed collections
/// decoded (those over `max_record` bytes left undecoded).
pub async fn from_car(
    bytes: &[u8],
    max: usize,
    max_record: usize,
    did: &str,
    key: &SigningKey,
) -> Result<Snapshot, BackfillError> {
    let car = read_car(bytes, max).await?;
    let root = car.roots.first().copied().ok_or_else(|| RepoError::Car("no root".into()))?;
    let commit = SignedCommit::decode(car.require(&root, "commit")?)?;
    if commit.did != did {
        return Err(
            RepoError::CommitMismatch { field: "did", expected: clip(did), got: clip(&commit.did) }.into()
        );
    }
    let vk = key.verifying_key().map_err(|e| RepoError::Signature(e.into()))?;
    commit.verify(&vk)?;
    let rev = Tid::new(&commit.rev)
        .map_err(|e| BackfillError::Malformed { what: "commit rev", detail: e.to_string() })?;
    let mut records = Vec::new();
    for (key, cid) in mst::leaves(&car, commit.data)? {
        let Some((collection, rkey)) = key.split_once('/') else {
            return Err(RepoError::Mst {
                cid: cid.to_string(),
                detail: format!("key {:?} has no '/'", clip(&key)),
            }
            .into());
        };
        if !wanted(collection) {
            continue;
        }
        let (Ok(collection), Ok(rkey)) = (Nsid::new_owned(collection), Rkey::new_owned(rkey)) else {
            dropped("bad_key", &key);
            continue;
        };
        let Some(block) = car.get(&cid) else {
            dropped("missing_block", &key);
            continue;
        };
        let record = if block.len() > max_record {
            Record::TooLarge { bytes: block.len() }
        } else {
            match plyr_atproto::record_from_cbor(block) {
                Ok(record) => Record::Data(record),
                Err(e) => {
                    dropped("bad_record", &format!("{key}: {e}"));
                    continue;
                }
            }
        };
        records.push(SnapshotRecord { collection, rkey, cid: cid.into(), record });
    }
    Ok(Snapshot { rev, records, source: "car" })
}

/// One `listRecords` entry, as the PDS sent it.
#[derive(Debug, serde::Deserialize)]
pub struct ListedRecord {
    pub uri: String,
    pub cid: String,
    /// The record's JSON text: its size is checked before it is parsed.
    pub value: Box<RawValue>,
}

/// Turns a listed record of `did`'s `collection` into a snapshot record (left undecoded when its
/// JSON is over `max_record` bytes); `None` (counted) when it is malformed or names another repo
/// or collection.
pub fn from_listed(
    did: &str,
    collection: &Nsid,
    listed: ListedRecord,
    max_record: usize,
) -> Option<SnapshotRecord> {
    let prefix = format!("at://{did}/{}/", collection.as_str());
    let Some(rkey) = listed.uri.strip_prefix(&prefix) else {
        dropped("bad_uri", &listed.uri);
        return None;
    };
    let Ok(rkey) = Rkey::new_owned(rkey) else {
        dropped("bad_key", &listed.uri);
        return None;
    };
    let Ok(cid) = listed.cid.parse::<cid::Cid>() else {
        dropped("bad_cid", &listed.uri);
        return None;
    };
    let text = listed.value.get();
    let record = if text.len() > max_record {
        Record::TooLarge { bytes: text.len() }
    } else {
        let parsed = serde_json::from_str::<JsonData>(text).map_err(|e| e.to_string());
        match parsed.and_then(|data| data.into_record().map_err(|e| e.to_string())) {
            Ok(record) => Record::Data(record),
            Err(e) => {
                dropped("bad_record", &format!("{}: {e}", listed.uri));
                return None;
            }
        }
    };
    Some(SnapshotRecord { collection: collection.clone(), rkey, cid: cid.into(), record })
}

fn dropped(reason: &'static str, what: &str) {
    metrics::counter!("indexer_backfill_dropped_total", "reason" => reason).increment(1);
    tracing::warn!(reason, record = %clip(what), "backfill record dropped");
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:plc:alice2222222222222222222";
    const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

    fn listed(value: &str) -> ListedRecord {
        let text = format!(
            r#"{{"uri": "at://{DID}/fm.plyr.like/3l3qo2vutsw2b", "cid": "{CID}", "value": {value}}}"#
        );
        serde_json::from_str(&text).expect("a listRecords entry")
    }

    #[test]
    fn listed_records_over_the_bound_are_left_undecoded() {
        let nsid = Nsid::new_static("fm.plyr.like").expect("nsid");
        let value = r#"{"$type": "fm.plyr.like", "n": 1.5}"#;
        let over = from_listed(DID, &nsid, listed(value), value.len() - 1).expect("kept for the write path");
        assert_eq!(over.record, Record::TooLarge { bytes: value.len() });
        assert!(
            from_listed(DID, &nsid, listed(value), value.len()).is_none(),
            "parsed: a float is bad_record"
        );
        let fine = r#"{"$type": "fm.plyr.like"}"#;
        let kept = from_listed(DID, &nsid, listed(fine), fine.len()).expect("decoded");
        assert!(matches!(kept.record, Record::Data(_)));
    }
}
