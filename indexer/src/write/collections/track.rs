//! `fm.plyr.track`: an uploaded track. A track must be playable (an audio blob, or an audio URL
//! on a trusted origin); it moves its author's track count.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;

use super::{Collection, Origin, Reject, Row, Run};
use crate::db::Tx;
use crate::db::tracks::{self, TrackRow};
use crate::write::deltas::Deltas;
use crate::write::fields::{self, Fields};
use crate::write::rules::{TrustedOrigins, sort_time, track_id};

pub const NSID: &str = "fm.plyr.track";

#[derive(Debug)]
pub struct Track;

impl Collection for Track {
    fn nsid(&self) -> &'static str {
        NSID
    }

    fn extract(&self, origin: Origin<'_>, f: &Fields, trusted: &TrustedOrigins) -> Result<Row, Reject> {
        extract(origin, f, trusted).map(|row| Row::Track(Box::new(row)))
    }

    fn purge<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        _: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(tracks::purge(tx, did))
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

fn extract(origin: Origin<'_>, f: &Fields, trusted: &TrustedOrigins) -> Result<TrackRow, Reject> {
    let created_at = origin.created_at(f);
    let audio_blob = fields::blob(f, "audioBlob");
    let audio_url = fields::string(f, "audioUrl").filter(|u| trusted.trusts(u));
    if audio_blob.is_none() && audio_url.is_none() {
        return Err(Reject::NotPlayable);
    }
    let features = fields::list(f, "features")
        .iter()
        .filter_map(|x| match x {
            Ipld::Map(m) => fields::string(m, "did"),
            _ => None,
        })
        .collect();
    let self_labels = fields::map(f, "labels")
        .filter(|l| fields::str_field(l, "$type") == Some("com.atproto.label.defs#selfLabels"))
        .map(|l| {
            fields::list(l, "values")
                .iter()
                .filter_map(|v| match v {
                    Ipld::Map(m) => fields::string(m, "val"),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    // plyr.fm writes an undeclared `fileId` (its storage key); otherwise the rkey names the file.
    let file_id = fields::string(f, "fileId")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| origin.rkey.to_owned());
    let image_url =
        fields::string(f, "imageUrl").filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Ok(TrackRow {
        id: track_id(origin.uri),
        title: fields::string(f, "title").unwrap_or_default(),
        artist: fields::string(f, "artist").unwrap_or_default(),
        album: fields::string(f, "album").filter(|a| !a.is_empty()),
        duration: fields::int(f, "duration").and_then(|d| i32::try_from(d).ok()),
        description: fields::string(f, "description"),
        file_type: fields::string(f, "fileType").unwrap_or_default(),
        file_id,
        image_url,
        audio_url,
        audio_blob,
        features,
        support_gate: fields::map(f, "supportGate").and_then(|g| fields::string(g, "type")),
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
