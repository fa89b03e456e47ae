//! Browsing by artist and album: the music folder, the artist indexes, an artist with its
//! albums, an album with its songs, one song, artist and album info, and the folder-style
//! `getMusicDirectory` (an artist's albums, an album's songs) that older players browse with.

use std::collections::{BTreeMap, HashMap};

use plyr_atproto::{AtUri, Did};
use serde_json::json;

use super::envelope::Failure;
use super::present::{self, Album, FOLDER_ID};
use super::{Call, Reply};
use crate::db::subsonic::{self as db, AlbumRow};
use crate::db::{lists, tracks};
use crate::hydrate::{Hydration, Hydrator};
use crate::moderation::Context;
use crate::rest::lists::is_uuid;
use crate::rest::present::{self as rest_present, load_tracks};

/// Most artists the indexes list (those with the most tracks): a player loads the index whole.
pub const MAX_ARTISTS: i64 = 10_000;
/// Most items a list record may hold (the lexicon's limit).
const ITEMS_CAP: i64 = 500;

pub fn extensions() -> Result<Reply, Failure> {
    Reply::of(
        "openSubsonicExtensions",
        json!([
            { "name": "formPost", "versions": [1] },
            { "name": "apiKeyAuthentication", "versions": [1] },
        ]),
    )
}

pub fn music_folders() -> Result<Reply, Failure> {
    Reply::of("musicFolders", json!({ "musicFolder": [{ "id": FOLDER_ID, "name": "plyr.fm network" }] }))
}

/// The visible ones among `rows` (albums or playlists) in their order, with their authors.
pub async fn visible_lists(
    call: &Call<'_>,
    rows: Vec<AlbumRow>,
    context: Context,
) -> Result<(Vec<AlbumRow>, Hydration), Failure> {
    let uris: Vec<AtUri> = rows.iter().map(|r| r.uri.clone()).collect();
    let h = Hydrator::new(call.state, None).in_context(context).lists(&uris).await?;
    let shown = rows.into_iter().filter(|r| h.list(&r.uri).is_some()).collect();
    Ok((shown, h))
}

/// The albums of `rows` that may be shown, as `AlbumID3`s.
pub async fn albums(call: &Call<'_>, rows: Vec<AlbumRow>, context: Context) -> Result<Vec<Album>, Failure> {
    let (rows, h) = visible_lists(call, rows, context).await?;
    Ok(rows.iter().map(|a| present::album(call.state, &h, a)).collect())
}

/// The indexed artists that may be shown, by name (case-insensitive), with their album counts.
async fn artist_list(call: &Call<'_>) -> Result<(Vec<(Did, i64)>, Hydration), Failure> {
    let rows = db::artists(&call.state.db, MAX_ARTISTS).await?;
    let dids: Vec<Did> = rows.iter().map(|r| r.did.clone()).collect();
    let h = Hydrator::new(call.state, None).listing().actors(&dids).await?;
    let mut shown: Vec<(String, Did, i64)> = rows
        .into_iter()
        .filter(|r| h.actor(&r.did).is_some())
        .map(|r| (rest_present::display_name(call.state, &h, &r.did).to_lowercase(), r.did, r.albums))
        .collect();
    shown.sort();
    Ok((shown.into_iter().map(|(_, d, n)| (d, n)).collect(), h))
}

/// Groups by index letter, in the order given.
fn by_letter<T>(items: Vec<(String, T)>) -> Vec<serde_json::Value>
where
    T: serde::Serialize,
{
    let mut groups: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for (name, item) in items {
        groups.entry(present::index_letter(&name)).or_default().push(item);
    }
    // `#` (not a letter) sorts first in a BTreeMap; players expect it first too.
    groups.into_iter().map(|(name, artist)| json!({ "name": name, "artist": artist })).collect()
}

pub async fn artists(call: &Call<'_>) -> Result<Reply, Failure> {
    let (list, h) = artist_list(call).await?;
    let items = list
        .iter()
        .map(|(did, n)| {
            let a = present::artist(call.state, &h, did, *n);
            (a.name.clone(), a)
        })
        .collect();
    Reply::of("artists", json!({ "ignoredArticles": "", "index": by_letter(items) }))
}

pub async fn indexes(call: &Call<'_>) -> Result<Reply, Failure> {
    let (list, h) = artist_list(call).await?;
    let items = list
        .iter()
        .map(|(did, _)| {
            let name = rest_present::display_name(call.state, &h, did);
            (name.clone(), json!({ "id": did, "name": name }))
        })
        .collect();
    let now = chrono::Utc::now().timestamp_millis();
    Reply::of("indexes", json!({ "lastModified": now, "ignoredArticles": "", "index": by_letter(items) }))
}

/// The visible artist `id` names (a DID), or 70.
pub async fn visible_artist(call: &Call<'_>, id: &str) -> Result<(Did, Hydration), Failure> {
    let did = Did::new(id).map_err(|_| Failure::not_found("artist"))?;
    let h = Hydrator::new(call.state, None).actors(std::slice::from_ref(&did)).await?;
    if h.actor(&did).is_none() {
        return Err(Failure::not_found("artist"));
    }
    Ok((did, h))
}

pub async fn artist(call: &Call<'_>) -> Result<Reply, Failure> {
    let (did, h) = visible_artist(call, call.params.required("id")?).await?;
    let albums = albums(call, db::albums_of(&call.state.db, &did).await?, Context::View).await?;
    let mut artist = present::artist(call.state, &h, &did, albums.len() as i64);
    artist.album = Some(albums);
    Reply::of("artist", artist)
}

pub async fn artist_info(call: &Call<'_>, method: &str) -> Result<Reply, Failure> {
    let (did, h) = visible_artist(call, call.params.required("id")?).await?;
    let bio = h.actor(&did).and_then(|a| a.bio.clone());
    let image = rest_present::avatar(call.state, &h, &did);
    let key = if method == "getArtistInfo" { "artistInfo" } else { "artistInfo2" };
    Reply::of(
        key,
        json!({
            "biography": bio, "smallImageUrl": image, "mediumImageUrl": image, "largeImageUrl": image,
        }),
    )
}

/// The visible list of `kind` (`album`, `playlist`) with public id `id` (a UUID), with its
/// totals and hydration; 70 for anything else.
pub async fn visible_list(call: &Call<'_>, id: &str, kind: &str) -> Result<(AlbumRow, Hydration), Failure> {
    let not_found = || Failure::not_found(kind);
    if !is_uuid(id) {
        return Err(not_found());
    }
    let row = db::list_by_id(&call.state.db, &id.to_ascii_lowercase(), kind).await?.ok_or_else(not_found)?;
    let (mut rows, h) = visible_lists(call, vec![row], Context::View).await?;
    Ok((rows.pop().ok_or_else(not_found)?, h))
}

/// [`visible_list`] with its songs in list order.
pub async fn list_with_songs(
    call: &Call<'_>,
    id: &str,
    kind: &str,
) -> Result<(AlbumRow, Hydration, Vec<present::Song>), Failure> {
    let (row, h) = visible_list(call, id, kind).await?;
    let items = lists::items(&call.state.db, &row.uri, -1, ITEMS_CAP).await?;
    let uris: Vec<AtUri> = items.into_iter().map(|i| i.subject_uri).collect();
    let loaded = load_tracks(call.state, &uris, Context::View).await?;
    let songs = present::songs(call.state, &loaded, &uris, &HashMap::new());
    Ok((row, h, songs))
}

/// Sums of what is shown: the songs listed, not every track the list names.
pub fn totals(songs: &[present::Song]) -> (i64, i64) {
    (songs.len() as i64, songs.iter().filter_map(|s| s.duration).map(i64::from).sum())
}

pub async fn album(call: &Call<'_>) -> Result<Reply, Failure> {
    let (row, h, songs) = list_with_songs(call, call.params.required("id")?, "album").await?;
    let mut album = present::album(call.state, &h, &row);
    (album.song_count, album.duration) = totals(&songs);
    album.song = Some(songs);
    Reply::of("album", album)
}

pub async fn album_info(call: &Call<'_>) -> Result<Reply, Failure> {
    let (row, _) = visible_list(call, call.params.required("id")?, "album").await?;
    let image = row.image_url;
    Reply::of("albumInfo", json!({ "smallImageUrl": image, "mediumImageUrl": image, "largeImageUrl": image }))
}

pub async fn song(call: &Call<'_>) -> Result<Reply, Failure> {
    let id = call.params.required("id")?;
    let (loaded, uri) = track_by_id(call, id).await?;
    let t = loaded
        .visible(std::slice::from_ref(&uri))
        .into_iter()
        .next()
        .ok_or_else(|| Failure::not_found("song"))?;
    Reply::of("song", present::song(call.state, &loaded, t, None))
}

/// The track with public id `id` (a song id, or a cover id `tr-<id>`), hydrated as a view.
pub async fn track_by_id(call: &Call<'_>, id: &str) -> Result<(rest_present::Loaded, AtUri), Failure> {
    let not_found = || Failure::not_found("song");
    let n: i64 = id.strip_prefix("tr-").unwrap_or(id).parse().map_err(|_| not_found())?;
    let uri = tracks::uri_by_id(&call.state.db, n).await?.ok_or_else(not_found)?;
    let loaded = load_tracks(call.state, std::slice::from_ref(&uri), Context::View).await?;
    Ok((loaded, uri))
}

/// `getMusicDirectory`: an artist (DID) is a directory of its albums, an album one of its songs.
pub async fn directory(call: &Call<'_>) -> Result<Reply, Failure> {
    let id = call.params.required("id")?;
    if id.starts_with("did:") {
        let (did, h) = visible_artist(call, id).await?;
        let albums = albums(call, db::albums_of(&call.state.db, &did).await?, Context::View).await?;
        let child: Vec<_> = albums
            .iter()
            .map(|a| {
                json!({
                    "id": a.id, "parent": did, "isDir": true, "title": a.name, "album": a.name,
                    "artist": a.artist, "coverArt": a.cover_art, "created": a.created,
                })
            })
            .collect();
        let name = rest_present::display_name(call.state, &h, &did);
        return Reply::of("directory", json!({ "id": did, "name": name, "child": child }));
    }
    let (row, _, songs) = list_with_songs(call, id, "album").await?;
    Reply::of("directory", json!({ "id": row.id, "parent": row.did, "name": row.name, "child": songs }))
}
