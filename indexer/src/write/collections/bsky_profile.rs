//! `app.bsky.actor.profile`: not plyr's, kept only for accounts that use plyr (display name and
//! avatar). Only the two fields kept are checked, so a profile valid under a newer Bluesky
//! lexicon is never rejected.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_atproto::Catalog;

use super::Invalid;
use super::{Collection, Origin, Reject, Row, Run, is_self};
use crate::db::Tx;
use crate::db::profiles::{self, BskyProfileRow};
use crate::write::deltas::Deltas;
use crate::write::fields::{self, Fields};
use crate::write::rules::TrustedOrigins;

pub const NSID: &str = "app.bsky.actor.profile";

#[derive(Debug)]
pub struct BskyProfile;

impl Collection for BskyProfile {
    fn nsid(&self) -> &'static str {
        NSID
    }

    fn creates_actors(&self) -> bool {
        false
    }

    fn validate(&self, _: &Catalog, record: &Ipld) -> Result<(), Invalid> {
        let Ipld::Map(f) = record else { return Err(Invalid::BskyProfile("not an object")) };
        match f.get("displayName") {
            None | Some(Ipld::Null) => {}
            Some(Ipld::String(s)) if s.len() <= 640 => {}
            Some(_) => return Err(Invalid::BskyProfile("displayName must be a string of at most 640 bytes")),
        }
        match f.get("avatar") {
            None | Some(Ipld::Null) => Ok(()),
            Some(Ipld::Map(b))
                if matches!(b.get("ref"), Some(Ipld::Link(_)))
                    && matches!(b.get("mimeType"), Some(Ipld::String(m)) if m.starts_with("image/")) =>
            {
                Ok(())
            }
            Some(_) => Err(Invalid::BskyProfile("avatar must be an image blob")),
        }
    }

    fn extract(&self, origin: Origin<'_>, f: &Fields, _: &TrustedOrigins) -> Result<Row, Reject> {
        is_self(&origin)?;
        let avatar = fields::blob(f, "avatar").map(|(cid, mime, _)| (cid, mime));
        Ok(Row::BskyProfile(BskyProfileRow { display_name: fields::string(f, "displayName"), avatar }))
    }

    fn purge<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        _: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(profiles::purge_bsky(tx, did))
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
                    Some(Row::BskyProfile(r)) => profiles::upsert_bsky(tx, &c.meta, r).await?,
                    _ => profiles::delete_bsky(tx, &c.meta.uri).await?,
                }
            }
            Ok(())
        })
    }
}
