//! Between a source and the write path: a bounded channel, batching by size or time, applying a
//! batch as concurrent transactions over partitions of its DIDs, and the retry policy.
//!
//! A batch is split by DID into [`BatchConfig::partitions`] parts (events of one DID stay in one
//! part, in stream order), and the parts are applied at once, each in its own transaction with
//! the batch's newest cursor stored under its partition number; the next batch starts when every
//! part has committed (independent lanes were faster, but let the next batch be cut short while
//! the source caught up, which made results depend on batch boundaries: see docs/BENCHMARKS.md). A
//! source resumes from the oldest of its partitions' cursors, so a crash between two parts'
//! commits loses nothing: the part that had committed sees its events again and the ordering
//! guard finds them stale. Parts touch disjoint rows except shared counters
//! (likes and comments per subject), which are written in key order so they cannot deadlock.
//!
//! A failed part has changed nothing: it is retried with backoff, and after repeated failures the
//! pipeline stops with the error (the process exits non-zero and resumes from the stored cursors
//! when restarted).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Cursor, SourceItem};
use crate::write::{BatchReport, Part, WriteError, Writer, remember};

/// How events are grouped into transactions.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most events in one transaction.
    pub max_events: usize,
    /// Longest a partial batch waits for more events before it is applied.
    pub max_delay: Duration,
    /// Attempts per batch before the pipeline gives up.
    pub attempts: u32,
    /// Transactions a batch is applied as, concurrently, each with a share of its DIDs.
    pub partitions: u16,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_events: 2000, max_delay: Duration::from_millis(50), attempts: 5, partitions: 2 }
    }
}

/// Totals over a pipeline's life.
#[derive(Debug, Default, Clone)]
pub struct PipelineTotals {
    pub batches: u64,
    pub events: u64,
    pub applied: u64,
    pub stale: u64,
    pub dropped: u64,
    pub skipped: u64,
}

/// Channel capacity between a source and the pipeline (backpressure on the source): two full
/// batches, enough to keep the writer fed. 10,000 held a third of a replay's peak RSS in parsed
/// events waiting (99 → 65 MiB at 4,000, no slower).
pub const CHANNEL_CAPACITY: usize = 4_000;

/// A bounded channel for a source to feed the pipeline.
pub fn channel() -> (mpsc::Sender<SourceItem>, mpsc::Receiver<SourceItem>) {
    mpsc::channel(CHANNEL_CAPACITY)
}

/// Applies everything received until the channel closes (all senders dropped) or `shutdown`
/// fires; a batch in progress is finished first.
pub async fn run(
    writer: Arc<Writer>,
    mut rx: mpsc::Receiver<SourceItem>,
    config: BatchConfig,
    shutdown: CancellationToken,
) -> Result<PipelineTotals, WriteError> {
    let mut totals = PipelineTotals::default();
    let mut batch: Vec<SourceItem> = Vec::with_capacity(config.max_events);
    let mut floor: Vec<Cursor> = Vec::new();
    loop {
        let first = tokio::select! {
            item = rx.recv() => item,
            () = shutdown.cancelled() => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while batch.len() < config.max_events {
            // Take what is already queued without waiting, then wait up to the deadline.
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(item)) => batch.push(item),
                        Ok(None) | Err(_) => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let started = std::time::Instant::now();
        extend_floor(&mut floor, &batch);
        let parts = partition(std::mem::take(&mut batch), config.partitions.max(1));
        let count = u16::try_from(parts.len()).unwrap_or(u16::MAX);
        let results = join_all(parts.iter().enumerate().map(|(index, items)| {
            let part = Part { index: u16::try_from(index).unwrap_or(u16::MAX), count };
            apply_with_retry(&writer, items, part, &config, &floor)
        }))
        .await;
        let mut events = 0;
        for report in results {
            let report = report?;
            events += report.events;
            totals.events += report.events as u64;
            totals.applied += report.applied as u64;
            totals.stale += report.stale as u64;
            totals.dropped += report.dropped as u64;
            totals.skipped += report.skipped as u64;
            if let Some(c) = report.cursors.last() {
                let age = chrono::Utc::now().timestamp_micros().saturating_sub(c.time_us) as f64 / 1e6;
                metrics::gauge!("indexer_cursor_age_seconds", "source" => c.source.clone()).set(age.max(0.0));
            }
        }
        tracing::debug!(events, ms = started.elapsed().as_millis() as u64, "batch applied");
        totals.batches += 1;
        batch = Vec::with_capacity(config.max_events);
    }
    Ok(totals)
}

/// Adds, for each source first seen in `batch`, the position just before its first item there:
/// where this run started. Until a partition has committed, its cursor row must not be missing,
/// or a restart would resume from the other partitions' positions and skip its events; every
/// commit stores this floor for the partitions that have no row yet (a replayed stretch is
/// stale, so holding a partition back costs time, never correctness).
fn extend_floor(floor: &mut Vec<Cursor>, batch: &[SourceItem]) {
    for item in batch {
        let cursor = match item {
            SourceItem::Event { cursor, .. } | SourceItem::Position(cursor) => cursor,
            SourceItem::Gap { .. } | SourceItem::Backfilled { .. } => continue,
        };
        if !floor.iter().any(|f| f.source == cursor.source) {
            floor.push(Cursor {
                value: cursor.value.saturating_sub(1),
                time_us: cursor.time_us.saturating_sub(1),
                ..cursor.clone()
            });
        }
    }
}

/// Splits a batch into `parts` by DID, keeping stream order within each part. Every part ends
/// with the batch's newest cursor of each source, so all parts store the same position; a
/// stream gap goes to part 0.
fn partition(batch: Vec<SourceItem>, parts: u16) -> Vec<Vec<SourceItem>> {
    let n = usize::from(parts);
    let mut out: Vec<Vec<SourceItem>> = (0..n).map(|_| Vec::with_capacity(batch.len() / n + 2)).collect();
    let mut newest: Vec<Cursor> = Vec::new();
    for item in batch {
        let target = match &item {
            SourceItem::Event { event, cursor } => {
                remember(&mut newest, cursor);
                part_of(event.did.as_str(), n)
            }
            SourceItem::Backfilled { did, .. } => part_of(did.as_str(), n),
            SourceItem::Position(cursor) => {
                remember(&mut newest, cursor);
                continue;
            }
            SourceItem::Gap { .. } => 0,
        };
        out[target].push(item);
    }
    for part in &mut out {
        part.extend(newest.iter().cloned().map(SourceItem::Position));
    }
    out
}

/// The partition of a DID's events.
fn part_of(did: &str, parts: usize) -> usize {
    if parts <= 1 {
        return 0;
    }
    let mut h = DefaultHasher::new();
    did.hash(&mut h);
    (h.finish() % parts as u64) as usize
}

async fn apply_with_retry(
    writer: &Writer,
    batch: &[SourceItem],
    part: Part,
    config: &BatchConfig,
    floor: &[Cursor],
) -> Result<BatchReport, WriteError> {
    if batch.is_empty() {
        return Ok(BatchReport::default()); // no events and no cursor: nothing to commit
    }
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match writer.apply_part(batch, part, floor).await {
            Ok(report) => return Ok(report),
            Err(err) if attempt < config.attempts => {
                tracing::warn!(%err, attempt, events = batch.len(), "batch failed; nothing was committed, retrying");
                metrics::counter!("indexer_batch_retries_total").increment(1);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(err) => {
                tracing::error!(%err, attempts = attempt, "batch failed repeatedly; stopping (the cursor was not advanced)");
                return Err(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jacquard_common::types::string::Did;

    use super::{part_of, partition};
    use crate::event::{Cursor, Event, EventBody, SourceItem};

    fn cursor(value: i64) -> Cursor {
        Cursor { source: "s".into(), value, time_us: value, issuer: None }
    }

    fn event(did: &str, value: i64) -> SourceItem {
        let did = Did::new_owned(did).expect("did");
        let event = Event { did, time_us: value, body: EventBody::Identity { handle: None } };
        SourceItem::Event { event, cursor: cursor(value) }
    }

    fn values(items: &[SourceItem]) -> Vec<(String, i64)> {
        items
            .iter()
            .map(|i| match i {
                SourceItem::Event { event, cursor } => (event.did.as_str().to_owned(), cursor.value),
                SourceItem::Position(c) => ("position".to_owned(), c.value),
                SourceItem::Gap { from, .. } => ("gap".to_owned(), *from),
                SourceItem::Backfilled { did, .. } => (format!("backfilled {did}"), 0),
            })
            .collect()
    }

    #[test]
    fn a_dids_events_stay_in_order_in_one_part_and_every_part_ends_at_the_newest_cursor() {
        let dids: Vec<String> = (0..40).map(|i| format!("did:plc:{i:024}")).collect();
        let mut batch = Vec::new();
        for n in 0..400 {
            batch.push(event(&dids[(n * 7) % dids.len()], n as i64 + 1));
        }
        batch.push(SourceItem::Position(cursor(500)));
        batch.insert(100, SourceItem::Gap { from: 99, reason: "CursorTooOld".into() });
        let parts = partition(batch, 3);
        assert_eq!(parts.len(), 3);
        let mut seen = 0;
        for (index, part) in parts.iter().enumerate() {
            let v = values(part);
            assert_eq!(
                v.last(),
                Some(&("position".to_owned(), 500)),
                "part {index} ends at the newest cursor"
            );
            let events: Vec<&(String, i64)> = v.iter().filter(|(d, _)| d.starts_with("did:")).collect();
            assert!(!events.is_empty(), "40 DIDs spread over every part");
            for (did, _) in &events {
                assert_eq!(part_of(did, 3), index, "{did} is always in its own part");
            }
            assert!(events.windows(2).all(|w| w[0].1 < w[1].1), "stream order kept within part {index}");
            assert_eq!(v.iter().any(|(d, _)| d == "gap"), index == 0, "a gap goes to part 0 only");
            seen += events.len();
        }
        assert_eq!(seen, 400, "nothing lost or doubled");
    }

    #[test]
    fn one_partition_is_the_batch_as_it_came_plus_its_cursor() {
        let batch =
            vec![event("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", 1), event("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", 2)];
        let expected = values(&batch);
        let parts = partition(batch, 1);
        assert_eq!(parts.len(), 1);
        let v = values(&parts[0]);
        assert_eq!(&v[..2], &expected[..]);
        assert_eq!(v[2], ("position".to_owned(), 2));
    }
}
