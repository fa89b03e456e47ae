//! Writing a folded run of changes: the guard's tombstones, then each registered collection's
//! share (its plugin writes its table and the counter deltas it implies), then the actors.
//!
//! Counters change by exact deltas computed from each record's state before and after the run
//! (see each collection's module); they are collected in a [`Deltas`] and written once, at the
//! end of the transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::collections::{self, Row, Run};
use super::collections::{Change, StoredItems};
use super::deltas::Deltas;
use crate::db::{Tx, actors, guard};
use plyr_store::changes::Touched;

/// Applies `changes`, adds the counter changes they imply to `deltas` and the URIs and DIDs they
/// touched to `touched` (for cache invalidation).
/// `stored` are the items the touched lists had before the run (list and position order).
pub async fn apply(
    tx: &mut Tx<'_>,
    changes: &[Change],
    stored: &StoredItems,
    deltas: &mut Deltas,
    touched: &mut Touched,
) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    store_guard(tx, changes).await?;
    for collection in collections::ALL {
        collection.apply(tx, Run::of(*collection, changes, stored), deltas).await?;
    }
    ensure_actors(tx, changes).await?;
    for c in changes {
        if touched.is_everything() {
            break;
        }
        touched.uri(&c.meta.uri);
        touched.did(&c.meta.did);
        match &c.after {
            Some(Row::Like(l)) => touched.uri(&l.subject_uri),
            Some(Row::Comment(r)) => touched.uri(&r.subject_uri),
            _ => {}
        }
    }
    Ok(())
}

/// Tombstones for the records this run leaves removed; live records keep their rev on their
/// own row, and a tombstoned record that is back loses its tombstone.
async fn store_guard(tx: &mut Tx<'_>, changes: &[Change]) -> sqlx::Result<()> {
    let mut t = guard::Tombstones::default();
    let mut back = Vec::new();
    for c in changes {
        if c.after.is_some() {
            if c.was_buried {
                back.push(c.meta.uri.to_string());
            }
            continue;
        }
        t.uri.push(c.meta.uri.to_string());
        t.did.push(c.meta.did.to_string());
        t.collection.push(c.collection.to_owned());
        t.rkey.push(c.meta.rkey.clone());
        t.rev.push(c.meta.rev.clone());
    }
    guard::bury(tx, &t).await?;
    guard::unbury(tx, &back).await
}

async fn ensure_actors(tx: &mut Tx<'_>, changes: &[Change]) -> sqlx::Result<()> {
    // did -> (newest rev, first seen, last seen)
    let mut seen: BTreeMap<&str, (&str, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for c in changes {
        let e = seen.entry(&c.meta.did).or_insert((&c.meta.rev, c.first_at, c.meta.indexed_at));
        if c.meta.rev.as_str() > e.0 {
            e.0 = &c.meta.rev;
        }
        e.1 = e.1.min(c.first_at);
        e.2 = e.2.max(c.meta.indexed_at);
    }
    let did: Vec<String> = seen.keys().map(|d| (*d).to_owned()).collect();
    let rev: Vec<String> = seen.values().map(|v| v.0.to_owned()).collect();
    let first: Vec<DateTime<Utc>> = seen.values().map(|v| v.1).collect();
    let last: Vec<DateTime<Utc>> = seen.values().map(|v| v.2).collect();
    actors::ensure(tx, &did, &rev, &first, &last).await
}
