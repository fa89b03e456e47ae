//! Counter deltas collected over one transaction (from every run of commits and every purged
//! account in it) and written once at its end.
//!
//! Writing them once, in key order, is what lets the partitions of a batch commit concurrently:
//! the per-subject counters are the only rows two partitions both change, and two transactions
//! that lock rows in the same order cannot deadlock. It also keeps a counter's row exactly as a
//! one-transaction pass would leave it: a counter back at zero is no row.

use std::collections::BTreeMap;

use crate::db::Tx;
use crate::db::plays::Rematch;
use crate::db::stats::{self, ActorDeltas, SubjectDeltas};

/// Changes of one subject's counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct SubjectDelta {
    pub likes: i32,
    pub comments: i32,
    pub plays: i32,
}

impl SubjectDelta {
    fn is_zero(&self) -> bool {
        self.likes == 0 && self.comments == 0 && self.plays == 0
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ActorDelta {
    pub tracks: i32,
    pub albums: i32,
    pub playlists: i32,
    pub likes: i32,
}

/// Counter deltas accumulated over a transaction.
#[derive(Debug, Default)]
pub struct Deltas {
    subjects: BTreeMap<String, SubjectDelta>,
    actors: BTreeMap<String, ActorDelta>,
}

impl Deltas {
    pub fn subject(&mut self, uri: &str) -> &mut SubjectDelta {
        slot(&mut self.subjects, uri)
    }

    pub fn actor(&mut self, did: &str) -> &mut ActorDelta {
        slot(&mut self.actors, did)
    }

    /// Moves the play counters of plays whose match changed: from the track each counted for to
    /// the one it counts for now.
    pub fn rematched(&mut self, changed: &[Rematch]) {
        for r in changed {
            if let Some(old) = &r.old {
                self.subject(old).plays -= 1;
            }
            if let Some(new) = &r.new {
                self.subject(new).plays += 1;
            }
        }
    }

    /// The subjects whose counters change (for the change announcement: a play matched by name
    /// moves a track's count without naming it).
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.subjects.iter().filter(|(_, d)| !d.is_zero()).map(|(uri, _)| uri.as_str())
    }

    /// Forgets the pending deltas of an actor whose counters row was just removed (a purged
    /// account).
    pub fn forget_actor(&mut self, did: &str) {
        self.actors.remove(did);
    }

    pub fn list(&mut self, did: &str, list_type: Option<&str>, n: i32) {
        match list_type {
            Some("album") => self.actor(did).albums += n,
            Some("playlist") => self.actor(did).playlists += n,
            _ => {}
        }
    }

    /// Writes every non-zero delta, subjects then actors, each in key order.
    pub async fn store(&self, tx: &mut Tx<'_>) -> sqlx::Result<()> {
        let mut s = SubjectDeltas::default();
        for (uri, d) in self.subjects.iter().filter(|(_, d)| !d.is_zero()) {
            s.subject.push(uri.clone());
            s.likes.push(d.likes);
            s.comments.push(d.comments);
            s.plays.push(d.plays);
        }
        stats::add_subject(tx, &s).await?;
        let mut a = ActorDeltas::default();
        for (did, d) in self
            .actors
            .iter()
            .filter(|(_, d)| d.tracks != 0 || d.albums != 0 || d.playlists != 0 || d.likes != 0)
        {
            a.did.push(did.clone());
            a.tracks.push(d.tracks);
            a.albums.push(d.albums);
            a.playlists.push(d.playlists);
            a.likes.push(d.likes);
        }
        stats::add_actor(tx, &a).await
    }
}

/// The entry for `key`, created at its default; the key is copied only when it is new (most
/// calls find it: a batch's likes share a few thousand subjects).
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}
