//! Visibility rules: what a viewer may not see. [`crate::hydrate`] applies them at the end of
//! every load, so nothing else calls them and no handler can forget them.
//!
//! Hidden: actors whose account is deactivated, taken down, suspended or deleted (and
//! everything they wrote); records or actors carrying a label value the request's context hides
//! ([`crate::moderation::Policy::hiding`]), whether a self-label on the record or a label from
//! an applied labeler, except from their own author.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use plyr_atproto::Did;

use crate::db::actors::ActorRow;
use crate::db::tracks::TrackRow;

/// What the rules read from one load: the actors it found, which of the keys it asked about
/// (DIDs, record URIs) carry a label the context hides, and who is looking.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub actors: &'a HashMap<Did, Arc<ActorRow>>,
    pub labeled: &'a HashSet<String>,
    /// Label values that hide in this context (for self-labels; `labeled` holds the rest).
    pub hiding: &'a [String],
    pub viewer: Option<&'a Did>,
}

impl Facts<'_> {
    /// Whether `did`'s content may be shown. An actor we know nothing about yet is shown: their
    /// records are indexed, their status simply has not been reported.
    pub fn actor_visible(&self, did: &Did) -> bool {
        !self.actors.get(did).is_some_and(|a| a.hidden)
            && (self.own(did) || !self.labeled.contains(did.as_str()))
    }

    /// Whether a track may be shown. Its featured artists are not judged: a visible track keeps
    /// its credits.
    pub fn track_visible(&self, t: &TrackRow) -> bool {
        self.actor_visible(&t.did)
            && (self.own(&t.did)
                || (!self.labeled.contains(t.uri.as_str())
                    && !t.self_labels.iter().any(|l| self.hiding.iter().any(|h| h == l))))
    }

    /// Whether a record by `did` at `uri` (a list, a like, a comment) may be shown.
    pub fn record_visible(&self, did: &Did, uri: &str) -> bool {
        self.actor_visible(did) && (self.own(did) || !self.labeled.contains(uri))
    }

    /// Whether the viewer is `did`: labels never hide an author's own records from them.
    fn own(&self, did: &Did) -> bool {
        self.viewer == Some(did)
    }
}
