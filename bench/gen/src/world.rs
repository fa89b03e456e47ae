//! The state of the simulated network: accounts, tracks, likes, comments and lists, plus the
//! indexes the actions choose from (live tracks by popularity, live likes and comments, who
//! liked what, handles in use).
//!
//! Accounts are numbered: artists first (`0..artists`, joining in that order), then
//! listeners. Collections are append-only vectors; a deleted item keeps its slot with
//! `live: false`, so indexes stay stable.

use std::collections::HashSet;

use crate::GenError;
use crate::ids::plc_did;
use crate::params::NetworkParams;
use crate::records::{self, Comment, List, Profile, StrongRef, Track, nsid};
use crate::rng::Rng;
use crate::words;

/// Whether an account can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Deactivated,
    Deleted,
}

/// One account.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub did: String,
    pub handle: String,
    /// Display name (artists) or handle label (listeners).
    pub name: String,
    /// The clock id of the account's TIDs.
    pub clock_id: u16,
    pub artist: bool,
    pub status: Status,
    /// Whether its first `identity` event has been emitted.
    pub appeared: bool,
    /// Tracks it created (live or not).
    pub tracks: Vec<u32>,
    /// Likes it created (live or not).
    pub likes: Vec<u32>,
    /// Album names its tracks use, and how many of them already have an album list.
    pub albums: Vec<String>,
    pub albums_listed: usize,
    pub profile: Option<Profile>,
    pub liked_list: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct TrackState {
    pub owner: u32,
    pub rkey: String,
    /// Its URI and current CID: what likes, comments and lists refer to.
    pub subject: StrongRef,
    pub record: Track,
    pub live: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct LikeState {
    pub owner: u32,
    pub rkey: String,
    pub track: u32,
    pub live: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CommentState {
    pub owner: u32,
    pub rkey: String,
    pub record: Comment,
    pub live: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ListState {
    pub owner: u32,
    pub rkey: String,
    pub record: List,
}

/// Everything generated so far.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub actors: Vec<Actor>,
    /// `actors[..artists]` are the artists.
    pub artists: u32,
    /// Artists `0..onboarded` have joined.
    pub onboarded: u32,
    pub tracks: Vec<TrackState>,
    pub likes: Vec<LikeState>,
    pub comments: Vec<CommentState>,
    pub lists: Vec<ListState>,
    /// Live tracks of accounts that are not deleted, most popular first.
    pub popular: Vec<u32>,
    pub live_likes: Vec<u32>,
    pub live_comments: Vec<u32>,
    /// `(liker, track)` pairs with a live like.
    pub liked: HashSet<(u32, u32)>,
    pub handles: HashSet<String>,
}

impl World {
    /// All accounts of `params`, none of them joined yet.
    pub fn new(params: &NetworkParams, rng: &mut Rng) -> Self {
        let mut world = Self {
            actors: Vec::with_capacity(params.artists + params.listeners),
            artists: u32::try_from(params.artists).unwrap_or(u32::MAX),
            onboarded: 0,
            tracks: Vec::new(),
            likes: Vec::new(),
            comments: Vec::new(),
            lists: Vec::new(),
            popular: Vec::new(),
            live_likes: Vec::new(),
            live_comments: Vec::new(),
            liked: HashSet::new(),
            handles: HashSet::new(),
        };
        for i in 0..params.artists + params.listeners {
            let artist = i < params.artists;
            let name = if artist { words::artist_name(rng) } else { words::listener_label(rng) };
            let handle = world.fresh_handle(rng, artist, &name);
            let albums =
                if artist { (0..rng.range(1, 3)).map(|_| words::album(rng)).collect() } else { Vec::new() };
            world.actors.push(Actor {
                did: plc_did(rng),
                handle,
                name,
                clock_id: rng.below(1024) as u16,
                artist,
                status: Status::Active,
                appeared: false,
                tracks: Vec::new(),
                likes: Vec::new(),
                albums,
                albums_listed: 0,
                profile: None,
                liked_list: None,
            });
        }
        world
    }

    /// An unused handle: `<slug of name>.test` for artists, `<label>.plyr.test` for
    /// listeners, with a number added when taken.
    pub fn fresh_handle(&mut self, rng: &mut Rng, artist: bool, name: &str) -> String {
        let (base, suffix) =
            if artist { (words::slug(name), ".test") } else { (name.to_owned(), ".plyr.test") };
        let mut handle = format!("{base}{suffix}");
        while self.handles.contains(&handle) {
            handle = format!("{base}{}{suffix}", rng.range(2, 9_999));
        }
        self.handles.insert(handle.clone());
        handle
    }

    pub fn actor(&self, id: u32) -> Option<&Actor> {
        self.actors.get(id as usize)
    }

    pub fn is_active(&self, id: u32) -> bool {
        self.actor(id).is_some_and(|a| a.status == Status::Active)
    }

    /// The `at://` URI of a record of `actor`.
    pub fn uri(&self, actor: u32, collection: &str, rkey: &str) -> String {
        let did = self.actor(actor).map_or("", |a| a.did.as_str());
        format!("at://{did}/{collection}/{rkey}")
    }

    /// A strong reference to the current version of `track`.
    pub fn track_ref(&self, track: u32) -> Option<StrongRef> {
        self.tracks.get(track as usize).map(|t| t.subject.clone())
    }

    /// Records a new track and gives it a random popularity rank.
    pub fn add_track(
        &mut self,
        rng: &mut Rng,
        owner: u32,
        rkey: String,
        cid: &str,
        record: Track,
    ) -> Result<u32, GenError> {
        let id = self.tracks.len() as u32;
        let subject = records::strong_ref(&self.uri(owner, nsid::TRACK, &rkey), cid)?;
        self.tracks.push(TrackState { owner, rkey, subject, record, live: true });
        let rank = rng.index(self.popular.len() + 1);
        self.popular.insert(rank, id);
        if let Some(actor) = self.actors.get_mut(owner as usize) {
            actor.tracks.push(id);
        }
        Ok(id)
    }

    /// Takes `track` out of the popularity ranking (deleted, or its account is).
    pub fn unrank(&mut self, track: u32) {
        if let Some(pos) = self.popular.iter().position(|t| *t == track) {
            self.popular.remove(pos);
        }
    }

    /// The live tracks of `actor`, oldest first.
    pub fn live_tracks(&self, actor: u32) -> Vec<u32> {
        self.actor(actor)
            .map(|a| {
                a.tracks
                    .iter()
                    .copied()
                    .filter(|t| self.tracks.get(*t as usize).is_some_and(|t| t.live))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tracks `actor` currently likes, oldest like first.
    pub fn liked_tracks(&self, actor: u32) -> Vec<u32> {
        self.actor(actor)
            .map(|a| {
                a.likes
                    .iter()
                    .filter_map(|l| self.likes.get(*l as usize))
                    .filter(|l| l.live && self.tracks.get(l.track as usize).is_some_and(|t| t.live))
                    .map(|l| l.track)
                    .collect()
            })
            .unwrap_or_default()
    }
}
