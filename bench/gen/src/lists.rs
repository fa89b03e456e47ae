//! `fm.plyr.list` records: albums (an artist's own tracks), playlists (anyone's tracks) and
//! liked lists, and their later edits (tracks appended, albums and liked lists re-synced).

use crate::GenError;
use crate::records::{List, ListItem, ListListType, Record};
use crate::sim::{Fan, Sim};
use crate::wire::{Event, Operation};
use crate::words;
use crate::world::ListState;

/// `maxLength` of `items` in the list lexicon.
const MAX_ITEMS: usize = 500;

/// The last `MAX_ITEMS` of `tracks`.
fn newest(mut tracks: Vec<u32>) -> Vec<u32> {
    let excess = tracks.len().saturating_sub(MAX_ITEMS);
    tracks.drain(..excess);
    tracks
}

impl Sim {
    /// A fan makes a playlist of popular tracks.
    pub fn create_playlist(&mut self) -> Result<Option<Event>, GenError> {
        let fan = match self.ready_fan() {
            None => return Ok(None),
            Some(Fan::FirstSeen(identity)) => return Ok(Some(identity)),
            Some(Fan::Ready(fan)) => fan,
        };
        let size = self.rng.range(3, 25) as usize;
        let tracks = self.pick_tracks(size);
        if tracks.is_empty() {
            return Ok(None);
        }
        let name = words::playlist(&mut self.rng);
        self.create_list(fan, Some(name), ListListType::Playlist, &tracks).map(Some)
    }

    /// An artist lists one of its albums, once it has at least two tracks.
    pub fn create_album(&mut self) -> Result<Option<Event>, GenError> {
        let Some(artist) = self.pick_artist() else { return Ok(None) };
        let Some(name) = self.world.actor(artist).and_then(|a| a.albums.get(a.albums_listed)).cloned() else {
            return Ok(None);
        };
        let tracks = self.album_tracks(artist, &name);
        if tracks.len() < 2 {
            return Ok(None);
        }
        if let Some(actor) = self.world.actors.get_mut(artist as usize) {
            actor.albums_listed += 1;
        }
        self.create_list(artist, Some(name), ListListType::Album, &tracks).map(Some)
    }

    /// A fan with a few likes publishes them as its `liked` list (once).
    pub fn create_liked_list(&mut self) -> Result<Option<Event>, GenError> {
        let Some(Fan::Ready(fan)) = self.ready_fan() else { return Ok(None) };
        if self.world.actor(fan).is_none_or(|a| a.liked_list.is_some()) {
            return Ok(None);
        }
        let tracks = newest(self.world.liked_tracks(fan));
        if tracks.len() < 3 {
            return Ok(None);
        }
        let id = self.world.lists.len() as u32;
        if let Some(actor) = self.world.actors.get_mut(fan as usize) {
            actor.liked_list = Some(id);
        }
        self.create_list(fan, None, ListListType::Liked, &tracks).map(Some)
    }

    /// The tracks of `artist`'s album `name`: those tagged with it, else all its live tracks.
    fn album_tracks(&self, artist: u32, name: &str) -> Vec<u32> {
        let live = self.world.live_tracks(artist);
        let tagged: Vec<u32> = live
            .iter()
            .copied()
            .filter(|t| {
                self.world.tracks.get(*t as usize).is_some_and(|t| t.record.album.as_deref() == Some(name))
            })
            .collect();
        newest(if tagged.len() >= 2 { tagged } else { live })
    }

    fn items(&self, tracks: &[u32]) -> Vec<ListItem> {
        tracks
            .iter()
            .filter_map(|t| self.world.track_ref(*t))
            .map(|subject| ListItem { subject, extra_data: None })
            .collect()
    }

    fn create_list(
        &mut self,
        owner: u32,
        name: Option<String>,
        list_type: ListListType,
        tracks: &[u32],
    ) -> Result<Event, GenError> {
        let record = List {
            name: name.map(Into::into),
            list_type: Some(list_type),
            items: self.items(tracks),
            created_at: self.created_at()?,
            updated_at: None,
            extra_data: None,
        };
        let rkey = self.new_rkey(owner);
        let event = Event::commit(owner, Operation::Create, rkey.clone(), Record::List(record.clone()))?;
        self.world.lists.push(ListState { owner, rkey, record });
        Ok(event)
    }

    /// A random list is edited: tracks appended to a playlist, an album or liked list brought
    /// up to date.
    pub fn update_list(&mut self) -> Result<Option<Event>, GenError> {
        let id = self.rng.index(self.world.lists.len());
        let Some(list) = self.world.lists.get(id) else { return Ok(None) };
        if !self.world.is_active(list.owner) {
            return Ok(None);
        }
        let (owner, rkey, mut record) = (list.owner, list.rkey.clone(), list.record.clone());
        match record.list_type {
            Some(ListListType::Playlist) => {
                let size = self.rng.range(1, 5) as usize;
                let fresh = self.pick_tracks(size);
                let added: Vec<ListItem> = self
                    .items(&fresh)
                    .into_iter()
                    .filter(|i| !record.items.iter().any(|old| old.subject.uri == i.subject.uri))
                    .collect();
                let room = MAX_ITEMS.saturating_sub(record.items.len());
                record.items.extend(added.into_iter().take(room));
            }
            Some(ListListType::Album) => {
                let name = record.name.clone().unwrap_or_default();
                record.items = self.items(&self.album_tracks(owner, &name));
            }
            _ => record.items = self.items(&newest(self.world.liked_tracks(owner))),
        }
        record.updated_at = Some(self.created_at()?);
        let event = Event::commit(owner, Operation::Update, rkey, Record::List(record.clone()))?;
        if let Some(list) = self.world.lists.get_mut(id) {
            list.record = record;
        }
        Ok(Some(event))
    }
}
