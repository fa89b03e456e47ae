//! [`Network`]: walks the simulation one event at a time, gives each event its `time_us`,
//! and renders it as a Jetstream v1 line.
//!
//! Each step is, in order of precedence: the next artist joining (artists join evenly over
//! the first 85% of the stream), a due task from the agenda, a random action drawn from
//! [`MIX`], and a fallback that always produces something (a like, else a track).

use crate::GenError;
use crate::params::NetworkParams;
use crate::sim::Sim;
use crate::summary::Summary;
use crate::wire::{Body, Event, Stamp, render};

/// Relay sequence number of the first event (`seq` of identity and account events).
const FIRST_SEQ: u64 = 1_000_000;

/// Things that happen at random, unprompted.
#[derive(Debug, Clone, Copy)]
enum Action {
    Like,
    Comment,
    Unlike,
    DeleteComment,
    UpdateTrack,
    DeleteTrack,
    Playlist,
    Album,
    LikedList,
    UpdateList,
    UpdateProfile,
    ChangeHandle,
    Deactivate,
    DeleteAccount,
}

/// Relative weights of the random actions (per 100,000 draws). Artists joining, their tracks
/// and profiles, listeners' first identity events, comment edits and reactivations come on
/// top, from the agenda.
const MIX: &[(Action, u64)] = &[
    (Action::Like, 68_000),
    (Action::Comment, 12_500),
    (Action::Unlike, 1_900),
    (Action::DeleteComment, 800),
    (Action::UpdateTrack, 400),
    (Action::DeleteTrack, 150),
    (Action::Playlist, 1_300),
    (Action::Album, 700),
    (Action::LikedList, 300),
    (Action::UpdateList, 1_200),
    (Action::UpdateProfile, 150),
    (Action::ChangeHandle, 150),
    (Action::Deactivate, 60),
    (Action::DeleteAccount, 3),
];

/// A generated network, as an iterator over its Jetstream lines (oldest first). It stops
/// after the first error, which it yields.
#[derive(Debug)]
pub struct Network {
    params: NetworkParams,
    sim: Sim,
    summary: Summary,
    last_time_us: i64,
    failed: bool,
}

impl Network {
    /// Checks `params` and sets up the accounts; nothing is generated until iterated.
    pub fn new(params: NetworkParams) -> Result<Self, GenError> {
        params.check()?;
        let sim = Sim::new(&params);
        let last_time_us = params.start_us() - 1;
        Ok(Self { params, sim, summary: Summary::default(), last_time_us, failed: false })
    }

    /// What was generated so far (everything, once the iterator is exhausted).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    pub fn params(&self) -> &NetworkParams {
        &self.params
    }

    /// The event index at which `artist` joins.
    fn joins_at(&self, artist: u32) -> u64 {
        let spread = u128::from(self.sim.total) * 17 / 20;
        (u128::from(artist) * spread / u128::from(self.sim.world.artists.max(1))) as u64
    }

    /// `time_us` of event `step`: the network grows, so events get denser towards the end
    /// (time fraction `(x + sqrt x) / 2` of event fraction `x`), strictly increasing.
    fn time_at(&mut self, step: u64) -> i64 {
        let x = (step as f64 + self.sim.rng.unit()) / self.sim.total.max(1) as f64;
        let fraction = 0.5 * x + 0.5 * x.sqrt();
        let offset = (fraction * self.params.span_us as f64) as i64;
        (self.params.start_us() + offset).max(self.last_time_us + 1)
    }

    fn next_event(&mut self) -> Result<Event, GenError> {
        let next_artist = self.sim.world.onboarded;
        if next_artist < self.sim.world.artists && self.joins_at(next_artist) <= self.sim.step {
            return self.sim.onboard(next_artist);
        }
        while let Some(task) = self.sim.due_task() {
            if let Some(event) = self.sim.run(task)? {
                return Ok(event);
            }
        }
        let action = self.draw_action();
        if let Some(event) = self.act(action)? {
            return Ok(event);
        }
        self.fallback()
    }

    fn draw_action(&mut self) -> Action {
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        let mut roll = self.sim.rng.below(total);
        for (action, weight) in MIX {
            if roll < *weight {
                return *action;
            }
            roll -= weight;
        }
        Action::Like
    }

    fn act(&mut self, action: Action) -> Result<Option<Event>, GenError> {
        let sim = &mut self.sim;
        Ok(match action {
            Action::Like => sim.like()?,
            Action::Comment => sim.comment()?,
            Action::Unlike => sim.unlike(),
            Action::DeleteComment => sim.delete_comment(),
            Action::UpdateTrack => sim.update_track()?,
            Action::DeleteTrack => sim.delete_track(),
            Action::Playlist => sim.create_playlist()?,
            Action::Album => sim.create_album()?,
            Action::LikedList => sim.create_liked_list()?,
            Action::UpdateList => sim.update_list()?,
            Action::UpdateProfile => sim.update_profile()?,
            Action::ChangeHandle => sim.change_handle(),
            Action::Deactivate => sim.deactivate(),
            Action::DeleteAccount => sim.delete_account(),
        })
    }

    /// Something that can always happen: a like, else a track by some artist (artist 0 joins
    /// first and never leaves), else the next artist joining early.
    fn fallback(&mut self) -> Result<Event, GenError> {
        if let Some(event) = self.sim.like()? {
            return Ok(event);
        }
        if let Some(artist) = self.sim.pick_artist() {
            return self.sim.create_track(artist);
        }
        if self.sim.world.onboarded < self.sim.world.artists {
            return self.sim.onboard(self.sim.world.onboarded);
        }
        self.sim.create_track(0)
    }

    fn emit(&mut self) -> Result<Stamped, GenError> {
        let step = self.sim.step;
        let time_us = self.time_at(step);
        self.sim.now_us = time_us;
        let event = self.next_event()?;
        let actor =
            self.sim.world.actor(event.actor).ok_or(GenError::Internal("event for an unknown account"))?;
        let stamped = Stamped {
            actor: event.actor,
            did: actor.did.clone(),
            clock_id: actor.clock_id,
            time_us,
            seq: FIRST_SEQ + step,
            body: event.body,
        };
        self.summary.record(time_us, &stamped.body);
        self.last_time_us = time_us;
        self.sim.step += 1;
        Ok(stamped)
    }

    /// The next event with its place in the stream, in any wire format (the firehose and repo
    /// generators render it themselves).
    pub(crate) fn next_event_stamped(&mut self) -> Option<Result<Stamped, GenError>> {
        if self.failed || self.sim.step >= self.sim.total {
            return None;
        }
        let event = self.emit();
        self.failed = event.is_err();
        Some(event)
    }

    /// Every account's DID, artists first.
    pub(crate) fn dids(&self) -> impl Iterator<Item = &str> {
        self.sim.world.actors.iter().map(|a| a.did.as_str())
    }
}

/// One event of the network with where it sits in the stream.
#[derive(Debug, Clone)]
pub(crate) struct Stamped {
    /// Index of the account in the world.
    pub actor: u32,
    pub did: String,
    /// The clock id of the account's TIDs.
    pub clock_id: u16,
    pub time_us: i64,
    /// Relay sequence number.
    pub seq: u64,
    pub body: Body,
}

impl Iterator for Network {
    type Item = Result<String, GenError>;

    fn next(&mut self) -> Option<Self::Item> {
        let event = match self.next_event_stamped()? {
            Ok(event) => event,
            Err(e) => return Some(Err(e)),
        };
        let stamp =
            Stamp { did: &event.did, time_us: event.time_us, clock_id: event.clock_id, seq: event.seq };
        let line = render(stamp, &event.body);
        self.failed = line.is_err();
        Some(line)
    }
}
