//! Subsonic's objects (`Child` for a song, `AlbumID3`, `ArtistID3`, `Playlist`) built from the
//! same hydrated rows and [`crate::views::Presenter`] as the REST and XRPC views, so names,
//! handles, covers and visibility agree across every surface. Ids: an artist is its DID, an
//! album or playlist its list's public id, a song its track's public id; cover art ids name
//! what they show (`tr-`, `al-`, `ar-`, `pl-` and the id).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;

use crate::AppState;
use crate::db::subsonic::AlbumRow;
use crate::db::tracks::TrackRow;
use crate::hydrate::Hydration;
use crate::rest::present::{self as rest_present, Loaded};

/// The single music folder the whole network is.
pub const FOLDER_ID: i64 = 1;

/// A song (Subsonic's `Child`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Song {
    pub id: String,
    pub parent: Option<String>,
    pub is_dir: bool,
    pub title: String,
    pub album: Option<String>,
    pub artist: String,
    pub year: i32,
    pub cover_art: Option<String>,
    pub size: Option<i64>,
    pub content_type: String,
    pub suffix: String,
    pub duration: Option<i32>,
    pub play_count: i64,
    pub created: String,
    pub starred: Option<String>,
    pub album_id: Option<String>,
    pub artist_id: Did,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub media_type: &'static str,
    pub is_video: bool,
    pub display_artist: String,
}

/// An album (`AlbumID3`), with its songs in `getAlbum`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Album {
    pub id: String,
    pub name: String,
    pub artist: String,
    pub artist_id: Did,
    pub cover_art: String,
    pub song_count: i64,
    pub duration: i64,
    pub play_count: i64,
    pub created: String,
    pub year: i32,
    pub song: Option<Vec<Song>>,
}

/// An artist (`ArtistID3`), with its albums in `getArtist`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Artist {
    pub id: Did,
    pub name: String,
    pub cover_art: String,
    pub artist_image_url: Option<String>,
    pub album_count: i64,
    pub album: Option<Vec<Album>>,
}

/// A playlist, with its songs (`entry`) in `getPlaylist`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Playlist {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub public: bool,
    pub song_count: i64,
    pub duration: i64,
    pub created: String,
    pub changed: String,
    pub cover_art: String,
    pub entry: Option<Vec<Song>>,
}

/// Times as Subsonic writes them (ISO 8601, UTC, milliseconds).
pub fn time(t: DateTime<Utc>) -> String {
    plyr_atproto::syntax::clamp_presentable(t).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The MIME type players are told for a track: the blob's when it was uploaded with one, else
/// from the file type.
fn content_type(t: &TrackRow) -> String {
    if let Some(mime) = t.audio_blob_mime.as_deref().filter(|m| m.starts_with("audio/")) {
        return mime.to_owned();
    }
    match t.file_type.as_str() {
        "mp3" => "audio/mpeg".to_owned(),
        "m4a" | "mp4" => "audio/mp4".to_owned(),
        "aac" => "audio/aac".to_owned(),
        "flac" => "audio/flac".to_owned(),
        "wav" => "audio/wav".to_owned(),
        "ogg" => "audio/ogg".to_owned(),
        "opus" => "audio/opus".to_owned(),
        "aif" | "aiff" => "audio/aiff".to_owned(),
        other if other.chars().all(|c| c.is_ascii_alphanumeric()) && !other.is_empty() => {
            format!("audio/{other}")
        }
        _ => "application/octet-stream".to_owned(),
    }
}

/// The song of visible track `t`; `starred` is when the listener liked it, if asked.
pub fn song(state: &AppState, l: &Loaded, t: &TrackRow, starred: Option<DateTime<Utc>>) -> Song {
    let album = l.albums.get(&t.uri);
    let artist = rest_present::display_name(state, &l.h, &t.did);
    Song {
        id: t.id.to_string(),
        parent: album.map(|a| a.list_id.clone()),
        is_dir: false,
        title: t.title.clone(),
        album: album.map(|a| a.name.clone()).or_else(|| t.album.clone()),
        display_artist: t.artist.clone(),
        artist,
        year: t.created_at.year(),
        cover_art: Some(format!("tr-{}", t.id)),
        size: t.audio_blob_size,
        content_type: content_type(t),
        suffix: t.file_type.clone(),
        duration: t.duration,
        play_count: t.play_count,
        created: time(t.created_at),
        starred: starred.map(time),
        album_id: album.map(|a| a.list_id.clone()),
        artist_id: t.did.clone(),
        kind: "music",
        media_type: "song",
        is_video: false,
    }
}

/// The songs of the visible tracks among `uris`, in order.
pub fn songs(
    state: &AppState,
    l: &Loaded,
    uris: &[AtUri],
    starred: &HashMap<AtUri, DateTime<Utc>>,
) -> Vec<Song> {
    l.visible(uris).into_iter().map(|t| song(state, l, t, starred.get(&t.uri).copied())).collect()
}

pub fn album(state: &AppState, h: &Hydration, a: &AlbumRow) -> Album {
    Album {
        id: a.id.clone(),
        name: a.name.clone(),
        artist: rest_present::display_name(state, h, &a.did),
        artist_id: a.did.clone(),
        cover_art: format!("al-{}", a.id),
        song_count: a.songs,
        duration: a.duration,
        play_count: a.plays,
        created: time(a.created_at),
        year: a.created_at.year(),
        song: None,
    }
}

pub fn artist(state: &AppState, h: &Hydration, did: &Did, album_count: i64) -> Artist {
    Artist {
        id: did.clone(),
        name: rest_present::display_name(state, h, did),
        cover_art: format!("ar-{did}"),
        artist_image_url: rest_present::avatar(state, h, did),
        album_count,
        album: None,
    }
}

pub fn playlist(state: &AppState, h: &Hydration, p: &AlbumRow, changed: DateTime<Utc>) -> Playlist {
    Playlist {
        id: p.id.clone(),
        name: if p.name.is_empty() { "untitled".to_owned() } else { p.name.clone() },
        owner: rest_present::handle(state, h, &p.did),
        public: true,
        song_count: p.songs,
        duration: p.duration,
        created: time(p.created_at),
        changed: time(changed),
        cover_art: format!("pl-{}", p.id),
        entry: None,
    }
}

/// The first letter an artist is indexed under (`#` for anything not a letter).
pub fn index_letter(name: &str) -> String {
    match name.trim().chars().next() {
        Some(c) if c.is_alphabetic() => c.to_uppercase().collect(),
        _ => "#".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artists_are_indexed_by_their_first_letter() {
        assert_eq!(index_letter("alice"), "A");
        assert_eq!(index_letter("  Ølafur"), "Ø");
        assert_eq!(index_letter("2pac"), "#");
        assert_eq!(index_letter(""), "#");
    }

    #[test]
    fn times_are_iso_with_milliseconds() {
        let t = DateTime::from_timestamp_micros(1_772_208_493_146_107).expect("time");
        assert_eq!(time(t), "2026-02-27T16:08:13.146Z");
    }
}
