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
use crate::db::social::{self, CommentRow, LikeRow};
use crate::db::tracks::TrackRow;
use crate::labels::{Applying, HeldLabel, Subject};
use crate::moderation::{Applied, Context};
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
    pub lists: HashMap<AtUri, Arc<ListRow>>,
    /// The viewer's like URI per track URI.
    pub viewer_likes: HashMap<AtUri, AtUri>,
    /// Record URIs and DIDs carrying a label the request's context hides.
    pub labeled: HashSet<String>,
    /// The labels that apply to each key that has any (for presenting).
    pub labels: Applying,
}

/// Everything loaded for one response that the viewer may see.
#[derive(Debug, Default)]
pub struct Hydration {
    tracks: HashMap<AtUri, Arc<TrackRow>>,
    lists: HashMap<AtUri, Arc<ListRow>>,
    actors: HashMap<Did, Arc<ActorRow>>,
    /// Actors the rules hide, kept only to credit them where a visible track features them.
    hidden_actors: HashMap<Did, Arc<ActorRow>>,
    viewer_likes: HashMap<AtUri, AtUri>,
    labels: Applying,
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
    pub fn absorb(&mut self, found: Found, judge: Judge<'_>) {
        let Found { tracks, actors, lists, viewer_likes, labeled, labels } = found;
        let facts = Facts { actors: &actors, labeled: &labeled, hiding: judge.hiding, viewer: judge.viewer };
        self.labels.extend(labels);
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
    fn absorb_records<R: Record>(&mut self, mut rows: Vec<R>, found: Found, judge: Judge<'_>) -> Vec<R> {
        let facts = Facts {
            actors: &found.actors,
            labeled: &found.labeled,
            hiding: judge.hiding,
            viewer: judge.viewer,
        };
        rows.retain(|r| facts.record_visible(r.did(), r.uri()));
        self.absorb(found, judge);
        rows
    }

    /// The labels that apply to the record or account `key` (a visible one's, for presenting).
    pub fn labels_on(&self, key: &str) -> &[Arc<HeldLabel>] {
        self.labels.get(key).map(Vec::as_slice).unwrap_or_default()
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
        self.lists.get(uri).map(Arc::as_ref)
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
    /// The record's version, when the row knows it (a label pinned to another is not applied).
    fn cid(&self) -> Option<&str>;
}

impl Record for LikeRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
    fn cid(&self) -> Option<&str> {
        Some(&self.cid)
    }
}

impl Record for CommentRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
    fn cid(&self) -> Option<&str> {
        Some(&self.cid)
    }
}

impl Record for ActivityRow {
    fn did(&self) -> &Did {
        &self.did
    }
    fn uri(&self) -> &str {
        &self.uri
    }
    fn cid(&self) -> Option<&str> {
        None
    }
}

/// What the rules need to judge one load besides what it found.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    /// Label values that hide in the load's context.
    pub hiding: &'a [String],
    pub viewer: Option<&'a Did>,
}

/// Batched loads, for one viewer, in one context, with the request's labelers.
#[derive(Debug, Clone)]
pub struct Hydrator<'a> {
    pub state: &'a AppState,
    pub viewer: Option<&'a Did>,
    applied: Arc<Applied>,
    hiding: &'a [String],
}

impl<'a> Hydrator<'a> {
    /// A hydrator for a view context (one thing asked for by name, one artist's or list's
    /// own items), applying the labelers of the request being served.
    pub fn new(state: &'a AppState, viewer: Option<&'a Did>) -> Self {
        let applied = crate::moderation::current(state);
        Hydrator { state, viewer, applied, hiding: state.policy.hiding(Context::View) }
    }

    /// The same for a list context (latest, top, search, for-you, activity): list-hidden
    /// labels hide too.
    pub fn listing(self) -> Self {
        self.in_context(Context::List)
    }

    /// The same for `context`.
    pub fn in_context(mut self, context: Context) -> Self {
        self.hiding = self.state.policy.hiding(context);
        self
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
        let mut label_keys: Vec<Subject<'_>> =
            tracks.values().map(|t| Subject { key: t.uri.as_str(), cid: Some(&t.cid) }).collect();
        label_keys.extend(dids.iter().map(|d| Subject { key: d.as_str(), cid: None }));
        let likes = async {
            match self.viewer {
                Some(v) if !subjects.is_empty() => social::viewer_likes(&state.db, v, &subjects).await,
                _ => Ok(Vec::new()),
            }
        };
        let (actors, likes, (labeled, labels)) =
            tokio::try_join!(state.caches.actors(&state.db, &dids), likes, self.labeled(&label_keys),)?;
        let viewer_likes = likes.into_iter().collect();
        h.absorb(Found { tracks, actors, viewer_likes, labeled, labels, ..Found::default() }, self.judge());
        Ok(())
    }

    /// Actors (with their counts) and labels on them.
    pub async fn actors(&self, dids: &[Did]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let keys: Vec<Subject<'_>> = dids.iter().map(|d| Subject { key: d.as_str(), cid: None }).collect();
        let (actors, (labeled, labels)) =
            tokio::try_join!(state.caches.actors(&state.db, dids), self.labeled(&keys))?;
        let mut h = self.empty();
        h.absorb(Found { actors, labeled, labels, ..Found::default() }, self.judge());
        Ok(h)
    }

    /// Lists and their authors.
    pub async fn lists(&self, uris: &[AtUri]) -> Result<Hydration, HydrateError> {
        let state = self.state;
        let lists = state.caches.lists(&state.db, uris).await?;
        let dids: Vec<Did> = lists.values().map(|l| l.did.clone()).collect();
        let mut keys: Vec<Subject<'_>> =
            lists.values().map(|l| Subject { key: l.uri.as_str(), cid: Some(&l.cid) }).collect();
        keys.extend(dids.iter().map(|d| Subject { key: d.as_str(), cid: None }));
        let (actors, (labeled, labels)) =
            tokio::try_join!(state.caches.actors(&state.db, &dids), self.labeled(&keys))?;
        drop(keys);
        let mut h = self.empty();
        h.absorb(Found { lists, actors, labeled, labels, ..Found::default() }, self.judge());
        Ok(h)
    }

    /// The visible ones among `rows` (in their order), with a hydration of their authors. Takes
    /// the rows so the hidden ones are gone: a skeleton pages before this, so cursors name rows
    /// whether or not they are shown.
    pub async fn records<R: Record>(&self, rows: Vec<R>) -> Result<(Vec<R>, Hydration), HydrateError> {
        let state = self.state;
        let dids: Vec<Did> = rows.iter().map(|r| r.did().clone()).collect();
        let mut keys: Vec<Subject<'_>> =
            rows.iter().map(|r| Subject { key: r.uri(), cid: r.cid() }).collect();
        keys.extend(dids.iter().map(|d| Subject { key: d.as_str(), cid: None }));
        let (actors, (labeled, labels)) =
            tokio::try_join!(state.caches.actors(&state.db, &dids), self.labeled(&keys))?;
        drop(keys);
        let mut h = self.empty();
        let rows =
            h.absorb_records(rows, Found { actors, labeled, labels, ..Found::default() }, self.judge());
        Ok((rows, h))
    }

    fn empty(&self) -> Hydration {
        Hydration::new(self.viewer.is_some())
    }

    fn judge(&self) -> Judge<'_> {
        Judge { hiding: self.hiding, viewer: self.viewer }
    }

    /// The labels that apply to `keys` (from the labels held in memory), and which keys carry
    /// one that hides in this context.
    async fn labeled(&self, keys: &[Subject<'_>]) -> sqlx::Result<(HashSet<String>, Applying)> {
        let labels = self.state.caches.labels.on(&self.state.db, keys, &self.applied).await?;
        let hidden = labels
            .iter()
            .filter(|(_, ls)| ls.iter().any(|l| self.hiding.iter().any(|h| **h == *l.val)))
            .map(|(k, _)| k.clone())
            .collect();
        Ok((hidden, labels))
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
            play_count: 0,
        };
        (AtUri::from_trusted(uri), Arc::new(t))
    }

    fn list(uri: &str, did: &str) -> (AtUri, Arc<ListRow>) {
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
        (AtUri::from_trusted(uri), Arc::new(l))
    }

    struct Row(Did, &'static str);

    impl Record for Row {
        fn did(&self) -> &Did {
            &self.0
        }
        fn uri(&self) -> &str {
            self.1
        }
        fn cid(&self) -> Option<&str> {
            None
        }
    }

    fn judge<'a>(hiding: &'a [String], viewer: Option<&'a Did>) -> Judge<'a> {
        Judge { hiding, viewer }
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
            labels: Applying::new(),
        }
    }

    #[test]
    fn accessors_answer_only_what_the_rules_let_through() {
        let hidden = ["!hide".to_owned(), "!takedown".to_owned()];
        let mut h = Hydration::new(true);
        h.absorb(found(), judge(&hidden, None));
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

    /// Labels never hide an author's records (or account) from the author; a deactivated
    /// account stays hidden, even from itself.
    #[test]
    fn authors_see_their_own_labelled_records() {
        let hidden = ["!hide".to_owned()];
        let (alice, dave, carol) =
            (Did::from_trusted(ALICE), Did::from_trusted(DAVE), Did::from_trusted(CAROL));
        let mut h = Hydration::new(true);
        h.absorb(found(), judge(&hidden, Some(&alice)));
        for uri in ["at://alice/t/self-hidden", "at://alice/t/labeled", "at://alice/l/labeled"] {
            assert!(h.track(uri).is_some() || h.list(uri).is_some(), "{uri} hidden from its author");
        }
        assert!(h.track("at://dave/t/1").is_none(), "someone else's labelled account");
        let mut h = Hydration::new(true);
        h.absorb(found(), judge(&hidden, Some(&dave)));
        assert!(h.actor(DAVE).is_some() && h.track("at://dave/t/1").is_some());
        let mut h = Hydration::new(true);
        h.absorb(found(), judge(&hidden, Some(&carol)));
        assert!(h.actor(CAROL).is_none() && h.track("at://carol/t/1").is_none());
    }

    #[test]
    fn a_visible_track_credits_its_featured_artists_hidden_or_not() {
        let mut h = Hydration::new(false);
        h.absorb(found(), judge(&["!hide".to_owned()], None));
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
        let kept = h.absorb_records(rows, found(), judge(&["!hide".to_owned()], None));
        let uris: Vec<&str> = kept.iter().map(|r| r.uri()).collect();
        assert_eq!(uris, vec!["at://alice/c/1", "at://nobody/c/1"]);
        assert!(h.actor(ALICE).is_some() && h.actor(CAROL).is_none());
    }
}
