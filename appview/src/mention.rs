//! Leaflet's mention lookup, `GET /xrpc/parts.page.mention.search`: the hits of plyr.fm's search
//! (`rest::search`) merged by relevance and presented as mention items linking to the plyr.fm
//! frontend (`--frontend-url`). Not one of our lexicons, so its parameters are checked here; its
//! errors are XRPC's, as for any `/xrpc/` method.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::rest::RestError;
use crate::rest::query::Query;
use crate::rest::search::{KINDS, SearchItem, search};
use crate::{AppState, XrpcError};

/// `GET /xrpc/parts.page.mention.search`: Leaflet's mention lookup (not one of our lexicons, so
/// its parameters are checked here). Errors are XRPC's, as for any `/xrpc/` method.
pub async fn search_mentions(state: &AppState, raw: Option<&str>) -> Result<Response, XrpcError> {
    let q = Query::parse(raw);
    let bad = |m: &str| XrpcError::InvalidRequest(m.to_owned());
    q.str("service").ok_or_else(|| bad("service is required"))?;
    let text = q.str("search").ok_or_else(|| bad("search is required"))?;
    if text.is_empty() || text.chars().count() > 100 {
        return Err(bad("search must be 1 to 100 characters"));
    }
    let limit = match q.str("limit") {
        None => 20,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| bad("limit must be 1 to 50"))?,
    };
    if text.chars().count() < 2 {
        return Ok(Json(json!({ "results": [] })).into_response());
    }
    let kinds: Vec<&str> = match q.str("scope") {
        Some(s) if KINDS.contains(&s) => vec![s],
        _ => KINDS.to_vec(),
    };
    let mut results = search(state, text, &kinds, limit).await.map_err(|e| match e {
        RestError::Unavailable(m) => XrpcError::Unavailable(m),
        other => XrpcError::Internal(other.to_string()),
    })?;
    results.sort_by(|a, b| b.relevance().total_cmp(&a.relevance()));
    results.truncate(limit as usize);
    let base = state.options.frontend_url.trim_end_matches('/');
    let items: Vec<Value> = results.iter().map(|r| mention_item(base, r)).collect();
    Ok(Json(json!({ "results": items })).into_response())
}

/// One mention item linking to the frontend at `base`.
fn mention_item(base: &str, r: &SearchItem) -> Value {
    let (href, name, description, label, embed, icon) = match r {
        SearchItem::Track { id, title, artist_display_name, image_url, .. } => (
            format!("{base}/track/{id}"),
            title.clone(),
            format!("by {artist_display_name}"),
            ("track", "Tracks"),
            (format!("{base}/embed/track/{id}"), 160),
            image_url.clone(),
        ),
        SearchItem::Artist { handle, display_name, avatar_url, .. } => (
            format!("{base}/u/{handle}"),
            display_name.clone(),
            format!("@{handle}"),
            ("artist", "Artists"),
            (format!("{base}/embed/u/{handle}"), 400),
            avatar_url.clone(),
        ),
        SearchItem::Album { title, slug, artist_handle, artist_display_name, image_url, .. } => (
            format!("{base}/u/{artist_handle}/album/{slug}"),
            title.clone(),
            format!("by {artist_display_name}"),
            ("album", "Albums"),
            (format!("{base}/embed/album/{artist_handle}/{slug}"), 400),
            image_url.clone(),
        ),
        SearchItem::Playlist { id, name, owner_display_name, track_count, image_url, .. } => (
            format!("{base}/playlist/{id}"),
            name.clone(),
            format!("by {owner_display_name} · {track_count} tracks"),
            ("playlist", "Playlists"),
            (format!("{base}/embed/playlist/{id}"), 400),
            image_url.clone(),
        ),
    };
    let mut item = json!({
        "uri": href, "name": name, "description": description, "href": href,
        "labels": [{ "text": label.0 }],
        "embed": { "src": embed.0, "width": 600, "height": embed.1 },
        "subscope": { "scope": r.kind(), "label": label.1 },
    });
    if let Some(icon) = icon {
        item["icon"] = json!(icon);
    }
    item
}
