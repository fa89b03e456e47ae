//! Hydration: given the keys a skeleton produced, load everything their views need in a few
//! batched queries (never one per item) into maps, then apply the visibility rules.
//!
//! A [`Hydration`] distinguishes "looked up and missing" (the key is in `asked_*` but not in
//! the map) from "never asked" (neither), so presentation can tell an unindexed subject from a
//! bug.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::AppState;
use crate::db::actors::ActorRow;
use crate::db::lists::ListRow;
use crate::db::tracks::TrackRow;
use crate::db::{lists, social};

/// Why a hydration failed: only the database can fail one. Each HTTP edge turns it into its own
/// error (`XrpcError`, `RestError`) through the same database-failure classification.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct HydrateError(#[from] pub sqlx::Error);

/// Everything loaded for one response.
#[derive(Debug, Default)]
pub struct Hydration {
    pub tracks: HashMap<String, Arc<TrackRow>>,
    pub actors: HashMap<String, Arc<ActorRow>>,
    pub lists: HashMap<String, ListRow>,
    /// The viewer's like URI per track URI.
    pub viewer_likes: HashMap<String, String>,
    /// Record URIs and DIDs carrying a label the operator hides.
    pub labeled: HashSet<String>,
    /// Whether the request had a viewer (viewer state is present only then).
    pub has_viewer: bool,
}

impl Hydration {
    pub fn actor(&self, did: &str) -> Option<&ActorRow> {
        self.actors.get(did).map(Arc::as_ref)
    }

    pub fn track(&self, uri: &str) -> Option<&TrackRow> {
        self.tracks.get(uri).map(Arc::as_ref)
    }
}

/// Batched loads.
#[derive(Debug, Clone, Copy)]
pub struct Hydrator<'a> {
    pub state: &'a AppState,
    pub viewer: Option<&'a str>,
}

impl<'a> Hydrator<'a> {
    pub fn new(state: &'a AppState, viewer: Option<&'a str>) -> Self {
        Hydrator { state, viewer }
    }

    /// Tracks, their authors and featured artists, the viewer's likes and labels.
    pub async fn tracks(&self, uris: &[String]) -> Result<Hydration, HydrateError> {
        let mut h = Hydration { has_viewer: self.viewer.is_some(), ..Hydration::default() };
        self.add_tracks(&mut h, uris).await?;
        Ok(h)
    }

    /// Adds tracks (and what they need) to an existing hydration.
    pub async fn add_tracks(&self, h: &mut Hydration, uris: &[String]) -> Result<(), HydrateError> {
        let state = self.state;
        let found = state.caches.tracks(&state.db, uris).await?;
        let mut dids: Vec<String> = Vec::new();
        for t in found.values() {
            dids.push(t.did.clone());
            dids.extend(t.features.iter().cloned());
        }
        let subjects: Vec<String> = found.keys().cloned().collect();
        let mut label_keys = subjects.clone();
        label_keys.extend(dids.iter().cloned());
        let likes = async {
            match self.viewer {
                Some(v) if !subjects.is_empty() => social::viewer_likes(&state.db, v, &subjects).await,
                _ => Ok(Vec::new()),
            }
        };
        let (actors, likes, labeled) =
            tokio::try_join!(state.caches.actors(&state.db, &dids), likes, self.labeled(&label_keys),)?;
        h.tracks.extend(found);
        h.actors.extend(actors);
        h.viewer_likes.extend(likes);
        h.labeled.extend(labeled);
        Ok(())
    }

    /// Actors (with their counts) and labels on them.
    pub async fn actors(&self, dids: &[String]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let (actors, labeled) = tokio::try_join!(state.caches.actors(&state.db, dids), self.labeled(dids))?;
        Ok(Hydration {
            actors,
            labeled: labeled.into_iter().collect(),
            has_viewer: self.viewer.is_some(),
            ..Hydration::default()
        })
    }

    /// Lists and their authors.
    pub async fn lists(&self, uris: &[String]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let rows = lists::by_uris(&state.db, uris).await?;
        let dids: Vec<String> = rows.iter().map(|l| l.did.clone()).collect();
        let mut keys: Vec<String> = rows.iter().map(|l| l.uri.clone()).collect();
        keys.extend(dids.iter().cloned());
        let (actors, labeled) = tokio::try_join!(state.caches.actors(&state.db, &dids), self.labeled(&keys))?;
        Ok(Hydration {
            lists: rows.into_iter().map(|l| (l.uri.clone(), l)).collect(),
            actors,
            labeled: labeled.into_iter().collect(),
            has_viewer: self.viewer.is_some(),
            ..Hydration::default()
        })
    }

    /// Which of `keys` carry a hidden label (skipped when the operator hides none).
    async fn labeled(&self, keys: &[String]) -> sqlx::Result<HashSet<String>> {
        let hidden = &self.state.options.hidden_labels;
        if hidden.is_empty() || keys.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(social::labeled(&self.state.db, keys, hidden).await?.into_iter().collect())
    }
}
