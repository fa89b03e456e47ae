//! Visibility rules: what no viewer may see. [`crate::hydrate`] applies them at the end of every
//! load, so nothing else calls them and no handler can forget them.
//!
//! Hidden: actors whose account is deactivated, taken down, suspended or deleted (and
//! everything they wrote); records or actors carrying a label value the operator configured as
//! hidden (`--hidden-labels`), whether a self-label on the record or a labeler's label.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use plyr_atproto::Did;

use crate::db::actors::ActorRow;
use crate::db::tracks::TrackRow;

/// What the rules read from one load: the actors it found and which of the keys it asked about
/// (DIDs, record URIs) carry a label the operator hides.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub actors: &'a HashMap<Did, Arc<ActorRow>>,
    pub labeled: &'a HashSet<String>,
    pub hidden_labels: &'a [String],
}

impl Facts<'_> {
    /// Whether `did`'s content may be shown. An actor we know nothing about yet is shown: their
    /// records are indexed, their status simply has not been reported.
    pub fn actor_visible(&self, did: &Did) -> bool {
        !self.actors.get(did).is_some_and(|a| a.hidden) && !self.labeled.contains(did.as_str())
    }

    /// Whether a track may be shown. Its featured artists are not judged: a visible track keeps
    /// its credits.
    pub fn track_visible(&self, t: &TrackRow) -> bool {
        self.actor_visible(&t.did)
            && !self.labeled.contains(t.uri.as_str())
            && !t.self_labels.iter().any(|l| self.hidden_labels.iter().any(|h| h == l))
    }

    /// Whether a record by `did` at `uri` (a list, a like, a comment) may be shown.
    pub fn record_visible(&self, did: &Did, uri: &str) -> bool {
        self.actor_visible(did) && !self.labeled.contains(uri)
    }
}
