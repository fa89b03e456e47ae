//! Running backfills: one repo (locate, fetch, plan, apply, with retries and failure
//! bookkeeping), many repos with bounded concurrency (the `indexer backfill` command), and the
//! background worker of `indexer run` that drains the `repos` pending queue.
//!
//! Fetching and decoding run concurrently (bounded overall by `concurrency` and per host by the
//! [`Fetcher`]). Decoded repos then wait for one of `writers` write slots, and small repos
//! waiting together share one transaction (see [`Backfiller::apply`]). More repos are in flight
//! than are being fetched ([`IN_FLIGHT_PER_FETCH`]), so that while a transaction commits the next
//! group fills up instead of the fetchers idling behind the writer. Concurrent transactions hold
//! disjoint repos; the only rows they share are per-subject counters, which the write path
//! updates in key order, so they can wait on each other but not deadlock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jacquard_common::types::string::Did;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::http::Fetcher;
use super::locate::{RepoLocator, clip};
use super::plan::{PlanCounts, plan};
use super::progress::Progress;
use super::{BackfillConfig, BackfillError, fetch};
use crate::db;
use crate::event::SourceItem;
use crate::write::failure::{Failure, of_sqlx};
use crate::write::{Part, WriteError, Writer};
use plyr_atproto::repo::RepoError;

/// Repos in flight (fetching, or decoded and waiting for a writer) per fetch slot.
pub const IN_FLIGHT_PER_FETCH: usize = 8;

/// What one repo's backfill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoReport {
    pub did: String,
    /// The snapshot rev now stored as `repos.backfill_rev`.
    pub rev: String,
    /// `car` or `list`.
    pub source: &'static str,
    pub counts: PlanCounts,
}

/// Totals of a run over many repos.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub done: usize,
    pub failed: usize,
    /// Records created or deleted (unchanged ones not counted).
    pub records: u64,
    /// Records of the snapshots, changed or not.
    pub snapshot_records: u64,
    pub seconds: f64,
}

/// How the background worker paces itself.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Pending repos taken per round.
    pub batch: i64,
    /// Pause after a round that found nothing.
    pub idle: Duration,
    /// How often actors without backfill state (first seen live) are queued as `new`.
    pub new_every: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { batch: 64, idle: Duration::from_secs(2), new_every: Duration::from_secs(30) }
    }
}

/// A repo's single-batch plan waiting to be applied, and where its outcome goes.
#[derive(Debug)]
struct Queued {
    items: Vec<SourceItem>,
    done: oneshot::Sender<Result<(), BackfillError>>,
}

/// Backfills repos through the write path.
#[derive(Debug)]
pub struct Backfiller<L> {
    writer: Arc<Writer>,
    locator: L,
    fetcher: Fetcher,
    config: BackfillConfig,
    /// Repos being located, fetched, verified and decoded (`concurrency` permits).
    fetching: tokio::sync::Semaphore,
    /// Write transactions in progress (`writers` permits).
    writing: tokio::sync::Semaphore,
    /// Single-batch plans waiting to be applied in a group ([`Backfiller::apply`]).
    queued: std::sync::Mutex<VecDeque<Queued>>,
    records: AtomicU64,
}

impl<L: RepoLocator> Backfiller<L> {
    pub fn new(writer: Arc<Writer>, locator: L, config: BackfillConfig) -> Result<Self, BackfillError> {
        let fetcher = Fetcher::new(&config)?;
        Ok(Self {
            writer,
            locator,
            fetcher,
            fetching: tokio::sync::Semaphore::new(config.concurrency.max(1)),
            writing: tokio::sync::Semaphore::new(config.writers.max(1)),
            config,
            queued: std::sync::Mutex::new(VecDeque::new()),
            records: AtomicU64::new(0),
        })
    }

    /// The HTTP client (discovery shares its per-host limits).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn config(&self) -> &BackfillConfig {
        &self.config
    }

    /// One attempt at one repo.
    pub async fn repo_once(&self, did: &str) -> Result<RepoReport, BackfillError> {
        let parsed = Did::new_owned(did)
            .map_err(|e| BackfillError::Malformed { what: "DID", detail: format!("{}: {e}", clip(did)) })?;
        let time_us = chrono::Utc::now().timestamp_micros();
        let fetching = self.fetching.acquire().await.map_err(|_| BackfillError::Cancelled)?;
        let host = self.locator.locate(did, false).await?;
        let snapshot =
            match fetch::snapshot(&self.fetcher, &self.config, &host.pds, did, host.key.as_ref()).await {
                // The key may have rotated since it was cached: look it up again, once.
                Err(BackfillError::Repo(RepoError::Signature(_))) => {
                    let host = self.locator.locate(did, true).await?;
                    let key = host.key.as_ref().ok_or_else(|| BackfillError::NoKey(clip(did)))?;
                    fetch::by_car(&self.fetcher, &self.config, &host.pds, did, key).await?
                }
                other => other?,
            };
        let (rev, source, total) =
            (snapshot.rev.as_str().to_owned(), snapshot.source, snapshot.records.len());
        let held = db::backfill::held_records(self.writer.pool(), did).await?;
        let (batches, counts) = plan(&parsed, snapshot, &held, time_us, self.config.batch_size);
        drop(fetching);
        self.apply(batches).await?;
        metrics::counter!("indexer_backfill_records_total", "op" => "create")
            .increment(counts.creates as u64);
        metrics::counter!("indexer_backfill_records_total", "op" => "delete")
            .increment(counts.deletes as u64);
        metrics::counter!("indexer_backfill_records_total", "op" => "unchanged")
            .increment(counts.unchanged as u64);
        self.records.fetch_add(total as u64, Ordering::Relaxed);
        Ok(RepoReport { did: did.to_owned(), rev, source, counts })
    }

    /// Applies one repo's batches in a write slot, one transaction at a time. A repo whose plan
    /// is one batch (most plyr repos hold a few dozen records) joins the other small repos
    /// waiting at that moment in one transaction of at most `batch_size` events, so the
    /// per-transaction cost is paid per group instead of per repo; each repo is still marked done
    /// in the transaction of its records. A group that fails is applied again repo by repo, so
    /// one bad repo cannot fail the others.
    async fn apply(&self, batches: Vec<Vec<SourceItem>>) -> Result<(), BackfillError> {
        if batches.len() != 1 {
            let _slot = self.writing.acquire().await.map_err(|_| BackfillError::Cancelled)?;
            for batch in &batches {
                self.write(batch).await?;
            }
            return Ok(());
        }
        let Some(items) = batches.into_iter().next() else { return Ok(()) };
        let (done, mut outcome) = oneshot::channel();
        self.queued.lock().unwrap_or_else(|e| e.into_inner()).push_back(Queued { items, done });
        let slot = self.writing.acquire().await.map_err(|_| BackfillError::Cancelled)?;
        loop {
            match outcome.try_recv() {
                Ok(result) => return result,
                // The writer that took our plan was cancelled (shutdown) before applying it.
                Err(oneshot::error::TryRecvError::Closed) => return Err(BackfillError::Cancelled),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group = self.take_group();
            if group.is_empty() {
                // Another write slot took our plan and is applying it: free ours and wait.
                drop(slot);
                return outcome.await.unwrap_or(Err(BackfillError::Cancelled));
            }
            self.apply_group(group).await;
        }
    }

    /// Applies `items` in one transaction (or, if the database rejects one of them, around
    /// it: [`Writer::apply_isolating`]), waiting while the database is away. A repo's own
    /// retries cover other errors. The never-cancelled token is fine: on shutdown the repo's
    /// future, this one with it, is dropped.
    async fn write(&self, items: &[SourceItem]) -> Result<(), WriteError> {
        let never = CancellationToken::new();
        self.writer.apply_isolating(items, Part::WHOLE, &[], 1, &never).await.map(|_| ())
    }

    /// The oldest waiting plans, up to `batch_size` events together (at least one plan).
    fn take_group(&self) -> Vec<Queued> {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        let mut group: Vec<Queued> = Vec::new();
        let mut events = 0;
        while let Some(next) = queued.front() {
            if !group.is_empty() && events + next.items.len() > self.config.batch_size {
                break;
            }
            events += next.items.len();
            group.extend(queued.pop_front());
        }
        group
    }

    /// Applies a group of plans in one transaction (or one by one if that fails) and tells each
    /// waiting repo its outcome.
    /// The plans are moved end to end into one list (each repo keeps its range of it), so the
    /// retry repo by repo needs no copy of the records.
    async fn apply_group(&self, group: Vec<Queued>) {
        let mut items: Vec<SourceItem> = Vec::with_capacity(group.iter().map(|q| q.items.len()).sum());
        let mut repos = Vec::with_capacity(group.len());
        for queued in group {
            let start = items.len();
            items.extend(queued.items);
            repos.push((queued.done, start..items.len()));
        }
        if repos.len() > 1 && self.write(&items).await.is_ok() {
            for (done, _) in repos {
                let _ = done.send(Ok(()));
            }
            return;
        }
        for (done, range) in repos {
            let result = self.write(&items[range]).await.map_err(BackfillError::from);
            let _ = done.send(result);
        }
    }

    /// One repo with retries: a retryable failure waits (doubling from `retry_base`) and tries
    /// again up to `attempts` times; each failure is stored (`attempts`, `last_error`), and the
    /// last one marks the repo failed.
    pub async fn repo(&self, did: &str, shutdown: &CancellationToken) -> Result<RepoReport, BackfillError> {
        let started = Instant::now();
        let mut delay = self.config.retry_base;
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            let result = tokio::select! {
                () = shutdown.cancelled() => Err(BackfillError::Cancelled),
                r = self.repo_once(did) => r,
            };
            let err = match result {
                Ok(report) => {
                    metrics::counter!("indexer_backfill_repos_total", "outcome" => "done").increment(1);
                    metrics::histogram!("indexer_backfill_seconds").record(started.elapsed().as_secs_f64());
                    tracing::debug!(did, rev = %report.rev, source = report.source, creates = report.counts.creates,
                        deletes = report.counts.deletes, unchanged = report.counts.unchanged, "repo backfilled");
                    return Ok(report);
                }
                Err(BackfillError::Cancelled) => return Err(BackfillError::Cancelled),
                Err(err) => err,
            };
            let give_up = !err.retryable() || attempt == attempts;
            db::backfill::record_failure(self.writer.pool(), did, &err.to_string(), give_up).await?;
            if give_up {
                metrics::counter!("indexer_backfill_repos_total", "outcome" => "failed").increment(1);
                tracing::warn!(did, %err, attempt, reason = err.reason(), "repo backfill failed");
                return Err(err);
            }
            metrics::counter!("indexer_backfill_retries_total").increment(1);
            tracing::info!(did, %err, attempt, retry_in_ms = delay.as_millis() as u64, "repo backfill failed; retrying");
            tokio::select! {
                () = shutdown.cancelled() => return Err(BackfillError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
            delay = delay.saturating_mul(2);
        }
        Err(BackfillError::Cancelled) // unreachable: the last attempt returns above
    }

    /// Backfills `dids` (deduplicated), `concurrency` fetched at a time, until done or
    /// `shutdown`.
    pub async fn run(
        &self,
        mut dids: Vec<String>,
        progress: &Progress,
        shutdown: &CancellationToken,
    ) -> Summary {
        let started = Instant::now();
        let before = self.records.load(Ordering::Relaxed);
        dids.sort_unstable();
        dids.dedup();
        let mut summary = Summary::default();
        let mut results = futures_util::stream::iter(dids)
            .map(|did| async move { self.repo(&did, shutdown).await })
            .buffer_unordered(self.config.concurrency.max(1).saturating_mul(IN_FLIGHT_PER_FETCH));
        while let Some(result) = results.next().await {
            match result {
                Ok(report) => {
                    summary.done += 1;
                    summary.records += (report.counts.creates + report.counts.deletes) as u64;
                }
                Err(BackfillError::Cancelled) => {}
                Err(_) => summary.failed += 1,
            }
            progress.repo_finished(summary.records);
        }
        summary.snapshot_records = self.records.load(Ordering::Relaxed) - before;
        summary.seconds = started.elapsed().as_secs_f64();
        summary
    }

    /// The background worker: queues actors first seen live (`new`), then backfills pending
    /// repos (new, desynchronized, behind a stream gap) a round at a time, until `shutdown`.
    pub async fn run_queue(&self, queue: QueueConfig, shutdown: CancellationToken) {
        let mut next_new = Instant::now();
        while !shutdown.is_cancelled() {
            if Instant::now() >= next_new {
                match db::backfill::queue_new(self.writer.pool()).await {
                    Ok(n) if n > 0 => tracing::info!(repos = n, "queued newly seen repos for backfill"),
                    Ok(_) => {}
                    Err(err) if of_sqlx(&err) == Failure::Transient => {
                        tracing::debug!(%err, "queueing new repos failed: database unavailable")
                    }
                    Err(err) => tracing::warn!(%err, "queueing new repos failed"),
                }
                next_new = Instant::now() + queue.new_every;
            }
            let dids = match db::backfill::pending(self.writer.pool(), false, queue.batch).await {
                Ok(dids) => dids,
                Err(err) => {
                    if of_sqlx(&err) == Failure::Transient {
                        tracing::debug!(%err, "reading the backfill queue failed: database unavailable");
                    } else {
                        tracing::warn!(%err, "reading the backfill queue failed");
                    }
                    Vec::new()
                }
            };
            if dids.is_empty() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(queue.idle) => continue,
                }
            }
            let summary = self.run(dids, &Progress::hidden(), &shutdown).await;
            tracing::info!(
                done = summary.done,
                failed = summary.failed,
                records = summary.records,
                "backfill round finished"
            );
        }
    }
}
