//! Hostile input through the firehose decoder and verifier: every truncation of real frames,
//! oversized frames, unknown types and ops, error frames, random bytes and bit flips. Nothing
//! may panic, nothing hostile may produce an event, and every drop is counted by reason.
//! (Its own test binary: it reads the process-wide metrics recorder.)

mod firehose_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use firehose_support::*;
use ipld_core::ipld::Ipld;
use plyr_indexer::firehose::frame::MAX_FRAME_BYTES;
use plyr_indexer::firehose::{CollectionFilter, FrameProcessor, StaticKeys, SyncVerifier, VerifierConfig};

/// `indexer_firehose_dropped_total` by reason, from the Prometheus text.
fn drops(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("indexer_firehose_dropped_total{reason=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(reason, n)| (reason.to_owned(), n.trim().parse().unwrap_or(0)))
        .collect()
}

fn fresh(keys: StaticKeys) -> FrameProcessor<StaticKeys> {
    let config = VerifierConfig { collections: CollectionFilter::all(), ..VerifierConfig::default() };
    FrameProcessor::new(
        "firehose:test".into(),
        "ws://test".into(),
        Arc::new(SyncVerifier::new(keys, config)),
        None,
    )
}

#[tokio::test]
async fn hostile_frames_are_counted_drops_never_panics() {
    let metrics = plyr_indexer::telemetry::install_recorder().expect("recorder");
    let mut expected: HashMap<&str, u64> = HashMap::new();
    let s = scenario("post_lifecycle.json");
    let keys = s.keys.clone();

    // Oversized.
    let mut p = fresh(keys.clone());
    let out = p.process(&vec![0u8; MAX_FRAME_BYTES + 1]).await;
    assert_eq!(out.dropped, Some("too_large"));
    *expected.entry("too_large").or_default() += 1;

    // Unknown type, unknown op, a header that is not a map, an error frame, an #info frame.
    let unknown = frame("#nonsense", &Ipld::Map(BTreeMap::new()));
    assert_eq!(p.process(&unknown).await.dropped, Some("unknown_type"));
    let header = |op: i64, t: Option<&str>| {
        let mut m = BTreeMap::from([("op".to_owned(), Ipld::Integer(op.into()))]);
        if let Some(t) = t {
            m.insert("t".to_owned(), Ipld::String(t.to_owned()));
        }
        cbor(&Ipld::Map(m))
    };
    let mut op2 = header(2, Some("#commit"));
    op2.extend(cbor(&Ipld::Map(BTreeMap::new())));
    assert_eq!(p.process(&op2).await.dropped, Some("unknown_type"));
    *expected.entry("unknown_type").or_default() += 2;
    assert_eq!(p.process(&cbor(&Ipld::Integer(7))).await.dropped, Some("malformed_header"));
    *expected.entry("malformed_header").or_default() += 1;
    let mut error = header(-1, None);
    error.extend(cbor(&Ipld::Map(BTreeMap::from([
        ("error".to_owned(), Ipld::String("FutureCursor".into())),
        ("message".to_owned(), Ipld::String("Cursor in the future.".into())),
    ]))));
    let out = p.process(&error).await;
    assert_eq!((out.dropped, out.error.map(|e| e.0)), (None, Some("FutureCursor".to_owned())));
    let info = frame(
        "#info",
        &Ipld::Map(BTreeMap::from([("name".to_owned(), Ipld::String("OutdatedCursor".into()))])),
    );
    assert_eq!(p.process(&info).await.info.map(|i| i.0), Some("OutdatedCursor".to_owned()));
    // A #commit body missing required fields.
    let empty_commit = frame("#commit", &Ipld::Map(BTreeMap::new()));
    assert_eq!(p.process(&empty_commit).await.dropped, Some("malformed_body"));
    *expected.entry("malformed_body").or_default() += 1;

    // Every truncation of every real frame: dropped (fresh state each time, so only the cut
    // matters), and counted under the reason the processor reports.
    let mut cuts = 0;
    for (bytes, _) in &s.messages {
        for cut in 0..bytes.len() {
            let mut p = fresh(keys.clone());
            let out = p.process(&bytes[..cut]).await;
            let reason =
                out.dropped.unwrap_or_else(|| panic!("a frame cut at {cut}/{} was accepted", bytes.len()));
            assert!(out.items.is_empty());
            *expected.entry(reason).or_default() += 1;
            cuts += 1;
        }
    }
    assert!(cuts > 10_000, "{cuts}");

    // Single bit flips across a generated commit: never an event with altered content.
    let mut repo = TestRepo::new("did:plc:alice2222222222222222222", 1);
    let repo_keys = StaticKeys(HashMap::from([(repo.did.clone(), repo.key())]));
    let bytes = repo.commit(1, vec![Write::Put("fm.plyr.track", tid(1), track("One"))]).await;
    let (mut accepted, mut flips) = (0, 0);
    for at in (0..bytes.len()).step_by(3) {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        let mut p = fresh(repo_keys.clone());
        let out = p.process(&flipped).await;
        flips += 1;
        match out.dropped {
            Some(reason) => *expected.entry(reason).or_default() += 1,
            // A flip in a part nothing depends on (an op's unused fields, the time) may pass, but
            // then the record is still the signed one.
            None => accepted += 1,
        }
    }
    assert!(accepted < flips / 10, "{accepted} of {flips} bit flips accepted");

    // Random bytes.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in [1usize, 2, 7, 64, 300, 4096] {
        for _ in 0..50 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let out = fresh(keys.clone()).process(&junk).await;
            let reason = out.dropped.expect("junk accepted");
            *expected.entry(reason).or_default() += 1;
        }
    }

    let got = drops(&metrics.render());
    for (reason, n) in &expected {
        assert_eq!(got.get(*reason).copied().unwrap_or(0), *n, "drops with reason {reason}: {got:?}");
    }
    println!("drops by reason: {got:?}");
}
