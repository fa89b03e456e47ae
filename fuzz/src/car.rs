//! Target `car`: a repository CAR (a `getRepo` body, or a firehose `blocks` slice) through the
//! reader, the commit decoder and signature check, the MST checks and walk, an inversion proof,
//! backfill's snapshot, and the write path's pure half for every indexed record in it.

use jacquard_common::types::string::Did;
use plyr_atproto::repo::mst::{self, ProofOp};
use plyr_atproto::repo::{SignedCommit, read_car};
use plyr_indexer::event::{Action, Cursor, Event, EventBody, RecordOp, SourceItem};
use plyr_indexer::firehose::KeySource;

use crate::RUNTIME;

/// The backfill's CAR size limit is far larger; fuzz inputs are small anyway.
const MAX_CAR: usize = 8 << 20;

pub fn run(data: &[u8]) {
    RUNTIME.block_on(run_async(data));
}

async fn run_async(data: &[u8]) {
    let Ok(car) = read_car(data, MAX_CAR).await else { return };
    let Some(root) = car.roots.first().copied() else { return };
    let Some(Ok(commit)) = car.get(&root).map(|b| SignedCommit::decode(b)) else { return };
    let key = crate::firehose::KEYS.signing_key(&commit.did, false).await.ok().flatten();
    if let Some(key) = &key {
        if let Ok(vk) = key.verifying_key() {
            let _ = commit.verify(&vk);
        }
        let _ = plyr_indexer::backfill::snapshot::from_car(
            data,
            MAX_CAR,
            plyr_atproto::MAX_RECORD_BYTES,
            &commit.did,
            key,
        )
        .await;
    }
    // The MST code runs whatever the signature says: the signature gates it in production, but
    // a fuzzer cannot forge one, and the tree checks must hold on any bytes.
    let _ = mst::check_tree(&car, commit.data);
    let Ok(leaves) = mst::leaves(&car, commit.data) else { return };
    // Invert the creation of the first leaves, as a sync 1.1 proof over this tree would.
    let ops: Vec<ProofOp> =
        leaves.iter().take(3).map(|(key, cid)| ProofOp::Create { key: key.clone(), cid: *cid }).collect();
    let _ = mst::invert(&car, commit.data, ops).await;
    let Ok(did) = Did::new_owned(&commit.did) else { return };
    let rev = jacquard_common::types::string::Tid::new(&commit.rev).ok();
    let mut items = Vec::new();
    for (key, cid) in leaves.iter().take(64) {
        let Some((collection, rkey)) = key.split_once('/') else { continue };
        let (Ok(collection), Ok(rkey), Some(rev)) = (
            jacquard_common::types::string::Nsid::new_owned(collection),
            jacquard_common::types::string::Rkey::new_owned(rkey),
            rev.clone(),
        ) else {
            continue;
        };
        let Some(Ok(record)) = car.get(cid).map(|b| plyr_atproto::record_from_cbor(b)) else { continue };
        let op = RecordOp {
            rev,
            collection,
            rkey,
            action: Action::Create,
            cid: Some((*cid).into()),
            record: Some(record.into()),
        };
        let cursor = Cursor { source: "backfill".into(), value: 0, time_us: 0, issuer: None };
        items.push(SourceItem::Event {
            event: Event { did: did.clone(), time_us: 1_700_000_000_000_000, body: EventBody::Commit(op) },
            cursor,
        });
    }
    crate::record::write_path(items);
}
