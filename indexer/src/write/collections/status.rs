//! `fm.teal.actor.status`: what an account is playing now (rkey `self`), kept from any account
//! when its item can be about an indexed track (the rule plays follow), until its expiry. A
//! status about something else replaces it as nothing: the account is no longer playing plyr.

use chrono::Duration;
use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_lexicons::read::TealStatus;

use super::play::{about_plyr, heard, is_plyr_service};
use super::{Collection, Origin, Reject, Row, Run, is_self, utc};
use crate::db::Tx;
use crate::db::plays::{self, StatusRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time};

/// How long a status without an expiry holds (the lexicon's default).
const DEFAULT_HOLD: Duration = Duration::minutes(10);
/// The longest a status may claim to hold: a record cannot keep an account "playing" for days.
const MAX_HOLD: Duration = Duration::hours(1);

#[derive(Debug)]
pub struct Status;

impl Collection for Status {
    const NSID: &'static str = TealStatus::NSID;
    type Record = TealStatus;
    const CREATES_ACTORS: bool = false;
    const ANY_ACCOUNT: bool = true;

    fn row(origin: Origin<'_>, status: TealStatus, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        is_self(&origin)?;
        let item = status.item;
        let from_plyr = item.music_service_uri.as_deref().is_some_and(is_plyr_service);
        let artists = Some(item.artists.into_iter().map(|a| a.artist_name).collect());
        let heard = heard(item.track_name, artists, None, item.release_name, item.duration, item.origin_uri);
        about_plyr(from_plyr, &heard)?;
        let recorded_at = utc(&status.time).map_or(origin.indexed_at, |t| sort_time(t, origin.indexed_at));
        let started_at =
            item.played_time.as_deref().and_then(utc).filter(|t| *t <= recorded_at).unwrap_or(recorded_at);
        // Checked: `recorded_at` may sit at the end of chrono's range.
        let after = |hold| recorded_at.checked_add_signed(hold).unwrap_or(recorded_at);
        let claimed = status.expiry.as_deref().and_then(utc).unwrap_or_else(|| after(DEFAULT_HOLD));
        let expires_at = claimed.min(after(MAX_HOLD));
        Ok(Row::Status(Box::new(StatusRow { heard, started_at, recorded_at, expires_at })))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(plays::purge_statuses(tx, did))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            let mut up = Vec::new();
            for c in &run.changes {
                if let Some(Row::Status(r)) = &c.after {
                    up.push((&c.meta, &**r));
                }
            }
            plays::delete_statuses(tx, &run.removed()).await?;
            plays::upsert_statuses(tx, &up).await
        })
    }
}
