//! `/tracks/*`: the latest feed, top tracks, one track (by id or AT-URI), its likers and
//! comments, and tags (which no record carries: empty answers in plyr.fm's shapes).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;
use serde_json::{Value, json};

use super::present::{self, Loaded, TrackResponse, iso};
use super::query::{Query, parse_int};
use super::{RestError, page, parse_cursor};
use crate::AppState;
use crate::cursor::TimeKey;
use crate::db::{Skel, feeds, social, tracks};
use crate::hydrate::Hydrator;
use crate::moderation::Context;
use crate::ranking::{self, Metric, Period};
use crate::track_views::Shown;

/// Most likers or comments listed for one track (plyr.fm lists them all).
const ALL_CAP: i64 = 1000;

/// A page of `TrackResponse`s (`T`: as JSON text for the API, as values for the home page).
#[derive(Debug, Serialize)]
pub struct TrackPage<T = Shown> {
    pub tracks: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// `GET /tracks/`: newest first, optionally one artist's; `cursor` is the ISO time of the
/// previous page's last track (the next page holds the tracks strictly older), with that
/// track's AT-URI when the page ended inside a group sharing its time (see [`page`]).
pub async fn latest(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TrackPage>, RestError> {
    let q = Query::parse(raw.as_deref());
    let limit = q.int_clamped("limit", 50, 1, 100)?;
    let key = parse_cursor(q.str("cursor"))?;
    let artist = q.str("artist_did").filter(|d| !d.is_empty());
    if !q.all("tags").is_empty() {
        // No track carries tags: a tag filter matches nothing.
        return Ok(Json(TrackPage { tracks: Vec::new(), next_cursor: None, has_more: false }));
    }
    let page = match artist.map(Did::new) {
        // One artist's tracks are that artist's page.
        Some(Ok(did)) => {
            let rows = feeds::by_actor(&state.db, &did, &key, limit + 1).await?;
            load_page(&state, rows, limit, Context::View).await?.shown(&state)
        }
        // Not a DID: no tracks either.
        Some(Err(_)) => TrackPage { tracks: Vec::new(), next_cursor: None, has_more: false },
        None => everyone(&state, &key, limit).await?.shown(&state),
    };
    Ok(Json(page))
}

/// A page of everyone's latest tracks after `key`, as `GET /tracks/` lists them (a list: the
/// list-hidden labels apply). The home page shows the first one.
pub async fn everyone(state: &AppState, key: &TimeKey, limit: i64) -> Result<LoadedPage, RestError> {
    let rows = crate::search::latest(&state.db, &state.caches.search, key, limit + 1).await?;
    load_page(state, rows, limit, Context::List).await
}

/// A page of tracks hydrated, to be presented as JSON or as values.
pub struct LoadedPage {
    uris: Vec<AtUri>,
    loaded: Loaded,
    next_cursor: Option<String>,
}

impl LoadedPage {
    /// The page as the API writes it (kept JSON views).
    pub fn shown(self, state: &AppState) -> TrackPage {
        self.present(|l, uris| l.shown(state, uris, true))
    }

    /// The page as values (the home page renders them).
    pub fn responses(self, state: &AppState) -> TrackPage<TrackResponse> {
        self.present(|l, uris| l.responses(state, uris, true))
    }

    fn present<T>(self, tracks: impl FnOnce(&Loaded, &[AtUri]) -> Vec<T>) -> TrackPage<T> {
        let has_more = self.next_cursor.is_some();
        TrackPage { tracks: tracks(&self.loaded, &self.uris), next_cursor: self.next_cursor, has_more }
    }
}

/// Cuts `rows` (fetched with one more than `limit`) into a page and hydrates its tracks.
async fn load_page(
    state: &AppState,
    rows: Vec<Skel>,
    limit: i64,
    context: Context,
) -> Result<LoadedPage, RestError> {
    let (rows, next_cursor) = page(rows, limit, |s| (s.at, s.uri.as_str()));
    let uris: Vec<AtUri> = rows.into_iter().map(|s| s.uri).collect();
    let loaded = present::load_tracks(state, &uris, context).await?;
    Ok(LoadedPage { uris, loaded, next_cursor })
}

/// `GET /tracks/top`: most liked within `period` (`all_time`, `month`, `week`, `day`), or with
/// `sort=plays` most played (published teal.fm plays).
pub async fn top(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Shown>>, RestError> {
    let q = Query::parse(raw.as_deref());
    let limit = q.int_clamped("limit", 10, 1, 50)?;
    let name = q.str("period").unwrap_or("all_time");
    let period = Period::parse(name).filter(|_| name != "all").ok_or_else(|| {
        RestError::invalid(
            "query",
            "period",
            "literal_error",
            "Input should be 'all_time', 'month', 'week' or 'day'",
            name,
        )
    })?;
    let sort = q.str("sort").unwrap_or("likes");
    let metric = Metric::parse(sort).ok_or_else(|| {
        RestError::invalid("query", "sort", "literal_error", "Input should be 'likes' or 'plays'", sort)
    })?;
    let ranking = ranking::ranking(&state, metric, period).await?;
    let uris: Vec<AtUri> = ranking.iter().take(limit as usize).map(|r| r.uri.clone()).collect();
    let loaded = present::load_tracks(&state, &uris, Context::List).await?;
    Ok(Json(loaded.shown(&state, &uris, false)))
}

/// The visible track with public id `id` (a path segment), hydrated.
async fn by_id(state: &AppState, id: &str) -> Result<(AtUri, Loaded), RestError> {
    let id = parse_int("path", "track_id", id)?;
    let uri = tracks::uri_by_id(&state.db, id).await?.ok_or_else(|| RestError::not_found("track"))?;
    visible(state, uri).await
}

async fn visible(state: &AppState, uri: AtUri) -> Result<(AtUri, Loaded), RestError> {
    let loaded = present::load_tracks(state, std::slice::from_ref(&uri), Context::View).await?;
    if loaded.visible(std::slice::from_ref(&uri)).is_empty() {
        return Err(RestError::not_found("track"));
    }
    Ok((uri, loaded))
}

/// `GET /tracks/{id}`.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Shown>, RestError> {
    let (uri, loaded) = by_id(&state, &id).await?;
    loaded.shown(&state, &[uri], false).pop().map(Json).ok_or_else(|| RestError::not_found("track"))
}

/// `GET /tracks/by-uri?uri=`.
pub async fn by_uri(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Shown>, RestError> {
    let q = Query::parse(raw.as_deref());
    // Not an AT-URI: not indexed either.
    let uri = AtUri::new(q.required_str("uri", 1, 8192)?).map_err(|_| RestError::not_found("track"))?;
    let (uri, loaded) = visible(&state, uri).await?;
    loaded.shown(&state, &[uri], false).pop().map(Json).ok_or_else(|| RestError::not_found("track"))
}

/// `GET /tracks/{id}/likes`: every account that liked it, most recent like first.
pub async fn likes(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, RestError> {
    let (uri, _) = by_id(&state, &id).await?;
    let rows = social::likes_of(&state.db, &uri, &TimeKey::newest(), ALL_CAP).await?;
    let (rows, h) = Hydrator::new(&state, None).records(rows).await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|l| {
            let u = present::user_basic(&state, &h, &l.did);
            json!({
                "did": u.did, "handle": u.handle, "display_name": u.display_name,
                "avatar_url": u.avatar_url, "liked_at": iso(l.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "count": users.len(), "users": users })))
}

/// A stable integer id for a record that plyr.fm numbers itself (comments): 52 bits of the
/// FNV-1a hash of its URI.
pub fn record_number(uri: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uri.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::try_from(h >> 12).unwrap_or(i64::MAX).max(1)
}

/// `GET /tracks/{id}/comments`: timed comments in playback order. Shown whatever the artist's
/// plyr.fm preference (which no record carries): see `docs/API.md`.
pub async fn comments(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let (uri, _) = by_id(&state, &id).await?;
    let rows = social::comments_on(&state.db, &uri, None, ALL_CAP).await?;
    let (rows, h) = Hydrator::new(&state, None).records(rows).await?;
    let comments: Vec<Value> = rows
        .iter()
        .map(|c| {
            let u = present::user_basic(&state, &h, &c.did);
            json!({
                "id": record_number(&c.uri), "user_did": u.did, "user_handle": u.handle,
                "user_display_name": u.display_name, "user_avatar_url": u.avatar_url,
                "text": c.text, "timestamp_ms": c.timestamp_ms, "created_at": iso(c.created_at),
                "updated_at": c.updated_at.map(iso),
            })
        })
        .collect();
    Ok(Json(json!({ "comments_enabled": true, "count": comments.len(), "comments": comments })))
}

/// `GET /tracks/tags`: tags live only in plyr.fm's database, so there are none.
pub async fn tags(RawQuery(raw): RawQuery) -> Result<Json<Vec<Value>>, RestError> {
    let q = Query::parse(raw.as_deref());
    q.int_in("limit", 20, 1, 100)?;
    Ok(Json(Vec::new()))
}

/// `GET /tracks/tags/{tag}`: no tag exists here, so every tag is plyr.fm's 404.
pub async fn tag(Path(tag): Path<String>) -> RestError {
    RestError::NotFound(format!("tag '{}' not found", tag.trim().to_lowercase()))
}
