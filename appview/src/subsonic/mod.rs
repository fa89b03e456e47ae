//! The OpenSubsonic API (`/rest/<method>`, `/rest/<method>.view`, GET or form POST): the
//! protocol dozens of existing music players speak, browsing, searching and streaming the whole
//! indexed network without an account anywhere. Read-only: every write method answers that the
//! player should write to the listener's PDS. `docs/API.md` ("Subsonic") lists the methods, the
//! ids and the identity rule ([`identity`]).
//!
//! Each method is skeleton → hydration → presentation like every other read: the skeletons in
//! [`crate::db::subsonic`] (and the shared feeds, lists, likes and search), the shared
//! [`Hydrator`](crate::hydrate::Hydrator) (so the same visibility rules), then [`present`] and
//! the [`envelope`] in the format asked for.

pub mod browse;
pub mod envelope;
pub mod identity;
pub mod library;
pub mod media;
pub mod present;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use envelope::{Failure, Format};
use identity::Listener;

/// The routes: every path under `/rest/` is a method (one not known is a failed envelope).
pub fn router() -> Router<AppState> {
    Router::new().route("/rest/{*method}", get(handle).post(handle))
}

/// Most values a request may carry (query and form together).
const MAX_PARAMS: usize = 256;

/// A request's parameters: the query string's and, for a form POST, the body's, in order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>, form: Option<&[u8]>) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut add = |bytes: &[u8]| {
            for (k, v) in url::form_urlencoded::parse(bytes).take(MAX_PARAMS) {
                if pairs.len() < MAX_PARAMS {
                    pairs.push((k.into_owned(), v.into_owned()));
                }
            }
        };
        add(query.unwrap_or_default().as_bytes());
        if let Some(form) = form {
            add(form);
        }
        Params(pairs)
    }

    /// The first value of `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (`id=1&id=2`).
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter the method cannot do without (code 10 when absent or empty).
    pub fn required(&self, name: &str) -> Result<&str, Failure> {
        self.str(name).filter(|v| !v.is_empty()).ok_or_else(|| Failure::missing(name))
    }

    /// An integer, `default` when absent, clamped to `min..=max`; one that does not parse is
    /// refused (code 0).
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Failure> {
        match self.str(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => {
                v.trim().parse::<i64>().map(|n| n.clamp(min, max)).map_err(|_| Failure::invalid(name, v))
            }
        }
    }
}

/// What a method answers.
#[derive(Debug)]
pub enum Reply {
    /// Fields of an `ok` envelope.
    Body(Map<String, Value>),
    /// A redirect (stream, download, cover art) with extra headers.
    Redirect { location: String, headers: Vec<(header::HeaderName, HeaderValue)> },
}

impl Reply {
    /// An `ok` envelope with nothing more (`ping`).
    pub fn empty() -> Self {
        Reply::Body(Map::new())
    }

    /// An `ok` envelope with one field.
    pub fn of(name: &str, value: impl Serialize) -> Result<Self, Failure> {
        let value =
            serde_json::to_value(value).map_err(|e| Failure::generic(format!("encoding {name}: {e}")))?;
        let mut body = Map::new();
        body.insert(name.to_owned(), value);
        Ok(Reply::Body(body))
    }
}

/// What each method receives.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub params: &'a Params,
    pub listener: &'a Listener,
}

/// Methods that change something: this service only reads the network.
const WRITES: [&str; 27] = [
    "star",
    "unstar",
    "setRating",
    "scrobble",
    "createPlaylist",
    "updatePlaylist",
    "deletePlaylist",
    "createShare",
    "updateShare",
    "deleteShare",
    "createBookmark",
    "deleteBookmark",
    "savePlayQueue",
    "savePlayQueueByIndex",
    "createUser",
    "updateUser",
    "deleteUser",
    "changePassword",
    "jukeboxControl",
    "startScan",
    "addChatMessage",
    "createInternetRadioStation",
    "updateInternetRadioStation",
    "deleteInternetRadioStation",
    "createPodcastChannel",
    "deletePodcastChannel",
    "refreshPodcasts",
];

async fn handle(
    State(state): State<AppState>,
    Path(method): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        .then_some(body.as_ref());
    let params = Params::parse(raw.as_deref(), form);
    let format = Format::of(params.str("f"));
    let name = method.strip_suffix(".view").unwrap_or(&method);
    let outcome = async {
        let listener = identity::check(&state, &params).await?;
        dispatch(name, &Call { state: &state, params: &params, listener: &listener }).await
    }
    .await;
    metrics::counter!("appview_subsonic_requests_total", "outcome" => if outcome.is_ok() { "ok" } else { "failed" })
        .increment(1);
    match outcome {
        Ok(Reply::Body(payload)) => envelope::ok(format, payload),
        Ok(Reply::Redirect { location, headers }) => match HeaderValue::from_str(&location) {
            Ok(value) => {
                // 302, not 307: players may POST, and a method-preserving redirect of a POST is
                // refused by some HTTP stacks.
                let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
                response.headers_mut().extend(headers);
                response
            }
            Err(_) => envelope::failed(format, &Failure::not_found("file")),
        },
        Err(failure) => envelope::failed(format, &failure),
    }
}

async fn dispatch(method: &str, call: &Call<'_>) -> Result<Reply, Failure> {
    use browse as b;
    use library as l;
    match method {
        "ping" => Ok(Reply::empty()),
        "getLicense" => Reply::of("license", serde_json::json!({ "valid": true })),
        "getOpenSubsonicExtensions" => b::extensions(),
        "getMusicFolders" => b::music_folders(),
        "getIndexes" => b::indexes(call).await,
        "getArtists" => b::artists(call).await,
        "getArtist" => b::artist(call).await,
        "getArtistInfo" | "getArtistInfo2" => b::artist_info(call, method).await,
        "getMusicDirectory" => b::directory(call).await,
        "getAlbum" => b::album(call).await,
        "getAlbumInfo" | "getAlbumInfo2" => b::album_info(call).await,
        "getSong" => b::song(call).await,
        "getGenres" => Reply::of("genres", serde_json::json!({ "genre": [] })),
        "getAlbumList" | "getAlbumList2" => l::album_list(call, method).await,
        "getRandomSongs" => l::random_songs(call).await,
        "getSongsByGenre" => Reply::of("songsByGenre", serde_json::json!({ "song": [] })),
        "search2" | "search3" => l::search(call, method).await,
        "getPlaylists" => l::playlists(call).await,
        "getPlaylist" => l::playlist(call).await,
        "getStarred" | "getStarred2" => l::starred(call, method).await,
        "getNowPlaying" => l::now_playing(call).await,
        "getUser" => l::user(call),
        "getScanStatus" => Reply::of("scanStatus", serde_json::json!({ "scanning": false })),
        "getPlayQueue" => Ok(Reply::empty()),
        "getBookmarks" => Reply::of("bookmarks", serde_json::json!({ "bookmark": [] })),
        "getShares" => Reply::of("shares", serde_json::json!({ "share": [] })),
        "getInternetRadioStations" => {
            Reply::of("internetRadioStations", serde_json::json!({ "internetRadioStation": [] }))
        }
        "getPodcasts" => Reply::of("podcasts", serde_json::json!({ "channel": [] })),
        "stream" | "download" => media::stream(call, method == "download").await,
        "getCoverArt" => media::cover_art(call).await,
        m if WRITES.contains(&m) => Err(Failure::not_authorized(format!(
            "{m}: this service is read-only; write to your own PDS (plyr.fm, or a client that publishes fm.plyr records)"
        ))),
        m => {
            let m: String = m.chars().take(64).collect();
            Err(Failure::generic(format!("unknown method {m:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_the_query_and_the_form() {
        let p = Params::parse(Some("u=alice&id=1&id=2&f=json"), Some(b"id=3&size=7"));
        assert_eq!(p.str("u"), Some("alice"));
        assert_eq!(p.all("id").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(p.int("size", 10, 0, 500), Ok(7));
        assert_eq!(p.int("offset", 0, 0, 10), Ok(0));
        assert_eq!(p.int("size", 10, 0, 5), Ok(5));
        assert_eq!(p.required("q").map_err(|f| f.code), Err(envelope::Code::MissingParameter));
        let bad = Params::parse(Some("size=ten"), None);
        assert_eq!(bad.int("size", 10, 0, 500).map_err(|f| f.code), Err(envelope::Code::Generic));
    }

    #[test]
    fn a_flood_of_parameters_is_cut() {
        let many = "a=1&".repeat(10_000);
        assert_eq!(Params::parse(Some(&many), None).0.len(), MAX_PARAMS);
    }
}
