//! Which album a track belongs to, as the REST surface shows it (plyr.fm's `album` on a track:
//! the newest named album by the track's own author that lists it). Kept per author in the row
//! caches ([`crate::cache::Caches::albums`]): every change to any record of an author names the
//! author, so the entry is dropped whenever one of their albums could have changed. An author
//! whose albums list more than [`MAX_ITEMS`] entries is not kept; their tracks are looked up in
//! the database instead.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};

use crate::db::rest::{AuthorAlbumRow, TrackAlbum};

/// Most list entries kept for one author (a list holds at most 500).
pub const MAX_ITEMS: usize = 20_000;

#[derive(Debug)]
struct Album {
    uri: AtUri,
    id: String,
    name: String,
    sort_at: DateTime<Utc>,
    items: HashSet<Box<str>>,
}

/// One author's named albums, newest first; `None`: too many entries to keep.
#[derive(Debug)]
pub struct AuthorAlbums {
    pub did: Did,
    albums: Option<Vec<Album>>,
}

impl AuthorAlbums {
    /// One entry per DID in `dids` (authors without albums get an empty one), from every album
    /// row of those authors.
    pub fn from_rows(dids: &[Did], rows: Vec<AuthorAlbumRow>) -> Vec<AuthorAlbums> {
        let mut out: Vec<AuthorAlbums> =
            dids.iter().map(|d| AuthorAlbums { did: d.clone(), albums: Some(Vec::new()) }).collect();
        let at: HashMap<Did, usize> = dids.iter().enumerate().map(|(i, d)| (d.clone(), i)).collect();
        let mut sizes = vec![0usize; out.len()];
        for row in rows {
            let Some(&i) = at.get(&row.did) else { continue };
            sizes[i] += row.items.len();
            if sizes[i] > MAX_ITEMS {
                out[i].albums = None;
            }
            if let Some(albums) = out[i].albums.as_mut() {
                albums.push(Album {
                    uri: row.uri,
                    id: row.id,
                    name: row.name,
                    sort_at: row.sort_at,
                    items: row.items.into_iter().map(String::into_boxed_str).collect(),
                });
            }
        }
        for a in &mut out {
            if let Some(albums) = a.albums.as_mut() {
                albums.sort_by(|x, y| (y.sort_at, y.uri.as_str()).cmp(&(x.sort_at, x.uri.as_str())));
            }
        }
        out
    }

    /// Whether the albums were kept (else the caller asks the database).
    pub fn is_kept(&self) -> bool {
        self.albums.is_some()
    }

    /// The newest album listing `track` (one of this author's tracks).
    pub fn album_of(&self, track: &AtUri) -> Option<TrackAlbum> {
        let a = self.albums.as_ref()?.iter().find(|a| a.items.contains(track.as_str()))?;
        Some(TrackAlbum {
            track_uri: track.clone(),
            list_uri: a.uri.clone(),
            list_id: a.id.clone(),
            name: a.name.clone(),
        })
    }
}

impl crate::row_cache::Weigh for AuthorAlbums {
    fn weight(&self) -> usize {
        let album = |a: &Album| {
            std::mem::size_of::<Album>()
                + a.uri.len()
                + a.id.len()
                + a.name.len()
                + a.items.iter().map(|i| i.len() + 24).sum::<usize>()
        };
        self.did.len() + self.albums.as_ref().map_or(0, |all| all.iter().map(album).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(did: &str, uri: &str, day: i64, items: &[&str]) -> AuthorAlbumRow {
        AuthorAlbumRow {
            did: Did::from_trusted(did),
            uri: AtUri::from_trusted(uri),
            id: uri.into(),
            name: "n".into(),
            sort_at: DateTime::from_timestamp(day * 86_400, 0).expect("time"),
            items: items.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_newest_album_listing_a_track_is_its_album() {
        let dids = [Did::from_trusted("did:plc:a"), Did::from_trusted("did:plc:b")];
        let rows = vec![
            row("did:plc:a", "at://a/l/old", 1, &["at://a/t/1", "at://a/t/2"]),
            row("did:plc:a", "at://a/l/new", 2, &["at://a/t/2"]),
        ];
        let all = AuthorAlbums::from_rows(&dids, rows);
        let t = |s: &str| AtUri::from_trusted(s);
        assert_eq!(
            all[0].album_of(&t("at://a/t/1")).map(|a| a.list_uri.to_string()),
            Some("at://a/l/old".into())
        );
        assert_eq!(
            all[0].album_of(&t("at://a/t/2")).map(|a| a.list_uri.to_string()),
            Some("at://a/l/new".into())
        );
        assert_eq!(all[0].album_of(&t("at://a/t/3")), None);
        assert!(all[1].is_kept() && all[1].album_of(&t("at://b/t/1")).is_none(), "no albums: kept, empty");
    }

    #[test]
    fn an_author_with_too_many_entries_is_not_kept() {
        let dids = [Did::from_trusted("did:plc:a")];
        let items: Vec<String> = (0..500).map(|i| format!("at://a/t/{i}")).collect();
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        let rows = (0..(MAX_ITEMS / 500 + 1) as i64)
            .map(|d| row("did:plc:a", &format!("at://a/l/{d}"), d, &refs))
            .collect();
        assert!(!AuthorAlbums::from_rows(&dids, rows)[0].is_kept());
    }
}
