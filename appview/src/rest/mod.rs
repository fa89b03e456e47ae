//! The plyr.fm-compatible REST surface: the public read endpoints of plyr.fm's API, at its
//! exact paths (collection roots with a trailing slash, `/stats` without), with its parameters,
//! defaults and response shapes, so plyr.fm's web frontend, Python SDK, CLI and MCP server work
//! when pointed here. `docs/API.md` lists the routes and the values chosen for what only
//! plyr.fm's private database knows.
//!
//! The read path is the XRPC one: skeleton queries from [`crate::db`], the shared
//! [`Hydrator`](crate::hydrate::Hydrator) and caches, the same [`rules`](crate::rules), and
//! presenters in [`present`] built from the same rows. These routes are anonymous: a
//! `session_id` cookie or an `Authorization: Bearer` token (the SDK sends its token on every
//! request) is ignored, as plyr.fm ignores unknown ones on public reads.

pub mod activity;
pub mod audio;
pub mod cors;
pub mod error;
pub mod lists;
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

/// Every REST route.
pub fn router() -> Router<AppState> {
    Router::new()
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

/// Cuts a newest-first page fetched with one row more than `limit` so that no timestamp is split
/// across two pages: plyr.fm's cursors are a bare time compared with a strict `<`, so a page
/// that ended inside a group of equal times would make the next page skip the rest of the group.
/// `Ok((page, has_more))`, or `Err(rows)` when the whole page shares one time (the caller then
/// serves that time's rows whole).
pub fn cut_at_ties<T>(
    mut rows: Vec<T>,
    limit: i64,
    at: impl Fn(&T) -> DateTime<Utc>,
) -> Result<(Vec<T>, bool), Vec<T>> {
    let limit = usize::try_from(limit).unwrap_or(1).max(1);
    if rows.len() <= limit {
        return Ok((rows, false));
    }
    let boundary = at(&rows[limit - 1]);
    if at(&rows[limit]) != boundary {
        rows.truncate(limit);
        return Ok((rows, true));
    }
    match rows[..limit].iter().position(|r| at(r) == boundary) {
        Some(0) | None => Err(rows),
        Some(keep) => {
            rows.truncate(keep);
            Ok((rows, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cut_at_ties;
    use chrono::DateTime;

    #[test]
    fn pages_never_split_a_timestamp() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).expect("time");
        let page = |secs: &[i64], limit| {
            cut_at_ties(secs.iter().map(|s| t(*s)).collect(), limit, |x| *x)
                .map(|(rows, more)| (rows.len(), more))
                .map_err(|rows| rows.len())
        };
        assert_eq!(page(&[9, 8, 7], 3), Ok((3, false)));
        assert_eq!(page(&[9, 8, 7, 6], 3), Ok((3, true)));
        assert_eq!(page(&[9, 8, 7, 7], 3), Ok((2, true)));
        assert_eq!(page(&[9, 7, 7, 7], 3), Ok((1, true)));
        assert_eq!(page(&[7, 7, 7, 7], 3), Err(4));
    }
}
