//! `fm.plyr.actor.profile`: an artist's plyr profile (bio, avatar URL), one per account.

use futures_util::future::BoxFuture;

use jacquard_common::types::collection::Collection as _;
use plyr_lexicons::fm_plyr::actor::profile::{Profile as ProfileRecord, ProfileRecord as Lexicon};

use super::{Collection, Origin, Reject, Row, Run, is_self, owned, utc};
use crate::db::Tx;
use crate::db::profiles::{self, PlyrProfileRow};
use crate::write::deltas::Deltas;
use crate::write::rules::TrustedOrigins;

/// From the lexicon's generated marker type.
pub const NSID: &str = Lexicon::NSID;

#[derive(Debug)]
pub struct PlyrProfile;

impl Collection for PlyrProfile {
    const NSID: &'static str = NSID;
    type Record = ProfileRecord;

    fn row(origin: Origin<'_>, profile: ProfileRecord, _: &TrustedOrigins) -> Result<Row, Reject> {
        is_self(&origin)?;
        Ok(Row::PlyrProfile(PlyrProfileRow {
            bio: profile.bio.map(owned),
            avatar_url: profile.avatar.as_ref().map(|a| owned(a.as_str())),
            created_at: origin.created_at(Some(&profile.created_at)),
            updated_at: profile.updated_at.as_ref().map(utc),
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
