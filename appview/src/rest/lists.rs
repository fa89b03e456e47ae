//! Albums and playlists (`fm.plyr.list` records by `listType`): `/albums/{handle}`,
//! `/albums/{handle}/{slug}`, `/lists/playlists/{id}`, `/lists/playlists/by-artist/{did}`,
//! `/lists/playlists/by-uri`, `/lists/by-uri`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;
use serde_json::{Value, json};

use super::RestError;
use super::present::{self, TrackResponse, iso};
use super::query::Query;
use super::slug::slugify;
use crate::AppState;
use crate::cursor::TimeKey;
use crate::db::lists::{self, ListRow};
use crate::db::{actors, rest as rest_db};
use crate::hydrate::{Hydration, Hydrator};
use crate::moderation::Context;

/// Most items a list record may hold (the lexicon's limit).
const ITEMS_CAP: i64 = 500;
/// Most playlists listed for one artist.
const LISTS_CAP: i64 = 1000;

/// plyr.fm's `PlaylistResponse`.
#[derive(Debug, Serialize)]
pub struct PlaylistResponse {
    pub id: String,
    pub name: String,
    pub owner_did: Did,
    pub owner_handle: String,
    pub track_count: i64,
    pub image_url: Option<String>,
    pub show_on_profile: bool,
    pub atproto_record_uri: Option<AtUri>,
    pub is_private: bool,
    pub created_at: String,
    pub preview_thumbnails: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlaylistWithTracks {
    #[serde(flatten)]
    pub playlist: PlaylistResponse,
    pub tracks: Vec<TrackResponse>,
}

fn playlist(state: &AppState, h: &Hydration, l: &ListRow, covers: Vec<String>) -> PlaylistResponse {
    PlaylistResponse {
        id: l.id.clone(),
        name: l.name.clone().unwrap_or_else(|| "untitled".to_owned()),
        owner_did: l.did.clone(),
        owner_handle: present::handle(state, h, &l.did),
        track_count: i64::from(l.item_count),
        image_url: None,
        show_on_profile: true,
        atproto_record_uri: Some(l.uri.clone()),
        is_private: false,
        created_at: iso(l.created_at),
        preview_thumbnails: covers,
    }
}

/// The first four distinct covers, in order.
fn first_covers<'a>(images: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in images {
        if out.len() == 4 {
            break;
        }
        if !out.iter().any(|o| o == i) {
            out.push(i.to_owned());
        }
    }
    out
}

/// The visible list at `uri` of `list_type`, with its hydration.
async fn visible_list(
    state: &AppState,
    uri: &AtUri,
    list_type: &str,
) -> Result<Option<(ListRow, Hydration)>, RestError> {
    let h = Hydrator::new(state, None).lists(std::slice::from_ref(uri)).await?;
    let row = h.list(uri).filter(|l| l.list_type.as_deref() == Some(list_type)).cloned();
    Ok(row.map(|r| (r, h)))
}

/// A playlist with its tracks in list order (items not indexed or not visible are skipped).
async fn playlist_detail(state: &AppState, uri: &AtUri) -> Result<PlaylistWithTracks, RestError> {
    let (row, h) =
        visible_list(state, uri, "playlist").await?.ok_or_else(|| RestError::not_found("playlist"))?;
    let items = lists::items(&state.db, uri, -1, ITEMS_CAP).await?;
    let uris: Vec<AtUri> = items.into_iter().map(|i| i.subject_uri).collect();
    let loaded = present::load_tracks(state, &uris, Context::View).await?;
    let tracks = loaded.responses(state, &uris, false);
    let covers = first_covers(tracks.iter().filter_map(|t| t.image_url.as_deref()));
    let mut playlist = playlist(state, &h, &row, covers);
    playlist.track_count = tracks.len() as i64;
    Ok(PlaylistWithTracks { playlist, tracks })
}

/// Whether `s` is a UUID in its hyphenated text form.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// `GET /lists/playlists/{id}`.
pub async fn playlist_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlaylistWithTracks>, RestError> {
    let not_found = || RestError::not_found("playlist");
    if !is_uuid(&id) {
        return Err(not_found());
    }
    let uri = lists::uri_by_id(&state.db, &id.to_ascii_lowercase()).await?.ok_or_else(not_found)?;
    playlist_detail(&state, &uri).await.map(Json)
}

/// `GET /lists/playlists/{id}/meta`: the playlist without its tracks (link previews).
pub async fn playlist_meta(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlaylistResponse>, RestError> {
    let not_found = || RestError::not_found("playlist");
    if !is_uuid(&id) {
        return Err(not_found());
    }
    let uri = lists::uri_by_id(&state.db, &id.to_ascii_lowercase()).await?.ok_or_else(not_found)?;
    let one = std::slice::from_ref(&uri);
    let (found, covers) = tokio::try_join!(visible_list(&state, &uri, "playlist"), async {
        rest_db::list_covers(&state.db, one).await.map_err(RestError::from)
    })?;
    let (row, h) = found.ok_or_else(not_found)?;
    let covers = first_covers(covers.iter().map(|(_, c)| c.as_str()));
    Ok(Json(playlist(&state, &h, &row, covers)))
}

/// `GET /lists/playlists/by-uri?uri=`.
pub async fn playlist_by_uri(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<PlaylistWithTracks>, RestError> {
    let q = Query::parse(raw.as_deref());
    // Not an AT-URI: not indexed either.
    let uri = AtUri::new(q.required_str("uri", 1, 8192)?).map_err(|_| RestError::not_found("playlist"))?;
    playlist_detail(&state, &uri).await.map(Json)
}

/// `GET /lists/playlists/by-artist/{did}`: the artist's playlists, newest first.
pub async fn playlists_by_artist(
    State(state): State<AppState>,
    Path(did): Path<String>,
) -> Result<Json<Vec<PlaylistResponse>>, RestError> {
    // Not a DID: no playlists either.
    let Ok(did) = Did::new(&did) else { return Ok(Json(Vec::new())) };
    let skel = lists::by_actor(&state.db, &did, Some("playlist"), &TimeKey::newest(), LISTS_CAP).await?;
    let uris: Vec<AtUri> = skel.into_iter().map(|s| s.uri).collect();
    let (h, covers) = tokio::try_join!(
        async { Hydrator::new(&state, None).lists(&uris).await.map_err(RestError::from) },
        async { rest_db::list_covers(&state.db, &uris).await.map_err(RestError::from) },
    )?;
    let mut by_list: HashMap<AtUri, Vec<String>> = HashMap::new();
    for (list, image) in covers {
        by_list.entry(list).or_default().push(image);
    }
    Ok(Json(
        uris.iter()
            .filter_map(|u| h.list(u))
            .map(|l| {
                let covers = by_list.get(&l.uri).map(|c| first_covers(c.iter().map(String::as_str)));
                playlist(&state, &h, l, covers.unwrap_or_default())
            })
            .collect(),
    ))
}

/// The DID of a verified handle, or 404 `artist not found`.
async fn artist_did(state: &AppState, handle: &str) -> Result<Did, RestError> {
    actors::did_by_handle(&state.db, handle).await?.ok_or_else(|| RestError::not_found("artist"))
}

/// `GET /albums/{handle}`: the artist's albums holding at least one indexed track, by title.
pub async fn albums_of(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<Value>, RestError> {
    let did = artist_did(&state, &handle).await?;
    let h = Hydrator::new(&state, None).actors(std::slice::from_ref(&did)).await?;
    // `did` has a verified handle, so it is indexed: absent here means hidden.
    if h.actor(&did).is_none() {
        return Err(RestError::not_found("artist"));
    }
    let avatar = present::avatar(&state, &h, &did);
    let mut albums = rest_db::albums_by_actor(&state.db, &did).await?;
    albums.retain(|a| a.track_count > 0);
    albums.sort_by_key(|a| a.name.to_lowercase());
    let albums: Vec<Value> = albums
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id, "title": a.name, "slug": slugify(&a.name), "track_count": a.track_count,
                "total_plays": a.total_plays, "image_url": a.image_url.or_else(|| avatar.clone()),
            })
        })
        .collect();
    Ok(Json(json!({ "albums": albums })))
}

/// `GET /albums/{handle}/{slug}`: the album whose title slugifies to `slug`, with its tracks in
/// list order.
pub async fn album(
    State(state): State<AppState>,
    Path((handle, slug)): Path<(String, String)>,
) -> Result<Json<Value>, RestError> {
    let not_found = || RestError::not_found("album");
    let did = artist_did(&state, &handle).await?;
    let albums = rest_db::albums_by_actor(&state.db, &did).await?;
    let found = albums.into_iter().find(|a| slugify(&a.name) == slug).ok_or_else(not_found)?;
    let (row, h) = visible_list(&state, &found.uri, "album").await?.ok_or_else(not_found)?;
    let items = lists::items(&state.db, &row.uri, -1, ITEMS_CAP).await?;
    let uris: Vec<AtUri> = items.into_iter().map(|i| i.subject_uri).collect();
    let loaded = present::load_tracks(&state, &uris, Context::View).await?;
    let tracks = loaded.responses(&state, &uris, true);
    let image = tracks.iter().find_map(|t| t.image_url.clone()).or_else(|| present::avatar(&state, &h, &did));
    let metadata = json!({
        "id": row.id, "title": found.name, "slug": slug, "description": null,
        "artist": present::display_name(&state, &h, &did), "artist_handle": present::handle(&state, &h, &did),
        "artist_did": did, "track_count": tracks.len(),
        "total_plays": tracks.iter().map(|t| t.play_count).sum::<i64>(), "image_url": image,
        "list_uri": row.uri,
    });
    Ok(Json(json!({ "metadata": metadata, "tracks": tracks })))
}

/// `GET /lists/by-uri?uri=`: what a list URI is on plyr.fm's site (an album page or a playlist).
pub async fn list_by_uri(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    let q = Query::parse(raw.as_deref());
    // Not an AT-URI: not indexed either.
    let uri = AtUri::new(q.required_str("uri", 1, 8192)?).map_err(|_| RestError::not_found("list"))?;
    let h = Hydrator::new(&state, None).lists(std::slice::from_ref(&uri)).await?;
    let row = h.list(&uri).ok_or_else(|| RestError::not_found("list"))?;
    match (row.list_type.as_deref(), row.name.as_deref()) {
        (Some("album"), Some(name)) => Ok(Json(json!({
            "type": "album", "id": row.id, "handle": present::handle(&state, &h, &row.did), "slug": slugify(name),
        }))),
        (Some("playlist"), _) => {
            Ok(Json(json!({ "type": "playlist", "id": row.id, "handle": null, "slug": null })))
        }
        _ => Err(RestError::not_found("list")),
    }
}
