//! `fm.plyr.actor.profile`: an artist's plyr profile (bio, avatar URL), one per account.

use futures_util::future::BoxFuture;

use super::{Collection, Origin, Reject, Row, Run, is_self};
use crate::db::Tx;
use crate::db::profiles::{self, PlyrProfileRow};
use crate::write::deltas::Deltas;
use crate::write::fields::{self, Fields};
use crate::write::rules::TrustedOrigins;

pub const NSID: &str = "fm.plyr.actor.profile";

#[derive(Debug)]
pub struct PlyrProfile;

impl Collection for PlyrProfile {
    fn nsid(&self) -> &'static str {
        NSID
    }

    fn extract(&self, origin: Origin<'_>, f: &Fields, _: &TrustedOrigins) -> Result<Row, Reject> {
        is_self(&origin)?;
        Ok(Row::PlyrProfile(PlyrProfileRow {
            bio: fields::string(f, "bio"),
            avatar_url: fields::string(f, "avatar"),
            created_at: origin.created_at(f),
            updated_at: fields::datetime(f, "updatedAt"),
        }))
    }

    fn purge<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        _: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(profiles::purge_plyr(tx, did))
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        run: Run<'a>,
        _: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            for c in &run.changes {
                match &c.after {
                    Some(Row::PlyrProfile(r)) => profiles::upsert_plyr(tx, &c.meta, r).await?,
                    _ => profiles::delete_plyr(tx, &c.meta.uri).await?,
                }
            }
            Ok(())
        })
    }
}
