//! `fm.plyr.comment`: a timed comment on a track; it moves its subject's comment count.

use futures_util::future::BoxFuture;
use plyr_atproto::AtUri;

use super::{Collection, Origin, Reject, Row, Run};
use crate::db::Tx;
use crate::db::comments::{self, CommentRow};
use crate::write::deltas::Deltas;
use crate::write::fields::{self, Fields};
use crate::write::rules::{TrustedOrigins, sort_time};

pub const NSID: &str = "fm.plyr.comment";

#[derive(Debug)]
pub struct Comment;

impl Collection for Comment {
    fn nsid(&self) -> &'static str {
        NSID
    }

    fn extract(&self, origin: Origin<'_>, f: &Fields, _: &TrustedOrigins) -> Result<Row, Reject> {
        let (subject_uri, subject_cid) = fields::strong_ref(f, "subject").ok_or(Reject::NotAnObject)?;
        // The record check validated the strongRef's `at-uri` format before extraction.
        let subject_uri = AtUri::from_trusted(subject_uri);
        let created_at = origin.created_at(f);
        Ok(Row::Comment(CommentRow {
            subject_uri,
            subject_cid,
            text: fields::string(f, "text").unwrap_or_default(),
            timestamp_ms: fields::int(f, "timestampMs").and_then(|v| i64::try_from(v).ok()).unwrap_or(0),
            created_at,
            updated_at: fields::datetime(f, "updatedAt"),
            sort_at: sort_time(created_at, origin.indexed_at),
        }))
    }

    fn purge<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        d: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            for subject in comments::purge(tx, did).await? {
                d.subject(&subject).1 -= 1;
            }
            Ok(())
        })
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        run: Run<'a>,
        d: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    for (_, subject) in comments::subjects(tx, &run.were_live()).await? {
        d.subject(&subject).1 -= 1;
    }
    let (mut fresh, mut existing) = (Vec::new(), Vec::new());
    for c in &run.changes {
        if let Some(Row::Comment(r)) = &c.after {
            d.subject(&r.subject_uri).1 += 1;
            if c.was_live { existing.push((&c.meta, r)) } else { fresh.push((&c.meta, r)) }
        }
    }
    comments::write(tx, &fresh, true).await?;
    comments::write(tx, &existing, false).await?;
    comments::delete(tx, &run.removed()).await
}
