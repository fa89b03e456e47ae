//! The firehose connection loops: one task per host. Each connects (with a timeout), resumes
//! after the last `seq` it accepted, reads messages (read timeout, keep-alive pings), runs them
//! through its [`FrameProcessor`] and hands items to the pipeline through the bounded channel
//! (awaiting when it is full). Failures reconnect after an exponential, jittered backoff that
//! resets once a connection has been stable. Bad frames are counted drops, never fatal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::FirehoseError;
use super::config::{FirehoseConfig, source_name, subscribe_url};
use super::frame::MAX_FRAME_BYTES;
use super::keys::KeySource;
use super::process::{DROPPED_TOTAL, FrameProcessor};
use super::verify::SyncVerifier;
use crate::event::{Cursor, SourceItem};
use crate::jetstream::backoff::Backoff;
use crate::jetstream::config::redact;
use crate::websocket;

/// Connection attempts, by `outcome` (ok, refused, timeout, rejected: an HTTP answer instead of
/// an upgrade, no_answer, error).
pub const CONNECTS_TOTAL: &str = "indexer_firehose_connects_total";

/// Follows every host of `config` until `shutdown`, sending items to `tx`. `resume` holds the
/// stored cursors by source name (`firehose:<host>`). Returns `Ok(())` on shutdown; errors only
/// for a bad configuration or a closed channel.
pub async fn run<K: KeySource + 'static>(
    config: FirehoseConfig,
    verifier: Arc<SyncVerifier<K>>,
    resume: HashMap<String, Cursor>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
) -> Result<(), FirehoseError> {
    config.validate()?;
    let mut tasks = JoinSet::new();
    for base in &config.urls {
        let source = source_name(base);
        let seq = resume.get(&source).map(|c| c.value);
        let processor = FrameProcessor::new(source, base.as_str().to_owned(), verifier.clone(), seq);
        let host = Host {
            base: base.clone(),
            shown: redact(base),
            config: config.clone(),
            processor,
            tx: tx.clone(),
            shutdown: shutdown.clone(),
        };
        tasks.spawn(host.run());
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                shutdown.cancel();
                result = Err(e);
            }
            Err(e) => tracing::error!(%e, "firehose host task failed"),
        }
    }
    result
}

/// How a connection ended.
enum Ended {
    Shutdown,
    ConnectFailed,
    Disconnected { lived: Duration },
}

struct Host<K> {
    base: Url,
    shown: String,
    config: FirehoseConfig,
    processor: FrameProcessor<K>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
}

impl<K: KeySource> Host<K> {
    async fn run(mut self) -> Result<(), FirehoseError> {
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_max);
        loop {
            match self.connection().await? {
                Ended::Shutdown => return Ok(()),
                Ended::Disconnected { lived } if lived >= self.config.stable_after => backoff.reset(),
                Ended::ConnectFailed | Ended::Disconnected { .. } => {}
            }
            let delay = backoff.next_delay();
            tracing::info!(url = %self.shown, delay_ms = delay.as_millis() as u64, "reconnecting to the firehose after a backoff");
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn connection(&mut self) -> Result<Ended, FirehoseError> {
        let cursor = self.processor.last_seq();
        let url = subscribe_url(&self.base, cursor);
        tracing::info!(url = %self.shown, cursor, "connecting to the firehose");
        // Up to 4x the frame limit is read and dropped as one message; past that tungstenite
        // cannot skip it and the connection has to go.
        let connect = websocket::connect(&url, MAX_FRAME_BYTES * 4, self.config.connect_timeout);
        let attempt = tokio::select! {
            () = self.shutdown.cancelled() => return Ok(Ended::Shutdown),
            attempt = connect => attempt,
        };
        let mut socket = match attempt {
            Ok(socket) => socket,
            Err(e) => {
                metrics::counter!(CONNECTS_TOTAL, "outcome" => e.outcome()).increment(1);
                if e.is_answer() {
                    tracing::error!(error = %e, "firehose connect failed: not a websocket");
                } else {
                    tracing::warn!(error = %e, "firehose connect failed");
                }
                return Ok(Ended::ConnectFailed);
            }
        };
        metrics::counter!(CONNECTS_TOTAL, "outcome" => "ok").increment(1);
        tracing::info!(url = %self.shown, "connected to the firehose");
        let connected_at = Instant::now();
        let mut ping =
            tokio::time::interval_at(connected_at + self.config.ping_interval, self.config.ping_interval);
        let mut deadline = connected_at + self.config.read_timeout;
        let shutdown = self.shutdown.clone();
        let reason = loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return Ok(Ended::Shutdown);
                }
                () = tokio::time::sleep_until(deadline) => break format!("nothing received for {:?}", self.config.read_timeout),
                _ = ping.tick() => {
                    if let Err(e) = socket.send(Message::Ping(Vec::new())).await {
                        break format!("ping failed: {e}");
                    }
                }
                message = socket.next() => {
                    let bytes = match message {
                        None => break "closed".to_owned(),
                        Some(Err(e)) => break format!("read failed: {e}"),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Close(frame))) => break format!("closed by the server ({frame:?})"),
                        Some(Ok(Message::Text(_))) => {
                            metrics::counter!(DROPPED_TOTAL, "reason" => "unexpected_text").increment(1);
                            continue;
                        }
                        Some(Ok(_)) => {
                            deadline = Instant::now() + self.config.read_timeout;
                            continue;
                        }
                    };
                    if let Some(reason) = self.message(&bytes).await? {
                        break reason;
                    }
                    deadline = Instant::now() + self.config.read_timeout;
                }
            }
        };
        let lived = connected_at.elapsed();
        tracing::warn!(url = %self.shown, reason, lived_s = lived.as_secs(), "firehose connection lost");
        Ok(Ended::Disconnected { lived })
    }

    /// Handles one binary message; `Some(reason)` ends the connection.
    async fn message(&mut self, bytes: &[u8]) -> Result<Option<String>, FirehoseError> {
        let out = self.processor.process(bytes).await;
        for item in out.items {
            tokio::select! {
                sent = self.tx.send(item) => sent.map_err(|_| FirehoseError::ChannelClosed)?,
                () = self.shutdown.cancelled() => return Ok(Some("shutdown".to_owned())),
            }
        }
        if let Some((name, message)) = out.info {
            tracing::warn!(url = %self.shown, name, message = message.unwrap_or_default(), "firehose #info");
        }
        let Some((error, message)) = out.error else { return Ok(None) };
        let message = message.unwrap_or_default();
        if error == "FutureCursor" {
            // The host's sequence is behind our cursor (it was reset): start again from live.
            tracing::warn!(url = %self.shown, cursor = self.processor.last_seq(), message, "firehose FutureCursor: resuming from live");
            self.processor.reset_seq();
        } else {
            tracing::warn!(url = %self.shown, error, message, "firehose error frame");
        }
        Ok(Some(format!("error frame {error}")))
    }
}
