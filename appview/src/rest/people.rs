//! Accounts: `/artists/{did}`, `/artists/by-handle/{handle}`, `POST /artists/batch`, and
//! `/users/{handle}/likes` (the tracks an account liked).

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;
use serde_json::Value;

use super::RestError;
use super::present::{self, ArtistResponse, TrackResponse, UserBasic};
use crate::AppState;
use crate::cursor::TimeKey;
use crate::db::{actors, feeds};
use crate::hydrate::Hydrator;
use crate::moderation::Context;

/// Most DIDs one batch may ask for.
const BATCH_CAP: usize = 500;
/// Most liked tracks listed (plyr.fm lists them all).
const LIKES_CAP: i64 = 1000;

/// The visible, indexed account `did` as an `ArtistResponse`.
async fn artist_by_did(state: &AppState, did: &Did) -> Result<ArtistResponse, RestError> {
    let h = Hydrator::new(state, None).actors(std::slice::from_ref(did)).await?;
    h.actor(did).map(|a| present::artist(state, &h, a)).ok_or_else(|| RestError::not_found("artist"))
}

/// `GET /artists/{did}`.
pub async fn by_did(
    State(state): State<AppState>,
    Path(did): Path<String>,
) -> Result<Json<ArtistResponse>, RestError> {
    // Not a DID: not indexed either.
    let did = Did::new(&did).map_err(|_| RestError::not_found("artist"))?;
    artist_by_did(&state, &did).await.map(Json)
}

/// `GET /artists/by-handle/{handle}`: the account whose verified handle it is.
pub async fn by_handle(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<ArtistResponse>, RestError> {
    let did =
        actors::did_by_handle(&state.db, &handle).await?.ok_or_else(|| RestError::not_found("artist"))?;
    artist_by_did(&state, &did).await.map(Json)
}

/// `POST /artists/batch` with a JSON array of DIDs: the known ones, keyed by DID.
pub async fn batch(
    State(state): State<AppState>,
    body: Result<Json<Vec<String>>, JsonRejection>,
) -> Result<Json<BTreeMap<Did, ArtistResponse>>, RestError> {
    let Json(mut dids) = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return RestError::TooLarge(e.body_text());
        }
        RestError::invalid(
            "body",
            "dids",
            "list_type",
            format!("Input should be a valid list of DIDs: {e}"),
            Value::Null,
        )
    })?;
    if dids.len() > BATCH_CAP {
        return Err(RestError::invalid(
            "body",
            "dids",
            "too_long",
            format!("List should have at most {BATCH_CAP} items"),
            Value::Null,
        ));
    }
    dids.sort();
    dids.dedup();
    // Strings that are not DIDs are not indexed either: they are left out like unknown DIDs.
    let dids: Vec<Did> = dids.iter().filter_map(|d| Did::new(d).ok()).collect();
    let h = Hydrator::new(&state, None).actors(&dids).await?;
    Ok(Json(
        dids.iter()
            .filter_map(|d| h.actor(d))
            .map(|a| (a.did.clone(), present::artist(&state, &h, a)))
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
pub struct UserLikes {
    pub user: UserBasic,
    pub tracks: Vec<TrackResponse>,
    pub count: usize,
}

/// `GET /users/{handle}/likes`: the tracks `handle` liked, most recent like first.
pub async fn likes(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<UserLikes>, RestError> {
    let not_found = || RestError::not_found("user");
    let did = if handle.starts_with("did:") {
        Did::new(&handle).ok()
    } else {
        actors::did_by_handle(&state.db, &handle).await?
    }
    .ok_or_else(not_found)?;
    let h = Hydrator::new(&state, None).actors(std::slice::from_ref(&did)).await?;
    if h.actor(&did).is_none() {
        return Err(not_found());
    }
    let user = present::user_basic(&state, &h, &did);
    let rows = feeds::liked_by(&state.db, &did, &TimeKey::newest(), LIKES_CAP).await?;
    // Several likes of one track show it once, at its latest like.
    let mut seen = HashSet::with_capacity(rows.len());
    let uris: Vec<AtUri> =
        rows.into_iter().map(|r| r.subject_uri).filter(|u| seen.insert(u.clone())).collect();
    let loaded = present::load_tracks(&state, &uris, Context::View).await?;
    let tracks = loaded.responses(&state, &uris, false);
    Ok(Json(UserLikes { user, count: tracks.len(), tracks }))
}

/// `GET /artists/{did}/analytics`: plyr.fm's public artist analytics. Plays are the published
/// teal.fm plays matched to the artist's tracks (a lower bound); `top_item` is the most played
/// track, `top_liked` the most liked one with its like count in `play_count` (as plyr.fm's
/// does), `rank` the artist's place among the ten with the most plays (else null). An unknown
/// or hidden artist gets zeros, as plyr.fm answers one with no tracks.
pub async fn analytics(
    State(state): State<AppState>,
    Path(did): Path<String>,
) -> Result<Json<Value>, RestError> {
    let zero = || {
        serde_json::json!({ "total_plays": 0, "total_items": 0, "total_duration_seconds": 0,
                            "top_item": null, "top_liked": null, "rank": null })
    };
    let Ok(did) = Did::new(&did) else { return Ok(Json(zero())) };
    let h = Hydrator::new(&state, None).actors(std::slice::from_ref(&did)).await?;
    if h.actor(&did).is_none() {
        return Ok(Json(zero()));
    }
    use crate::db::rest::{self as rest_db, CountedTrack};
    let (totals, played, liked, leaders) = tokio::try_join!(
        rest_db::artist_totals(&state.db, &did),
        rest_db::top_track(&state.db, &did, true),
        rest_db::top_track(&state.db, &did, false),
        rest_db::top_artists_by_plays(&state.db),
    )?;
    let item = |t: &CountedTrack| serde_json::json!({ "id": t.id, "title": t.title, "play_count": t.n });
    let rank = leaders.iter().position(|d| *d == did).map(|i| i + 1);
    Ok(Json(serde_json::json!({
        "total_plays": totals.plays,
        "total_items": totals.items,
        "total_duration_seconds": totals.seconds,
        "top_item": played.as_ref().map(item),
        "top_liked": liked.as_ref().filter(|t| t.n > 0).map(item),
        "rank": rank,
    })))
}

/// `POST /artists/{did}/refresh-avatar`: the avatar as indexed (the indexer follows profile
/// changes from the network, so there is nothing to fetch); 404 for an unknown artist.
pub async fn refresh_avatar(
    State(state): State<AppState>,
    Path(did): Path<String>,
) -> Result<Json<Value>, RestError> {
    let artist = by_did(State(state), Path(did)).await?;
    Ok(Json(serde_json::json!({ "avatar_url": artist.avatar_url })))
}
