//! Applying a part so that nothing in it can hold up the stream.
//!
//! A transaction that fails because the database is away is retried for as long as it takes
//! ([`DatabaseHealth::wait_out`](super::outage::DatabaseHealth::wait_out)). One the database
//! rejects for what it holds ([`Failure::Content`]) is split in two halves, applied in order,
//! and each half that fails again is split again, until the offending event stands alone: it
//! is dropped (`indexer_dropped_total{reason="database_rejected"}`, one WARN naming it) and its
//! cursor is committed on its own, so the stream moves past it. Each half commits with the
//! cursor of its own last event, so the lane's cursor still advances only with its commits and
//! in stream order; nothing the write path decides depends on where a batch splits, so the
//! result is what the part would have done without the dropped event. A failed transaction
//! changed nothing, so no attempt leaves anything behind.

use std::ops::Range;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::failure::Failure;
use super::{BatchItem, BatchReport, Part, WriteError, Writer, remember};
use crate::backoff::Backoff;
use crate::event::{Cursor, EventBody, SourceItem};

/// The `indexer_dropped_total` reason of an event the database would not store.
pub const DATABASE_REJECTED: &str = "database_rejected";

impl Writer {
    /// Applies `items` (partition `part` of a batch, see [`Writer::apply_part`]) in order,
    /// dropping only events the database rejects, and waiting out outages. Errors that are
    /// neither ([`Failure::Fatal`]) are tried `attempts` times and then returned;
    /// [`WriteError::Interrupted`] when `shutdown` fires during an outage. Nothing of a
    /// range whose transaction failed is committed, so on an error the stored cursor is at
    /// the last committed range.
    pub async fn apply_isolating<T: BatchItem + From<SourceItem>>(
        &self,
        items: &[T],
        part: Part,
        floor: &[Cursor],
        attempts: u32,
        shutdown: &CancellationToken,
    ) -> Result<BatchReport, WriteError> {
        let mut total = BatchReport::default();
        // Ranges still to apply, the next one last.
        let mut todo: Vec<Range<usize>> = Vec::with_capacity(16);
        todo.push(0..items.len());
        while let Some(range) = todo.pop() {
            let slice = &items[range.clone()];
            if slice.is_empty() {
                continue; // no events and no cursor: nothing to commit
            }
            let err = match self.apply_retrying(slice, part, floor, attempts, shutdown).await {
                Ok(report) => {
                    add(&mut total, report);
                    continue;
                }
                Err(err) if err.failure() == Failure::Content => err,
                Err(err) => return Err(err),
            };
            if slice.len() > 1 {
                let mid = range.start + slice.len() / 2;
                tracing::debug!(error = %err, events = slice.len(), "the database rejected a part; splitting it");
                todo.push(mid..range.end);
                todo.push(range.start..mid);
                continue;
            }
            let item = slice[0].source();
            rejected(item, &err);
            if let SourceItem::Event { .. } = item {
                total.events += 1;
                total.dropped += 1;
            }
            // The stream still moves past it: its cursor is committed without it.
            let Some(cursor) = cursor_of(item) else { continue };
            let stand_in = [T::from(SourceItem::Position(cursor.clone()))];
            match self.apply_retrying(&stand_in, part, floor, attempts, shutdown).await {
                Ok(report) => add(&mut total, report),
                Err(err) if err.failure() == Failure::Content => {
                    tracing::warn!(error = %err, source = %cursor.source, position = cursor.value, "cannot store a cursor; the next commit stores a later one");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(total)
    }

    /// One transaction over `items`: transient failures are waited out, fatal ones tried
    /// `attempts` times, content failures returned at once (the caller splits).
    async fn apply_retrying<T: BatchItem>(
        &self,
        items: &[T],
        part: Part,
        floor: &[Cursor],
        attempts: u32,
        shutdown: &CancellationToken,
    ) -> Result<BatchReport, WriteError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let mut attempt = 1;
        loop {
            let err = match self.health().wait_out(shutdown, || self.apply_part(items, part, floor)).await {
                Err(err) if err.failure() == Failure::Fatal && !matches!(err, WriteError::Interrupted) => err,
                other => return other,
            };
            if attempt >= attempts.max(1) {
                tracing::error!(%err, attempts = attempt, "batch failed repeatedly; stopping (the cursor was not advanced)");
                return Err(err);
            }
            tracing::warn!(%err, attempt, events = items.len(), "batch failed; nothing was committed, retrying");
            metrics::counter!("indexer_batch_retries_total").increment(1);
            tokio::select! {
                () = shutdown.cancelled() => return Err(WriteError::Interrupted),
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
            attempt += 1;
        }
    }
}

/// Adds a committed range's report to the part's.
fn add(total: &mut BatchReport, report: BatchReport) {
    total.events += report.events;
    total.applied += report.applied;
    total.stale += report.stale;
    total.dropped += report.dropped;
    total.skipped += report.skipped;
    for cursor in &report.cursors {
        remember(&mut total.cursors, cursor);
    }
}

/// The position an item moves its stream to.
fn cursor_of(item: &SourceItem) -> Option<&Cursor> {
    match item {
        SourceItem::Event { cursor, .. } | SourceItem::Position(cursor) => Some(cursor),
        SourceItem::Gap { .. } | SourceItem::Backfilled { .. } => None,
    }
}

/// Counts and logs (once) an item the database would not store.
fn rejected(item: &SourceItem, err: &WriteError) {
    metrics::counter!("indexer_dropped_total", "reason" => DATABASE_REJECTED).increment(1);
    let sqlstate = match err {
        WriteError::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    match item {
        SourceItem::Event { event, cursor } => {
            let did = event.did.as_str();
            let (kind, uri) = match &event.body {
                EventBody::Commit(op) => ("commit", op.uri(did)),
                EventBody::Identity { .. } => ("identity", String::new()),
                EventBody::Account { .. } => ("account", String::new()),
                EventBody::Sync { .. } => ("sync", String::new()),
            };
            tracing::warn!(
                %did, uri, kind, source = %cursor.source, seq = cursor.value, sqlstate, error = %err,
                "event dropped: the database rejected it"
            );
        }
        SourceItem::Backfilled { did, rev } => {
            tracing::warn!(%did, rev = rev.as_str(), sqlstate, error = %err, "backfill mark dropped: the database rejected it");
        }
        SourceItem::Gap { from, reason } => {
            tracing::warn!(from, reason, sqlstate, error = %err, "stream gap not recorded: the database rejected it");
        }
        SourceItem::Position(cursor) => {
            tracing::warn!(source = %cursor.source, position = cursor.value, sqlstate, error = %err, "cursor not stored: the database rejected it");
        }
    }
}
