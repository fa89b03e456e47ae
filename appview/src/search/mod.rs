//! Search, answered from an index in this process: track titles and artists, actors' handles and
//! display names, and list names, ranked exactly as plyr.fm ranks ([`corpus`]) over the nearest
//! candidates of each column ([`column`], pg_trgm's measures in [`trigram`]).
//!
//! The index is built from PostgreSQL when the process starts (or its change notifications
//! were interrupted, or a change was too large to list), in the background: until the first
//! build is in, searches run the SQL in `db::search`, so a replica answers from its first
//! request and stays stateless. Afterwards every announced change is applied within the
//! notification's round trip: the named tracks, lists and actors are read again and replaced.
//! One task ([`SearchIndex::run_updates`]) does both, in the order the notifications came, so an
//! update is never lost to a build that read the database before it.
//! Hidden accounts' documents stay in the index but are never returned; labels are judged by
//! the hydration that follows every search, as for every other read.

pub mod column;
pub mod corpus;
pub mod recent;
pub mod trigram;

use std::sync::RwLock;
use std::time::Instant;

use futures_util::TryStreamExt;
use plyr_store::changes::Change;
use sqlx::PgPool;

use self::column::Column;
use self::corpus::{Corpus, Dids, KeyShape, Query};
use self::recent::Recent;
use crate::cursor::TimeKey;
use crate::db::search::{self as sql, ActorText, ListText, TrackText};
use crate::db::{Hit, Skel, feeds, search::Query as SqlQuery};

const TRACK: &str = "fm.plyr.track";
const LIST: &str = "fm.plyr.list";
const BSKY_PROFILE: &str = "app.bsky.actor.profile";

/// List kinds the index tells apart (others are kept as "other").
const LIST_KINDS: [&str; 2] = ["album", "playlist"];

fn list_kind(list_type: Option<&str>) -> u8 {
    list_type.and_then(|t| LIST_KINDS.iter().position(|k| *k == t)).map_or(u8::MAX, |i| i as u8)
}

/// Everything indexed.
#[derive(Debug)]
struct Index {
    dids: Dids,
    tracks: Corpus,
    /// The tracks newest first (the latest feed).
    recent: Recent,
    actors: Corpus,
    lists: Corpus,
}

impl Index {
    fn new() -> Self {
        Index {
            dids: Dids::default(),
            tracks: Corpus::new(KeyShape::Record(TRACK), [Column::shared(), Column::shared()]),
            recent: Recent::default(),
            actors: Corpus::new(KeyShape::Did, [Column::distinct(), Column::shared()]),
            lists: Corpus::new(KeyShape::Record(LIST), [Column::shared(), Column::distinct()]),
        }
    }

    /// Adds or replaces a track; `fresh`: the index cannot hold it yet (a build).
    fn put_track(&mut self, t: &TrackText, fresh: bool) {
        let fields = [Some(t.title.as_str()), Some(t.artist.as_str())];
        let doc = if fresh {
            self.tracks.add(&mut self.dids, &t.did, &t.rkey, 0, fields)
        } else {
            self.tracks.put(&mut self.dids, &t.did, &t.rkey, 0, fields)
        };
        self.recent.note(doc, t.sort_at);
    }

    /// Puts the tracks put since the last call into the latest feed's order.
    fn settle(&mut self) {
        self.recent.settle(&self.tracks, &self.dids);
    }

    fn put_actor(&mut self, a: &ActorText, fresh: bool) {
        let id = self.dids.id(&a.did);
        self.dids.set_hidden(id, a.hidden);
        let fields = [a.handle.as_deref(), a.display_name.as_deref()];
        if fresh {
            self.actors.add(&mut self.dids, &a.did, "", 0, fields);
        } else {
            self.actors.put(&mut self.dids, &a.did, "", 0, fields);
        }
    }

    fn put_list(&mut self, l: &ListText, fresh: bool) {
        let (kind, fields) = (list_kind(l.list_type.as_deref()), [Some(l.name.as_str()), None]);
        if fresh {
            self.lists.add(&mut self.dids, &l.did, &l.rkey, kind, fields);
        } else {
            self.lists.put(&mut self.dids, &l.did, &l.rkey, kind, fields);
        }
    }

    fn shrink(&mut self) {
        self.dids.shrink();
        self.tracks.shrink();
        self.recent.shrink();
        self.actors.shrink();
        self.lists.shrink();
    }

    fn heap_bytes(&self) -> usize {
        self.dids.heap_bytes()
            + self.tracks.heap_bytes()
            + self.recent.heap_bytes()
            + self.actors.heap_bytes()
            + self.lists.heap_bytes()
    }
}

/// What the update task is asked to do.
#[derive(Debug)]
pub enum Update {
    Rebuild,
    Apply(Change),
}

/// Updates waiting for the task; past this many, the next is a rebuild.
const QUEUE: usize = 4096;

/// The index this process searches, once built.
#[derive(Debug)]
pub struct SearchIndex {
    index: RwLock<Option<Index>>,
    /// Serialises builds and updates, so an update never lands in an index a build replaces.
    writer: tokio::sync::Mutex<()>,
    queue: tokio::sync::mpsc::Sender<Update>,
    pending: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Update>>>,
    overflowed: std::sync::atomic::AtomicBool,
}

impl Default for SearchIndex {
    fn default() -> Self {
        let (queue, pending) = tokio::sync::mpsc::channel(QUEUE);
        SearchIndex {
            index: RwLock::new(None),
            writer: tokio::sync::Mutex::new(()),
            queue,
            pending: std::sync::Mutex::new(Some(pending)),
            overflowed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl SearchIndex {
    /// Queues an update for [`SearchIndex::run_updates`]; when the queue is full, the task
    /// rebuilds instead.
    pub fn request(&self, update: Update) {
        if self.queue.try_send(update).is_err() {
            self.overflowed.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Whether searches are answered from memory yet.
    pub fn ready(&self) -> bool {
        self.read(|_| ()).is_some()
    }

    fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> Option<T> {
        let guard = self.index.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().map(f)
    }

    fn write(&self, f: impl FnOnce(&mut Index)) {
        let mut guard = self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(index) = guard.as_mut() {
            f(index);
        }
    }

    /// Reads everything searchable from the database into a new index and swaps it in.
    pub async fn rebuild(&self, db: &PgPool) -> sqlx::Result<()> {
        let _one = self.writer.lock().await;
        let started = Instant::now();
        let mut index = Index::new();
        let mut actors = sql::all_actor_texts(db);
        while let Some(a) = actors.try_next().await? {
            index.put_actor(&a, true);
        }
        drop(actors);
        let mut tracks = sql::all_track_texts(db);
        while let Some(t) = tracks.try_next().await? {
            index.put_track(&t, true);
        }
        drop(tracks);
        let mut lists = sql::all_list_texts(db);
        while let Some(l) = lists.try_next().await? {
            index.put_list(&l, true);
        }
        drop(lists);
        index.settle();
        index.shrink();
        let (tracks, actors, lists, bytes) =
            (index.tracks.live(), index.actors.live(), index.lists.live(), index.heap_bytes());
        let mib = |b: usize| b >> 20;
        let (dids_mib, tracks_mib, actors_mib, lists_mib) = (
            mib(index.dids.heap_bytes()),
            mib(index.tracks.heap_bytes()),
            mib(index.actors.heap_bytes()),
            mib(index.lists.heap_bytes()),
        );
        *self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(index);
        metrics::gauge!("appview_search_index_bytes").set(bytes as f64);
        tracing::info!(
            tracks,
            actors,
            lists,
            mib = bytes >> 20,
            dids_mib,
            tracks_mib,
            actors_mib,
            lists_mib,
            took_ms = started.elapsed().as_millis() as u64,
            "search index built"
        );
        Ok(())
    }

    /// Applies one announced change: what it names is read again. A change too large to list
    /// needs a [`SearchIndex::rebuild`] instead (the caller's decision: it takes seconds).
    pub async fn apply(&self, db: &PgPool, change: &Change) -> sqlx::Result<()> {
        if !self.ready() {
            return Ok(());
        }
        let _one = self.writer.lock().await;
        let mut tracks: Vec<String> = Vec::new();
        let mut lists: Vec<String> = Vec::new();
        let mut dids: Vec<String> = change.dids.clone();
        for uri in &change.uris {
            let mut parts = uri.strip_prefix("at://").unwrap_or("").splitn(3, '/');
            let (Some(did), Some(collection), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            match collection {
                TRACK => tracks.push(uri.clone()),
                LIST => lists.push(uri.clone()),
                BSKY_PROFILE => dids.push(did.to_owned()),
                _ => {}
            }
        }
        let (found_tracks, found_lists, found_actors) = tokio::try_join!(
            async { if tracks.is_empty() { Ok(Vec::new()) } else { sql::track_texts(db, &tracks).await } },
            async { if lists.is_empty() { Ok(Vec::new()) } else { sql::list_texts(db, &lists).await } },
            async { if dids.is_empty() { Ok(Vec::new()) } else { sql::actor_texts(db, &dids).await } },
        )?;
        self.write(|index| {
            for (uris, corpus) in [(&tracks, &mut index.tracks), (&lists, &mut index.lists)] {
                for uri in uris {
                    // Gone unless read back below.
                    let mut parts = uri["at://".len()..].splitn(3, '/');
                    if let (Some(did), Some(_), Some(rkey)) = (parts.next(), parts.next(), parts.next()) {
                        corpus.remove(&index.dids, did, rkey);
                    }
                }
            }
            for did in &dids {
                index.actors.remove(&index.dids, did, "");
            }
            found_tracks.iter().for_each(|t| index.put_track(t, false));
            index.settle();
            found_lists.iter().for_each(|l| index.put_list(l, false));
            found_actors.iter().for_each(|a| index.put_actor(a, false));
        });
        Ok(())
    }
}

/// One corpus's answer from the index, `None` until the index is built.
fn from_index(
    index: &SearchIndex,
    q: &SqlQuery,
    corpus: fn(&Index) -> &Corpus,
    kind: Option<u8>,
    limit: i64,
    offset: i64,
) -> Option<Vec<Hit>> {
    let query = Query::new(&q.text);
    let (limit, offset) = (limit.max(0) as usize, offset.max(0) as usize);
    index.read(|i| corpus(i).search(&i.dids, &query, kind, limit, offset))
}

/// Tracks matching `q` (by title or artist), from the index when it is built, else from SQL.
pub async fn tracks(
    db: &PgPool,
    index: &SearchIndex,
    q: &SqlQuery,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Hit>> {
    match from_index(index, q, |i| &i.tracks, None, limit, offset) {
        Some(hits) => Ok(hits),
        None => sql::tracks(db, q, limit, offset).await,
    }
}

/// Everyone's newest tracks after `after` (hidden accounts' left out), from the index when it
/// is built, else from SQL: the same rows either way.
pub async fn latest(
    db: &PgPool,
    index: &SearchIndex,
    after: &TimeKey,
    limit: i64,
) -> sqlx::Result<Vec<Skel>> {
    let limit = limit.max(0) as usize;
    match index.read(|i| i.recent.page(&i.tracks, &i.dids, after.at, &after.uri, limit)) {
        Some(page) => Ok(page),
        None => feeds::latest(db, after, limit as i64).await,
    }
}

/// Actors matching `q` (by handle or display name); the key is the DID.
pub async fn actors(
    db: &PgPool,
    index: &SearchIndex,
    q: &SqlQuery,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Hit>> {
    match from_index(index, q, |i| &i.actors, None, limit, offset) {
        Some(hits) => Ok(hits),
        None => sql::actors(db, q, limit, offset).await,
    }
}

/// Lists of `list_type` matching `q` by name.
pub async fn lists(
    db: &PgPool,
    index: &SearchIndex,
    q: &SqlQuery,
    list_type: &str,
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    // A type the index does not tell apart is searched with SQL.
    let kind = list_kind(Some(list_type));
    let searched =
        (kind != u8::MAX).then(|| from_index(index, q, |i| &i.lists, Some(kind), limit, 0)).flatten();
    match searched {
        Some(hits) => Ok(hits),
        None => sql::lists(db, q, list_type, limit).await,
    }
}

impl SearchIndex {
    /// Applies queued updates in order until `shutdown` (one task per process; a second call
    /// returns at once), calling `updated` after each (the caller drops answers it cached while
    /// the index held the old state). A failed build or update is retried as a rebuild after a
    /// pause.
    pub async fn run_updates(
        &self,
        db: &PgPool,
        updated: impl Fn(),
        shutdown: &tokio_util::sync::CancellationToken,
    ) {
        use std::sync::atomic::Ordering;
        let taken = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some(mut queue) = taken else { return };
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = queue.recv() => next,
            };
            let Some(mut update) = next else { return };
            if self.overflowed.swap(false, Ordering::AcqRel) {
                update = Update::Rebuild;
            }
            let outcome = match &update {
                Update::Rebuild => {
                    // Whatever was queued before the build is in it.
                    while queue.try_recv().is_ok() {}
                    self.rebuild(db).await
                }
                Update::Apply(change) => self.apply(db, change).await,
            };
            updated();
            if let Err(e) = outcome {
                tracing::warn!(error = %e, ?update, "updating the search index failed; rebuilding shortly (SQL answers meanwhile if it was never built)");
                self.overflowed.store(true, Ordering::Release);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                }
                self.request(Update::Rebuild);
            }
        }
    }
}
