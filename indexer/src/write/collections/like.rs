//! `fm.plyr.like`: a like of a track. Likes count per distinct (author, subject) pair: several
//! like records of one subject by one author count once, for the subject and for the author.

use std::collections::HashMap;

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
            // A subject loses one like however many like records of it the account held.
            let subjects: std::collections::BTreeSet<String> =
                likes::purge(tx, did).await?.into_iter().collect();
            for subject in subjects {
                d.subject(&subject).likes -= 1;
            }
            Ok(())
        })
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    if run.changes.is_empty() {
        return Ok(());
    }
    // Likes per (author, subject) pair change by -1 for every live like this run replaces or
    // removes, and by +1 for every like it writes; a pair counts while it has at least one.
    let live_pairs: Vec<(String, String)> = likes::subjects(tx, &run.were_live())
        .await?
        .into_iter()
        .map(|(_, did, subject)| (did, subject))
        .collect();
    // (did, subject) -> the change of its like count; keys borrow from the run and the live rows.
    let mut change: HashMap<(&str, &str), i64> = HashMap::new();
    for (did, subject) in &live_pairs {
        *change.entry((did.as_str(), subject.as_str())).or_default() -= 1;
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    for c in &run.changes {
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
    likes::delete(tx, &run.removed()).await?;
    for (((did, subject), delta), had) in pairs.iter().zip(before) {
        let step = i32::from(had + delta > 0) - i32::from(had > 0);
        if step != 0 {
            d.subject(subject).likes += step;
            d.actor(did).likes += step;
        }
    }
    Ok(())
}
