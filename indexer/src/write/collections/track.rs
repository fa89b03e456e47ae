//! `fm.plyr.track`: an uploaded track. A track must be playable (an audio blob, or an audio URL
//! on a trusted origin); it moves its author's track count.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_lexicons::read::{Track as TrackRecord, TrackLabels};

use super::{Collection, Origin, Reject, Row, Run};
use crate::db::tracks::{self, TrackRow};
use crate::db::{Tx, plays};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time, track_id};

pub const NSID: &str = TrackRecord::NSID;

#[derive(Debug)]
pub struct Track;

impl Collection for Track {
    const NSID: &'static str = NSID;
    type Record = TrackRecord;

    fn row(
        origin: Origin<'_>,
        track: TrackRecord,
        raw: &Ipld,
        trusted: &TrustedOrigins,
    ) -> Result<Row, Reject> {
        row(origin, track, raw, trusted).map(|row| Row::Track(Box::new(row)))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            // The account's tracks go: plays matched to them by name may now match another
            // track, or none.
            let keys = tracks::account_play_keys(tx, did).await?;
            tracks::purge(tx, did).await?;
            plays::lock_keys(tx, &keys, true).await?;
            d.rematched(&plays::rematch(tx, &[], &keys).await?);
            Ok(())
        })
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

fn row(
    origin: Origin<'_>,
    track: TrackRecord,
    raw: &Ipld,
    trusted: &TrustedOrigins,
) -> Result<TrackRow, Reject> {
    let created_at = origin.created_at(&track.created_at);
    let audio_blob = track.audio_blob.map(|b| (b.r#ref.link, b.mime_type, b.size));
    let audio_url = track.audio_url.filter(|u| trusted.trusts(u));
    if audio_blob.is_none() && audio_url.is_none() {
        return Err(Reject::NotPlayable);
    }
    let features = track.features.into_iter().flatten().map(|f| f.did).collect();
    // `labels` is an open union: only its selfLabels member says anything to us.
    let self_labels = match track.labels {
        Some(TrackLabels::SelfLabels(l)) => l.values.into_iter().map(|v| v.val).collect(),
        Some(TrackLabels::Unknown) | None => Vec::new(),
    };
    // plyr.fm writes an undeclared `fileId` (its storage key); otherwise the rkey names the file.
    let file_id = match raw {
        Ipld::Map(fields) => fields.get("fileId"),
        _ => None,
    };
    let file_id = match file_id {
        Some(Ipld::String(id))
            if !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.clone()
        }
        _ => origin.rkey.to_owned(),
    };
    let image_url = track.image_url.filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Ok(TrackRow {
        id: track_id(origin.uri),
        title: track.title,
        artist: track.artist,
        album: track.album.filter(|a| !a.is_empty()),
        duration: track.duration.and_then(|d| i32::try_from(d).ok()),
        description: track.description,
        file_type: track.file_type,
        file_id,
        image_url,
        audio_url,
        audio_blob,
        features,
        support_gate: track.support_gate.map(|g| g.r#type),
        self_labels,
        created_at,
        sort_at: sort_time(created_at, origin.indexed_at),
    })
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    if run.changes.is_empty() {
        return Ok(());
    }
    // Plays are matched to tracks by title, artist and duration: every play under a key this
    // run adds, changes or removes a track of is matched again, under those keys' locks taken
    // after the write (`db::plays`).
    let mut keys = tracks::play_keys(tx, &run.were_live()).await?;
    let mut up = Vec::new();
    for c in &run.changes {
        if let Some(Row::Track(r)) = &c.after {
            up.push((&c.meta, &**r));
        }
        d.actor(&c.meta.did).tracks += i32::from(c.after.is_some()) - i32::from(c.was_live);
    }
    tracks::upsert(tx, &up).await?;
    tracks::delete(tx, &run.removed()).await?;
    let written: Vec<String> = up.iter().map(|(m, _)| m.uri.to_string()).collect();
    keys.extend(tracks::play_keys(tx, &written).await?);
    keys.sort_unstable();
    keys.dedup();
    plays::lock_keys(tx, &keys, true).await?;
    d.rematched(&plays::rematch(tx, &[], &keys).await?);
    Ok(())
}
