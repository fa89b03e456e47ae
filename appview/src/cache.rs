//! In-process caches of hydrated rows (tracks with their counts, actors with theirs, lists,
//! authors' albums), the top-track rankings and the labels, kept fresh by the indexer's
//! `NOTIFY plyr_changes` announcements.
//!
//! Correctness under races: a reader notes the invalidation epoch before it queries the
//! database and only stores what it read if no invalidation arrived meanwhile, so a row read just
//! before a change can never overwrite the invalidation that change caused. Entries also expire
//! after a TTL as a backstop, and everything is dropped when the notification connection is
//! lost (announcements may have been missed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plyr_atproto::{AtUri, Did};
use plyr_store::changes::{CHANNEL, Change};

use crate::search::Update;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::albums::AuthorAlbums;
use crate::db::actors::ActorRow;
use crate::db::lists::ListRow;
use crate::db::tracks::TrackRow;
use crate::db::{actors, lists, rest, tracks};
use crate::row_cache::RowCache;

/// The caches, shared by every request of this process.
#[derive(Debug)]
pub struct Caches {
    tracks: RowCache<AtUri, TrackRow>,
    actors: RowCache<Did, ActorRow>,
    albums: RowCache<Did, AuthorAlbums>,
    lists: RowCache<AtUri, ListRow>,
    /// Track views as built from the cached rows ([`crate::track_views`]).
    pub track_views: crate::track_views::TrackViews,
    /// The top-track rankings, reloaded when the ranker announces new ones.
    pub rankings: crate::ranking::Rankings,
    /// Labelers' labels, reloaded when a label change is announced.
    pub labels: crate::labels::Labels,
    /// The search index, updated from the same announcements.
    pub search: crate::search::SearchIndex,
    /// Whole anonymous answers ([`crate::response_cache`]); emptied by every change.
    pub responses: crate::response_cache::Responses,
    epoch: AtomicU64,
}

impl Caches {
    /// Row caches holding about `mib` MiB in all (7/16 of it built track views, 1/16 lists), entries living
    /// at most `ttl`.
    /// `labelers` are the labelers whose labels are held (the service's own DID and
    /// `--labelers`).
    pub fn new(
        mib: u64,
        ttl: Duration,
        responses: crate::response_cache::Responses,
        labelers: Vec<String>,
    ) -> Self {
        let share = |parts: u64| mib.saturating_mul(1 << 20) / 32 * parts;
        Caches {
            tracks: RowCache::new(share(8), ttl),
            actors: RowCache::new(share(4), ttl),
            albums: RowCache::new(share(4), ttl),
            lists: RowCache::new(share(2), ttl),
            track_views: crate::track_views::TrackViews::new(share(14), ttl),
            rankings: crate::ranking::Rankings::default(),
            labels: crate::labels::Labels::new(labelers),
            search: crate::search::SearchIndex::default(),
            responses,
            epoch: AtomicU64::new(0),
        }
    }

    /// Tracks by URI, from the cache where possible; URIs not indexed are absent.
    pub async fn tracks(&self, db: &PgPool, uris: &[AtUri]) -> sqlx::Result<HashMap<AtUri, Arc<TrackRow>>> {
        self.load(
            &self.tracks,
            uris,
            |missing| async move { tracks::by_uris(db, &missing).await },
            |t| &t.uri,
        )
        .await
    }

    /// Actors by DID, from the cache where possible; unknown DIDs are absent.
    pub async fn actors(&self, db: &PgPool, dids: &[Did]) -> sqlx::Result<HashMap<Did, Arc<ActorRow>>> {
        self.load(
            &self.actors,
            dids,
            |missing| async move { actors::by_dids(db, &missing).await },
            |a| &a.did,
        )
        .await
    }

    /// Lists by URI, from the cache where possible; URIs not indexed are absent.
    pub async fn lists(&self, db: &PgPool, uris: &[AtUri]) -> sqlx::Result<HashMap<AtUri, Arc<ListRow>>> {
        self.load(&self.lists, uris, |missing| async move { lists::by_uris(db, &missing).await }, |l| &l.uri)
            .await
    }

    /// The named albums of each of `dids` (an entry for every one, empty when they have none).
    pub async fn albums(&self, db: &PgPool, dids: &[Did]) -> sqlx::Result<HashMap<Did, Arc<AuthorAlbums>>> {
        self.load(
            &self.albums,
            dids,
            |missing| async move {
                let rows = rest::albums_of_authors(db, &missing).await?;
                Ok(AuthorAlbums::from_rows(&missing, rows))
            },
            |a| &a.did,
        )
        .await
    }

    /// Rows for `keys` from `cache`, fetching the missing ones with `fetch` (one query) and
    /// caching them unless an invalidation arrived while the query ran.
    async fn load<K, T, F, Fut>(
        &self,
        cache: &RowCache<K, T>,
        keys: &[K],
        fetch: F,
        key_of: impl Fn(&T) -> &K,
    ) -> sqlx::Result<HashMap<K, Arc<T>>>
    where
        K: Clone + Ord + std::hash::Hash + Send + Sync + 'static,
        T: crate::row_cache::Weigh + Send + Sync + 'static,
        F: FnOnce(Vec<K>) -> Fut,
        Fut: std::future::Future<Output = sqlx::Result<Vec<T>>>,
    {
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            match cache.get(key) {
                Some(row) => {
                    found.insert(key.clone(), row);
                }
                None => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort();
        missing.dedup();
        let epoch = self.epoch.load(Ordering::Acquire);
        let rows = fetch(missing).await?;
        let keep = self.epoch.load(Ordering::Acquire) == epoch;
        for row in rows {
            let row = Arc::new(row);
            let key = key_of(&row).clone();
            if keep {
                cache.insert(key.clone(), row.clone());
            }
            found.insert(key, row);
        }
        Ok(found)
    }

    /// The invalidation epoch: it moves whenever anything is invalidated.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Drops whatever `change` names, and every cached whole answer.
    pub async fn invalidate(&self, change: &Change) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.responses.invalidate_all();
        if change.all {
            self.invalidate_all();
            return;
        }
        for uri in &change.uris {
            self.tracks.invalidate(uri.as_str());
            self.lists.invalidate(uri.as_str());
        }
        for did in &change.dids {
            self.actors.invalidate(did.as_str());
            self.albums.invalidate(did.as_str());
        }
    }

    /// Publishes each cache's entry count (and the response cache's bytes) as gauges, for
    /// `/metrics`: with the allocator's figures they tell a growing cache from a leak.
    pub fn record_gauges(&self) {
        let caches = [
            ("tracks", self.tracks.entry_count()),
            ("actors", self.actors.entry_count()),
            ("albums", self.albums.entry_count()),
            ("lists", self.lists.entry_count()),
            ("responses", self.responses.entry_count()),
            ("track_views", self.track_views.entry_count()),
        ];
        for (name, entries) in caches {
            metrics::gauge!("appview_cache_entries", "cache" => name).set(entries as f64);
        }
        let rows = [
            ("tracks", self.tracks.weighted_size()),
            ("actors", self.actors.weighted_size()),
            ("albums", self.albums.weighted_size()),
            ("lists", self.lists.weighted_size()),
            ("track_views", self.track_views.weighted_size()),
        ];
        for (name, bytes) in rows {
            metrics::gauge!("appview_cache_bytes", "cache" => name).set(bytes as f64);
        }
        metrics::gauge!("appview_response_cache_bytes").set(self.responses.weighted_size() as f64);
    }

    /// Drops everything.
    pub fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.tracks.invalidate_all();
        self.actors.invalidate_all();
        self.albums.invalidate_all();
        self.lists.invalidate_all();
        self.track_views.invalidate_all();
        self.responses.invalidate_all();
    }
}

/// Listens for the indexer's announcements until `shutdown`, invalidating `caches`.
/// Reconnects on its own; drops everything after a lost connection.
pub async fn listen(db: PgPool, caches: Arc<Caches>, shutdown: CancellationToken) {
    follow(db, None, caches, shutdown).await;
}

/// [`listen`] for a process reading from `read` (`db`), a streaming replica of `primary`: the
/// announcements come from the primary and each is applied once the replica has replayed it
/// ([`crate::replica`]).
pub async fn follow(db: PgPool, primary: Option<PgPool>, caches: Arc<Caches>, shutdown: CancellationToken) {
    let notifier = primary.clone().unwrap_or_else(|| db.clone());
    loop {
        let mut listener = match PgListener::connect_with(&notifier).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the change-notification connection; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            continue;
        }
        // Anything may have changed while we were not listening.
        caches.invalidate_all();
        let mut held = HeldReload::now(reload_held(&db, &caches, Reread::BOTH).await);
        caches.search.request(Update::Rebuild);
        tracing::info!(channel = CHANNEL, "listening for index changes");
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(held.due().into()) => {
                    held = HeldReload::now(reload_held(&db, &caches, Reread::BOTH).await);
                    continue;
                }
                n = listener.try_recv() => n,
            };
            match next {
                Ok(Some(n)) => {
                    let mut payloads = vec![n.payload().to_owned()];
                    if let Some(primary) = &primary {
                        while let Some(more) = listener.next_buffered() {
                            payloads.push(more.payload().to_owned());
                        }
                        match crate::replica::caught_up(primary, &db, &shutdown).await {
                            Ok(Some(_)) => {}
                            Ok(None) => return,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot read the primary's WAL position; dropping caches");
                                payloads = vec![r#"{"all":true}"#.to_owned()];
                            }
                        }
                    }
                    for payload in payloads {
                        held = apply(&db, &caches, &payload, held).await;
                    }
                }
                Ok(None) => {
                    tracing::warn!("change-notification connection lost; dropping caches and reconnecting");
                    caches.invalidate_all();
                    held = HeldReload::now(reload_held(&db, &caches, Reread::BOTH).await);
                    caches.search.request(Update::Rebuild);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change-notification connection failed; reconnecting");
                    caches.invalidate_all();
                    break;
                }
            }
        }
    }
}

/// Applies one announcement: re-reads the rankings and labels it names, drops the cached rows
/// and answers it names, and queues the search index's update.
async fn apply(db: &PgPool, caches: &Caches, payload: &str, held: HeldReload) -> HeldReload {
    let change = Change::parse(payload).unwrap_or_else(|| {
        tracing::warn!(payload, "unreadable change notification; dropping caches");
        Change::everything()
    });
    metrics::counter!("appview_cache_invalidations_total").increment(1);
    // New rankings and labels are read before cached answers are dropped, so no answer built
    // from the old ones can be cached after the drop.
    let reread = Reread { rankings: change.rankings || change.all, labels: change.labels || change.all };
    let held = if reread.rankings || reread.labels {
        HeldReload::now(reload_held(db, caches, reread).await)
    } else {
        held
    };
    caches.invalidate(&change).await;
    if change.all {
        caches.search.request(Update::Rebuild);
    } else if change.touches_records() {
        caches.search.request(Update::Apply(change));
    }
    held
}

/// Which tables held whole in memory to read again.
#[derive(Debug, Clone, Copy)]
struct Reread {
    rankings: bool,
    labels: bool,
}

impl Reread {
    const BOTH: Reread = Reread { rankings: true, labels: true };
}

/// Reads the rankings and/or the labels again; whether that worked.
async fn reload_held(db: &PgPool, caches: &Caches, which: Reread) -> bool {
    let mut ok = true;
    if which.rankings
        && let Err(e) = caches.rankings.reload(db).await
    {
        tracing::warn!(error = %e, "cannot read the rankings; serving the ones in memory and retrying shortly");
        ok = false;
    }
    if which.labels
        && let Err(e) = caches.labels.reload(db).await
    {
        tracing::warn!(error = %e, "cannot read the labels; applying the ones in memory and retrying shortly");
        ok = false;
    }
    ok
}

/// When the rankings and labels are read again without an announcement: soon after a failed
/// read, else as a backstop (an announcement lost with its connection is also covered by the
/// reconnect).
struct HeldReload(std::time::Instant);

impl HeldReload {
    const RETRY: Duration = Duration::from_millis(500);
    const BACKSTOP: Duration = Duration::from_secs(60);

    fn now(read: bool) -> Self {
        HeldReload(std::time::Instant::now() + if read { Self::BACKSTOP } else { Self::RETRY })
    }

    fn due(&self) -> std::time::Instant {
        self.0
    }
}

/// Keeps `caches.search` up to date until `shutdown` (the queue [`listen`] fills), dropping the
/// cached answers after every update.
pub async fn update_search(db: PgPool, caches: Arc<Caches>, shutdown: CancellationToken) {
    caches.search.run_updates(&db, || caches.responses.invalidate_all(), &shutdown).await;
}
