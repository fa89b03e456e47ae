//! `stream`, `download` and `getCoverArt`: redirects to where the bytes are, decided as
//! `/audio/{file_id}` decides (the trusted `audioUrl`, else the blob on the artist's PDS;
//! supporter-gated tracks refused) and only ever to a location the network policy allows.
//! Players follow a 302 for both audio and images.

use axum::http::{HeaderValue, header};

use super::browse::{track_by_id, visible_artist, visible_list};
use super::envelope::{Code, Failure};
use super::{Call, Reply};
use crate::rest::audio::{content_disposition, download_filename};
use crate::rest::present::{self as rest_present, audio_target};

/// A redirect to `location` if the network policy allows it, else `missing` (70).
fn redirect(call: &Call<'_>, location: String, missing: &str) -> Result<Reply, Failure> {
    if let Err(reason) = call.state.presenter.network.check(&location) {
        tracing::debug!(location, %reason, "subsonic: location refused by the network policy");
        return Err(Failure::not_found(missing));
    }
    Ok(Reply::Redirect { location, headers: Vec::new() })
}

/// `stream` and `download` of song `id`. No transcoding: `format`, `maxBitRate` and friends
/// are ignored and the original file is served.
pub async fn stream(call: &Call<'_>, download: bool) -> Result<Reply, Failure> {
    let (loaded, uri) = track_by_id(call, call.params.required("id")?).await?;
    let t = loaded
        .visible(std::slice::from_ref(&uri))
        .into_iter()
        .next()
        .ok_or_else(|| Failure::not_found("song"))?;
    if t.support_gate.is_some() {
        return Err(Failure::not_authorized("this track is for the artist's supporters: play it on plyr.fm"));
    }
    let target = audio_target(call.state, &loaded.h, t).ok_or_else(|| Failure::not_found("audio file"))?;
    let mut reply = redirect(call, target, "audio file")?;
    if download && let Reply::Redirect { headers, .. } = &mut reply {
        let name = download_filename(&t.artist, &t.title, &t.file_type);
        if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
            headers.push((header::CONTENT_DISPOSITION, v));
        }
    }
    Ok(reply)
}

/// `getCoverArt`: `tr-<song id>` (or a bare song id) the track's cover, else its artist's
/// avatar; `al-<album id>` and `pl-<playlist id>` the first cover of their tracks; `ar-<DID>`
/// the artist's avatar. `size` is ignored: the image is served as stored.
pub async fn cover_art(call: &Call<'_>) -> Result<Reply, Failure> {
    let id = call.params.required("id")?;
    let missing = "cover art";
    let url = if let Some(list) = id.strip_prefix("al-").or_else(|| id.strip_prefix("pl-")) {
        let kind = if id.starts_with("al-") { "album" } else { "playlist" };
        match visible_list(call, list, kind).await {
            Ok((row, _)) => row.image_url,
            Err(f) if f.code == Code::NotFound => None,
            Err(f) => return Err(f),
        }
    } else if let Some(did) = id.strip_prefix("ar-") {
        let (did, h) = visible_artist(call, did).await?;
        rest_present::avatar(call.state, &h, &did)
    } else {
        let (loaded, uri) = track_by_id(call, id).await.map_err(|_| Failure::not_found(missing))?;
        let t = loaded
            .visible(std::slice::from_ref(&uri))
            .into_iter()
            .next()
            .ok_or_else(|| Failure::not_found(missing))?;
        t.image_url.clone().or_else(|| rest_present::avatar(call.state, &loaded.h, &t.did))
    };
    redirect(call, url.ok_or_else(|| Failure::not_found(missing))?, missing)
}
