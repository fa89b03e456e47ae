//! Track views built once per version of the rows they show, kept as their JSON text: XRPC's
//! `TrackView` and the REST surface's `TrackResponse` ([`Surface`]). Building a `TrackView`
//! validates and formats every identifier and time again (jacquard's constructors run a regex per
//! field), a `TrackResponse` copies 42 fields, and serializing either escapes every string: the
//! largest shares of an uncached feed page's CPU, while the same track is shown on many pages. A
//! built view is kept with the rows it was built from (the track and the actors it names) and
//! whatever else went into it (a REST view's album and labels, as text), and reused only while the
//! request holds those very rows and equal inputs: the row caches replace a row when the indexer
//! announces a change, so a stale view can never be served. Viewer state is never kept; XRPC adds
//! it (and the request's labels) per request by appending members to the kept object.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};
use std::time::Duration;

use plyr_atproto::AtUri;
use quick_cache::Equivalent;
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
    /// What else the view was built from, as text (empty: nothing else).
    inputs: Box<str>,
    /// The view without viewer state, as JSON (an object).
    json: Box<RawValue>,
}

/// Which shape a kept view has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// `fm.plyr.defs#trackView`.
    Xrpc,
    /// plyr.fm's `TrackResponse`, without `atproto_record_url` (null) or with it.
    Rest { record_url: bool },
}

/// A kept view's key: the track and the shape. Hashed as its borrowed form [`ViewRef`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ViewKey {
    surface: Surface,
    uri: AtUri,
}

impl Hash for ViewKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        ViewRef { surface: self.surface, uri: self.uri.as_str() }.hash(h);
    }
}

/// A [`ViewKey`] looked up without copying the URI.
#[derive(Hash)]
struct ViewRef<'a> {
    surface: Surface,
    uri: &'a str,
}

impl Equivalent<ViewKey> for ViewRef<'_> {
    fn equivalent(&self, key: &ViewKey) -> bool {
        self.surface == key.surface && self.uri == key.uri.as_str()
    }
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
            + self.inputs.len()
            + std::mem::size_of::<Built>()
            + std::mem::size_of::<TrackRow>()
            + (16 + std::mem::size_of::<ActorRow>()) * self.people.len()
    }
}

impl Built {
    fn built_from(&self, track: &Arc<TrackRow>, people: &[Option<&Arc<ActorRow>>], inputs: &str) -> bool {
        std::ptr::eq(self.track.as_ptr(), Arc::as_ptr(track))
            && *self.inputs == *inputs
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
    built: RowCache<ViewKey, Built>,
}

impl TrackViews {
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        TrackViews { built: RowCache::new(max_bytes, ttl) }
    }

    /// The kept view of `track` in `surface`, built from these very rows and `inputs`; else the
    /// one `build` makes (`None`: it cannot be presented), serialized and kept for the next
    /// request.
    pub fn kept<V: Serialize>(
        &self,
        surface: Surface,
        h: &Hydration,
        track: &Arc<TrackRow>,
        inputs: &str,
        build: impl FnOnce() -> Option<V>,
    ) -> Option<Arc<Built>> {
        let people = h.people_of(track);
        if let Some(b) = self.built.get(&ViewRef { surface, uri: track.uri.as_str() })
            && b.built_from(track, &people, inputs)
        {
            return Some(b);
        }
        let json = serde_json::value::to_raw_value(&build()?)
            .map_err(
                |e| tracing::warn!(uri = %track.uri, ?surface, error = %e, "track view does not serialize"),
            )
            .ok()?;
        let built = Arc::new(Built {
            track: Arc::downgrade(track),
            people: people.iter().map(|p| p.map(Arc::downgrade)).collect(),
            inputs: inputs.into(),
            json,
        });
        self.built.insert(ViewKey { surface, uri: track.uri.clone() }, Arc::clone(&built));
        Some(built)
    }

    /// The XRPC view of the visible track at `uri` in `h`, as JSON, with the viewer's state when
    /// there is a viewer; `None` when it is not visible (or cannot be presented).
    pub fn get(&self, presenter: &Presenter, h: &Hydration, uri: &AtUri) -> Option<Shown> {
        let track = h.track_row(uri)?;
        let built = self.kept(Surface::Xrpc, h, track, "", || presenter.track_shared(h, track))?;
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
