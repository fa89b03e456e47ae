//! `fm.plyr.comment`: a timed comment on a track; it moves its subject's comment count.

use futures_util::future::BoxFuture;
use plyr_atproto::{AtUri, Cid};

use ipld_core::ipld::Ipld;
use plyr_lexicons::read::Comment as CommentRecord;

use super::{Collection, Origin, Reject, Row, Run, utc};
use crate::db::Tx;
use crate::db::comments::{self, CommentRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time};

pub const NSID: &str = CommentRecord::NSID;

#[derive(Debug)]
pub struct Comment;

impl Collection for Comment {
    const NSID: &'static str = NSID;
    type Record = CommentRecord;

    fn row(origin: Origin<'_>, comment: CommentRecord, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        // The record check validated the strongRef's `at-uri` and `cid` formats before extraction.
        let subject_uri = AtUri::from_trusted(comment.subject.uri);
        let created_at = origin.created_at(&comment.created_at);
        Ok(Row::Comment(CommentRow {
            subject_uri,
            subject_cid: Cid::from_trusted(comment.subject.cid),
            text: comment.text,
            timestamp_ms: comment.timestamp_ms,
            created_at,
            updated_at: comment.updated_at.as_ref().and_then(utc),
            sort_at: sort_time(created_at, origin.indexed_at),
        }))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            for subject in comments::purge(tx, did).await? {
                d.subject(&subject).comments -= 1;
            }
            Ok(())
        })
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    for (_, subject) in comments::subjects(tx, &run.were_live()).await? {
        d.subject(&subject).comments -= 1;
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    for c in &run.changes {
        if let Some(Row::Comment(r)) = &c.after {
            d.subject(&r.subject_uri).comments += 1;
            if c.was_live { existing.push((&c.meta, r)) } else { fresh.push((&c.meta, r)) }
        }
    }
    comments::write(tx, &fresh, true).await?;
    comments::write(tx, &existing, false).await?;
    comments::delete(tx, &run.removed()).await
}
