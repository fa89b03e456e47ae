//! Search across kinds: plyr.fm's `GET /search/` (per-kind `limit`, a `type` filter, `counts`),
//! and [`search`], the hits per kind that Leaflet's mention lookup (`crate::mention`) merges
//! too. Both rank with the shared trigram queries (`db::search`); tags do not exist here, so
//! they never match.

use axum::Json;
use axum::extract::{RawQuery, State};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::RestError;
use super::present;
use super::query::Query;
use super::slug::slugify;
use crate::AppState;
use crate::db::Hit;
use crate::db::search::Query as SearchQuery;
use crate::hydrate::Hydrator;

/// The kinds plyr.fm searches, in the order results are concatenated.
pub const KINDS: [&str; 5] = ["tracks", "artists", "albums", "tags", "playlists"];

/// One search result, as plyr.fm's discriminated `SearchResult`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SearchItem {
    Track {
        id: i64,
        title: String,
        artist_handle: String,
        artist_display_name: String,
        image_url: Option<String>,
        relevance: f64,
    },
    Artist {
        did: Did,
        handle: String,
        display_name: String,
        avatar_url: Option<String>,
        relevance: f64,
    },
    Album {
        id: String,
        title: String,
        slug: String,
        artist_handle: String,
        artist_display_name: String,
        image_url: Option<String>,
        relevance: f64,
    },
    Playlist {
        id: String,
        name: String,
        owner_handle: String,
        owner_display_name: String,
        image_url: Option<String>,
        track_count: i64,
        relevance: f64,
    },
}

impl SearchItem {
    pub fn relevance(&self) -> f64 {
        match self {
            Self::Track { relevance, .. }
            | Self::Artist { relevance, .. }
            | Self::Album { relevance, .. }
            | Self::Playlist { relevance, .. } => *relevance,
        }
    }

    /// The plural kind (`tracks`, ...), as `counts` and mention scopes name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Track { .. } => "tracks",
            Self::Artist { .. } => "artists",
            Self::Album { .. } => "albums",
            Self::Playlist { .. } => "playlists",
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Up to `limit` visible hits of each kind in `kinds`, concatenated in [`KINDS`] order, each
/// kind by relevance.
pub async fn search(
    state: &AppState,
    raw: &str,
    kinds: &[&str],
    limit: i64,
) -> Result<Vec<SearchItem>, RestError> {
    let q = SearchQuery::new(raw);
    if q.text.is_empty() {
        return Ok(Vec::new());
    }
    let wants = |k: &str| kinds.contains(&k);
    let db = &state.db;
    let index = &state.caches.search;
    let none = || async { Ok::<Vec<Hit>, sqlx::Error>(Vec::new()) };
    let (tracks, artists, albums, playlists) = tokio::try_join!(
        async {
            if wants("tracks") { crate::search::tracks(db, index, &q, limit, 0).await } else { none().await }
        },
        async {
            if wants("artists") { crate::search::actors(db, index, &q, limit, 0).await } else { none().await }
        },
        async {
            if wants("albums") {
                crate::search::lists(db, index, &q, "album", limit).await
            } else {
                none().await
            }
        },
        async {
            if wants("playlists") {
                crate::search::lists(db, index, &q, "playlist", limit).await
            } else {
                none().await
            }
        },
    )?;
    let hydrator = Hydrator::new(state, None).listing();
    let mut out = Vec::new();

    let uris: Vec<AtUri> = tracks.iter().cloned().map(Hit::into_uri).collect();
    let h = hydrator.tracks(&uris).await?;
    for hit in &tracks {
        if let Some(t) = h.track(&hit.key) {
            out.push(SearchItem::Track {
                id: t.id,
                title: t.title.clone(),
                artist_handle: present::handle(state, &h, &t.did),
                artist_display_name: present::display_name(state, &h, &t.did),
                image_url: t.image_url.clone(),
                relevance: round3(hit.relevance),
            });
        }
    }

    let dids: Vec<Did> = artists.iter().cloned().map(Hit::into_did).collect();
    let h = hydrator.actors(&dids).await?;
    for (hit, did) in artists.iter().zip(&dids) {
        if h.actor(did).is_some() {
            let u = present::user_basic(state, &h, did);
            out.push(SearchItem::Artist {
                did: u.did,
                handle: u.handle,
                display_name: u.display_name,
                avatar_url: u.avatar_url,
                relevance: round3(hit.relevance),
            });
        }
    }

    let list_uris: Vec<AtUri> = albums.iter().chain(&playlists).cloned().map(Hit::into_uri).collect();
    let h = hydrator.lists(&list_uris).await?;
    let visible = |hit: &Hit| h.list(&hit.key);
    for hit in &albums {
        if let Some(l) = visible(hit) {
            let name = l.name.clone().unwrap_or_default();
            out.push(SearchItem::Album {
                id: l.id.clone(),
                slug: slugify(&name),
                title: name,
                artist_handle: present::handle(state, &h, &l.did),
                artist_display_name: present::display_name(state, &h, &l.did),
                image_url: None,
                relevance: round3(hit.relevance),
            });
        }
    }
    for hit in &playlists {
        if let Some(l) = visible(hit) {
            out.push(SearchItem::Playlist {
                id: l.id.clone(),
                name: l.name.clone().unwrap_or_default(),
                owner_handle: present::handle(state, &h, &l.did),
                owner_display_name: present::display_name(state, &h, &l.did),
                image_url: None,
                track_count: i64::from(l.item_count),
                relevance: round3(hit.relevance),
            });
        }
    }
    Ok(out)
}

/// `GET /search/?q=&type=&limit=`.
pub async fn rest_search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    let q = Query::parse(raw.as_deref());
    let text = q.required_str("q", 2, 100)?;
    let limit = q.int_in("limit", 20, 1, 50)?;
    let asked: Vec<String> = match q.str("type") {
        Some(t) => t.split(',').map(|k| k.trim().to_lowercase()).collect(),
        None => KINDS.iter().map(|k| (*k).to_owned()).collect(),
    };
    let kinds: Vec<&str> = KINDS.into_iter().filter(|k| asked.iter().any(|a| a == k)).collect();
    let mut results = search(&state, text, &kinds, limit).await?;
    let mut counts = Map::new();
    for k in KINDS {
        let n = results.iter().filter(|r| r.kind() == k).count();
        counts.insert(k.to_owned(), json!(n));
    }
    // A stable sort: equal relevance keeps the kinds' order.
    results.sort_by(|a, b| b.relevance().total_cmp(&a.relevance()));
    Ok(Json(json!({ "results": results, "counts": counts })))
}
