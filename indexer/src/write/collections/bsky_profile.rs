//! `app.bsky.actor.profile`: not plyr's, kept only for accounts that use plyr (display name and
//! avatar). Only the two fields kept are checked and read, so a profile valid under a newer
//! Bluesky lexicon is never rejected: that is why its record type is [`BskyProfileRecord`], the
//! two fields, rather than jacquard-api's full generated `Profile`, which would fail on any
//! other field that Bluesky changes.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_atproto::Catalog;
use plyr_lexicons::read::Link;
use serde::Deserialize;

use super::Invalid;
use super::{Collection, Origin, Reject, Row, Run, is_self};
use crate::db::Tx;
use crate::db::profiles::{self, BskyProfileRow};
use crate::write::deltas::Deltas;
use crate::write::rules::TrustedOrigins;

pub const NSID: &str = "app.bsky.actor.profile";

#[derive(Debug)]
pub struct BskyProfile;

/// The fields of an `app.bsky.actor.profile` that plyr keeps (every other field is ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BskyProfileRecord {
    display_name: Option<String>,
    avatar: Option<Avatar>,
}

/// An image blob (`validate` checked its shape).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Avatar {
    r#ref: Link,
    mime_type: String,
    size: Option<i64>,
}

impl Collection for BskyProfile {
    const NSID: &'static str = NSID;
    type Record = BskyProfileRecord;
    const CREATES_ACTORS: bool = false;

    fn validate(_: &Catalog, record: &Ipld) -> Result<(), Invalid> {
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

    fn row(
        origin: Origin<'_>,
        profile: BskyProfileRecord,
        _: &Ipld,
        _: &TrustedOrigins,
    ) -> Result<Row, Reject> {
        is_self(&origin)?;
        // A blob without its size is not a blob we can serve: the profile keeps no avatar.
        let avatar = profile.avatar.filter(|a| a.size.is_some()).map(|a| (a.r#ref.link, a.mime_type));
        Ok(Row::BskyProfile(BskyProfileRow { display_name: profile.display_name, avatar }))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(profiles::purge_bsky(tx, did))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
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
