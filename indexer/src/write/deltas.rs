//! Counter deltas collected over one transaction (from every run of commits and every purged
//! account in it) and written once at its end.
//!
//! Writing them once, in key order, is what lets the partitions of a batch commit concurrently:
//! the per-subject counters are the only rows two partitions both change, and two transactions
//! that lock rows in the same order cannot deadlock. It also keeps a counter's row exactly as a
//! one-transaction pass would leave it: a counter back at zero is no row.
//!
//! The windowed counters (`db::windows`) are kept as steps with their times, and counted against
//! the windows' edges only when stored, under the windows' shared lock: so no edge moves between
//! reading it and committing what was counted against it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use plyr_store::rankings::Metric;

use crate::db::Tx;
use crate::db::plays::Rematch;
use crate::db::stats::{self, ActorDeltas, SubjectDeltas};
use crate::db::windows;

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

/// A change of what one subject counts in the windowed rankings: it counted in a window whose
/// edge is at or before `from`, and counts in one whose edge is at or before `to` (`None`: in
/// none). A like pair goes from its latest like before to its latest like after; a play from
/// nothing to its time, or back.
#[derive(Debug)]
struct WindowStep {
    metric: Metric,
    subject: String,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// Counter deltas accumulated over a transaction.
#[derive(Debug, Default)]
pub struct Deltas {
    subjects: BTreeMap<String, SubjectDelta>,
    actors: BTreeMap<String, ActorDelta>,
    windows: Vec<WindowStep>,
}

impl Deltas {
    pub fn subject(&mut self, uri: &str) -> &mut SubjectDelta {
        slot(&mut self.subjects, uri)
    }

    pub fn actor(&mut self, did: &str) -> &mut ActorDelta {
        slot(&mut self.actors, did)
    }

    /// A like pair of `subject` whose latest like sorted at `before` and now at `after` (`None`:
    /// the pair had, or has, no like): what it counts in the windowed rankings. Its
    /// all-time count is the caller's (it counts while the pair has any like).
    pub fn like_pair(&mut self, subject: &str, before: Option<DateTime<Utc>>, after: Option<DateTime<Utc>>) {
        if before != after {
            self.windows.push(WindowStep {
                metric: Metric::Likes,
                subject: subject.to_owned(),
                from: before,
                to: after,
            });
        }
    }

    /// A play played at `played_at` starts (`n` = 1) or stops (-1) counting for `track`.
    pub fn play(&mut self, track: &str, played_at: DateTime<Utc>, n: i32) {
        self.subject(track).plays += n;
        let (from, to) = if n > 0 { (None, Some(played_at)) } else { (Some(played_at), None) };
        self.windows.push(WindowStep { metric: Metric::Plays, subject: track.to_owned(), from, to });
    }

    /// Moves the play counters of plays whose match changed: from the track each counted for to
    /// the one it counts for now.
    pub fn rematched(&mut self, changed: &[Rematch]) {
        for r in changed {
            if let Some(old) = &r.old {
                self.play(old, r.played_at, -1);
            }
            if let Some(new) = &r.new {
                self.play(new, r.played_at, 1);
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
        stats::add_actor(tx, &a).await?;
        self.store_windows(tx).await
    }

    /// Counts the window steps against the edges, read under the windows' shared lock (held to
    /// the commit), and adds them in key order. Before the ranker's first run there are no
    /// edges: nothing is counted, and that run counts everything.
    async fn store_windows(&self, tx: &mut Tx<'_>) -> sqlx::Result<()> {
        if self.windows.is_empty() {
            return Ok(());
        }
        windows::lock_shared(tx).await?;
        let edges = windows::edges(tx).await?;
        let mut counts: BTreeMap<(String, &str), i32> = BTreeMap::new();
        for (period, edge) in &edges {
            let inside = |at: Option<DateTime<Utc>>| i32::from(at.is_some_and(|at| at >= *edge));
            for step in &self.windows {
                let n = inside(step.to) - inside(step.from);
                if n != 0 {
                    *counts.entry((step.metric.ranking(*period), step.subject.as_str())).or_default() += n;
                }
            }
        }
        counts.retain(|_, n| *n != 0);
        let ranking: Vec<&str> = counts.keys().map(|(r, _)| r.as_str()).collect();
        let subject: Vec<&str> = counts.keys().map(|(_, s)| *s).collect();
        let delta: Vec<i32> = counts.values().copied().collect();
        windows::add(tx, &ranking, &subject, &delta).await
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
