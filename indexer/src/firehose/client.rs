//! The firehose source: one task per host, each a [`StreamSource`] under the shared
//! [`websocket::supervise`] loop (timeouts, pings, backoff). A host resumes after the last `seq`
//! it accepted, runs each frame through its [`FrameProcessor`] and hands items to the pipeline
//! through the bounded channel (awaiting when it is full). Bad frames are counted drops, never
//! fatal.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;
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
use crate::websocket::{self, Step, StreamSource, Target, Timing, redact};

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
            processor,
            tx: tx.clone(),
            shutdown: shutdown.clone(),
        };
        tasks.spawn(host.run(config.timing));
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

/// One host, as the supervisor drives it.
struct Host<K> {
    base: Url,
    shown: String,
    processor: FrameProcessor<K>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
}

impl<K: KeySource> Host<K> {
    async fn run(mut self, timing: Timing) -> Result<(), FirehoseError> {
        let shutdown = self.shutdown.clone();
        websocket::supervise(&mut self, timing, &shutdown).await
    }
}

impl<K: KeySource> StreamSource for Host<K> {
    type Error = FirehoseError;

    fn name(&self) -> &'static str {
        "the firehose"
    }

    fn target(&mut self) -> Target {
        let cursor = self.processor.last_seq();
        // Up to 4x the frame limit is read and dropped as one message; past that tungstenite
        // cannot skip it and the connection has to go.
        Target {
            url: subscribe_url(&self.base, cursor),
            shown: self.shown.clone(),
            cursor,
            max_message: MAX_FRAME_BYTES * 4,
        }
    }

    fn next_shown(&self) -> String {
        self.shown.clone()
    }

    fn connect_outcome(&mut self, outcome: &'static str) {
        metrics::counter!(CONNECTS_TOTAL, "outcome" => outcome).increment(1);
    }

    async fn message(&mut self, message: Message) -> Result<Step, FirehoseError> {
        let bytes = match websocket::binary(message, DROPPED_TOTAL) {
            Ok(bytes) => bytes,
            Err(step) => return Ok(step),
        };
        let out = self.processor.process(&bytes).await;
        for item in out.items {
            tokio::select! {
                sent = self.tx.send(item) => sent.map_err(|_| FirehoseError::ChannelClosed)?,
                () = self.shutdown.cancelled() => return Ok(Step::Shutdown),
            }
        }
        if let Some((name, message)) = out.info {
            tracing::warn!(url = %self.shown, name, message = message.unwrap_or_default(), "firehose #info");
        }
        let Some((error, message)) = out.error else { return Ok(Step::Continue) };
        let message = message.unwrap_or_default();
        if error == "FutureCursor" {
            // The host's sequence is behind our cursor (it was reset): start again from live.
            tracing::warn!(url = %self.shown, cursor = self.processor.last_seq(), message, "firehose FutureCursor: resuming from live");
            self.processor.reset_seq();
        } else {
            tracing::warn!(url = %self.shown, error, message, "firehose error frame");
        }
        Ok(Step::Close(format!("error frame {error}")))
    }
}
