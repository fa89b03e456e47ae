//! Target `firehose_frames`: a sequence of `subscribeRepos` messages from one host (length-
//! prefixed as `plyr-gen firehose` writes them; an input that is not is one message) through
//! decoding, the per-host sequence check, sync 1.1 verification with the generator's keys, and
//! the write path's pure half for every event that comes out.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use plyr_atproto::identity::SigningKey;
use plyr_indexer::firehose::{FrameProcessor, StaticKeys, SyncVerifier, VerifierConfig};

use crate::RUNTIME;

/// The signing keys of the DIDs in the seed frames and CARs (`fuzz/keys.json`, DID → did:key),
/// so seeds get past the signature check and mutations reach the MST proof.
pub static KEYS: LazyLock<StaticKeys> = LazyLock::new(|| {
    let map: HashMap<String, String> =
        serde_json::from_str(include_str!("../keys.json")).expect("fuzz/keys.json is a JSON object");
    StaticKeys(
        map.into_iter()
            .map(|(did, key)| (did, SigningKey::from_did_key(&key).expect("a did:key in fuzz/keys.json")))
            .collect(),
    )
});

/// Runs the messages in `data` through a fresh processor (no state carries over between inputs).
pub fn run(data: &[u8]) {
    let mut frames = crate::length_prefixed(data);
    if frames.is_empty() {
        frames.push(data);
    }
    let verifier = Arc::new(SyncVerifier::new(KEYS.clone(), VerifierConfig::default()));
    let mut processor =
        FrameProcessor::new("firehose:fuzz".into(), "wss://relay.fuzz.invalid".into(), verifier, None);
    let mut items = Vec::new();
    for frame in frames {
        items.extend(RUNTIME.block_on(processor.process(frame)).items);
    }
    crate::record::write_path(items);
}
