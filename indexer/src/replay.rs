//! `indexer replay FILE`: applies a file of Jetstream v1 JSON lines through exactly the path live
//! events take (the same decoder, pipeline and write path). Tests, benchmarks and the offline demo
//! use it.
//!
//! The file's position is a cursor like any stream's (source `replay`, value = line number, issuer
//! = the file's path), stored with the data it covers: a replay that is killed resumes after the
//! last committed line. `restart` ignores the stored position and applies the file from the top
//! again (the write path is idempotent, so the result is the same).
//!
//! With a writer that trusts stream handles (`--trust-stream-handles`), the handles the file's
//! `#identity` events announce are kept and, once the file is applied, stored for the accounts
//! whose identity does not resolve ([`crate::identity::resolve_or_trust`]).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Cursor, EventBody, SourceItem};
use crate::identity::ClaimedHandles;
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
    /// Handles taken from the file unverified (`--trust-stream-handles`).
    pub trusted_handles: usize,
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
    let resume_after = match writer.stored_cursor(SOURCE, &shutdown).await? {
        Some(c) if !restart && c.issuer.as_deref() == Some(issuer.as_str()) => c.value,
        _ => 0,
    };
    if resume_after > 0 {
        tracing::info!(path = %path.display(), line = resume_after, "resuming replay after the last committed line");
    }
    let trust = writer.stream_handles_trust().cloned();
    if trust.is_some() {
        tracing::warn!("trusting handles from the stream without verification: local replay only");
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let (tx, rx) = pipeline::channel();
    let reader = {
        let shutdown = shutdown.clone();
        let max_record_bytes = writer.max_record_bytes();
        let claims = trust.is_some().then(ClaimedHandles::default);
        tokio::task::spawn_blocking(move || {
            read_lines(file, issuer, resume_after, max_record_bytes, claims, tx, shutdown)
        })
    };
    let pool = writer.pool().clone();
    let totals = pipeline::run(writer, rx, batch, shutdown.clone()).await;
    let (mut summary, claims) = reader.await.map_err(|e| ReplayError::Reader(e.to_string()))?.map_err(io)?;
    summary.totals = totals?;
    if let (Some(config), Some(claims)) = (trust, claims)
        && !claims.is_empty()
        && !shutdown.is_cancelled()
    {
        let report =
            crate::identity::resolve_or_trust(&pool, config, claims).await.map_err(WriteError::from)?;
        tracing::info!(
            resolved = report.resolved,
            trusted = report.trusted,
            "handles announced in the file: identities that resolved are stored as resolved, the others' handles as announced"
        );
        summary.trusted_handles = report.trusted;
    }
    Ok(summary)
}

/// Decodes lines after `resume_after` and sends them to the pipeline (runs on a blocking thread so
/// decoding overlaps with database writes).
fn read_lines(
    file: std::fs::File,
    issuer: String,
    resume_after: i64,
    max_record_bytes: usize,
    mut claims: Option<ClaimedHandles>,
    tx: mpsc::Sender<SourceItem>,
    shutdown: CancellationToken,
) -> std::io::Result<(ReplaySummary, Option<ClaimedHandles>)> {
    let decoder = FrameDecoder::new(Protocol::V1, "").with_max_record_bytes(max_record_bytes);
    let mut summary = ReplaySummary::default();
    // Lines are read as bytes into one reused buffer: the JSON parser checks the UTF-8 of every
    // string it reads, so a line that is not UTF-8 is a bad line like any other (counted and
    // skipped) rather than an I/O error that ends the replay, and no line is validated twice.
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut buffer = Vec::new();
    let mut number: i64 = 0;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            break;
        }
        number = number.saturating_add(1);
        summary.lines += 1;
        let line = buffer.trim_ascii();
        if number <= resume_after || line.is_empty() {
            summary.skipped_lines += 1;
            continue;
        }
        if shutdown.is_cancelled() {
            break;
        }
        match decoder.decode(line) {
            Ok(Frame::Event { event, cursor }) => {
                if let (Some(claims), EventBody::Identity { handle: Some(handle) }) =
                    (&mut claims, &event.body)
                {
                    claims.claim(event.did.as_str(), handle, event.time_us);
                }
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
    Ok((summary, claims))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tokio_util::sync::CancellationToken;

    use super::read_lines;
    use crate::event::SourceItem;
    use crate::pipeline;

    fn identity(did: &str, time_us: i64) -> String {
        format!(r#"{{"did":"{did}","time_us":{time_us},"kind":"identity","identity":{{"handle":"a.test"}}}}"#)
    }

    #[test]
    fn bad_lines_are_counted_and_skipped_even_when_they_are_not_utf8() {
        let dir = std::env::temp_dir().join(format!("plyr-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("stream.jsonl");
        let mut file = std::fs::File::create(&path).expect("file");
        writeln!(file, "{}", identity("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", 10)).expect("write");
        file.write_all(b"{\"did\":\"\xff\xfe\",\"time_us\":11}\n").expect("write");
        writeln!(file, "   ").expect("write");
        writeln!(file, "not json").expect("write");
        write!(file, "{}\r\n", identity("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", 12)).expect("write");
        write!(file, "{}", identity("did:plc:cccccccccccccccccccccccc", 13)).expect("write"); // no final newline
        drop(file);

        let (tx, mut rx) = pipeline::channel();
        let file = std::fs::File::open(&path).expect("open");
        let claims = Some(crate::identity::ClaimedHandles::default());
        let (summary, claims) =
            read_lines(file, "issuer".into(), 0, 1 << 20, claims, tx, CancellationToken::new())
                .expect("read");
        let mut lines = Vec::new();
        while let Ok(item) = rx.try_recv() {
            let SourceItem::Event { event, cursor } = item else { panic!("only events are sent") };
            lines.push((cursor.value, event.did.as_str().to_owned(), cursor.issuer));
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");

        assert_eq!((summary.lines, summary.skipped_lines, summary.bad_lines), (6, 1, 2));
        assert_eq!(claims.map(|c| c.len()), Some(3), "each identity event's handle is noted when trusted");
        let issuer = Some("issuer".to_owned());
        assert_eq!(
            lines,
            vec![
                (1, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".to_owned(), issuer.clone()),
                (5, "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb".to_owned(), issuer.clone()),
                (6, "did:plc:cccccccccccccccccccccccc".to_owned(), issuer),
            ],
            "cursor values are line numbers, bad lines included"
        );
    }
}
