//! plyr.fm's site routes the web frontend asks for on every page: `/config` (limits, legal
//! contacts, `--contact-email` and the rest of [`crate::config::SiteOptions`]), `/health`,
//! `/auth/me` (this service has no sessions: always plyr.fm's anonymous 401) and
//! `/sitemap-data`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::RestError;
use crate::AppState;
use crate::db::rest as rest_db;

/// Tags plyr.fm hides from anonymous listeners by default.
pub const DEFAULT_HIDDEN_TAGS: [&str; 3] = ["ai", "ai-slop", "suno"];
/// Most entries of each `/sitemap-data` list (a sitemap file holds at most 50,000 URLs).
const SITEMAP_LIMIT: i64 = 50_000;

/// `GET /config`.
pub async fn config(State(state): State<AppState>) -> Json<Value> {
    let site = &state.options.site;
    Json(json!({
        "max_upload_size_mb": 1536,
        "max_image_size_mb": 20,
        "browser_observability": false,
        "default_hidden_tags": DEFAULT_HIDDEN_TAGS,
        "bufo_exclude_patterns": ["^bigbufo_"],
        "bufo_include_patterns": ["bigbufo_0_0", "bigbufo_2_1"],
        "contact_email": site.contact_email,
        "privacy_email": site.privacy_email.as_ref().unwrap_or(&site.contact_email),
        "dmca_email": site.dmca_email,
        "dmca_registration_number": site.dmca_registration_number,
        "terms_last_updated": site.terms_last_updated,
    }))
}

/// `GET /health`: the process answers (`/xrpc/_health` also checks the database).
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /auth/me`: nobody is signed in here.
pub async fn auth_me() -> RestError {
    RestError::Unauthorized("not authenticated - login required".into())
}

/// `GET /sitemap-data`: `{tracks: [{id, updated}], artists: [{handle, updated}], albums:
/// [{handle, slug, updated}]}`, days as `YYYY-MM-DD`, newest first, each list at most 50,000.
pub async fn sitemap_data(State(state): State<AppState>) -> Result<Json<Value>, RestError> {
    let s = rest_db::sitemap(&state.db, SITEMAP_LIMIT).await?;
    let tracks: Vec<Value> = s.tracks.iter().map(|(id, d)| json!({ "id": id, "updated": d })).collect();
    let artists: Vec<Value> = s.artists.iter().map(|(h, d)| json!({ "handle": h, "updated": d })).collect();
    let albums: Vec<Value> = s
        .albums
        .iter()
        .map(|(h, name, d)| json!({ "handle": h, "slug": super::slug::slugify(name), "updated": d }))
        .collect();
    Ok(Json(json!({ "tracks": tracks, "artists": artists, "albums": albums })))
}
