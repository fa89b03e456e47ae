//! `fm.plyr.like`: a like of a track. Likes count per distinct (author, subject) pair: several
//! like records of one subject by one author count once, for the subject and for the author.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use futures_util::future::BoxFuture;
use plyr_atproto::{AtUri, Cid};

use ipld_core::ipld::Ipld;
use plyr_lexicons::read::Like as LikeRecord;

use super::{Collection, Origin, Reject, Row, Run};
use crate::db::Tx;
use crate::db::likes::{self, LikeRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time};

pub const NSID: &str = LikeRecord::NSID;

#[derive(Debug)]
pub struct Like;

impl Collection for Like {
    const NSID: &'static str = NSID;
    type Record = LikeRecord;

    fn row(origin: Origin<'_>, like: LikeRecord, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        // The record check validated the strongRef's `at-uri` and `cid` formats before extraction.
        let subject_uri = AtUri::from_trusted(like.subject.uri);
        let created_at = origin.created_at(&like.created_at);
        Ok(Row::Like(LikeRow {
            subject_uri,
            subject_cid: Cid::from_trusted(like.subject.cid),
            created_at,
            sort_at: sort_time(created_at, origin.indexed_at),
        }))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            // A subject loses one like however many like records of it the account held; its
            // windows lose the pair as of the latest of them.
            let mut latest: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
            for (subject, sorted) in likes::purge(tx, did).await? {
                later(latest.entry(subject).or_default(), sorted);
            }
            for (subject, at) in latest {
                d.subject(&subject).likes -= 1;
                d.like_pair(&subject, at, None);
            }
            Ok(())
        })
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

/// One (author, subject) pair before and after a run: the sort time of its latest like (a
/// like's `createdAt` unless it claims the future: what the ranking windows count by), `None`
/// while it has none.
#[derive(Debug, Default)]
struct Pair {
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
}

/// `latest` with `at` taken into account.
fn later(latest: &mut Option<DateTime<Utc>>, at: DateTime<Utc>) {
    *latest = Some(latest.map_or(at, |l| l.max(at)));
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    if run.changes.is_empty() {
        return Ok(());
    }
    // A pair counts while it has at least one like, and in a window while its latest like
    // (by sort time) is in it: so compare each touched pair's likes before the run (those that exist now) with
    // after it (those minus every one the run replaces or removes, plus every one it writes).
    let were_live = run.were_live();
    let replaced: HashSet<&str> = were_live.iter().map(String::as_str).collect();
    let live = likes::subjects(tx, &were_live).await?;
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for (_, did, subject) in &live {
        slot(&mut index, &mut keys, did, subject);
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    let mut written = Vec::new();
    for c in &run.changes {
        if let Some(Row::Like(r)) = &c.after {
            let i = slot(&mut index, &mut keys, c.meta.did.as_str(), r.subject_uri.as_str());
            written.push((i, r.sort_at));
            if c.was_live { existing.push((&c.meta, r)) } else { fresh.push((&c.meta, r)) }
        }
    }
    let mut pairs: Vec<Pair> = keys.iter().map(|_| Pair::default()).collect();
    let (dids, subjects): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    for (i, uri, sorted) in likes::pair_likes(tx, &dids, &subjects).await? {
        if let Some(pair) = pairs.get_mut(i) {
            later(&mut pair.before, sorted);
            if !replaced.contains(uri.as_str()) {
                later(&mut pair.after, sorted);
            }
        }
    }
    for (i, sorted) in written {
        if let Some(pair) = pairs.get_mut(i) {
            later(&mut pair.after, sorted);
        }
    }
    likes::write(tx, &fresh, true).await?;
    likes::write(tx, &existing, false).await?;
    likes::delete(tx, &run.removed()).await?;
    for ((did, subject), pair) in keys.iter().zip(&pairs) {
        let step = i32::from(pair.after.is_some()) - i32::from(pair.before.is_some());
        if step != 0 {
            d.subject(subject).likes += step;
            d.actor(did).likes += step;
        }
        d.like_pair(subject, pair.before, pair.after);
    }
    Ok(())
}

/// The position of the pair `(did, subject)` in `keys`, added when new.
fn slot<'k>(
    index: &mut HashMap<(&'k str, &'k str), usize>,
    keys: &mut Vec<(&'k str, &'k str)>,
    did: &'k str,
    subject: &'k str,
) -> usize {
    *index.entry((did, subject)).or_insert_with(|| {
        keys.push((did, subject));
        keys.len() - 1
    })
}
