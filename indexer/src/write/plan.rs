//! Folding a run of commit operations into the net change per record, in memory.
//!
//! Operations are taken in stream order. An operation whose rev is at or below the newest rev
//! known for its record (from the guard, or from an earlier op in the same run) is
//! stale and ignored. The rest replace the record's pending state, so a run that creates,
//! updates and deletes a record writes only the final state, once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};

use super::collections::{self, Change, Origin, Plugin, Row, StoredItems};
use super::validate::RecordCheck;
use crate::db::Meta;
use crate::db::guard::GuardRow;
use crate::event::{Action, Record, RecordOp};
use crate::write::rules::TrustedOrigins;

/// One operation to fold, with the event's DID and time.
#[derive(Debug)]
pub struct PlannedOp<'a> {
    pub did: &'a str,
    /// The record's AT-URI (built once per op).
    pub uri: String,
    pub indexed_at: DateTime<Utc>,
    pub op: &'a RecordOp,
    /// The record's outcome when the pipeline checked it already ([`check_record`]); otherwise
    /// the fold checks `op.record` itself.
    pub checked: Option<&'a Checked>,
}

/// Why a record is not indexed: a counted reason and a detail for the log.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub reason: &'static str,
    pub detail: String,
}

/// What a create or update of an indexed collection comes to: its row, or why it is dropped.
pub type Checked = Result<Row, Dropped>;

/// Checks the record of a create or update (`origin` describes that op) against its lexicon and
/// the collection's rules, and extracts its row. It depends on nothing but the op, so the
/// pipeline runs it as events arrive, before their batch is written.
pub fn check_record(
    collection: &dyn Plugin,
    origin: Origin<'_>,
    op: &RecordOp,
    check: &RecordCheck,
    trusted: &TrustedOrigins,
) -> Checked {
    let record = match &op.record {
        Some(Record::Data(record)) => record,
        Some(Record::TooLarge { bytes }) => {
            let detail = format!("record of {bytes} bytes is over the record size bound");
            return Err(Dropped { reason: "too_large", detail });
        }
        None => {
            return Err(Dropped {
                reason: "missing_record",
                detail: "create/update without a record".into(),
            });
        }
    };
    if let Err(invalid) = check.check_in(collection, record) {
        return Err(Dropped { reason: invalid.reason(), detail: invalid.to_string() });
    }
    collection
        .extract(origin, record, trusted)
        .map_err(|reject| Dropped { reason: reject.reason(), detail: reject.detail().into() })
}

/// What happened to each operation, for metrics and logs.
#[derive(Debug, Default)]
pub struct FoldReport {
    pub applied: usize,
    pub stale: usize,
    /// (uri, reason, detail) of dropped records.
    pub dropped: Vec<(String, &'static str, String)>,
}

/// Folds `ops` against the guard rows into the net change per URI, in first-seen order.
///
/// `items` are the stored items of the lists among `ops`: a list item keeps the time its subject
/// first appeared in the list through every later version, whether the versions arrive in one
/// run or in many.
pub fn fold(
    ops: &[PlannedOp<'_>],
    guard: &[GuardRow],
    items: &StoredItems,
    check: &RecordCheck,
    trusted: &TrustedOrigins,
) -> (Vec<Change>, FoldReport) {
    let mut list_items: HashMap<String, HashMap<String, DateTime<Utc>>> = HashMap::new();
    for item in items {
        list_items
            .entry(item.list_uri.clone())
            .or_default()
            .entry(item.subject_uri.clone())
            .or_insert(item.added_at);
    }
    let known: HashMap<&str, &GuardRow> = guard.iter().map(|g| (g.uri.as_str(), g)).collect();
    // Keys and revs borrow from `ops` and `guard`; only the changes own their strings.
    let mut slots: HashMap<&str, usize> = HashMap::with_capacity(ops.len());
    let mut changes: Vec<Change> = Vec::with_capacity(ops.len());
    let mut revs: Vec<Option<&str>> = Vec::with_capacity(ops.len());
    let mut report = FoldReport::default();

    for p in ops {
        let Some(collection) = collections::get(p.op.collection.as_str()) else { continue };
        let uri = p.uri.as_str();
        let idx = *slots.entry(uri).or_insert_with(|| {
            let g = known.get(uri);
            revs.push(g.map(|g| g.rev.as_str()));
            changes.push(Change {
                collection: collection.nsid(),
                meta: Meta {
                    // Built from the event's DID and the op's NSID and record key, all validated
                    // when the event was decoded.
                    uri: AtUri::from_trusted(uri),
                    did: Did::from_trusted(p.did),
                    rkey: p.op.rkey.as_str().to_owned(),
                    cid: None,
                    rev: String::new(),
                    indexed_at: p.indexed_at,
                },
                was_live: g.is_some_and(|g| !g.deleted),
                was_buried: g.is_some_and(|g| g.deleted),
                first_at: p.indexed_at,
                after: None,
            });
            changes.len() - 1
        });
        let rev = p.op.rev.as_str();
        if revs[idx].is_some_and(|known| rev <= known) {
            report.stale += 1;
            continue;
        }
        revs[idx] = Some(rev);
        let change = &mut changes[idx];
        if change.meta.rev.is_empty() {
            change.first_at = p.indexed_at;
        }
        change.meta.rev = rev.to_owned();
        change.meta.indexed_at = p.indexed_at;
        change.meta.cid = p.op.cid.clone();
        change.after = match p.op.action {
            Action::Delete => None,
            Action::Create | Action::Update => {
                let outcome = match p.checked {
                    Some(checked) => checked.clone(),
                    None => check_record(collection, Origin::of(&change.meta), p.op, check, trusted),
                };
                match outcome {
                    Ok(row) => Some(row),
                    Err(Dropped { reason, detail }) => {
                        report.dropped.push((uri.to_owned(), reason, detail));
                        None
                    }
                }
            }
        };
        // Carry each list subject's first-added time from the previous version to this one.
        match &mut change.after {
            Some(Row::List(list)) => {
                let key = change.meta.uri.to_string();
                let previous = list_items.remove(&key).unwrap_or_default();
                let mut current: HashMap<String, DateTime<Utc>> = HashMap::new();
                for ((subject, _), at) in list.items.iter().zip(list.added_at.iter_mut()) {
                    if let Some(first) = previous.get(subject) {
                        *at = *first;
                    }
                    current.entry(subject.clone()).or_insert(*at);
                }
                list_items.insert(key, current);
            }
            None if change.collection == collections::list::NSID => {
                list_items.remove(uri);
            }
            _ => {}
        }
        report.applied += 1;
    }
    // Records whose every op was stale have nothing to write.
    let changes =
        changes.into_iter().zip(revs).filter(|(c, _)| !c.meta.rev.is_empty()).map(|(c, _)| c).collect();
    (changes, report)
}
