//! Writing a folded run of changes: the guard, the typed tables, and the counter deltas they
//! imply.
//!
//! Counters change by exact deltas computed from each record's state before and after the run:
//! tracks, albums and playlists per actor; comments per subject; likes per distinct
//! (author, subject) pair, compared in the database before and after the likes are written. The
//! deltas are collected in a [`Deltas`] and written once, at the end of the transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::deltas::Deltas;
use super::plan::{Change, StoredItems};
use super::rows::{self, Row};
use crate::db::{Tx, actors, guard, likes, lists, profiles, records};
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
    apply_tracks(tx, changes, deltas).await?;
    apply_comments(tx, changes, deltas).await?;
    apply_likes(tx, changes, deltas).await?;
    apply_lists(tx, changes, stored, deltas).await?;
    apply_profiles(tx, changes).await?;
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
                back.push(c.meta.uri.clone());
            }
            continue;
        }
        t.uri.push(c.meta.uri.clone());
        t.did.push(c.meta.did.clone());
        t.collection.push(c.collection.to_owned());
        t.rkey.push(c.meta.rkey.clone());
        t.rev.push(c.meta.rev.clone());
    }
    guard::bury(tx, &t).await?;
    guard::unbury(tx, &back).await
}

fn of<'a>(changes: &'a [Change], collection: &'a str) -> impl Iterator<Item = &'a Change> {
    changes.iter().filter(move |c| c.collection == collection)
}

/// URIs of records that were live and are now gone.
fn removed<'a>(changes: impl Iterator<Item = &'a Change>) -> Vec<String> {
    changes.filter(|c| c.was_live && c.after.is_none()).map(|c| c.meta.uri.clone()).collect()
}

async fn apply_tracks(tx: &mut Tx<'_>, changes: &[Change], d: &mut Deltas) -> sqlx::Result<()> {
    let mut up = Vec::new();
    for c in of(changes, rows::TRACK) {
        if let Some(Row::Track(r)) = &c.after {
            up.push((&c.meta, &**r));
        }
        d.actor(&c.meta.did).tracks += i32::from(c.after.is_some()) - i32::from(c.was_live);
    }
    records::upsert_tracks(tx, &up).await?;
    records::delete_tracks(tx, &removed(of(changes, rows::TRACK))).await
}

async fn apply_comments(tx: &mut Tx<'_>, changes: &[Change], d: &mut Deltas) -> sqlx::Result<()> {
    let live: Vec<String> =
        of(changes, rows::COMMENT).filter(|c| c.was_live).map(|c| c.meta.uri.clone()).collect();
    for (_, subject) in records::comment_subjects(tx, &live).await? {
        d.subject(&subject).1 -= 1;
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    for c in of(changes, rows::COMMENT) {
        if let Some(Row::Comment(r)) = &c.after {
            d.subject(&r.subject_uri).1 += 1;
            if c.was_live { existing.push((&c.meta, r)) } else { fresh.push((&c.meta, r)) }
        }
    }
    records::write_comments(tx, &fresh, true).await?;
    records::write_comments(tx, &existing, false).await?;
    records::delete_comments(tx, &removed(of(changes, rows::COMMENT))).await
}

async fn apply_likes(tx: &mut Tx<'_>, changes: &[Change], d: &mut Deltas) -> sqlx::Result<()> {
    if of(changes, rows::LIKE).next().is_none() {
        return Ok(());
    }
    // Likes per (author, subject) pair change by -1 for every live like this run replaces or
    // removes, and by +1 for every like it writes; a pair counts while it has at least one.
    let live: Vec<String> =
        of(changes, rows::LIKE).filter(|c| c.was_live).map(|c| c.meta.uri.clone()).collect();
    let live_pairs: Vec<(String, String)> =
        likes::subjects(tx, &live).await?.into_iter().map(|(_, did, subject)| (did, subject)).collect();
    // (did, subject) -> the change of its like count; keys borrow from the run and the live rows.
    let mut change: HashMap<(&str, &str), i64> = HashMap::new();
    for (did, subject) in &live_pairs {
        *change.entry((did.as_str(), subject.as_str())).or_default() -= 1;
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    for c in of(changes, rows::LIKE) {
        if let Some(Row::Like(r)) = &c.after {
            *change.entry((c.meta.did.as_str(), r.subject_uri.as_str())).or_default() += 1;
            if c.was_live { existing.push((&c.meta, r)) } else { fresh.push((&c.meta, r)) }
        }
    }
    let pairs: Vec<((&str, &str), i64)> = change.into_iter().collect();
    let (dids, subjects): (Vec<&str>, Vec<&str>) = pairs.iter().map(|(pair, _)| *pair).unzip();
    let mut before = vec![0_i64; pairs.len()];
    for (i, n) in likes::pair_counts(tx, &dids, &subjects).await? {
        if let Some(slot) = before.get_mut(i) {
            *slot = n;
        }
    }
    likes::write(tx, &fresh, true).await?;
    likes::write(tx, &existing, false).await?;
    likes::delete(tx, &removed(of(changes, rows::LIKE))).await?;
    for (((did, subject), delta), had) in pairs.iter().zip(before) {
        let step = i32::from(had + delta > 0) - i32::from(had > 0);
        if step != 0 {
            d.subject(subject).0 += step;
            d.actor(did).likes += step;
        }
    }
    Ok(())
}

async fn apply_lists(
    tx: &mut Tx<'_>,
    changes: &[Change],
    stored: &StoredItems,
    d: &mut Deltas,
) -> sqlx::Result<()> {
    let live: Vec<String> =
        of(changes, rows::LIST).filter(|c| c.was_live).map(|c| c.meta.uri.clone()).collect();
    for (_, did, list_type) in lists::types(tx, &live).await? {
        d.list(&did, list_type.as_deref(), -1);
    }
    let mut before: HashMap<&str, Vec<&lists::StoredItem>> = HashMap::new();
    for item in stored {
        before.entry(item.list_uri.as_str()).or_default().push(item);
    }
    let mut up = Vec::new();
    let (mut replaced, mut keep) = (Vec::new(), Vec::new());
    let mut items = lists::ItemWrites::default();
    for c in of(changes, rows::LIST) {
        let Some(Row::List(r)) = &c.after else { continue };
        d.list(&c.meta.did, r.list_type.as_deref(), 1);
        // Items are rewritten from the first position that differs from the stored list (an
        // appended track writes one row, not the whole list again).
        let old = before.get(c.meta.uri.as_str()).map(Vec::as_slice).unwrap_or_default();
        let new = r.items.iter().zip(&r.added_at);
        let same = new
            .clone()
            .zip(old)
            .take_while(|(((subject, cid), at), o)| {
                o.subject_uri == *subject && o.subject_cid == *cid && o.added_at == **at
            })
            .count();
        for (pos, ((subject_uri, subject_cid), added_at)) in new.enumerate().skip(same) {
            items.list_uri.push(c.meta.uri.clone());
            items.position.push(i32::try_from(pos).unwrap_or(i32::MAX));
            items.subject_uri.push(subject_uri.clone());
            items.subject_cid.push(subject_cid.clone());
            items.added_at.push(*added_at);
        }
        replaced.push(c.meta.uri.clone());
        keep.push(i32::try_from(same).unwrap_or(i32::MAX));
        up.push((&c.meta, &**r));
    }
    lists::upsert(tx, &up).await?;
    lists::replace_items(tx, &replaced, &keep, &items).await?;
    lists::delete(tx, &removed(of(changes, rows::LIST))).await
}

async fn apply_profiles(tx: &mut Tx<'_>, changes: &[Change]) -> sqlx::Result<()> {
    for c in
        changes.iter().filter(|c| c.collection == rows::PLYR_PROFILE || c.collection == rows::BSKY_PROFILE)
    {
        match &c.after {
            Some(Row::PlyrProfile(r)) => profiles::upsert_plyr(tx, &c.meta, r).await?,
            Some(Row::BskyProfile(r)) => profiles::upsert_bsky(tx, &c.meta, r).await?,
            _ => profiles::delete(tx, &c.meta.uri).await?,
        }
    }
    Ok(())
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
