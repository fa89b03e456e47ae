//! Following one labeler: a [`StreamSource`] under the shared [`websocket::supervise`] loop
//! (timeouts, pings, backoff). Each `#labels` message is checked label by label (syntax, that
//! the labeler signs only as itself, the signature) and what passes is stored with the stream
//! position in one transaction that announces the change, so an AppView applies it within a
//! second and a restart resumes exactly after it. A database failure ends the connection
//! without moving the position: the labels are asked for again after the backoff.

use std::sync::Arc;

use plyr_atproto::label::{Label, LabelError};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::frame::{self, LabelFrame, MAX_FRAME_BYTES};
use super::keys::{LabelerKeys, LabelerService};
use super::{CONNECTS_TOTAL, DROPPED_TOTAL, KEY_REFRESHES_TOTAL, LABELS_TOTAL, SEQ};
use crate::db::{cursors, labels};
use crate::event::Cursor;
use crate::websocket::{self, HandshakeError, Refused, Step, StreamSource, Target, Timing, redact};

/// The `cursors` row of the labeler `did`.
pub fn source_name(did: &str) -> String {
    format!("labeler:{did}")
}

/// One labeler as the supervisor drives it.
pub struct Follow<K> {
    pub(super) did: String,
    pub(super) keys: Arc<K>,
    pub(super) service: LabelerService,
    /// The last `seq` stored; `None` asks for everything (`cursor=0`): without a cursor a
    /// labeler sends only new labels.
    pub(super) seq: Option<i64>,
    pub(super) db: PgPool,
    pub(super) shutdown: CancellationToken,
}

impl<K: LabelerKeys> Follow<K> {
    /// Follows until shutdown.
    pub async fn run(mut self, timing: Timing) {
        let shutdown = self.shutdown.clone();
        let Ok(()) = websocket::supervise(&mut self, timing, &shutdown).await;
    }

    fn shown(&self) -> String {
        redact(&self.service.subscribe_url(0))
    }

    /// Checks one received label; on a bad signature, looks the labeler up once more (its key
    /// may have been rotated) unless that was already done for this message.
    async fn check(
        &mut self,
        value: ipld_core::ipld::Ipld,
        refreshed: &mut bool,
    ) -> Result<Label, &'static str> {
        let label = Label::from_ipld(value).map_err(|e| e.reason())?;
        if label.src != self.did {
            return Err("foreign_src");
        }
        match label.verify(&self.service.key) {
            Ok(()) => return Ok(label),
            Err(LabelError::Signature(_)) if !*refreshed => {}
            Err(e) => return Err(e.reason()),
        }
        *refreshed = true;
        metrics::counter!(KEY_REFRESHES_TOTAL).increment(1);
        match self.keys.service(&self.did, true).await {
            Ok(service) if service.key != self.service.key => {
                tracing::info!(labeler = %self.did, "labeler's label key changed: verifying with the new key");
                self.service = service;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(labeler = %self.did, error, "re-resolving the labeler failed"),
        }
        label.verify(&self.service.key).map(|()| label).map_err(|e| e.reason())
    }

    /// Stores the accepted labels of message `seq` and the position after it.
    async fn store(&self, seq: i64, accepted: &[Label]) -> sqlx::Result<u64> {
        let mut tx = self.db.begin().await?;
        let changed = labels::apply(&mut tx, accepted).await?;
        let cursor = Cursor {
            source: source_name(&self.did),
            value: seq,
            time_us: chrono::Utc::now().timestamp_micros(),
            issuer: Some(self.service.endpoint.to_string()),
        };
        cursors::store(&mut tx, &cursor, 0).await?;
        if changed > 0 {
            labels::announce(&mut tx, accepted).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn labels(&mut self, seq: i64, values: Vec<ipld_core::ipld::Ipld>) -> Step {
        let mut accepted = Vec::with_capacity(values.len());
        let mut refreshed = false;
        for value in values {
            match self.check(value, &mut refreshed).await {
                Ok(label) => accepted.push(label),
                Err(reason) => {
                    tracing::debug!(labeler = %self.did, seq, reason, "label dropped");
                    metrics::counter!(DROPPED_TOTAL, "reason" => reason).increment(1);
                }
            }
        }
        // A labeler that replays older positions without a reset gets its labels applied
        // (they are idempotent) but cannot move the position back.
        let advances = self.seq.is_none_or(|last| seq > last);
        if accepted.is_empty() && !advances {
            return Step::Continue;
        }
        match self.store(if advances { seq } else { self.seq.unwrap_or(seq) }, &accepted).await {
            Ok(changed) => {
                metrics::counter!(LABELS_TOTAL, "outcome" => "stored").increment(changed);
                metrics::counter!(LABELS_TOTAL, "outcome" => "unchanged")
                    .increment(accepted.len() as u64 - changed.min(accepted.len() as u64));
                if advances {
                    self.seq = Some(seq);
                    metrics::gauge!(SEQ, "labeler" => self.did.clone()).set(seq as f64);
                }
                Step::Continue
            }
            Err(error) => {
                tracing::warn!(labeler = %self.did, seq, %error, "storing labels failed: reconnecting from the stored position");
                Step::Close("database unavailable".to_owned())
            }
        }
    }
}

impl<K: LabelerKeys> StreamSource for Follow<K> {
    type Error = std::convert::Infallible;

    fn name(&self) -> &'static str {
        "a labeler"
    }

    fn target(&mut self) -> Target {
        let cursor = self.seq.unwrap_or(0);
        Target {
            url: self.service.subscribe_url(cursor),
            shown: self.shown(),
            cursor: Some(cursor),
            max_message: MAX_FRAME_BYTES * 4,
        }
    }

    fn next_shown(&self) -> String {
        self.shown()
    }

    fn connect_outcome(&mut self, outcome: &'static str) {
        metrics::counter!(CONNECTS_TOTAL, "outcome" => outcome).increment(1);
    }

    /// A refused connection may mean the labeler moved: look it up again before the backoff.
    async fn refused(&mut self, error: HandshakeError) -> Result<Refused, Self::Error> {
        websocket::report_refusal(self, &error);
        if let Ok(service) = self.keys.service(&self.did, true).await
            && service.endpoint != self.service.endpoint
        {
            tracing::info!(labeler = %self.did, endpoint = %redact(&service.endpoint), "labeler moved");
            self.service = service;
            return Ok(Refused::RetryNow);
        }
        Ok(Refused::Backoff)
    }

    async fn message(&mut self, message: Message) -> Result<Step, Self::Error> {
        let bytes = match websocket::binary(message, DROPPED_TOTAL) {
            Ok(bytes) => bytes,
            Err(step) => return Ok(step),
        };
        let frame = match frame::decode(&bytes) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::debug!(labeler = %self.did, %error, "labeler message dropped");
                metrics::counter!(DROPPED_TOTAL, "reason" => error.reason()).increment(1);
                return Ok(Step::Continue);
            }
        };
        Ok(match frame {
            LabelFrame::Labels { seq, labels } => {
                let shutdown = self.shutdown.clone();
                tokio::select! {
                    step = self.labels(seq, labels) => step,
                    () = shutdown.cancelled() => Step::Shutdown,
                }
            }
            LabelFrame::Info { name, message } => {
                tracing::warn!(labeler = %self.did, name, message = message.unwrap_or_default(), "labeler #info");
                Step::Continue
            }
            LabelFrame::Error { error, message } => {
                let message = message.unwrap_or_default();
                if error == "FutureCursor" {
                    // The labeler's sequence is behind ours (it was reset): ask for everything
                    // again; stored labels only change where the labeler's are newer.
                    tracing::warn!(labeler = %self.did, seq = ?self.seq, message, "labeler FutureCursor: starting again from 0");
                    self.seq = None;
                } else {
                    tracing::warn!(labeler = %self.did, error, message, "labeler error message");
                }
                Step::Close(format!("error message {error}"))
            }
        })
    }
}
