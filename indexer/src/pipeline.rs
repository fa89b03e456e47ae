//! Between a source and the write path: a bounded channel, batching by size or time, applying a
//! batch as concurrent transactions over partitions of its DIDs, and the retry policy.
//!
//! A batch is split by DID into [`BatchConfig::partitions`] parts (events of one DID stay in one
//! part, in stream order), and each part goes to its partition's lane, which applies its parts
//! one after another, each in its own transaction with the batch's newest cursor stored under
//! its partition number. Lanes run concurrently, each in its own task; a batch is handed out once
//! every lane's queue has room for its part, so a lane is at most one part ahead of another.
//! Nothing the write path decides depends on where batches split (which moves with timing: a
//! live stream is cut by time, a resumed one starts at its cursor), so lanes leave the database
//! a sequential pass would. A source resumes from the oldest of its partitions' cursors, so a crash between two parts'
//! commits loses nothing: the part that had committed sees its events again and the ordering
//! guard finds them stale. Parts touch disjoint rows except shared counters
//! (likes and comments per subject), which are written in key order so they cannot deadlock.
//!
//! A failed part has changed nothing ([`Writer::apply_isolating`]): while the database is away
//! it is retried with capped backoff for as long as it takes; a part the database rejects for
//! its content is split until the offending event is found, which alone is dropped (counted and
//! logged) while the rest is applied in order and the cursor moves past it. Only an error that is
//! neither (a missing table, a driver error) stops the pipeline after a few attempts; the
//! process then exits non-zero and resumes from the stored cursors when restarted.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Cursor, SourceItem};
use crate::write::{BatchItem, Part, Prepared, WriteError, Writer, remember};

/// How events are grouped into transactions.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most events in one transaction.
    pub max_events: usize,
    /// Longest a partial batch waits for more events before it is applied.
    pub max_delay: Duration,
    /// Attempts per part, for errors that are neither an outage (waited out) nor a rejection
    /// of its content (split), before the pipeline gives up.
    pub attempts: u32,
    /// Transactions a batch is applied as, concurrently, each with a share of its DIDs.
    pub partitions: u16,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_events: 8000, max_delay: Duration::from_millis(50), attempts: 5, partitions: 2 }
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

/// Channel capacity between a source and the pipeline (backpressure on the source). Items wait
/// here with their decoded records (a map of the data model is a 1.3 KB tree node), and the
/// batch being collected takes them as they come even while the lanes are busy, so a short
/// queue is enough to keep the source running; 2,000 held 10 to 20 MiB of a replay's peak RSS.
pub const CHANNEL_CAPACITY: usize = 500;

/// A bounded channel for a source to feed the pipeline.
pub fn channel() -> (mpsc::Sender<SourceItem>, mpsc::Receiver<SourceItem>) {
    mpsc::channel(CHANNEL_CAPACITY)
}

/// Applies everything received until the channel closes (all senders dropped) or `shutdown`
/// fires; batches already handed to a lane are finished first.
///
/// Each partition is a lane: a batch's part for lane `k` is queued to it once every lane's queue
/// has room (at most one part waiting per lane), and lanes apply their parts concurrently, one
/// transaction each, while the next batch is collected. A lane's cursor row advances only with its own commits, in
/// order, so the oldest of them is still a point up to which every lane has committed
/// everything.
pub async fn run(
    writer: Arc<Writer>,
    rx: mpsc::Receiver<SourceItem>,
    config: BatchConfig,
    shutdown: CancellationToken,
) -> Result<PipelineTotals, WriteError> {
    let count = config.partitions.max(1);
    let failed = CancellationToken::new();
    let mut senders = Vec::with_capacity(usize::from(count));
    let mut lanes = Vec::with_capacity(usize::from(count));
    for index in 0..count {
        let (tx, lane_rx) = mpsc::channel::<LanePart>(1);
        senders.push(tx);
        // Each lane is its own task, so lanes' CPU work (validation, folding, encoding) runs on
        // different threads and overlaps the other lanes' statements.
        let (writer, config, failed) = (Arc::clone(&writer), config.clone(), failed.clone());
        let shutdown = shutdown.clone();
        lanes.push(tokio::spawn(async move {
            lane(&writer, lane_rx, Part { index, count }, &config, &failed, &shutdown).await
        }));
    }
    let (batches, lanes) =
        tokio::join!(dispatch(&writer, rx, senders, &config, &shutdown, &failed), join_all(lanes));
    let mut totals = PipelineTotals { batches, ..PipelineTotals::default() };
    for lane in lanes {
        // The first failed lane's error (the others have finished their parts); a lane whose task
        // ended without an answer (a panic) has committed nothing after its last part.
        let t = lane.map_err(|e| WriteError::Task(e.to_string()))??;
        totals.events += t.events;
        totals.applied += t.applied;
        totals.stale += t.stale;
        totals.dropped += t.dropped;
        totals.skipped += t.skipped;
    }
    Ok(totals)
}

/// Collects batches and hands each lane its part; stops when the source ends, `shutdown` fires
/// or a lane has failed (`failed`; [`run`] returns its error). Returns the batches handed out.
/// Every item is prepared as it is taken ([`Writer::prepare`]: its record checked and released),
/// so checking overlaps the lanes' writes and a batch holds rows, not decoded records.
///
/// A batch is cut when it is full, or when its deadline has passed and every lane can take a
/// part (its queue is empty: it is applying its previous part at most). While the lanes cannot,
/// the batch keeps filling, so a stream that is catching up is applied in full batches however
/// the source's pace compares with the deadline, and a live one waits at most
/// [`BatchConfig::max_delay`] when the lanes keep up. At most three batches are held: the one
/// being applied, the one queued behind it and the one being collected; they hold rows, not
/// decoded records, so that is less than the source's queue of parsed events used to hold.
async fn dispatch(
    writer: &Writer,
    mut rx: mpsc::Receiver<SourceItem>,
    lanes: Vec<mpsc::Sender<LanePart>>,
    config: &BatchConfig,
    shutdown: &CancellationToken,
    failed: &CancellationToken,
) -> u64 {
    let parts = u16::try_from(lanes.len()).unwrap_or(u16::MAX);
    let mut batches = 0;
    let mut batch: Vec<Prepared> = Vec::with_capacity(config.max_events);
    let mut floor: Vec<Cursor> = Vec::new();
    let mut held: Arc<Vec<Cursor>> = Arc::default();
    let mut closed = false;
    while !closed {
        let first = tokio::select! {
            item = rx.recv() => item,
            () = shutdown.cancelled() => None,
            () = failed.cancelled() => None,
        };
        let Some(first) = first else { break };
        crate::status::received();
        batch.push(writer.prepare(first));
        let deadline = tokio::time::sleep(config.max_delay);
        let ready = all_ready(&lanes);
        tokio::pin!(deadline, ready);
        let (mut due, mut permits) = (false, None);
        let permits = loop {
            // Take what is already queued without waiting.
            while batch.len() < config.max_events {
                match rx.try_recv() {
                    Ok(item) => batch.push(writer.prepare(item)),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let complete = closed || batch.len() >= config.max_events;
            if let Some(ready) = permits.take_if(|_| complete || due) {
                break ready;
            }
            tokio::select! {
                biased;
                () = failed.cancelled() => return batches,
                p = &mut ready, if permits.is_none() => match p {
                    Some(p) => permits = Some(p),
                    None => return batches, // a lane has ended: stop feeding the others
                },
                () = &mut deadline, if !due => due = true,
                item = rx.recv(), if !complete => match item {
                    Some(item) => batch.push(writer.prepare(item)),
                    None => closed = true,
                },
            }
        };
        if extend_floor(&mut floor, &batch) {
            held = Arc::new(floor.clone()); // shared by every part until another source appears
        }
        let split = partition(std::mem::take(&mut batch), parts);
        for (permit, items) in permits.into_iter().zip(split) {
            permit.send((items, held.clone()));
        }
        batches += 1;
        batch = Vec::with_capacity(config.max_events);
    }
    batches
}

/// Resolves when every lane's queue has room for a part, with the slots reserved; `None` if a
/// lane has ended.
async fn all_ready(lanes: &[mpsc::Sender<LanePart>]) -> Option<Vec<mpsc::Permit<'_, LanePart>>> {
    let mut permits = Vec::with_capacity(lanes.len());
    for lane in lanes {
        permits.push(lane.reserve().await.ok()?);
    }
    Some(permits)
}

/// Applies one lane's parts in order until its queue closes; stops at the first part that
/// fails with a fatal error (nothing of that part's failed range, or of any later part, is
/// committed), or when shutdown comes while it waits for the database.
async fn lane(
    writer: &Writer,
    mut parts: mpsc::Receiver<LanePart>,
    part: Part,
    config: &BatchConfig,
    failed: &CancellationToken,
    shutdown: &CancellationToken,
) -> Result<PipelineTotals, WriteError> {
    let mut totals = PipelineTotals::default();
    while let Some((items, floor)) = parts.recv().await {
        let started = std::time::Instant::now();
        let report = match writer.apply_isolating(&items, part, &floor, config.attempts, shutdown).await {
            Ok(report) => report,
            Err(WriteError::Interrupted) => {
                tracing::info!(
                    part = part.index,
                    "shutdown during a database outage: the rest of this part is applied from the stored cursor on the next start"
                );
                return Ok(totals);
            }
            Err(err) => {
                failed.cancel(); // the dispatcher stops collecting
                return Err(err);
            }
        };
        totals.events += report.events as u64;
        totals.applied += report.applied as u64;
        totals.stale += report.stale as u64;
        totals.dropped += report.dropped as u64;
        totals.skipped += report.skipped as u64;
        if let Some(c) = report.cursors.last() {
            crate::status::committed(c.time_us);
            let age = chrono::Utc::now().timestamp_micros().saturating_sub(c.time_us) as f64 / 1e6;
            metrics::gauge!("indexer_cursor_age_seconds", "source" => c.source.clone()).set(age.max(0.0));
        }
        tracing::debug!(
            part = part.index,
            events = report.events,
            ms = started.elapsed().as_millis() as u64,
            "part applied"
        );
    }
    Ok(totals)
}

/// A lane's share of a batch, with the run's starting position per source.
type LanePart = (Vec<Prepared>, Arc<Vec<Cursor>>);

/// Adds, for each source first seen in `batch`, the position just before its first item there:
/// where this run started. Until a lane has committed, its cursor row must not be missing, or
/// a restart would resume from the other lanes' positions and skip its events; every commit
/// stores this floor for the lanes that have no row yet (a replayed stretch is stale, so holding
/// a lane back costs time, never correctness). Returns whether a source was added.
fn extend_floor<T: BatchItem>(floor: &mut Vec<Cursor>, batch: &[T]) -> bool {
    let known = floor.len();
    for item in batch {
        let cursor = match item.source() {
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
    floor.len() > known
}

/// Splits a batch into `parts` by DID, keeping stream order within each part. Every part ends
/// with the batch's newest cursor of each source, so all parts store the same position; a
/// stream gap goes to part 0.
fn partition<T: BatchItem + From<SourceItem>>(batch: Vec<T>, parts: u16) -> Vec<Vec<T>> {
    let n = usize::from(parts);
    let mut newest: Vec<Cursor> = Vec::new();
    // Where each item goes (`None`: a position, folded into the closing cursors), counted first
    // so each part is allocated once at its size: DIDs rarely split evenly, and a part that
    // outgrew an even share would be copied into one twice the size.
    let targets: Vec<Option<usize>> = batch
        .iter()
        .map(|item| match item.source() {
            SourceItem::Event { event, cursor } => {
                remember(&mut newest, cursor);
                Some(part_of(event.did.as_str(), n))
            }
            SourceItem::Backfilled { did, .. } => Some(part_of(did.as_str(), n)),
            SourceItem::Position(cursor) => {
                remember(&mut newest, cursor);
                None
            }
            SourceItem::Gap { .. } => Some(0),
        })
        .collect();
    let mut sizes = vec![newest.len(); n];
    for target in targets.iter().flatten() {
        sizes[*target] += 1;
    }
    let mut out: Vec<Vec<T>> = sizes.into_iter().map(Vec::with_capacity).collect();
    for (item, target) in batch.into_iter().zip(targets) {
        if let Some(target) = target {
            out[target].push(item);
        }
    }
    for part in &mut out {
        part.extend(newest.iter().cloned().map(|c| T::from(SourceItem::Position(c))));
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
