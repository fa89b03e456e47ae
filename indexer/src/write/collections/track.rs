//! `fm.plyr.track`: an uploaded track. A track must be playable (an audio blob, or an audio URL
//! on a trusted origin); it moves its author's track count.

use futures_util::future::BoxFuture;
use jacquard_common::types::collection::Collection as _;
use jacquard_common::types::value::Data;
use plyr_lexicons::fm_plyr::track::{Track as TrackRecord, TrackRecord as Lexicon};

use super::{Collection, Origin, Reject, Row, Run, owned};
use crate::db::Tx;
use crate::db::tracks::{self, TrackRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time, track_id};

/// From the lexicon's generated marker type.
pub const NSID: &str = Lexicon::NSID;

/// The one member of the `labels` union we read.
const SELF_LABELS: &str = "com.atproto.label.defs#selfLabels";

#[derive(Debug)]
pub struct Track;

impl Collection for Track {
    const NSID: &'static str = NSID;
    type Record = TrackRecord;

    fn row(origin: Origin<'_>, track: TrackRecord, trusted: &TrustedOrigins) -> Result<Row, Reject> {
        row(origin, track, trusted).map(|row| Row::Track(Box::new(row)))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(tracks::purge(tx, did))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

fn row(origin: Origin<'_>, track: TrackRecord, trusted: &TrustedOrigins) -> Result<TrackRow, Reject> {
    let created_at = origin.created_at(Some(&track.created_at));
    let audio_blob = track.audio_blob.as_ref().map(|b| {
        let b = b.blob();
        (b.r#ref.to_string(), owned(b.mime_type.as_str()), i64::try_from(b.size).unwrap_or(i64::MAX))
    });
    let audio_url = track.audio_url.as_ref().map(|u| u.as_str()).filter(|u| trusted.trusts(u)).map(owned);
    if audio_blob.is_none() && audio_url.is_none() {
        return Err(Reject::NotPlayable);
    }
    let features = track.features.iter().flatten().map(|f| owned(f.did.as_str())).collect();
    // `labels` is an open union: only its selfLabels member says anything to us.
    let self_labels = track
        .labels
        .as_ref()
        .filter(|l| {
            let tag = l.extra_data.as_ref().and_then(|extra| extra.get("$type"));
            matches!(tag, Some(Data::String(t)) if t.as_str() == SELF_LABELS)
        })
        .map(|l| l.values.iter().map(|v| owned(&v.val)).collect())
        .unwrap_or_default();
    // plyr.fm writes an undeclared `fileId` (its storage key); otherwise the rkey names the file.
    let file_id = match track.extra_data.as_ref().and_then(|extra| extra.get("fileId")) {
        Some(Data::String(id))
            if !id.as_str().is_empty()
                && id.as_str().len() <= 128
                && id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            owned(id.as_str())
        }
        _ => origin.rkey.to_owned(),
    };
    let image_url = track
        .image_url
        .as_ref()
        .map(|u| u.as_str())
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(owned);
    Ok(TrackRow {
        id: track_id(origin.uri),
        title: owned(&track.title),
        artist: owned(&track.artist),
        album: track.album.as_ref().map(owned).filter(|a| !a.is_empty()),
        duration: track.duration.and_then(|d| i32::try_from(d).ok()),
        description: track.description.as_ref().map(owned),
        file_type: owned(&track.file_type),
        file_id,
        image_url,
        audio_url,
        audio_blob,
        features,
        support_gate: track.support_gate.as_ref().map(|g| owned(g.r#type.as_str())),
        self_labels,
        created_at,
        sort_at: sort_time(created_at, origin.indexed_at),
    })
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    let mut up = Vec::new();
    for c in &run.changes {
        if let Some(Row::Track(r)) = &c.after {
            up.push((&c.meta, &**r));
        }
        d.actor(&c.meta.did).tracks += i32::from(c.after.is_some()) - i32::from(c.was_live);
    }
    tracks::upsert(tx, &up).await?;
    tracks::delete(tx, &run.removed()).await
}
