//! `indexer replay FILE`: applies a file of Jetstream v1 JSON lines through exactly the path live
//! events take (the same decoder, pipeline and write path). Tests, benchmarks and the offline demo
//! use it.
//!
//! The file's position is a cursor like any stream's (source `replay`, value = line number, issuer
//! = the file's path), stored with the data it covers: a replay that is killed resumes after the
//! last committed line. `restart` ignores the stored position and applies the file from the top
//! again (the write path is idempotent, so the result is the same).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Cursor, SourceItem};
use crate::jetstream::config::Protocol;
use crate::jetstream::message::{Frame, FrameDecoder};
use crate::pipeline::{self, BatchConfig, PipelineTotals};
use crate::write::{WriteError, Writer};

/// The `cursors` row of replays.
pub const SOURCE: &str = "replay";

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the reader task failed: {0}")]
    Reader(String),
}

/// What a replay did.
#[derive(Debug, Default, Clone)]
pub struct ReplaySummary {
    pub lines: u64,
    pub skipped_lines: u64,
    pub bad_lines: u64,
    pub totals: PipelineTotals,
}

/// Replays `path` into the database behind `writer`.
pub async fn replay(
    writer: Arc<Writer>,
    path: &Path,
    restart: bool,
    batch: BatchConfig,
    shutdown: CancellationToken,
) -> Result<ReplaySummary, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_owned(), source };
    let issuer = path.canonicalize().map_err(io)?.to_string_lossy().into_owned();
    let resume_after =
        match crate::db::cursors::load(writer.pool(), SOURCE).await.map_err(WriteError::from)? {
            Some(c) if !restart && c.issuer.as_deref() == Some(issuer.as_str()) => c.value,
            _ => 0,
        };
    if resume_after > 0 {
        tracing::info!(path = %path.display(), line = resume_after, "resuming replay after the last committed line");
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let (tx, rx) = pipeline::channel();
    let reader = {
        let shutdown = shutdown.clone();
        tokio::task::spawn_blocking(move || read_lines(file, issuer, resume_after, tx, shutdown))
    };
    let totals = pipeline::run(writer, rx, batch, shutdown).await;
    let mut summary = reader.await.map_err(|e| ReplayError::Reader(e.to_string()))?.map_err(io)?;
    summary.totals = totals?;
    Ok(summary)
}

/// Decodes lines after `resume_after` and sends them to the pipeline (runs on a blocking thread so
/// decoding overlaps with database writes).
fn read_lines(
    file: std::fs::File,
    issuer: String,
    resume_after: i64,
    tx: mpsc::Sender<SourceItem>,
    shutdown: CancellationToken,
) -> std::io::Result<ReplaySummary> {
    let decoder = FrameDecoder::new(Protocol::V1, "");
    let mut summary = ReplaySummary::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        let number = i64::try_from(index + 1).unwrap_or(i64::MAX);
        summary.lines += 1;
        if number <= resume_after || line.trim().is_empty() {
            summary.skipped_lines += 1;
            continue;
        }
        if shutdown.is_cancelled() {
            break;
        }
        match decoder.decode(line.as_bytes()) {
            Ok(Frame::Event { event, cursor }) => {
                let cursor = Cursor {
                    source: SOURCE.into(),
                    value: number,
                    time_us: cursor.time_us,
                    issuer: Some(issuer.clone()),
                };
                if tx.blocking_send(SourceItem::Event { event, cursor }).is_err() {
                    break; // the pipeline stopped (shutdown or error); it reports why
                }
            }
            Ok(_) => summary.skipped_lines += 1,
            Err(err) => {
                summary.bad_lines += 1;
                metrics::counter!("indexer_replay_bad_lines_total", "reason" => err.reason()).increment(1);
                tracing::warn!(line = number, %err, "skipping a line that is not a Jetstream event");
            }
        }
    }
    Ok(summary)
}
