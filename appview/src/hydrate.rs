//! Hydration: given the keys a skeleton produced, load everything their views need in a few
//! batched queries (never one per item), then apply the visibility [`rules`] once, at the end of
//! each load.
//!
//! A [`Hydration`] holds only what the viewer may see: its accessors answer `None` for a hidden
//! track, list or actor exactly as for one that is not indexed, and [`Hydrator::records`] hands
//! back only the visible rows among those it is given. The one way to hidden rows says so in its
//! name: [`Hydration::features_including_hidden`], a visible track's credits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use plyr_atproto::{AtUri, Did};

use crate::AppState;
use crate::db::actors::ActorRow;
use crate::db::lists::ListRow;
use crate::db::rest::ActivityRow;
use crate::db::social::{CommentRow, LikeRow};
use crate::db::tracks::TrackRow;
use crate::db::{lists, social};
use crate::rules::Facts;

/// Why a hydration failed: only the database can fail one. Each HTTP edge turns it into its own
/// error (`XrpcError`, `RestError`) through the same database-failure classification.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct HydrateError(#[from] pub sqlx::Error);

/// Rows loaded for one response, before the rules: what each load fills, and what a caller that
/// already holds rows (a fuzz target, a test) hands to [`Hydration::absorb`].
#[derive(Debug, Default)]
pub struct Found {
    pub tracks: HashMap<AtUri, Arc<TrackRow>>,
    pub actors: HashMap<Did, Arc<ActorRow>>,
    pub lists: HashMap<AtUri, ListRow>,
    /// The viewer's like URI per track URI.
    pub viewer_likes: HashMap<AtUri, AtUri>,
    /// Record URIs and DIDs carrying a label the operator hides.
    pub labeled: HashSet<String>,
}

/// Everything loaded for one response that the viewer may see.
#[derive(Debug, Default)]
pub struct Hydration {
    tracks: HashMap<AtUri, Arc<TrackRow>>,
    lists: HashMap<AtUri, ListRow>,
    actors: HashMap<Did, Arc<ActorRow>>,
    /// Actors the rules hide, kept only to credit them where a visible track features them.
    hidden_actors: HashMap<Did, Arc<ActorRow>>,
    viewer_likes: HashMap<AtUri, AtUri>,
    has_viewer: bool,
}

impl Hydration {
    /// An empty hydration; `has_viewer` says whether the request had a viewer (viewer state is
    /// presented only then).
    pub fn new(has_viewer: bool) -> Self {
        Hydration { has_viewer, ..Hydration::default() }
    }

    /// Adds what one load found, keeping what the rules let through. The load must hold the
    /// authors of its tracks and lists and the labels on all of them, as every load here does.
    pub fn absorb(&mut self, found: Found, hidden_labels: &[String]) {
        let Found { tracks, actors, lists, viewer_likes, labeled } = found;
        let facts = Facts { actors: &actors, labeled: &labeled, hidden_labels };
        self.tracks.extend(tracks.into_iter().filter(|(_, t)| facts.track_visible(t)));
        self.lists.extend(lists.into_iter().filter(|(_, l)| facts.record_visible(&l.did, &l.uri)));
        let hidden: HashSet<Did> = actors.keys().filter(|d| !facts.actor_visible(d)).cloned().collect();
        for (did, a) in actors {
            if hidden.contains(&did) {
                self.actors.remove(&did);
                self.hidden_actors.insert(did, a);
            } else {
                self.hidden_actors.remove(&did);
                self.actors.insert(did, a);
            }
        }
        self.viewer_likes.extend(viewer_likes.into_iter().filter(|(t, _)| self.tracks.contains_key(t)));
    }

    /// Keeps the `rows` the rules let through with `found`'s facts, then absorbs `found`.
    fn absorb_records<R: Record>(
        &mut self,
        mut rows: Vec<R>,
        found: Found,
        hidden_labels: &[String],
    ) -> Vec<R> {
        let facts = Facts { actors: &found.actors, labeled: &found.labeled, hidden_labels };
        rows.retain(|r| facts.record_visible(r.did(), r.uri()));
        self.absorb(found, hidden_labels);
        rows
    }

    /// The actor `did`, if indexed and visible.
    pub fn actor(&self, did: &str) -> Option<&ActorRow> {
        self.actors.get(did).map(Arc::as_ref)
    }

    /// The track at `uri`, if indexed and visible.
    pub fn track(&self, uri: &str) -> Option<&TrackRow> {
        self.tracks.get(uri).map(Arc::as_ref)
    }

    /// The visible track's row as the row cache holds it (its identity tells one version of a
    /// row from the next: [`crate::track_views`]).
    pub fn track_row(&self, uri: &str) -> Option<&Arc<TrackRow>> {
        self.tracks.get(uri)
    }

    /// The rows of the actors a view of `t` shows: its author, then each featured artist
    /// (hidden ones included, as [`Self::features_including_hidden`]).
    pub fn people_of(&self, t: &TrackRow) -> Vec<Option<&Arc<ActorRow>>> {
        std::iter::once(self.actors.get(&t.did))
            .chain(t.features.iter().map(|d| self.actors.get(d).or_else(|| self.hidden_actors.get(d))))
            .collect()
    }

    /// The list at `uri`, if indexed and visible.
    pub fn list(&self, uri: &str) -> Option<&ListRow> {
        self.lists.get(uri)
    }

    /// The viewer's like of the visible track at `uri`.
    pub fn viewer_like(&self, uri: &str) -> Option<&str> {
        self.viewer_likes.get(uri).map(AtUri::as_str)
    }

    pub fn has_viewer(&self) -> bool {
        self.has_viewer
    }

    /// `t`'s featured artists in order, each with their row when indexed, hidden ones included:
    /// the rules judge a track by its author and labels, so a visible track keeps its credits.
    pub fn features_including_hidden<'a>(
        &'a self,
        t: &'a TrackRow,
    ) -> impl Iterator<Item = (&'a Did, Option<&'a ActorRow>)> + 'a {
        t.features.iter().map(|d| {
            let row = self.actors.get(d).or_else(|| self.hidden_actors.get(d));
            (d, row.map(Arc::as_ref))
        })
    }
}

/// A row naming a record and its author that a handler loads outside the [`Hydrator`] (a like,
/// a comment, an activity event): [`Hydrator::records`] judges it by both.
pub trait Record {
    fn did(&self) -> &Did;
    /// The key labels are looked up by: the record's AT-URI (an activity event's own key).
    fn uri(&self) -> &str;
}

impl Record for LikeRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
}

impl Record for CommentRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
}

impl Record for ActivityRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
}

/// Batched loads.
#[derive(Debug, Clone, Copy)]
pub struct Hydrator<'a> {
    pub state: &'a AppState,
    pub viewer: Option<&'a Did>,
}

impl<'a> Hydrator<'a> {
    pub fn new(state: &'a AppState, viewer: Option<&'a Did>) -> Self {
        Hydrator { state, viewer }
    }

    /// Tracks, their authors and featured artists, the viewer's likes and labels.
    pub async fn tracks(&self, uris: &[AtUri]) -> Result<Hydration, HydrateError> {
        let mut h = self.empty();
        self.add_tracks(&mut h, uris).await?;
        Ok(h)
    }

    /// Adds tracks (and what they need) to an existing hydration.
    pub async fn add_tracks(&self, h: &mut Hydration, uris: &[AtUri]) -> Result<(), HydrateError> {
        let state = self.state;
        let tracks = state.caches.tracks(&state.db, uris).await?;
        let mut dids: Vec<Did> = Vec::new();
        for t in tracks.values() {
            dids.push(t.did.clone());
            dids.extend(t.features.iter().cloned());
        }
        let subjects: Vec<AtUri> = tracks.keys().cloned().collect();
        let mut label_keys: Vec<String> = subjects.iter().map(AtUri::to_string).collect();
        label_keys.extend(dids.iter().map(Did::to_string));
        let likes = async {
            match self.viewer {
                Some(v) if !subjects.is_empty() => social::viewer_likes(&state.db, v, &subjects).await,
                _ => Ok(Vec::new()),
            }
        };
        let (actors, likes, labeled) =
            tokio::try_join!(state.caches.actors(&state.db, &dids), likes, self.labeled(&label_keys),)?;
        let viewer_likes = likes.into_iter().collect();
        h.absorb(Found { tracks, actors, viewer_likes, labeled, ..Found::default() }, self.hidden_labels());
        Ok(())
    }

    /// Actors (with their counts) and labels on them.
    pub async fn actors(&self, dids: &[Did]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let keys: Vec<String> = dids.iter().map(Did::to_string).collect();
        let (actors, labeled) = tokio::try_join!(state.caches.actors(&state.db, dids), self.labeled(&keys))?;
        let mut h = self.empty();
        h.absorb(Found { actors, labeled, ..Found::default() }, self.hidden_labels());
        Ok(h)
    }

    /// Lists and their authors.
    pub async fn lists(&self, uris: &[AtUri]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let rows = lists::by_uris(&state.db, uris).await?;
        let dids: Vec<Did> = rows.iter().map(|l| l.did.clone()).collect();
        let mut keys: Vec<String> = rows.iter().map(|l| l.uri.to_string()).collect();
        keys.extend(dids.iter().map(Did::to_string));
        let (actors, labeled) = tokio::try_join!(state.caches.actors(&state.db, &dids), self.labeled(&keys))?;
        let lists = rows.into_iter().map(|l| (l.uri.clone(), l)).collect();
        let mut h = self.empty();
        h.absorb(Found { lists, actors, labeled, ..Found::default() }, self.hidden_labels());
        Ok(h)
    }

    /// The visible ones among `rows` (in their order), with a hydration of their authors. Takes
    /// the rows so the hidden ones are gone: a skeleton pages before this, so cursors name rows
    /// whether or not they are shown.
    pub async fn records<R: Record>(&self, rows: Vec<R>) -> Result<(Vec<R>, Hydration), HydrateError> {
        let state = self.state;
        let dids: Vec<Did> = rows.iter().map(|r| r.did().clone()).collect();
        let mut keys: Vec<String> = rows.iter().map(|r| r.uri().to_owned()).collect();
        keys.extend(dids.iter().map(Did::to_string));
        let (actors, labeled) = tokio::try_join!(state.caches.actors(&state.db, &dids), self.labeled(&keys))?;
        let mut h = self.empty();
        let rows =
            h.absorb_records(rows, Found { actors, labeled, ..Found::default() }, self.hidden_labels());
        Ok((rows, h))
    }

    fn empty(&self) -> Hydration {
        Hydration::new(self.viewer.is_some())
    }

    fn hidden_labels(&self) -> &'a [String] {
        &self.state.options.hidden_labels
    }

    /// Which of `keys` carry a hidden label, from the labels held in memory.
    async fn labeled(&self, keys: &[String]) -> sqlx::Result<HashSet<String>> {
        self.state.caches.labels.carrying(&self.state.db, keys, self.hidden_labels()).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use plyr_atproto::Handle;

    use super::*;

    fn actor(did: &str, hidden: bool) -> (Did, Arc<ActorRow>) {
        let at = DateTime::from_timestamp(0, 0).expect("time");
        let a = ActorRow {
            did: Did::from_trusted(did),
            handle: Some(Handle::from_trusted(format!("{}.test", &did[8..]))),
            handle_verified: true,
            pds_endpoint: None,
            hidden,
            indexed_at: at,
            display_name: None,
            avatar_cid: None,
            bio: None,
            plyr_avatar_url: None,
            profile_created_at: None,
            tracks: 0,
            albums: 0,
            playlists: 0,
            likes: 0,
        };
        (Did::from_trusted(did), Arc::new(a))
    }

    fn track(uri: &str, did: &str, features: &[&str], self_labels: &[&str]) -> (AtUri, Arc<TrackRow>) {
        let at = DateTime::from_timestamp(0, 0).expect("time");
        let t = TrackRow {
            uri: AtUri::from_trusted(uri),
            id: 1,
            cid: "c".into(),
            did: Did::from_trusted(did),
            rkey: "r".into(),
            title: "t".into(),
            artist: "a".into(),
            album: None,
            duration: None,
            description: None,
            file_type: "mp3".into(),
            file_id: "f".into(),
            image_url: None,
            audio_url: None,
            audio_blob_cid: None,
            audio_blob_mime: None,
            audio_blob_size: None,
            features: features.iter().copied().map(Did::from_trusted).collect(),
            support_gate: None,
            self_labels: self_labels.iter().map(|l| (*l).to_owned()).collect(),
            created_at: at,
            indexed_at: at,
            sort_at: at,
            like_count: 0,
            comment_count: 0,
        };
        (AtUri::from_trusted(uri), Arc::new(t))
    }

    fn list(uri: &str, did: &str) -> (AtUri, ListRow) {
        let at = DateTime::from_timestamp(0, 0).expect("time");
        let l = ListRow {
            uri: AtUri::from_trusted(uri),
            id: "i".into(),
            cid: "c".into(),
            did: Did::from_trusted(did),
            rkey: "r".into(),
            name: None,
            list_type: Some("playlist".into()),
            item_count: 0,
            created_at: at,
            updated_at: None,
            indexed_at: at,
            sort_at: at,
        };
        (AtUri::from_trusted(uri), l)
    }

    struct Row(Did, &'static str);

    impl Record for Row {
        fn did(&self) -> &Did {
            &self.0
        }
        fn uri(&self) -> &str {
            self.1
        }
    }

    const ALICE: &str = "did:plc:alice";
    /// Deactivated.
    const CAROL: &str = "did:plc:carol";
    /// Carries a hidden label on the account.
    const DAVE: &str = "did:plc:dave";
    /// Not indexed: shown, as nothing says otherwise.
    const NOBODY: &str = "did:plc:nobody";

    fn found() -> Found {
        Found {
            actors: [actor(ALICE, false), actor(CAROL, true), actor(DAVE, false)].into_iter().collect(),
            tracks: [
                track("at://alice/t/plain", ALICE, &[CAROL, NOBODY], &[]),
                track("at://alice/t/self-hidden", ALICE, &[], &["!hide"]),
                track("at://alice/t/self-other", ALICE, &[], &["porn"]),
                track("at://alice/t/labeled", ALICE, &[], &[]),
                track("at://carol/t/1", CAROL, &[], &[]),
                track("at://dave/t/1", DAVE, &[], &[]),
                track("at://nobody/t/1", NOBODY, &[], &[]),
            ]
            .into_iter()
            .collect(),
            lists: [
                list("at://alice/l/1", ALICE),
                list("at://alice/l/labeled", ALICE),
                list("at://carol/l/1", CAROL),
            ]
            .into_iter()
            .collect(),
            viewer_likes: [("at://alice/t/plain", "at://v/like/1"), ("at://carol/t/1", "at://v/like/2")]
                .into_iter()
                .map(|(t, l)| (AtUri::from_trusted(t), AtUri::from_trusted(l)))
                .collect(),
            labeled: ["at://alice/t/labeled", "at://alice/l/labeled", "at://alice/c/labeled", DAVE]
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    #[test]
    fn accessors_answer_only_what_the_rules_let_through() {
        let hidden = ["!hide".to_owned(), "!takedown".to_owned()];
        let mut h = Hydration::new(true);
        h.absorb(found(), &hidden);
        let tracks = [
            ("at://alice/t/plain", true),
            ("at://alice/t/self-hidden", false),
            ("at://alice/t/self-other", true),
            ("at://alice/t/labeled", false),
            ("at://carol/t/1", false),
            ("at://dave/t/1", false),
            ("at://nobody/t/1", true),
        ];
        for (uri, shown) in tracks {
            assert_eq!(h.track(uri).is_some(), shown, "track {uri}");
        }
        let lists = [("at://alice/l/1", true), ("at://alice/l/labeled", false), ("at://carol/l/1", false)];
        for (uri, shown) in lists {
            assert_eq!(h.list(uri).is_some(), shown, "list {uri}");
        }
        let actors = [(ALICE, true), (CAROL, false), (DAVE, false), (NOBODY, false)];
        for (did, shown) in actors {
            assert_eq!(h.actor(did).is_some(), shown, "actor {did}");
        }
        assert_eq!(h.viewer_like("at://alice/t/plain"), Some("at://v/like/1"));
        assert_eq!(h.viewer_like("at://carol/t/1"), None, "no viewer state for a hidden track");
    }

    #[test]
    fn a_visible_track_credits_its_featured_artists_hidden_or_not() {
        let mut h = Hydration::new(false);
        h.absorb(found(), &["!hide".to_owned()]);
        let t = h.track("at://alice/t/plain").expect("visible");
        let credits: Vec<(&str, Option<&str>)> =
            h.features_including_hidden(t).map(|(d, a)| (d.as_str(), a.map(|a| a.did.as_str()))).collect();
        assert_eq!(credits, vec![(CAROL, Some(CAROL)), (NOBODY, None)]);
    }

    #[test]
    fn records_come_back_only_when_their_author_and_uri_are_visible() {
        let rows = vec![
            Row(Did::from_trusted(ALICE), "at://alice/c/1"),
            Row(Did::from_trusted(ALICE), "at://alice/c/labeled"),
            Row(Did::from_trusted(CAROL), "at://carol/c/1"),
            Row(Did::from_trusted(DAVE), "at://dave/c/1"),
            Row(Did::from_trusted(NOBODY), "at://nobody/c/1"),
        ];
        let mut h = Hydration::new(false);
        let kept = h.absorb_records(rows, found(), &["!hide".to_owned()]);
        let uris: Vec<&str> = kept.iter().map(|r| r.uri()).collect();
        assert_eq!(uris, vec!["at://alice/c/1", "at://nobody/c/1"]);
        assert!(h.actor(ALICE).is_some() && h.actor(CAROL).is_none());
    }
}
