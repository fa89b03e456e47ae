//! From a snapshot and what the database holds for the repo to the items the write path applies:
//! a create at the snapshot rev for every record the database does not hold in that exact
//! version, a delete at the snapshot rev for every live record the repo no longer has, and a
//! final [`SourceItem::Backfilled`] in the last batch.
//!
//! Unchanged records (same CID) are not rewritten, so a repeated backfill keeps their
//! `indexed_at` and costs no writes.

use std::collections::{HashMap, HashSet};

use jacquard_common::types::string::{Did, Nsid, Rkey};

use super::snapshot::{Snapshot, wanted};
use crate::db::backfill::HeldRecord;
use crate::event::{Action, Cursor, Event, EventBody, RecordOp, SourceItem};

/// The cursor source backfill items carry (one `cursors` row: when the newest backfill batch
/// was applied). Streams keep their own rows.
pub const SOURCE: &str = "backfill";

/// What a plan will do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PlanCounts {
    pub creates: usize,
    pub deletes: usize,
    pub unchanged: usize,
}

/// The batches to apply for `did`, in order; each at most `batch` events (plus the final mark).
pub fn plan(
    did: &Did,
    snapshot: Snapshot,
    held: &[HeldRecord],
    time_us: i64,
    batch: usize,
) -> (Vec<Vec<SourceItem>>, PlanCounts) {
    let mut counts = PlanCounts::default();
    let held_live: HashMap<(&str, &str), &str> = held
        .iter()
        .filter_map(|h| h.cid.as_deref().map(|cid| ((h.collection.as_str(), h.rkey.as_str()), cid)))
        .collect();
    let cursor = Cursor { source: SOURCE.to_owned(), value: time_us, time_us, issuer: None };
    let item = |op: RecordOp| SourceItem::Event {
        event: Event { did: did.clone(), time_us, body: EventBody::Commit(op) },
        cursor: cursor.clone(),
    };
    let rev = snapshot.rev;
    let mut present: HashSet<(String, String)> = HashSet::new();
    let mut items = Vec::new();
    for r in snapshot.records {
        let key = (r.collection.as_str().to_owned(), r.rkey.as_str().to_owned());
        let same = held_live.get(&(key.0.as_str(), key.1.as_str())).is_some_and(|cid| r.cid == *cid);
        present.insert(key);
        if same {
            counts.unchanged += 1;
            continue;
        }
        counts.creates += 1;
        items.push(item(RecordOp {
            rev: rev.clone(),
            collection: r.collection,
            rkey: r.rkey,
            action: Action::Create,
            cid: Some(r.cid),
            record: Some(r.record),
        }));
    }
    for ((collection, rkey), _) in held_live {
        if !wanted(collection) || present.contains(&(collection.to_owned(), rkey.to_owned())) {
            continue;
        }
        let (Ok(collection), Ok(rkey)) = (Nsid::new_owned(collection), Rkey::new_owned(rkey)) else {
            continue; // the write path only stores valid keys
        };
        counts.deletes += 1;
        items.push(item(RecordOp {
            rev: rev.clone(),
            collection,
            rkey,
            action: Action::Delete,
            cid: None,
            record: None,
        }));
    }
    let mut batches: Vec<Vec<SourceItem>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        batches.push(items.by_ref().take(batch.max(1)).collect());
    }
    let done = SourceItem::Backfilled { did: did.clone(), rev };
    match batches.last_mut() {
        Some(last) => last.push(done),
        None => batches.push(vec![done]),
    }
    (batches, counts)
}

#[cfg(test)]
mod tests {
    use ipld_core::ipld::Ipld;
    use jacquard_common::types::string::Tid;

    use super::*;
    use crate::backfill::snapshot::SnapshotRecord;

    fn record(collection: &str, rkey: &str, cid: &str) -> SnapshotRecord {
        SnapshotRecord {
            collection: Nsid::new_owned(collection).expect("nsid"),
            rkey: Rkey::new_owned(rkey).expect("rkey"),
            cid: plyr_atproto::Cid::from_trusted(cid),
            record: Ipld::Null.into(),
        }
    }

    fn held(collection: &str, rkey: &str, cid: Option<&str>) -> HeldRecord {
        HeldRecord {
            collection: collection.into(),
            rkey: rkey.into(),
            cid: cid.map(Into::into),
            rev: "2222222222222".into(),
        }
    }

    #[test]
    fn creates_changed_deletes_missing_and_marks_done_last() {
        let did = Did::new_owned("did:plc:abc").expect("did");
        let snapshot = Snapshot {
            rev: Tid::new("3l3qo2vuowo2b").expect("tid"),
            records: vec![
                record("fm.plyr.track", "a", "c1"), // held with the same CID: unchanged
                record("fm.plyr.track", "b", "c2"), // held with another CID: rewritten
                record("fm.plyr.like", "c", "c3"),  // new
            ],
            source: "car",
        };
        let held = vec![
            held("fm.plyr.track", "a", Some("c1")),
            held("fm.plyr.track", "b", Some("old")),
            held("fm.plyr.comment", "gone", Some("c9")), // not in the repo any more: deleted
            held("fm.plyr.comment", "dead", None),       // already a tombstone: left alone
        ];
        let (batches, counts) = plan(&did, snapshot, &held, 1, 2);
        assert_eq!(counts, PlanCounts { creates: 2, deletes: 1, unchanged: 1 });
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2]);
        let ops: Vec<(String, Action)> = batches
            .iter()
            .flatten()
            .filter_map(|i| match i {
                SourceItem::Event { event: Event { body: EventBody::Commit(op), .. }, .. } => {
                    Some((op.rkey.as_str().to_owned(), op.action))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            ops,
            vec![("b".into(), Action::Create), ("c".into(), Action::Create), ("gone".into(), Action::Delete)]
        );
        assert!(matches!(batches[1].last(), Some(SourceItem::Backfilled { .. })));

        // Nothing to write: one batch holding only the mark.
        let empty =
            Snapshot { rev: Tid::new("3l3qo2vuowo2b").expect("tid"), records: vec![], source: "list" };
        let (batches, _) = plan(&did, empty, &[], 1, 2);
        assert_eq!(batches.len(), 1);
        assert!(matches!(batches[0].as_slice(), [SourceItem::Backfilled { .. }]));
    }
}
