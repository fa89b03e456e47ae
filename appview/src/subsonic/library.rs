//! Lists across the network and a listener's own: album lists, random songs, search, the
//! listener's playlists and liked tracks (starred), one playlist, who is playing what now
//! (teal.fm statuses), and the user a player asks about.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use serde_json::{Value, json};

use super::browse::{albums, list_with_songs, totals, visible_lists};
use super::envelope::Failure;
use super::identity::{self, Listener};
use super::present::{self, FOLDER_ID};
use super::{Call, Reply};
use crate::cursor::TimeKey;
use crate::db::search::Query as SearchQuery;
use crate::db::subsonic::{self as db, AlbumOrder, AlbumRow};
use crate::db::{feeds, lists};
use crate::hydrate::Hydrator;
use crate::moderation::Context;
use crate::rest::present::{self as rest_present, load_tracks};

/// Most items one list answer holds (`size`, `songCount`, ...).
const MAX_SIZE: i64 = 500;
/// Deepest offset into a list.
const MAX_OFFSET: i64 = 100_000;
/// Most playlists and liked tracks listed for one account.
const MAX_OWN: i64 = 1000;

/// `getAlbumList2` (and `getAlbumList`, the same albums).
pub async fn album_list(call: &Call<'_>, method: &str) -> Result<Reply, Failure> {
    let p = call.params;
    let kind = p.required("type")?;
    let size = p.int("size", 10, 0, MAX_SIZE)?;
    let offset = p.int("offset", 0, 0, MAX_OFFSET)?;
    let year = |name: &str| -> Result<i32, Failure> {
        let v = p.required(name)?;
        v.trim().parse().map_err(|_| Failure::invalid(name, v))
    };
    let order = match kind {
        "newest" => AlbumOrder::Newest,
        "random" => AlbumOrder::Random,
        "frequent" => AlbumOrder::Frequent,
        "highest" => AlbumOrder::Highest,
        "alphabeticalByName" => AlbumOrder::ByName,
        "alphabeticalByArtist" => AlbumOrder::ByArtist,
        "byYear" => AlbumOrder::ByYear { from: year("fromYear")?, to: year("toYear")? },
        // Albums cannot be liked, nothing records what a Subsonic user played, and no record
        // carries a genre: these lists are empty.
        "starred" | "recent" | "byGenre" => return album_list_reply(method, Vec::new()),
        other => return Err(Failure::invalid("type", other)),
    };
    let rows = db::albums(&call.state.db, order, size, offset).await?;
    let albums = albums(call, rows, Context::List).await?;
    let albums = albums.into_iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>();
    album_list_reply(method, albums.map_err(|e| Failure::generic(e.to_string()))?)
}

fn album_list_reply(method: &str, mut albums: Vec<Value>) -> Result<Reply, Failure> {
    if method == "getAlbumList" {
        // The folder-style list: each album a directory under its artist.
        for a in &mut albums {
            if let Value::Object(m) = a {
                m.insert("isDir".into(), true.into());
                m.insert("title".into(), m.get("name").cloned().unwrap_or_default());
                m.insert("parent".into(), m.get("artistId").cloned().unwrap_or_default());
            }
        }
        return Reply::of("albumList", json!({ "album": albums }));
    }
    Reply::of("albumList2", json!({ "album": albums }))
}

pub async fn random_songs(call: &Call<'_>) -> Result<Reply, Failure> {
    let size = call.params.int("size", 10, 0, MAX_SIZE)?;
    // No record carries a genre.
    if call.params.str("genre").is_some_and(|g| !g.is_empty()) || size == 0 {
        return Reply::of("randomSongs", json!({ "song": [] }));
    }
    let uris = db::random_tracks(&call.state.db, size).await?;
    let loaded = load_tracks(call.state, &uris, Context::List).await?;
    let songs = present::songs(call.state, &loaded, &uris, &HashMap::new());
    Reply::of("randomSongs", json!({ "song": songs }))
}

/// `search3` (and `search2`): artists, albums and songs by the service's search (the same
/// index and relevance as every other search). An empty query finds nothing.
pub async fn search(call: &Call<'_>, method: &str) -> Result<Reply, Failure> {
    let p = call.params;
    let key = if method == "search2" { "searchResult2" } else { "searchResult3" };
    let raw = p.str("query").ok_or_else(|| Failure::missing("query"))?;
    let raw = raw.trim().trim_matches('"');
    let count = |name: &str| p.int(name, 20, 0, MAX_SIZE);
    let offset = |name: &str| p.int(name, 0, 0, MAX_OFFSET);
    let (artists_n, albums_n, songs_n) = (count("artistCount")?, count("albumCount")?, count("songCount")?);
    let (artists_at, albums_at, songs_at) =
        (offset("artistOffset")?, offset("albumOffset")?, offset("songOffset")?);
    if raw.is_empty() || raw.chars().count() > 256 {
        return Reply::of(key, json!({ "artist": [], "album": [], "song": [] }));
    }
    let q = SearchQuery::new(raw);
    let (state, index) = (call.state, &call.state.caches.search);
    let none = || async { Ok::<Vec<crate::db::Hit>, sqlx::Error>(Vec::new()) };
    let (artist_hits, album_hits, song_hits) = tokio::try_join!(
        async {
            if artists_n > 0 {
                crate::search::actors(&state.db, index, &q, artists_n, artists_at).await
            } else {
                none().await
            }
        },
        async {
            if albums_n > 0 {
                let hits = crate::search::lists(&state.db, index, &q, "album", albums_n + albums_at).await?;
                Ok(hits.into_iter().skip(usize::try_from(albums_at).unwrap_or(0)).collect())
            } else {
                none().await
            }
        },
        async {
            if songs_n > 0 {
                crate::search::tracks(&state.db, index, &q, songs_n, songs_at).await
            } else {
                none().await
            }
        },
    )?;
    // Artists.
    let dids: Vec<Did> = artist_hits.into_iter().map(crate::db::Hit::into_did).collect();
    let h = Hydrator::new(state, None).listing().actors(&dids).await?;
    let artists: Vec<_> =
        dids.iter().filter_map(|d| h.actor(d).map(|a| present::artist(state, &h, d, a.albums))).collect();
    // Albums, in relevance order, only those with tracks.
    let uris: Vec<AtUri> = album_hits.into_iter().map(crate::db::Hit::into_uri).collect();
    let mut rows: HashMap<AtUri, AlbumRow> =
        db::lists_by_uris(&state.db, &uris).await?.into_iter().map(|r| (r.uri.clone(), r)).collect();
    let ordered: Vec<AlbumRow> =
        uris.iter().filter_map(|u| rows.remove(u)).filter(|r| r.songs > 0 && !r.name.is_empty()).collect();
    let albums = albums(call, ordered, Context::List).await?;
    // Songs.
    let uris: Vec<AtUri> = song_hits.into_iter().map(crate::db::Hit::into_uri).collect();
    let loaded = load_tracks(state, &uris, Context::List).await?;
    let songs = present::songs(state, &loaded, &uris, &HashMap::new());
    Reply::of(key, json!({ "artist": artists, "album": albums, "song": songs }))
}

/// Whose library a method shows: `username` when given (any account's public lists may be
/// browsed), else the listener.
async fn whose(call: &Call<'_>) -> Result<Listener, Failure> {
    match call.params.str("username").filter(|u| !u.is_empty()) {
        Some(name) => identity::listener(call.state, name).await,
        None => Ok(call.listener.clone()),
    }
}

pub async fn playlists(call: &Call<'_>) -> Result<Reply, Failure> {
    let Some(did) = whose(call).await?.did().cloned() else {
        return Reply::of("playlists", json!({ "playlist": [] }));
    };
    let skel = lists::by_actor(&call.state.db, &did, Some("playlist"), &TimeKey::newest(), MAX_OWN).await?;
    let uris: Vec<AtUri> = skel.iter().map(|s| s.uri.clone()).collect();
    let mut rows: HashMap<AtUri, AlbumRow> =
        db::lists_by_uris(&call.state.db, &uris).await?.into_iter().map(|r| (r.uri.clone(), r)).collect();
    let ordered: Vec<AlbumRow> = uris.iter().filter_map(|u| rows.remove(u)).collect();
    let (shown, h) = visible_lists(call, ordered, Context::View).await?;
    let changed: HashMap<&AtUri, DateTime<Utc>> = skel.iter().map(|s| (&s.uri, s.at)).collect();
    let playlists: Vec<_> = shown
        .iter()
        .map(|p| present::playlist(call.state, &h, p, changed.get(&p.uri).copied().unwrap_or(p.created_at)))
        .collect();
    Reply::of("playlists", json!({ "playlist": playlists }))
}

pub async fn playlist(call: &Call<'_>) -> Result<Reply, Failure> {
    let (row, h, songs) = list_with_songs(call, call.params.required("id")?, "playlist").await?;
    let changed = h.list(&row.uri).map_or(row.created_at, |l| l.updated_at.unwrap_or(l.created_at));
    let mut playlist = present::playlist(call.state, &h, &row, changed);
    (playlist.song_count, playlist.duration) = totals(&songs);
    playlist.entry = Some(songs);
    Reply::of("playlist", playlist)
}

/// `getStarred2` (and `getStarred`): the tracks the listener liked, most recent like first.
pub async fn starred(call: &Call<'_>, method: &str) -> Result<Reply, Failure> {
    let key = if method == "getStarred" { "starred" } else { "starred2" };
    let Some(did) = whose(call).await?.did().cloned() else {
        return Reply::of(key, json!({ "artist": [], "album": [], "song": [] }));
    };
    let likes = feeds::liked_by(&call.state.db, &did, &TimeKey::newest(), MAX_OWN).await?;
    let mut when: HashMap<AtUri, DateTime<Utc>> = HashMap::new();
    let mut uris: Vec<AtUri> = Vec::new();
    for like in likes {
        if !when.contains_key(&like.subject_uri) {
            when.insert(like.subject_uri.clone(), like.at);
            uris.push(like.subject_uri);
        }
    }
    let uris: Vec<AtUri> = uris.into_iter().filter(|u| u.as_str().contains("/fm.plyr.track/")).collect();
    let loaded = load_tracks(call.state, &uris, Context::View).await?;
    let songs = present::songs(call.state, &loaded, &uris, &when);
    Reply::of(key, json!({ "artist": [], "album": [], "song": songs }))
}

/// Who is playing an indexed track now, from the teal.fm statuses listeners publish.
pub async fn now_playing(call: &Call<'_>) -> Result<Reply, Failure> {
    let now = Utc::now();
    let playing = db::now_playing(&call.state.db, now, 50).await?;
    let uris: Vec<AtUri> = playing.iter().map(|p| p.track.clone()).collect();
    let dids: Vec<Did> = playing.iter().map(|p| p.did.clone()).collect();
    let (loaded, people) = tokio::try_join!(load_tracks(call.state, &uris, Context::List), async {
        Hydrator::new(call.state, None).actors(&dids).await.map_err(crate::rest::RestError::from)
    })?;
    let entries: Vec<Value> = playing
        .iter()
        .filter_map(|p| {
            let t = loaded.visible(std::slice::from_ref(&p.track)).into_iter().next()?;
            let mut entry = serde_json::to_value(present::song(call.state, &loaded, t, None)).ok()?;
            let username = match people.actor(&p.did) {
                Some(_) => rest_present::handle(call.state, &people, &p.did),
                None => p.did.to_string(),
            };
            if let Value::Object(m) = &mut entry {
                m.insert("username".into(), username.into());
                m.insert("minutesAgo".into(), (now - p.started_at).num_minutes().max(0).into());
                m.insert("playerId".into(), 0.into());
                m.insert("playerName".into(), "teal.fm".into());
            }
            Some(entry)
        })
        .collect();
    Reply::of("nowPlaying", json!({ "entry": entries }))
}

/// `getUser`: whoever is asked about may stream and download, and nothing more.
pub fn user(call: &Call<'_>) -> Result<Reply, Failure> {
    let name = call.params.required("username")?;
    let name: String = name.chars().take(256).collect();
    Reply::of(
        "user",
        json!({
            "username": name, "scrobblingEnabled": false, "adminRole": false, "settingsRole": false,
            "downloadRole": true, "uploadRole": false, "playlistRole": false, "coverArtRole": true,
            "commentRole": false, "podcastRole": false, "streamRole": true, "jukeboxRole": false,
            "shareRole": false, "videoConversionRole": false, "folder": [FOLDER_ID],
        }),
    )
}
