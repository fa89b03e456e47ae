//! From one websocket message of one host to the [`SourceItem`]s the pipeline applies: decode,
//! the per-host `seq` ordering check, sync 1.1 verification, filtering, and a drop counted by
//! reason for everything rejected. No I/O besides key lookups, so it is what tests and the
//! benchmark drive directly with recorded or generated frames.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jacquard_common::types::string::Did;

use super::frame::{self, Frame};
use super::keys::KeySource;
use super::verify::{SyncVerifier, Verdict};
use crate::event::{Cursor, Event, EventBody, SourceItem};

/// Frames received, by `kind` (commit, sync, identity, account, info, error).
pub const FRAMES_TOTAL: &str = "indexer_firehose_frames_total";
/// Frames dropped, by `reason`.
pub const DROPPED_TOTAL: &str = "indexer_firehose_dropped_total";
/// How long the cursor may go unstored while only skipped frames arrive.
const POSITION_EVERY: Duration = Duration::from_secs(2);

/// What one message led to.
#[derive(Debug, Default)]
pub struct Output {
    /// Events (and occasional position updates) for the pipeline, in order.
    pub items: Vec<SourceItem>,
    /// Why the message was dropped, if it was.
    pub dropped: Option<&'static str>,
    /// An error frame (`op: -1`): `(error, message)`. The server closes the stream next.
    pub error: Option<(String, Option<String>)>,
    /// An `#info` frame: `(name, message)`.
    pub info: Option<(String, Option<String>)>,
}

/// Turns one host's messages into pipeline items.
#[derive(Debug)]
pub struct FrameProcessor<K> {
    source: String,
    issuer: String,
    verifier: Arc<SyncVerifier<K>>,
    last_seq: Option<i64>,
    last_position: Instant,
}

impl<K: KeySource> FrameProcessor<K> {
    /// A processor for the host whose cursors are stored as `source` (`firehose:<host>`) and
    /// whose base URL is `issuer`, resuming after `last_seq`.
    pub fn new(
        source: String,
        issuer: String,
        verifier: Arc<SyncVerifier<K>>,
        last_seq: Option<i64>,
    ) -> Self {
        Self { source, issuer, verifier, last_seq, last_position: Instant::now() }
    }

    /// The last sequence number accepted (where a reconnection resumes).
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// Forgets the position (the host's sequence restarted: `FutureCursor`).
    pub fn reset_seq(&mut self) {
        self.last_seq = None;
    }

    /// Handles one binary message.
    pub async fn process(&mut self, bytes: &[u8]) -> Output {
        let mut out = Output::default();
        let frame = match frame::decode(bytes) {
            Ok(frame) => frame,
            Err(e) => return self.dropped(out, e.reason(), &e),
        };
        metrics::counter!(FRAMES_TOTAL, "kind" => frame.kind()).increment(1);
        if let Some(seq) = frame.seq() {
            if self.last_seq.is_some_and(|last| seq <= last) {
                return self.dropped(
                    out,
                    "seq_not_increasing",
                    &format_args!("seq {seq} after {:?}", self.last_seq),
                );
            }
            self.last_seq = Some(seq);
        }
        let (did, time, body) = match frame {
            Frame::Error { error, message } => {
                out.error = Some((error, message));
                return out;
            }
            Frame::Info { name, message } => {
                out.info = Some((name, message));
                return out;
            }
            Frame::Identity(f) => {
                self.verifier.keys().forget(f.did).await;
                (f.did, f.time, vec![EventBody::Identity { handle: f.handle.map(str::to_owned) }])
            }
            Frame::Account(f) => {
                self.verifier.account(f.did, f.active);
                (
                    f.did,
                    f.time,
                    vec![EventBody::Account { active: f.active, status: f.status.map(str::to_owned) }],
                )
            }
            Frame::Commit(f) => match self.verifier.commit(&f).await {
                Verdict::Accepted { ops, resync } => {
                    let mut bodies: Vec<EventBody> = ops.into_iter().map(EventBody::Commit).collect();
                    bodies.extend(resync.map(|rev| EventBody::Sync { rev }));
                    (f.repo, f.time, bodies)
                }
                Verdict::Skipped => (f.repo, f.time, Vec::new()),
                Verdict::Dropped { reason, detail } => return self.dropped(out, reason, &detail),
            },
            Frame::Sync(f) => match self.verifier.sync(&f).await {
                Verdict::Accepted { resync, .. } => {
                    (f.did, f.time, resync.map(|rev| EventBody::Sync { rev }).into_iter().collect())
                }
                Verdict::Skipped => (f.did, f.time, Vec::new()),
                Verdict::Dropped { reason, detail } => return self.dropped(out, reason, &detail),
            },
        };
        let time_us = match frame::micros(time) {
            Ok(t) => t,
            Err(e) => return self.dropped(out, e.reason(), &e),
        };
        let did: Did = match Did::new_owned(did) {
            Ok(did) => did,
            Err(e) => return self.dropped(out, "bad_identifier", &e),
        };
        let cursor = self.cursor(time_us);
        if body.is_empty() {
            if self.last_position.elapsed() >= POSITION_EVERY {
                out.items.push(SourceItem::Position(cursor));
                self.last_position = Instant::now();
            }
            return out;
        }
        self.last_position = Instant::now();
        out.items = body
            .into_iter()
            .map(|body| SourceItem::Event {
                event: Event { did: did.clone(), time_us, body },
                cursor: cursor.clone(),
            })
            .collect();
        out
    }

    fn cursor(&self, time_us: i64) -> Cursor {
        Cursor {
            source: self.source.clone(),
            value: self.last_seq.unwrap_or(0),
            time_us,
            issuer: Some(self.issuer.clone()),
        }
    }

    fn dropped(&self, mut out: Output, reason: &'static str, detail: &dyn std::fmt::Display) -> Output {
        metrics::counter!(DROPPED_TOTAL, "reason" => reason).increment(1);
        tracing::debug!(source = %self.source, reason, %detail, "dropped a firehose frame");
        out.dropped = Some(reason);
        out
    }
}
