//! Account-level events: an account's first `identity` event, handle changes, and `account`
//! events for deactivation, reactivation and (rarely) deletion.

use crate::sim::{Sim, Task};
use crate::wire::{Body, Event};
use crate::words;
use crate::world::Status;

/// Share of deactivated accounts that come back.
const REACTIVATED: f64 = 0.6;

impl Sim {
    /// `actor` shows up: its identity event with its handle.
    pub fn appear(&mut self, actor: u32) -> Event {
        let handle = match self.world.actors.get_mut(actor as usize) {
            Some(a) => {
                a.appeared = true;
                a.handle.clone()
            }
            None => String::new(),
        };
        Event { actor, body: Body::Identity { handle } }
    }

    /// A random account that has shown up, can act, and is not artist 0 (who never leaves,
    /// so there is always someone to publish).
    fn pick_account(&mut self) -> Option<u32> {
        let actor = self.rng.index(self.world.actors.len()) as u32;
        let ok =
            actor != 0 && self.world.actor(actor).is_some_and(|a| a.appeared && a.status == Status::Active);
        ok.then_some(actor)
    }

    /// A random account moves to a new handle.
    pub fn change_handle(&mut self) -> Option<Event> {
        let actor = self.pick_account()?;
        let (artist, name) = self.world.actor(actor).map(|a| (a.artist, a.name.clone()))?;
        let label = if artist {
            format!("{}-music", words::slug(&name))
        } else {
            words::listener_label(&mut self.rng)
        };
        let handle = self.world.fresh_handle(&mut self.rng, artist, &label);
        let old = self
            .world
            .actors
            .get_mut(actor as usize)
            .map(|a| std::mem::replace(&mut a.handle, handle.clone()));
        if let Some(old) = old {
            self.world.handles.remove(&old);
        }
        Some(Event { actor, body: Body::Identity { handle } })
    }

    /// A random account is deactivated; most come back later.
    pub fn deactivate(&mut self) -> Option<Event> {
        let actor = self.pick_account()?;
        self.world.actors.get_mut(actor as usize)?.status = Status::Deactivated;
        if self.rng.chance(REACTIVATED) {
            self.schedule(200, 20_000, Task::Reactivate(actor));
        }
        Some(Event { actor, body: Body::Account { active: false, status: Some("deactivated") } })
    }

    /// A deactivated account comes back.
    pub fn reactivate(&mut self, actor: u32) -> Option<Event> {
        let account = self.world.actors.get_mut(actor as usize)?;
        if account.status != Status::Deactivated {
            return None;
        }
        account.status = Status::Active;
        Some(Event { actor, body: Body::Account { active: true, status: None } })
    }

    /// A random account is deleted for good; its tracks leave the popularity ranking.
    pub fn delete_account(&mut self) -> Option<Event> {
        let actor = self.pick_account()?;
        let account = self.world.actors.get_mut(actor as usize)?;
        account.status = Status::Deleted;
        for track in account.tracks.clone() {
            self.world.unrank(track);
        }
        Some(Event { actor, body: Body::Account { active: false, status: Some("deleted") } })
    }
}
