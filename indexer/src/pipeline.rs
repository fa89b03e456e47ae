//! Between a source and the write path: a bounded channel, batching by size or time, and the
//! retry policy for failed batches.
//!
//! A batch is applied in one transaction with its cursor, so a failed batch has changed nothing:
//! it is retried as a whole with backoff, and after repeated failures the pipeline stops with
//! the error (the process exits non-zero and resumes from the stored cursor when restarted).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::SourceItem;
use crate::write::{BatchReport, WriteError, Writer};

/// How events are grouped into transactions.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most events in one transaction.
    pub max_events: usize,
    /// Longest a partial batch waits for more events before it is applied.
    pub max_delay: Duration,
    /// Attempts per batch before the pipeline gives up.
    pub attempts: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_events: 2000, max_delay: Duration::from_millis(50), attempts: 5 }
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

/// Channel capacity between a source and the pipeline (backpressure on the source).
pub const CHANNEL_CAPACITY: usize = 10_000;

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
        let report = apply_with_retry(&writer, &batch, &config).await?;
        tracing::debug!(events = report.events, ms = started.elapsed().as_millis() as u64, "batch applied");
        totals.batches += 1;
        totals.events += report.events as u64;
        totals.applied += report.applied as u64;
        totals.stale += report.stale as u64;
        totals.dropped += report.dropped as u64;
        totals.skipped += report.skipped as u64;
        if let Some(c) = report.cursors.last() {
            let age = chrono::Utc::now().timestamp_micros().saturating_sub(c.time_us) as f64 / 1e6;
            metrics::gauge!("indexer_cursor_age_seconds", "source" => c.source.clone()).set(age.max(0.0));
        }
        batch.clear();
    }
    Ok(totals)
}

async fn apply_with_retry(
    writer: &Writer,
    batch: &[SourceItem],
    config: &BatchConfig,
) -> Result<BatchReport, WriteError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match writer.apply(batch).await {
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
