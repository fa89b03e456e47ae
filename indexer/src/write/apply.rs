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

/// Actor rows for the authors of the run's records of collections that make actors, and the
/// newest rev and update time of every author that already is one (a teal.fm listener who is
/// not an actor stays none).
async fn ensure_actors(tx: &mut Tx<'_>, changes: &[Change]) -> sqlx::Result<()> {
    let mut seen: BTreeMap<&str, Author<'_>> = BTreeMap::new();
    for c in changes {
        let creates = collections::get(c.collection).is_some_and(|p| p.creates_actors() || !p.any_account());
        let e = seen.entry(&c.meta.did).or_insert(Author {
            rev: &c.meta.rev,
            first: c.first_at,
            last: c.meta.indexed_at,
            creates,
        });
        if c.meta.rev.as_str() > e.rev {
            e.rev = &c.meta.rev;
        }
        e.first = e.first.min(c.first_at);
        e.last = e.last.max(c.meta.indexed_at);
        e.creates |= creates;
    }
    let mut make = actors::Seen::default();
    let mut advance = actors::Seen::default();
    for (did, a) in seen {
        let to = if a.creates { &mut make } else { &mut advance };
        to.did.push(did.to_owned());
        to.rev.push(a.rev.to_owned());
        to.first.push(a.first);
        to.last.push(a.last);
    }
    actors::ensure(tx, &make).await?;
    actors::advance(tx, &advance).await
}

/// One author of a run's records.
struct Author<'a> {
    /// The newest rev applied.
    rev: &'a str,
    /// First and last seen.
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    /// Whether one of its changes makes it an actor.
    creates: bool,
}
