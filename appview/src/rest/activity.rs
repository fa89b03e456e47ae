//! `/activity/` (what happened lately, from indexed records) and `/stats` (totals).

use axum::Json;
use axum::extract::{RawQuery, State};
use plyr_atproto::AtUri;
use serde_json::{Value, json};

use super::present::{self, iso};
use super::query::Query;
use super::slug::slugify;
use super::{RestError, page, parse_cursor};
use crate::AppState;
use crate::db::rest::{self as rest_db, ActivityRow};
use crate::db::tracks;
use crate::hydrate::{Hydration, Hydrator};

/// `GET /activity/`: likes, new tracks, comments, new playlists and albums, and tracks added
/// to playlists, newest first; `cursor` as `/tracks/` (the ISO time of the previous page's last
/// event, with its URI when the page ended inside a group sharing that time).
pub async fn activity(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    let q = Query::parse(raw.as_deref());
    let limit = q.int_clamped("limit", 20, 1, 100)?;
    let key = parse_cursor(q.str("cursor"))?;
    let rows = rest_db::activity(&state.db, &key, limit + 1).await?;
    let (rows, next_cursor) = page(rows, limit, |r| (r.at, r.uri.as_str()));
    let has_more = next_cursor.is_some();

    let hydrator = Hydrator::new(&state, None).listing();
    let track_uris: Vec<AtUri> = rows.iter().filter_map(|r| r.track_uri.clone()).collect();
    let list_uris: Vec<AtUri> = rows.iter().filter_map(|r| r.list_uri.clone()).collect();
    let ((rows, ah), th, lh) =
        tokio::try_join!(hydrator.records(rows), hydrator.tracks(&track_uris), hydrator.lists(&list_uris))?;
    let events: Vec<Value> = rows.iter().filter_map(|r| event(&state, r, &th, &lh, &ah)).collect();
    Ok(Json(json!({ "events": events, "next_cursor": next_cursor, "has_more": has_more })))
}

/// One visible event, or `None` when its track or list may not be shown (or is gone).
fn event(state: &AppState, r: &ActivityRow, th: &Hydration, lh: &Hydration, ah: &Hydration) -> Option<Value> {
    let track = match &r.track_uri {
        None => Value::Null,
        Some(uri) => {
            let t = th.track(uri)?;
            json!({
                "id": t.id, "title": t.title, "artist_handle": present::handle(state, th, &t.did),
                "image_url": t.image_url, "thumbnail_url": null,
                "artist_avatar_url": present::avatar(state, th, &t.did),
            })
        }
    };
    let collection = match &r.list_uri {
        None => Value::Null,
        Some(uri) => {
            let l = lh.list(uri)?;
            let album = l.list_type.as_deref() == Some("album");
            let name = l.name.clone().unwrap_or_else(|| "untitled".to_owned());
            json!({
                "type": if album { "album" } else { "playlist" }, "id": l.id, "image_url": null,
                "owner_handle": present::handle(state, lh, &l.did),
                "slug": if album { Some(slugify(&name)) } else { None }, "name": name,
            })
        }
    };
    Some(json!({
        "type": r.kind,
        "actor": present::user_basic(state, ah, &r.did),
        "track": track,
        "comment_text": r.text,
        "collection": collection,
        "created_at": iso(r.at),
    }))
}

/// `GET /stats`: totals over everything indexed (plays are not on the network: 0).
/// `GET /activity/histogram?days=N`: events per UTC day over the last `days` (7; 1..30),
/// oldest first, zero-filled, counted as `/activity/` lists them: `{buckets: [{date, count}]}`.
pub async fn histogram(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    let q = Query::parse(raw.as_deref());
    let days = q.int_in("days", 7, 1, 30)?;
    let now = chrono::Utc::now();
    let since = now - chrono::Duration::days(days - 1);
    let rows = rest_db::activity_per_day(&state.db, since, since.date_naive(), now.date_naive()).await?;
    let buckets: Vec<Value> = rows
        .iter()
        .map(|(day, n)| json!({ "date": day.format("%Y-%m-%d").to_string(), "count": n }))
        .collect();
    Ok(Json(json!({ "buckets": buckets })))
}

pub async fn stats(State(state): State<AppState>) -> Result<Json<Value>, RestError> {
    let t = tracks::totals(&state.db).await?;
    Ok(Json(json!({
        "total_plays": t.plays,
        "total_tracks": t.tracks,
        "total_artists": t.artists,
        "total_duration_seconds": t.duration_seconds,
    })))
}
