//! Throughput of firehose decoding + verification + filtering on generated signed commits: most
//! of them to collections we do not index (as on the real network), the rest fm.plyr commits
//! that are fully verified (signature, MST inversion, records). Ignored by default; run with
//! `cargo test --release -p plyr-indexer --test firehose_throughput -- --ignored --nocapture`.
//! The benchmark of record, on a realistic generated stream and side by side with the reference
//! TypeScript consumer, is `bench/firehose.sh` (docs/BENCHMARKS.md).

mod firehose_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use firehose_support::*;
use plyr_indexer::firehose::{FrameProcessor, StaticKeys, SyncVerifier, VerifierConfig};

async fn stream(plyr_repos: usize, other_repos: usize, commits_each: usize) -> (Vec<Vec<u8>>, StaticKeys) {
    let mut repos: Vec<(TestRepo, bool)> = (0..plyr_repos)
        .map(|i| (TestRepo::new(&format!("did:plc:plyr{i:020}"), (i % 250 + 1) as u8), true))
        .chain(
            (0..other_repos)
                .map(|i| (TestRepo::new(&format!("did:plc:other{i:019}"), (i % 250 + 1) as u8), false)),
        )
        .collect();
    let keys = StaticKeys(repos.iter().map(|(r, _)| (r.did.clone(), r.key())).collect::<HashMap<_, _>>());
    let mut frames = Vec::new();
    let mut seq = 0;
    for round in 0..commits_each {
        for (repo, plyr) in repos.iter_mut() {
            seq += 1;
            let rkey = tid(seq as u64);
            let write = if *plyr {
                Write::Put("fm.plyr.track", rkey, track(&format!("t{round}")))
            } else {
                Write::Put("app.bsky.feed.post", rkey, post(&format!("p{round}")))
            };
            frames.push(repo.commit(seq, vec![write]).await);
        }
    }
    (frames, keys)
}

async fn measure(name: &str, frames: &[Vec<u8>], keys: StaticKeys) {
    let verifier = Arc::new(SyncVerifier::new(keys, VerifierConfig::default()));
    let mut p = FrameProcessor::new("firehose:bench".into(), "ws://bench".into(), verifier, None);
    let started = Instant::now();
    let (mut events, mut dropped) = (0, 0);
    for frame in frames {
        let out = p.process(frame).await;
        events += out.items.len();
        dropped += usize::from(out.dropped.is_some());
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    println!(
        "{name}: {} frames ({:.0} B avg) in {secs:.3} s = {:.0} frames/s; {events} events, {dropped} dropped",
        frames.len(),
        bytes as f64 / frames.len() as f64,
        frames.len() as f64 / secs
    );
    assert_eq!(dropped, 0);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn firehose_decode_verify_filter_throughput() {
    // 10% of repos write fm.plyr records (verified); 90% write posts (decoded, filtered out).
    let (mixed, keys) = stream(40, 360, 25).await;
    measure("mixed (10% fm.plyr, verified)", &mixed, keys).await;
    let (plyr, keys) = stream(40, 0, 25).await;
    measure("fm.plyr only (every frame verified)", &plyr, keys).await;
    let (other, keys) = stream(0, 400, 25).await;
    measure("other collections only (filtered)", &other, keys).await;
}
