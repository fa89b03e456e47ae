//! The firehose measurement: every message of a frames file through the indexer's own
//! [`FrameProcessor`] (decode, per-host `seq` check, sync 1.1 verification with static keys,
//! filtering to the indexed collections) on the calling thread, timed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use plyr_indexer::event::{EventBody, SourceItem};
use plyr_indexer::firehose::{FrameProcessor, StaticKeys, SyncVerifier, VerifierConfig};

/// What one pass over the frames did, and how long it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirehoseRun {
    pub frames: u64,
    pub bytes: u64,
    /// Events passed on (record ops of indexed collections, identity and account events).
    pub events: u64,
    /// Of those, ops on `fm.plyr.*` records.
    pub plyr_ops: u64,
    /// Dropped messages by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    pub seconds: f64,
}

impl FirehoseRun {
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.seconds.max(1e-9)
    }

    pub fn drops(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// Processes `frames` in order with a fresh verifier (as a new consumer would) and times it.
pub async fn run(frames: &[Vec<u8>], keys: StaticKeys) -> FirehoseRun {
    let verifier = Arc::new(SyncVerifier::new(keys, VerifierConfig::default()));
    let mut processor = FrameProcessor::new("firehose:bench".into(), "ws://bench".into(), verifier, None);
    let mut out = FirehoseRun::default();
    let started = Instant::now();
    for frame in frames {
        let result = processor.process(frame).await;
        if let Some(reason) = result.dropped {
            *out.dropped.entry(reason).or_default() += 1;
        }
        for item in &result.items {
            if let SourceItem::Event { event, .. } = item {
                out.events += 1;
                if let EventBody::Commit(op) = &event.body {
                    out.plyr_ops += u64::from(op.collection.as_str().starts_with("fm.plyr."));
                }
            }
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    out.frames = frames.len() as u64;
    out.bytes = frames.iter().map(|f| f.len() as u64).sum();
    out
}
