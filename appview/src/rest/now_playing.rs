//! `GET /now-playing/by-handle/{handle}` and `/now-playing/by-did/{did}`: plyr.fm's now-playing
//! shape (what Piper polls), read from the listener's teal.fm status (`fm.teal.actor.status`)
//! while it holds. plyr.fm keeps this state from its own player's heartbeats; here it is the
//! status plyr.fm publishes, so `progress_ms` is counted from the status's start and ends at the
//! track's duration. Nothing playing (no status, expired, or no visible indexed track it
//! matches) is `204` without a body, as plyr.fm answers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use plyr_atproto::Did;
use serde::Serialize;

use super::RestError;
use super::present;
use crate::AppState;
use crate::db::{actors, plays};
use crate::moderation::Context;

/// plyr.fm's `NowPlayingResponse`.
#[derive(Debug, Serialize)]
pub struct NowPlaying {
    pub track_name: String,
    pub artist_name: String,
    pub album_name: Option<String>,
    pub duration_ms: i64,
    pub progress_ms: i64,
    pub is_playing: bool,
    pub track_id: i64,
    pub file_id: String,
    pub track_url: String,
    pub image_url: Option<String>,
    pub service_base_url: String,
}

/// `GET /now-playing/by-handle/{handle}`: 404 `user not found` for a handle no indexed account
/// has, as plyr.fm answers one it has no artist for.
pub async fn by_handle(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Response, RestError> {
    let did = actors::did_by_handle(&state.db, &handle).await?.ok_or_else(|| RestError::not_found("user"))?;
    answer(&state, &did).await
}

/// `GET /now-playing/by-did/{did}`: any account (a listener need not be an artist); a malformed
/// DID is nobody, so nothing is playing.
pub async fn by_did(State(state): State<AppState>, Path(did): Path<String>) -> Result<Response, RestError> {
    match Did::new(&did) {
        Ok(did) => answer(&state, &did).await,
        Err(_) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn answer(state: &AppState, did: &Did) -> Result<Response, RestError> {
    let now = Utc::now();
    let nothing = || Ok(StatusCode::NO_CONTENT.into_response());
    let Some(status) = plays::now_playing(&state.db, did, now).await? else { return nothing() };
    let Some(uri) = status.track else { return nothing() };
    let uris = [uri];
    let loaded = present::load_tracks(state, &uris, Context::View).await?;
    let Some(track) = loaded.visible(&uris).into_iter().next() else { return nothing() };
    let seconds = status.duration.or(track.duration).unwrap_or(0);
    let duration_ms = i64::from(seconds) * 1000;
    let elapsed = (now - status.started_at).num_milliseconds().max(0);
    let progress_ms = if duration_ms > 0 { elapsed.min(duration_ms) } else { elapsed };
    let base = state.options.frontend_url.trim_end_matches('/');
    let service =
        url::Url::parse(base).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let image_url = track.image_url.clone().or_else(|| present::avatar(state, &loaded.h, &track.did));
    Ok(Json(NowPlaying {
        track_name: status.track_name,
        artist_name: status.artist_name,
        album_name: status.release_name,
        duration_ms,
        progress_ms,
        is_playing: true,
        track_id: track.id,
        file_id: track.file_id.clone(),
        track_url: format!("{base}/track/{}", track.id),
        image_url,
        service_base_url: service,
    })
    .into_response())
}
