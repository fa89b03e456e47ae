//! The plyr.fm-compatible REST surface: the public read endpoints of plyr.fm's API, at its
//! exact paths (collection roots with a trailing slash, `/stats` without), with its parameters,
//! defaults and response shapes, so plyr.fm's web frontend, Python SDK, CLI and MCP server work
//! when pointed here. `docs/API.md` lists the routes and the values chosen for what only
//! plyr.fm's private database knows.
//!
//! The read path is the XRPC one: skeleton queries from [`crate::db`], the shared
//! [`Hydrator`](crate::hydrate::Hydrator) and caches (so the same [`rules`](crate::rules),
//! applied by the hydration), and presenters in [`present`] built from the same rows. These
//! routes are anonymous: a `session_id` cookie or an `Authorization: Bearer` token (the SDK
//! sends its token on every request) is ignored, as plyr.fm ignores unknown ones on public
//! reads.
//!
//! Two additions of this service's own sit beside them: a browser asking for `/` gets the
//! [`home`] page instead of plyr.fm's JSON, and [`lexicons`] serves the lexicon documents.

pub mod activity;
pub mod audio;
pub mod cors;
pub mod error;
pub mod home;
pub mod html;
pub mod lexicons;
pub mod lists;
pub mod meta;
pub mod moderation;
pub mod now_playing;
pub mod people;
pub mod present;
pub mod query;
pub mod search;
pub mod slug;
pub mod tracks;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

pub use error::RestError;

use crate::AppState;
use crate::cursor::TimeKey;

/// Every REST route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::root))
        .route("/lexicons/", get(lexicons::index))
        .route("/lexicons", get(add_slash))
        .route("/lexicons/{name}", get(lexicons::document))
        .route("/tracks/", get(tracks::latest))
        .route("/tracks", get(add_slash))
        .route("/tracks/top", get(tracks::top))
        .route("/tracks/by-uri", get(tracks::by_uri))
        .route("/tracks/tags", get(tracks::tags))
        .route("/tracks/tags/{*tag}", get(tracks::tag))
        .route("/tracks/{id}", get(tracks::get))
        .route("/tracks/{id}/likes", get(tracks::likes))
        .route("/tracks/{id}/comments", get(tracks::comments))
        .route("/users/{handle}/likes", get(people::likes))
        .route("/artists/batch", post(people::batch))
        .route("/artists/by-handle/{handle}", get(people::by_handle))
        .route("/artists/{did}", get(people::by_did))
        .route("/albums/{handle}", get(lists::albums_of))
        .route("/albums/{handle}/{slug}", get(lists::album))
        .route("/lists/playlists/by-artist/{did}", get(lists::playlists_by_artist))
        .route("/lists/playlists/by-uri", get(lists::playlist_by_uri))
        .route("/lists/playlists/{id}", get(lists::playlist_by_id))
        .route("/lists/by-uri", get(lists::list_by_uri))
        .route("/search/", get(search::rest_search))
        .route("/search", get(add_slash))
        .route("/activity/", get(activity::activity))
        .route("/activity", get(add_slash))
        .route("/stats", get(activity::stats))
        .route("/stats/", get(drop_slash))
        .route("/moderation/sensitive-images", get(moderation::sensitive_images))
        .route("/config", get(meta::config))
        .route("/health", get(meta::health))
        .route("/auth/me", get(meta::auth_me))
        .route("/sitemap-data", get(meta::sitemap_data))
        .route("/activity/histogram", get(activity::histogram))
        .route("/artists/{did}/analytics", get(people::analytics))
        .route("/artists/{did}/refresh-avatar", post(people::refresh_avatar))
        .route("/lists/playlists/{id}/meta", get(lists::playlist_meta))
        .route("/now-playing/by-handle/{handle}", get(now_playing::by_handle))
        .route("/now-playing/by-did/{did}", get(now_playing::by_did))
        .route("/oembed", get(audio::oembed))
        .route("/audio/{file_id}", get(audio::stream))
        .route("/audio/{file_id}/download", get(audio::download))
}

/// FastAPI's `redirect_slashes`: a 307 to the declared form of the path, query kept.
fn redirect_to(path: &str, uri: &Uri) -> Response {
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    match HeaderValue::from_str(&target) {
        Ok(v) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => RestError::NotFound("Not Found".into()).into_response(),
    }
}

async fn add_slash(uri: Uri) -> Response {
    redirect_to(&format!("{}/", uri.path()), &uri)
}

async fn drop_slash(uri: Uri) -> Response {
    redirect_to(uri.path().trim_end_matches('/'), &uri)
}

/// The most bytes of a cursor's AT-URI part.
const MAX_CURSOR_URI: usize = 8192;

/// Parses a REST feed cursor into the key the next page starts after. plyr.fm's cursor is an
/// ISO time (see [`present::parse_iso`]) meaning "strictly older"; a page that ends inside a
/// group of items sharing one time adds the last item's AT-URI, `<time>::<at-uri>`, so that the
/// rest of the group comes next. `None` is the start of the feed.
pub fn parse_cursor(cursor: Option<&str>) -> Result<TimeKey, RestError> {
    let Some(cursor) = cursor else { return Ok(TimeKey::newest()) };
    let (time, uri) = match cursor.split_once("::") {
        Some((time, uri)) if uri.starts_with("at://") && uri.len() <= MAX_CURSOR_URI => (time, uri),
        Some(_) => return Err(RestError::BadRequest("invalid cursor format".into())),
        // A bare time sorts after every item of that time (`""` is the least URI).
        None => (cursor, ""),
    };
    Ok(TimeKey { at: present::parse_iso(time)?, uri: uri.to_owned() })
}

/// Cuts a newest-first page ordered by `(time, uri)`, fetched with one row more than `limit`:
/// the first `limit` rows and the next page's cursor, if there is a next page. The cursor is the
/// last row's ISO time when the next row is older (plyr.fm's form), else `<time>::<uri>`.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (DateTime<Utc>, &str),
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(1).max(1);
    if rows.len() <= limit {
        return (rows, None);
    }
    let (at, uri) = key(&rows[limit - 1]);
    let cursor =
        if key(&rows[limit]).0 == at { format!("{}::{uri}", present::iso(at)) } else { present::iso(at) };
    rows.truncate(limit);
    (rows, Some(cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_split_ties_with_a_uri_cursor() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).expect("time");
        let rows = |v: &[(i64, &'static str)]| v.iter().map(|(s, u)| (t(*s), *u)).collect::<Vec<_>>();
        let cut = |v: &[(i64, &'static str)], limit| {
            let (rows, cursor) = page(rows(v), limit, |r| (r.0, r.1));
            (rows.len(), cursor)
        };
        assert_eq!(cut(&[(9, "c"), (8, "b"), (7, "a")], 3), (3, None));
        assert_eq!(
            cut(&[(9, "d"), (8, "c"), (7, "b"), (6, "a")], 3),
            (3, Some("1970-01-01T00:00:07+00:00".into()))
        );
        assert_eq!(
            cut(&[(7, "d"), (7, "c"), (7, "b"), (7, "a")], 3),
            (3, Some("1970-01-01T00:00:07+00:00::b".into()))
        );
    }

    #[test]
    fn cursors_parse_in_both_forms() {
        let at = DateTime::from_timestamp(7, 0).expect("time");
        assert_eq!(parse_cursor(None).expect("start"), TimeKey::newest());
        assert_eq!(
            parse_cursor(Some("1970-01-01T00:00:07+00:00")).expect("plyr.fm form"),
            TimeKey { at, uri: String::new() }
        );
        assert_eq!(
            parse_cursor(Some("1970-01-01T00:00:07 00:00::at://did:plc:a/fm.plyr.track/3k"))
                .expect("tie form"),
            TimeKey { at, uri: "at://did:plc:a/fm.plyr.track/3k".into() }
        );
        for bad in ["yesterday", "1970-01-01T00:00:07+00:00::x", "::at://x", "1970-01-01T00:00:07+00:00::"] {
            assert!(parse_cursor(Some(bad)).is_err(), "{bad}");
        }
    }
}
