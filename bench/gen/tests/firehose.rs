//! Smoke run of the firehose benchmark (issue 7: benchmarks are not CI's pass/fail, a tiny run
//! of each is): a small generated frames file goes through the indexer's `FrameProcessor`
//! exactly as `plyr-bench firehose` drives it. Every message decodes and verifies (signature,
//! rev order, MST inversion against `prevData`) with zero drops, and what comes out is what
//! the generator put in: every fm.plyr and profile op, identity and account event.

use plyr_gen::firehose::{FirehoseParams, FirehoseSummary, generate};
use plyr_gen::frames::split_frames;
use plyr_gen::keys::KeyFile;

fn tiny() -> FirehoseParams {
    FirehoseParams { plyr_share: 0.25, other_repos: 25, preload: 30, ..FirehoseParams::new(7, 800) }
}

async fn frames(params: &FirehoseParams) -> (Vec<u8>, FirehoseSummary, KeyFile) {
    let mut file = Vec::new();
    let (summary, keys) = generate(params, &mut file).await.expect("generates");
    (file, summary, keys)
}

#[tokio::test(flavor = "current_thread")]
async fn every_generated_frame_verifies_and_the_plyr_ops_come_out() {
    let (file, summary, keys) = frames(&tiny()).await;
    let messages = split_frames(&file).expect("a frames file");
    assert_eq!(messages.len(), 800);
    assert_eq!(summary.frames, 800);
    assert_eq!(summary.commits + summary.identity + summary.account, 800);
    assert!(keys.0.len() > 25, "other-app repos plus the plyr network's accounts");

    // The mix: other apps dominate; fm.plyr creates, updates and deletes are all there.
    let plyr: u64 = summary.plyr_ops();
    assert!((120..=220).contains(&plyr), "about a quarter of 800 messages: {plyr}");
    assert!(summary.ops.get("app.bsky.feed.like").is_some_and(|n| n.create > 100), "{summary}");
    assert!(summary.ops.get("app.bsky.feed.post").is_some_and(|n| n.create > 50), "{summary}");
    assert!(summary.ops.keys().any(|c| c == "app.bsky.graph.follow"), "{summary}");
    let deletes: u64 = summary.ops.values().map(|n| n.delete).sum();
    let updates: u64 = summary.ops.values().map(|n| n.update).sum();
    assert!(deletes > 10 && updates > 0, "deletes {deletes}, updates {updates}");
    assert!(summary.identity > 0, "the plyr accounts show up with #identity");

    let run = plyr_gen::bench::firehose::run(&messages, keys.static_keys()).await;
    assert_eq!(run.drops(), 0, "dropped: {:?}", run.dropped);
    assert_eq!(run.frames, 800);
    assert_eq!(run.plyr_ops, plyr, "every fm.plyr op is passed on");
    assert_eq!(run.events, summary.expected_events(), "every wanted op, identity and account event");
}

#[tokio::test(flavor = "current_thread")]
async fn the_frames_and_keys_depend_only_on_the_parameters() {
    let small = FirehoseParams { other_repos: 5, preload: 5, ..FirehoseParams::new(3, 60) };
    let (a, summary_a, keys_a) = frames(&small).await;
    let (b, summary_b, keys_b) = frames(&small).await;
    assert!(a == b, "same parameters, same bytes");
    assert_eq!((summary_a, keys_a), (summary_b, keys_b));
    let (c, _, _) = frames(&FirehoseParams { seed: 4, ..small }).await;
    assert!(a != c, "another seed, another stream");
}

#[tokio::test(flavor = "current_thread")]
async fn a_tampered_frame_is_dropped() {
    // The stream verifies because its signatures do: a consumer with the wrong keys drops
    // every commit of a tracked repo.
    let (file, _, keys) =
        frames(&FirehoseParams { plyr_share: 0.5, other_repos: 10, ..FirehoseParams::new(9, 300) }).await;
    let messages = split_frames(&file).expect("frames");
    let mut wrong = keys.clone();
    let first = keys.0.values().next().cloned().expect("a key");
    for key in wrong.0.values_mut() {
        *key = first.clone();
    }
    let run = plyr_gen::bench::firehose::run(&messages, wrong.static_keys()).await;
    assert!(run.dropped.get("bad_signature").is_some_and(|n| *n > 50), "{:?}", run.dropped);
}
