//! Visibility rules, applied after hydration and before presentation: what no viewer may see.
//!
//! Hidden: actors whose account is deactivated, taken down, suspended or deleted (and
//! everything they wrote); records or actors carrying a label value the operator configured as
//! hidden (`--hidden-labels`), whether a self-label on the record or a labeler's label.

use crate::db::actors::ActorRow;
use crate::db::tracks::TrackRow;
use crate::hydrate::Hydration;

/// Whether `did`'s content may be shown. An actor we know nothing about yet is shown: their
/// records are indexed, their status simply has not been reported.
pub fn actor_visible(h: &Hydration, did: &str) -> bool {
    !h.actor(did).is_some_and(|a: &ActorRow| a.hidden) && !h.labeled.contains(did)
}

/// Whether a track may be shown.
pub fn track_visible(h: &Hydration, t: &TrackRow, hidden_labels: &[String]) -> bool {
    actor_visible(h, &t.did)
        && !h.labeled.contains(&t.uri)
        && !t.self_labels.iter().any(|l| hidden_labels.iter().any(|h| h == l))
}

/// Whether a record by `did` at `uri` (a list, a like, a comment) may be shown.
pub fn record_visible(h: &Hydration, did: &str, uri: &str) -> bool {
    actor_visible(h, did) && !h.labeled.contains(uri)
}
