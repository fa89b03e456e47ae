//! `fm.plyr.actor.profile`: an artist's plyr profile (bio, avatar URL), one per account.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_lexicons::read::Profile as ProfileRecord;

use super::{Collection, Origin, Reject, Row, Run, is_self, utc};
use crate::db::Tx;
use crate::db::profiles::{self, PlyrProfileRow};
use crate::write::deltas::Deltas;
use crate::write::rules::TrustedOrigins;

pub const NSID: &str = ProfileRecord::NSID;

#[derive(Debug)]
pub struct PlyrProfile;

impl Collection for PlyrProfile {
    const NSID: &'static str = NSID;
    type Record = ProfileRecord;

    fn row(origin: Origin<'_>, profile: ProfileRecord, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        is_self(&origin)?;
        Ok(Row::PlyrProfile(PlyrProfileRow {
            bio: profile.bio,
            avatar_url: profile.avatar,
            created_at: origin.created_at(&profile.created_at),
            updated_at: profile.updated_at.as_ref().and_then(utc),
        }))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(profiles::purge_plyr(tx, did))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
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
