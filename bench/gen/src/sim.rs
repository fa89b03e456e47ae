//! The simulation core: the world, the random source, the agenda of follow-up tasks (an
//! artist's next tracks, a comment edit, a reactivation) and the samplers every action uses.
//!
//! Actions live in [`crate::content`], [`crate::social`] and [`crate::accounts`] as further
//! `impl Sim` blocks; each returns `Ok(None)` when it cannot happen right now (nothing to
//! like yet, the account is deactivated, ...) and the caller picks something else.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::GenError;
use crate::ids::{datetime, tid};
use crate::params::NetworkParams;
use crate::records::{self, Datetime};
use crate::rng::{PowerLaw, Rng};
use crate::wire::Event;
use crate::world::World;

/// A follow-up, due at an event index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Task {
    /// Write the artist's `fm.plyr.actor.profile`.
    Profile(u32),
    /// Write the artist's `app.bsky.actor.profile`.
    BskyProfile(u32),
    /// Publish a track.
    Track(u32),
    /// Edit a comment.
    EditComment(u32),
    /// Reactivate a deactivated account.
    Reactivate(u32),
}

/// A fan chosen to act.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "short-lived return value, moved once")]
pub(crate) enum Fan {
    /// Seen before: can write now.
    Ready(u32),
    /// Never seen: shows up with this identity event instead.
    FirstSeen(Event),
}

/// Share of likes, comments and playlists that come from listeners rather than artists.
const LISTENER_SHARE: f64 = 0.8;
/// Tries before a sampler gives up (the head of a power law may be all taken).
const TRIES: usize = 8;

#[derive(Debug)]
pub(crate) struct Sim {
    pub world: World,
    pub rng: Rng,
    /// Min-heap of `(due event index, insertion order, task)`.
    agenda: BinaryHeap<Reverse<(u64, u64, Task)>>,
    scheduled: u64,
    /// Index of the event being produced, out of `total`.
    pub step: u64,
    pub total: u64,
    /// `time_us` of the event being produced.
    pub now_us: i64,
    tracks_law: PowerLaw,
    listeners_law: PowerLaw,
    artists_law: PowerLaw,
    pub quota_law: PowerLaw,
}

impl Sim {
    pub fn new(params: &NetworkParams) -> Self {
        let mut rng = Rng::new(params.seed);
        let world = World::new(params, &mut rng);
        Self {
            world,
            rng,
            agenda: BinaryHeap::new(),
            scheduled: 0,
            step: 0,
            total: params.events as u64,
            now_us: params.start_us(),
            tracks_law: PowerLaw::zipf(0.0),
            listeners_law: PowerLaw::zipf(10.0),
            artists_law: PowerLaw::zipf(3.0),
            quota_law: PowerLaw::inverse_square(),
        }
    }

    /// Schedules `task` between `min` and `max` events from now (at least the next event).
    pub fn schedule(&mut self, min: u64, max: u64, task: Task) {
        let delay = self.rng.range(min, max);
        self.schedule_at(self.step + delay, task);
    }

    /// Schedules `task` at event index `due` (at least the next event).
    pub fn schedule_at(&mut self, due: u64, task: Task) {
        self.scheduled += 1;
        self.agenda.push(Reverse((due.max(self.step + 1), self.scheduled, task)));
    }

    /// The earliest task that is due, if any.
    pub fn due_task(&mut self) -> Option<Task> {
        match self.agenda.peek() {
            Some(Reverse((due, _, _))) if *due <= self.step => self.agenda.pop().map(|Reverse((_, _, t))| t),
            _ => None,
        }
    }

    /// Runs a due task.
    pub fn run(&mut self, task: Task) -> Result<Option<Event>, GenError> {
        match task {
            Task::Profile(artist) => self.profile(artist),
            Task::BskyProfile(artist) => self.bsky_profile(artist),
            Task::Track(artist) => self.scheduled_track(artist),
            Task::EditComment(comment) => self.edit_comment(comment),
            Task::Reactivate(actor) => Ok(self.reactivate(actor)),
        }
    }

    /// `createdAt` of a record committed now: a little before the commit.
    pub fn created_at(&mut self) -> Result<Datetime, GenError> {
        let lag_us = self.rng.range(20, 1_500) as i64 * 1_000;
        records::datetime(&datetime(self.now_us - lag_us))
    }

    /// A new record key in `actor`'s repo: a TID just before the commit's rev.
    pub fn new_rkey(&self, actor: u32) -> String {
        let clock = self.world.actor(actor).map_or(0, |a| a.clock_id);
        tid(self.now_us - 1, clock)
    }

    /// An active account that likes, comments or makes playlists: mostly listeners, a few
    /// heavy users doing most of it.
    pub fn pick_fan(&mut self) -> Option<u32> {
        let artists = self.world.artists;
        let listeners = self.world.actors.len() as u32 - artists;
        let fan = if self.world.onboarded == 0 || self.rng.chance(LISTENER_SHARE) {
            artists + self.listeners_law.sample(&mut self.rng, listeners as usize) as u32
        } else {
            self.artists_law.sample(&mut self.rng, self.world.onboarded as usize) as u32
        };
        self.world.is_active(fan).then_some(fan)
    }

    /// An active fan, or the identity event of one that shows up for the first time.
    pub fn ready_fan(&mut self) -> Option<Fan> {
        let fan = self.pick_fan()?;
        let seen = self.world.actor(fan).is_some_and(|a| a.appeared);
        Some(if seen { Fan::Ready(fan) } else { Fan::FirstSeen(self.appear(fan)) })
    }

    /// A joined, active artist, the most prolific most likely.
    pub fn pick_artist(&mut self) -> Option<u32> {
        let artist = self.artists_law.sample(&mut self.rng, self.world.onboarded as usize) as u32;
        (artist < self.world.onboarded && self.world.is_active(artist)).then_some(artist)
    }

    /// A live track whose author is active, Zipf-distributed over the popularity ranking.
    pub fn pick_popular_track(&mut self) -> Option<u32> {
        for _ in 0..TRIES {
            let rank = self.tracks_law.sample(&mut self.rng, self.world.popular.len());
            let track = *self.world.popular.get(rank)?;
            let owner = self.world.tracks.get(track as usize)?.owner;
            if self.world.is_active(owner) {
                return Some(track);
            }
        }
        None
    }

    /// A live track whose author is active, uniformly (for edits and deletes).
    pub fn pick_any_track(&mut self) -> Option<u32> {
        let track = *self.rng.pick(&self.world.popular)?;
        let owner = self.world.tracks.get(track as usize)?.owner;
        self.world.is_active(owner).then_some(track)
    }

    /// Up to `n` distinct popular tracks.
    pub fn pick_tracks(&mut self, n: usize) -> Vec<u32> {
        let mut picked = Vec::with_capacity(n);
        for _ in 0..n * 2 {
            if picked.len() == n {
                break;
            }
            if let Some(track) = self.pick_popular_track().filter(|t| !picked.contains(t)) {
                picked.push(track);
            }
        }
        picked
    }
}
