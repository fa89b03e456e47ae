//! One repo at one rev, as far as the indexer cares: the records of the indexed collections.
//! Built from a `getRepo` CAR (verified: block hashes, commit signature, MST) or from
//! `listRecords` pages. A record that cannot be decoded is left out and counted
//! (`indexer_backfill_dropped_total{reason}`), so the write path never sees it.

use ipld_core::ipld::Ipld;
use jacquard_common::types::string::{Nsid, Rkey, Tid};
use plyr_atproto::identity::SigningKey;

use super::BackfillError;
use super::locate::clip;
use crate::repo::{RepoError, SignedCommit, mst, read_car};

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
    /// The record's CID, as text.
    pub cid: String,
    pub record: Ipld,
}

/// Whether backfill applies records of `collection`.
pub fn wanted(collection: &str) -> bool {
    super::COLLECTIONS.contains(&collection)
}

/// Reads a `getRepo` CAR of `did`: every block checked against its CID, the root commit's repo
/// and signature checked with `key`, the MST walked, and the records of indexed collections
/// decoded.
pub async fn from_car(
    bytes: &[u8],
    max: usize,
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
        match plyr_atproto::record_from_cbor(block) {
            Ok(record) => records.push(SnapshotRecord { collection, rkey, cid: cid.to_string(), record }),
            Err(e) => dropped("bad_record", &format!("{key}: {e}")),
        }
    }
    Ok(Snapshot { rev, records, source: "car" })
}

/// One `listRecords` entry, as the PDS sent it.
#[derive(Debug, serde::Deserialize)]
pub struct ListedRecord {
    pub uri: String,
    pub cid: String,
    pub value: serde_json::Value,
}

/// Turns a listed record of `did`'s `collection` into a snapshot record; `None` (counted) when
/// it is malformed or names another repo or collection.
pub fn from_listed(did: &str, collection: &Nsid, listed: ListedRecord) -> Option<SnapshotRecord> {
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
    match plyr_atproto::record_from_json(listed.value) {
        Ok(record) => {
            Some(SnapshotRecord { collection: collection.clone(), rkey, cid: cid.to_string(), record })
        }
        Err(e) => {
            dropped("bad_record", &format!("{}: {e}", listed.uri));
            None
        }
    }
}

fn dropped(reason: &'static str, what: &str) {
    metrics::counter!("indexer_backfill_dropped_total", "reason" => reason).increment(1);
    tracing::warn!(reason, record = %clip(what), "backfill record dropped");
}
