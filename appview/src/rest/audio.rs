//! Audio and embeds: `GET`/`HEAD /audio/{file_id}` and `/audio/{file_id}/download` redirect to
//! where the bytes are (the trusted `audioUrl`, else the blob on the artist's PDS; only ever an
//! https URL on a public host, see `plyr_atproto::outbound`), and
//! `/oembed` describes plyr.fm track, playlist and album links for embedding.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::RestError;
use super::present;
use super::query::{Query, parse_int};
use super::slug::slugify;
use crate::AppState;
use crate::db::tracks::TrackRow;
use crate::db::{actors, lists, rest as rest_db, tracks};
use crate::hydrate::{Hydration, Hydrator};

/// The newest visible track whose `file_id` is `file_id`, hydrated.
async fn by_file_id(state: &AppState, file_id: &str) -> Result<(TrackRow, Hydration), RestError> {
    let uris = tracks::uris_by_file_id(&state.db, file_id).await?;
    let h = Hydrator::new(state, None).tracks(&uris).await?;
    let t = uris
        .iter()
        .find_map(|u| h.track(u))
        .cloned()
        .ok_or_else(|| RestError::NotFound("audio file not found".into()))?;
    Ok((t, h))
}

/// A 307 to `location`, only if it is an https URL on a public host (any `http(s)` URL on a
/// test network); anything else is the 404 of a track without audio, never a redirect.
fn redirect(state: &AppState, location: &str, missing: &str) -> Result<Response, RestError> {
    if let Err(reason) = state.presenter.network.check(location) {
        tracing::debug!(location, %reason, "audio location refused by the network policy");
        return Err(RestError::NotFound(missing.into()));
    }
    let value = HeaderValue::from_str(location).map_err(|_| RestError::NotFound(missing.into()))?;
    Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, value)]).into_response())
}

/// `GET`/`HEAD /audio/{file_id}`: a 307 to the audio. Supporter-gated tracks need a plyr.fm
/// session, which this service never has: 401, as plyr.fm answers anonymous listeners. This is
/// where a supporter check would go: with a verified listener (a service token), ask atprotofans'
/// `validateSupporter` whether they support the artist, and answer plyr.fm's 402 with
/// `X-Support-Required: true` when they do not; only the artist and supporters get the 307.
pub async fn stream(
    State(state): State<AppState>,
    Path(file_id): Path<String>,
) -> Result<Response, RestError> {
    let (t, h) = by_file_id(&state, &file_id).await?;
    if t.support_gate.is_some() {
        return Err(RestError::Unauthorized("authentication required to stream this track".into()));
    }
    let missing = "audio file not found";
    let target = present::audio_target(&state, &h, &t).ok_or_else(|| RestError::NotFound(missing.into()))?;
    redirect(&state, &target, missing)
}

/// `GET /audio/{file_id}/download`: a 307 to the audio with `Content-Disposition: attachment`
/// naming the file `<artist> - <title>.<type>`.
pub async fn download(
    State(state): State<AppState>,
    Path(file_id): Path<String>,
) -> Result<Response, RestError> {
    let (t, h) = by_file_id(&state, &file_id).await?;
    if t.support_gate.is_some() {
        return Err(RestError::Forbidden("gated tracks cannot be downloaded".into()));
    }
    let missing = "no downloadable file";
    let target = present::audio_target(&state, &h, &t).ok_or_else(|| RestError::NotFound(missing.into()))?;
    let mut response = redirect(&state, &target, missing)?;
    let name = download_filename(&t.artist, &t.title, &t.file_type);
    let disposition = HeaderValue::from_str(&content_disposition(&name))
        .map_err(|e| RestError::Internal(format!("content-disposition: {e}")))?;
    response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}

/// `artist - title.ext` with characters that break file systems or the header grammar removed
/// and whitespace collapsed (plyr.fm's rule).
pub fn download_filename(artist: &str, title: &str, ext: &str) -> String {
    let stem = if artist.is_empty() { title.to_owned() } else { format!("{artist} - {title}") };
    let cleaned: String = stem.chars().filter(|c| !"\\/:*?\"<>|".contains(*c) && !c.is_control()).collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned = cleaned.trim_matches(|c| c == '.' || c == ' ');
    let stem = if cleaned.is_empty() { "track" } else { cleaned };
    format!("{stem}.{ext}")
}

/// `attachment` with an ASCII `filename` and the exact UTF-8 `filename*` (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// What an oEmbed URL points at.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Track(String),
    Playlist(String),
    Album { handle: String, slug: String },
}

/// plyr.fm's patterns: `/track/<digits>`, `/playlist/<uuid chars>`, `/u/<handle>/album/<slug>`.
fn target(url: &str) -> Option<Target> {
    let after = |marker: &str, ok: fn(char) -> bool| {
        url.find(marker).map(|i| url[i + marker.len()..].chars().take_while(|c| ok(*c)).collect::<String>())
    };
    if let Some(id) = after("/track/", |c| c.is_ascii_digit()).filter(|s| !s.is_empty()) {
        return Some(Target::Track(id));
    }
    if let Some(id) = after("/playlist/", |c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
        .filter(|s| !s.is_empty())
    {
        return Some(Target::Playlist(id));
    }
    let rest = &url[url.find("/u/")? + 3..];
    let (handle, rest) = rest.split_once('/')?;
    let slug: String = rest.strip_prefix("album/")?.chars().take_while(|c| !"/?#".contains(*c)).collect();
    (!handle.is_empty() && !slug.is_empty()).then(|| Target::Album { handle: handle.to_owned(), slug })
}

/// `GET /oembed?url=&maxwidth=&maxheight=&format=json`.
pub async fn oembed(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    let q = Query::parse(raw.as_deref());
    let url = q.required_str("url", 0, 2048)?;
    let maxwidth = q.str("maxwidth").map(|v| parse_int("query", "maxwidth", v)).transpose()?;
    let maxheight = q.str("maxheight").map(|v| parse_int("query", "maxheight", v)).transpose()?;
    if q.str("format").unwrap_or("json") != "json" {
        return Err(RestError::NotImplemented("only json format is supported".into()));
    }
    let base = state.options.frontend_url.trim_end_matches('/').to_owned();
    let width = maxwidth.unwrap_or(400).min(800);
    let (title, did, embed, height, thumb, h) = match target(url)
        .ok_or_else(|| RestError::NotFound("unsupported URL format".into()))?
    {
        Target::Track(id) => {
            let nf = || RestError::not_found("track");
            let id: i64 = id.parse().map_err(|_| nf())?;
            let uri = tracks::uri_by_id(&state.db, id).await?.ok_or_else(nf)?;
            let h = Hydrator::new(&state, None).tracks(std::slice::from_ref(&uri)).await?;
            let t = h.track(&uri).ok_or_else(nf)?;
            let name = present::display_name(&state, &h, &t.did);
            let (title, did, thumb) = (format!("{} - {name}", t.title), t.did.clone(), t.image_url.clone());
            (title, did, format!("{base}/embed/track/{id}"), maxheight.unwrap_or(165).min(165), thumb, h)
        }
        Target::Playlist(id) => {
            let nf = || RestError::not_found("playlist");
            if !super::lists::is_uuid(&id) {
                return Err(nf());
            }
            let uri = lists::uri_by_id(&state.db, &id).await?.ok_or_else(nf)?;
            let h = Hydrator::new(&state, None).lists(std::slice::from_ref(&uri)).await?;
            let l = h.list(&uri).filter(|l| l.list_type.as_deref() == Some("playlist")).ok_or_else(nf)?;
            let name = l.name.clone().unwrap_or_else(|| "untitled".to_owned());
            let title = format!("\"{name}\" by {}", present::display_name(&state, &h, &l.did));
            let did = l.did.clone();
            (title, did, format!("{base}/embed/playlist/{id}"), maxheight.unwrap_or(380).min(600), None, h)
        }
        Target::Album { handle, slug } => {
            let nf = || RestError::not_found("album");
            let did = actors::did_by_handle(&state.db, &handle).await?.ok_or_else(nf)?;
            let albums = rest_db::albums_by_actor(&state.db, &did).await?;
            let album = albums.into_iter().find(|a| slugify(&a.name) == slug).ok_or_else(nf)?;
            let h = Hydrator::new(&state, None).actors(std::slice::from_ref(&did)).await?;
            // `did` has a verified handle, so it is indexed: absent here means hidden.
            if h.actor(&did).is_none() {
                return Err(nf());
            }
            let title = format!("\"{}\" by {}", album.name, present::display_name(&state, &h, &did));
            let embed = format!("{base}/embed/album/{handle}/{slug}");
            (title, did, embed, maxheight.unwrap_or(380).min(600), album.image_url, h)
        }
    };
    let author = present::display_name(&state, &h, &did);
    let mut body = json!({
        "version": "1.0", "type": "rich", "provider_name": "plyr.fm", "provider_url": base,
        "title": title, "author_name": author,
        "author_url": format!("{base}/u/{}", present::handle(&state, &h, &did)),
        "width": width, "height": height,
        "html": format!(
            "<iframe src=\"{embed}\" width=\"{width}\" height=\"{height}\" frameborder=\"0\" allow=\"autoplay\" style=\"border-radius: 8px;\"></iframe>"
        ),
    });
    if let Some(thumb) = thumb {
        body["thumbnail_url"] = json!(thumb);
        body["thumbnail_width"] = json!(300);
        body["thumbnail_height"] = json!(300);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oembed_urls_and_download_names() {
        assert_eq!(target("https://plyr.fm/track/42?x=1"), Some(Target::Track("42".into())));
        assert_eq!(target("https://plyr.fm/playlist/0f0e-ab"), Some(Target::Playlist("0f0e-ab".into())));
        assert_eq!(
            target("https://plyr.fm/u/alice.test/album/light-works#top"),
            Some(Target::Album { handle: "alice.test".into(), slug: "light-works".into() })
        );
        assert_eq!(target("https://plyr.fm/about"), None);
        assert_eq!(download_filename("A/C", " Tide:  2 ", "mp3"), "AC - Tide 2.mp3");
        assert_eq!(download_filename("", "...", "wav"), "track.wav");
        assert_eq!(
            content_disposition("Ünï - x.mp3"),
            "attachment; filename=\"_n_ - x.mp3\"; filename*=UTF-8''%C3%9Cn%C3%AF%20-%20x.mp3"
        );
    }
}
