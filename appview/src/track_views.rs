//! Track views built once per version of the rows they show, kept as their JSON text. Building a
//! `TrackView` validates and formats every identifier and time again (jacquard's constructors run
//! a regex per field) and serializing it escapes every string, the largest shares of an uncached
//! feed page's CPU; the same track is shown on many pages. A built view is kept with the rows it
//! was built from (the track and the actors it names) and reused only while the hydration holds
//! those very rows: the row caches replace a row when the indexer announces a change, so a stale
//! view can never be served. Viewer state is never kept; it is added per request by appending
//! the `viewer` member to the kept object.

use std::sync::{Arc, Weak};

use std::time::Duration;

use plyr_atproto::AtUri;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::db::actors::ActorRow;
use crate::db::tracks::TrackRow;
use crate::hydrate::Hydration;
use crate::row_cache::RowCache;
use crate::views::Presenter;

/// One built view and what it was built from. The rows are named by weak references: they
/// identify the rows without keeping them alive once the row caches let them go (a weak
/// reference keeps the allocation, so its address is never reused while it is held here).
#[derive(Debug)]
pub struct Built {
    track: Weak<TrackRow>,
    /// The author, then each featured artist, as the hydration held them.
    people: Vec<Option<Weak<ActorRow>>>,
    /// The view without viewer state, as JSON (an object).
    json: Box<RawValue>,
}

/// A track view as JSON: a kept one, or one made for this request (with viewer state).
#[derive(Debug)]
pub enum Shown {
    Kept(Arc<Built>),
    Own(Box<RawValue>),
}

impl Shown {
    pub fn json(&self) -> &RawValue {
        match self {
            Shown::Kept(b) => &b.json,
            Shown::Own(j) => j,
        }
    }
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

impl crate::row_cache::Weigh for Built {
    fn weight(&self) -> usize {
        // The rows' own allocations stay while referenced weakly (their strings do not).
        self.json.get().len()
            + std::mem::size_of::<Built>()
            + std::mem::size_of::<TrackRow>()
            + (16 + std::mem::size_of::<ActorRow>()) * self.people.len()
    }
}

impl Built {
    fn built_from(&self, track: &Arc<TrackRow>, people: &[Option<&Arc<ActorRow>>]) -> bool {
        std::ptr::eq(self.track.as_ptr(), Arc::as_ptr(track))
            && self.people.len() == people.len()
            && self.people.iter().zip(people).all(|(kept, now)| match (kept, now) {
                (Some(a), Some(b)) => std::ptr::eq(a.as_ptr(), Arc::as_ptr(b)),
                (None, None) => true,
                _ => false,
            })
    }
}

/// The kept views, shared by every request of this process.
#[derive(Debug)]
pub struct TrackViews {
    built: RowCache<AtUri, Built>,
}

impl TrackViews {
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        TrackViews { built: RowCache::new(max_bytes, ttl) }
    }

    /// The view of the visible track at `uri` in `h`, as JSON, with the viewer's state when there
    /// is a viewer; `None` when it is not visible (or cannot be presented).
    pub fn get(&self, presenter: &Presenter, h: &Hydration, uri: &AtUri) -> Option<Shown> {
        let track = h.track_row(uri)?;
        let people = h.people_of(track);
        let built = match self.built.get(uri.as_str()) {
            Some(b) if b.built_from(track, &people) => b,
            _ => {
                let view = presenter.track_shared(h, track)?;
                let json = serde_json::value::to_raw_value(&view)
                    .map_err(|e| tracing::warn!(uri = %uri, error = %e, "track view does not serialize"))
                    .ok()?;
                let people = people.iter().map(|p| p.map(Arc::downgrade)).collect();
                let built = Arc::new(Built { track: Arc::downgrade(track), people, json });
                self.built.insert(uri.clone(), Arc::clone(&built));
                built
            }
        };
        // Labels (which labelers apply is the request's) and the viewer's state are the
        // request's own: the kept text `{...}` becomes `{...,"labels":[...],"viewer":{...}}`.
        let labels = presenter.track_labels(h, track);
        if labels.is_empty() && !h.has_viewer() {
            return Some(Shown::Kept(built));
        }
        let mut text = built.json.get().strip_suffix('}')?.to_owned();
        let mut field = |name: &str, value: &str| {
            if !text.trim_end().ends_with('{') {
                text.push(',');
            }
            text.push_str(&format!("\"{name}\":{value}"));
        };
        if !labels.is_empty() {
            field("labels", &format!("[{}]", labels.join(",")));
        }
        if h.has_viewer() {
            field("viewer", &serde_json::to_string(&presenter.viewer_state(h, uri)).ok()?);
        }
        text.push('}');
        RawValue::from_string(text).ok().map(Shown::Own)
    }

    /// Drops every kept view (memory only: a kept view is never served for other rows).
    pub fn invalidate_all(&self) {
        self.built.invalidate_all();
    }

    pub fn entry_count(&self) -> u64 {
        self.built.entry_count()
    }

    pub fn weighted_size(&self) -> u64 {
        self.built.weighted_size()
    }
}
