//! The firehose decoder and sync 1.1 verifier on recorded traffic (indigo's relay scenarios
//! with their `drop` expectations, and real `#commit` bodies) and on commits signed here.

mod firehose_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use firehose_support::*;
use plyr_atproto::identity::SigningKey;
use plyr_atproto::repo::{SignedCommit, mst, read_car};
use plyr_indexer::event::{Action, EventBody, Record, SourceItem};
use plyr_indexer::firehose::frame::{self, Frame};
use plyr_indexer::firehose::{
    CollectionFilter, FrameProcessor, KeySource, StaticKeys, SyncVerifier, VerifierConfig,
};
use serde_json::json;

fn processor<K: KeySource>(keys: K, config: VerifierConfig) -> FrameProcessor<K> {
    let verifier = Arc::new(SyncVerifier::new(keys, config));
    FrameProcessor::new("firehose:test".into(), "ws://test".into(), verifier, None)
}

fn every_collection(legacy: bool) -> VerifierConfig {
    VerifierConfig {
        collections: CollectionFilter::all(),
        legacy_commits: legacy,
        ..VerifierConfig::default()
    }
}

fn bodies(items: &[SourceItem]) -> Vec<&EventBody> {
    items
        .iter()
        .filter_map(|i| match i {
            SourceItem::Event { event, .. } => Some(&event.body),
            _ => None,
        })
        .collect()
}

const SCENARIOS: &[(&str, usize, usize)] = &[
    // (file, messages, drops)
    ("account_lifecycle.json", 4, 0),
    ("deactivation.json", 8, 1),
    ("legacy.json", 3, 0),
    ("post_lifecycle.json", 6, 0),
    ("post_lifecycle_legacy.json", 6, 0),
    ("rev_ordering.json", 4, 2),
    ("seq_ordering.json", 4, 2),
];

#[tokio::test]
async fn relay_scenarios_drop_exactly_what_they_expect() {
    let (mut messages, mut drops) = (0, 0);
    for (name, count, expected_drops) in SCENARIOS {
        let s = scenario(name);
        assert_eq!(s.messages.len(), *count, "{name}");
        let mut p = processor(s.keys, every_collection(s.lenient));
        for (i, (bytes, drop)) in s.messages.iter().enumerate() {
            let out = p.process(bytes).await;
            assert_eq!(out.dropped.is_some(), *drop, "{name} message {i}: dropped {:?}", out.dropped);
            if !drop {
                assert!(!out.items.is_empty() || i == 0, "{name} message {i}: nothing produced");
            }
        }
        assert_eq!(s.messages.iter().filter(|(_, d)| *d).count(), *expected_drops, "{name}");
        messages += s.messages.len();
        drops += expected_drops;
    }
    assert_eq!((messages, drops), (35, 5));
}

#[tokio::test]
async fn real_sync_commits_verify_chain_and_resolve_records() {
    let s = scenario("post_lifecycle.json");
    let keys = s.keys.clone();
    let mut p = processor(s.keys, every_collection(false));
    let mut actions = Vec::new();
    for (i, (bytes, _)) in s.messages.iter().enumerate() {
        let out = p.process(bytes).await;
        assert_eq!(out.dropped, None, "message {i}");
        for body in bodies(&out.items) {
            match body {
                EventBody::Commit(op) => {
                    assert_eq!(op.record.is_some(), op.action != Action::Delete, "{op:?}");
                    actions.push(format!("{:?} {}", op.action, op.collection.as_str()));
                }
                // The chain is unbroken: each prevData is the previous commit's data.
                other => panic!("message {i}: unexpected {other:?}"),
            }
        }
    }
    assert_eq!(
        actions,
        [
            "Create app.bsky.feed.like",
            "Delete app.bsky.feed.like",
            "Create app.bsky.feed.post",
            "Delete app.bsky.feed.post",
            "Update app.bsky.actor.profile",
            "Create app.bsky.feed.post",
            "Create app.bsky.feed.threadgate",
            "Create app.bsky.feed.postgate",
        ]
    );

    // The same commits under a key that is not the account's are all rejected.
    let wrong: HashMap<String, SigningKey> =
        keys.0.keys().map(|did| (did.clone(), TestRepo::new("did:plc:x", 5).key())).collect();
    let mut p = processor(StaticKeys(wrong), every_collection(false));
    for (bytes, _) in &s.messages {
        assert_eq!(p.process(bytes).await.dropped, Some("bad_signature"));
    }
}

#[tokio::test]
async fn recorded_commits_decode_and_resolve_their_records() {
    let files = ["4621317030", "4621317332", "4621332152", "4623075231"];
    let mut ops_seen = 0;
    for seq in files {
        let body = json(&format!("commits/firehose_commit_{seq}.json"));
        let bytes = frame_from_json(&json!({"op": 1, "t": "#commit"}), &body);
        let Ok(Frame::Commit(commit)) = frame::decode(&bytes) else { panic!("{seq}: not a commit") };
        assert_eq!(commit.seq.to_string(), seq);
        let car = read_car(commit.blocks, frame::MAX_BLOCKS_BYTES).await.expect("CAR slice");
        let signed =
            SignedCommit::decode(car.require(&commit.commit, "commit").expect("commit")).expect("commit");
        assert_eq!((signed.did.as_str(), signed.rev.as_str()), (commit.repo, commit.rev));
        mst::check_tree(&car, signed.data).expect("proof nodes are well formed");
        for op in &commit.ops {
            ops_seen += 1;
            if let Some(cid) = op.cid {
                let record =
                    plyr_atproto::record_from_cbor(car.require(&cid, "record").expect("record block"))
                        .expect("record");
                let json = plyr_atproto::record_to_json(&record).expect("json");
                let collection = op.path.split('/').next().unwrap_or_default();
                assert_eq!(json["$type"], collection, "{seq} {}", op.path);
            }
        }
        // Pre-sync-1.1 and no key known: dropped as unverifiable, never applied.
        let mut p = processor(StaticKeys::default(), every_collection(true));
        assert_eq!(p.process(&bytes).await.dropped, Some("no_key"), "{seq}");
        let mut strict = processor(StaticKeys::default(), every_collection(false));
        assert!(strict.process(&bytes).await.dropped.is_some(), "{seq}");
    }
    assert_eq!(ops_seen, 1 + 1 + 42 + 1);
}

/// A key source that counts lookups and can serve a rotated key only when asked to refresh.
struct Rotating {
    cached: SigningKey,
    fresh: SigningKey,
    lookups: AtomicUsize,
}

impl KeySource for Rotating {
    async fn signing_key(&self, _did: &str, fresh: bool) -> Result<Option<SigningKey>, String> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        Ok(Some(if fresh { self.fresh.clone() } else { self.cached.clone() }))
    }

    async fn forget(&self, _did: &str) {}
}

const ALICE: &str = "did:plc:alice2222222222222222222";

fn keys_for(repo: &TestRepo) -> StaticKeys {
    StaticKeys(HashMap::from([(repo.did.clone(), repo.key())]))
}

#[tokio::test]
async fn generated_commits_verify_and_yield_plyr_records_only() {
    let mut repo = TestRepo::new(ALICE, 1);
    let mut p = processor(keys_for(&repo), VerifierConfig::default());
    let c1 = repo
        .commit(
            1,
            vec![
                Write::Put("fm.plyr.track", tid(100), track("One")),
                Write::Put("app.bsky.feed.post", tid(101), post("hi")),
            ],
        )
        .await;
    let out = p.process(&c1).await;
    assert_eq!(out.dropped, None);
    let b = bodies(&out.items);
    assert_eq!(b.len(), 1, "only the fm.plyr op passes: {b:?}");
    let EventBody::Commit(op) = b[0] else { panic!("{b:?}") };
    assert_eq!((op.collection.as_str(), op.action), ("fm.plyr.track", Action::Create));
    match &out.items[0] {
        SourceItem::Event { event, cursor } => {
            assert_eq!(
                (event.did.as_str(), cursor.source.as_str(), cursor.value),
                (ALICE, "firehose:test", 1)
            );
            assert_eq!(event.time_us, 1_767_225_601_000_000);
        }
        other => panic!("{other:?}"),
    }
    // Update and delete carry `prev`, and invert.
    let c2 = repo.commit(2, vec![Write::Put("fm.plyr.track", tid(100), track("One (edit)"))]).await;
    let c3 = repo.commit(3, vec![Write::Delete("fm.plyr.track", tid(100))]).await;
    for (bytes, action) in [(c2, Action::Update), (c3, Action::Delete)] {
        let out = p.process(&bytes).await;
        assert_eq!(out.dropped, None);
        assert!(matches!(bodies(&out.items)[..], [EventBody::Commit(op)] if op.action == action));
    }
    // A replay of an older commit (new seq, old rev) is dropped.
    let mut other = TestRepo::new(ALICE, 1);
    let old = other.commit(4, vec![Write::Put("fm.plyr.track", tid(100), track("One"))]).await;
    assert_eq!(p.process(&old).await.dropped, Some("stale_rev"));
}

#[tokio::test]
async fn broken_chains_and_syncs_ask_for_a_resync() {
    let mut repo = TestRepo::new(ALICE, 1);
    let mut p = processor(keys_for(&repo), VerifierConfig::default());
    let c1 = repo.commit(1, vec![Write::Put("fm.plyr.track", tid(100), track("One"))]).await;
    assert_eq!(bodies(&p.process(&c1).await.items).len(), 1);
    // Commit 2 is lost; commit 3's prevData is not what we hold.
    let _lost = repo.commit(2, vec![Write::Put("fm.plyr.track", tid(101), track("Two"))]).await;
    let c3 = repo.commit(3, vec![Write::Put("fm.plyr.track", tid(102), track("Three"))]).await;
    let out = p.process(&c3).await;
    assert_eq!(out.dropped, None, "a verified commit still applies");
    let b = bodies(&out.items);
    assert!(matches!(b[..], [EventBody::Commit(_), EventBody::Sync { .. }]), "{b:?}");
    // A #sync to the root we hold is a no-op; one to another root queues a resync.
    let same = repo.sync(4).await;
    assert!(bodies(&p.process(&same).await.items).is_empty());
    let _unseen = repo.commit(5, vec![Write::Delete("fm.plyr.track", tid(100))]).await;
    let moved = repo.sync(6).await;
    assert!(matches!(bodies(&p.process(&moved).await.items)[..], [EventBody::Sync { .. }]));
}

#[tokio::test]
async fn wrong_prev_data_and_tampered_blocks_are_dropped() {
    let mut repo = TestRepo::new(ALICE, 1);
    let c1 = repo.commit(1, vec![Write::Put("fm.plyr.track", tid(100), track("One"))]).await;
    // Claim a different previous root: the inversion does not lead there.
    let c2 = repo.commit(2, vec![Write::Put("fm.plyr.track", tid(101), track("Two"))]).await;
    let mut p = processor(keys_for(&repo), VerifierConfig::default());
    assert_eq!(p.process(&c1).await.dropped, None);
    let Ok(Frame::Commit(mut commit)) = frame::decode(&c2) else { panic!("commit") };
    let car = read_car(commit.blocks, 1 << 20).await.expect("car");
    let signed =
        SignedCommit::decode(car.require(&commit.commit, "commit").expect("commit")).expect("commit");
    commit.prev_data = Some(signed.data);
    let verifier = SyncVerifier::new(keys_for(&repo), VerifierConfig::default());
    let verdict = verifier.commit(&commit).await;
    assert!(
        matches!(verdict, plyr_indexer::firehose::Verdict::Dropped { reason: "bad_proof", .. }),
        "{verdict:?}"
    );
    // Flip one byte inside the CAR slice (past its header): some block no longer matches.
    let mut tampered = c2.clone();
    let at = tampered.len() - 400;
    tampered[at] ^= 0x01;
    let out = p.process(&tampered).await;
    assert!(out.dropped.is_some(), "tampered frame accepted");
}

#[tokio::test]
async fn rotated_keys_are_refetched_once_and_unindexed_repos_cost_nothing() {
    let mut repo = TestRepo::new(ALICE, 1);
    let old_key = repo.key();
    repo.rotate(2);
    let keys = Rotating { cached: old_key, fresh: repo.key(), lookups: AtomicUsize::new(0) };
    let verifier = Arc::new(SyncVerifier::new(keys, VerifierConfig::default()));
    let mut p = FrameProcessor::new("firehose:test".into(), "ws://test".into(), verifier.clone(), None);
    let c1 = repo.commit(1, vec![Write::Put("fm.plyr.track", tid(100), track("One"))]).await;
    assert_eq!(p.process(&c1).await.dropped, None, "verified with the refreshed key");
    assert_eq!(verifier.keys().lookups.load(Ordering::Relaxed), 2);

    // Posts from a repo we do not track: skipped without any key lookup.
    let mut bob = TestRepo::new("did:plc:bob22222222222222222222222", 3);
    let before = verifier.keys().lookups.load(Ordering::Relaxed);
    for seq in 2..12 {
        let c = bob.commit(seq, vec![Write::Put("app.bsky.feed.post", tid(seq as u64), post("x"))]).await;
        let out = p.process(&c).await;
        assert_eq!((out.dropped, bodies(&out.items).len()), (None, 0));
    }
    assert_eq!(verifier.keys().lookups.load(Ordering::Relaxed), before);
    assert_eq!(verifier.tracked(), 1);
}

#[tokio::test]
async fn accounts_identities_and_inactive_repos() {
    let mut repo = TestRepo::new(ALICE, 1);
    let mut p = processor(keys_for(&repo), VerifierConfig::default());
    let out = p.process(&identity(1, ALICE, "alice.test")).await;
    assert!(matches!(bodies(&out.items)[..], [EventBody::Identity { handle: Some(h) }] if h == "alice.test"));
    let out = p.process(&account(2, ALICE, false, Some("deactivated"))).await;
    assert!(matches!(bodies(&out.items)[..], [EventBody::Account { active: false, .. }]));
    let c = repo.commit(3, vec![Write::Put("fm.plyr.track", tid(100), track("One"))]).await;
    assert_eq!(p.process(&c).await.dropped, Some("inactive"));
    p.process(&account(4, ALICE, true, None)).await;
    let c = repo.commit(5, vec![Write::Put("fm.plyr.track", tid(101), track("Two"))]).await;
    assert_eq!(p.process(&c).await.dropped, None);
}

#[tokio::test]
async fn records_over_the_size_bound_go_on_undecoded_beside_the_others() {
    let mut repo = TestRepo::new(ALICE, 1);
    let mut big = track("big");
    big["description"] = serde_json::json!("x".repeat(2_000));
    let c1 = repo
        .commit(
            1,
            vec![
                Write::Put("fm.plyr.track", tid(100), big),
                Write::Put("fm.plyr.track", tid(101), track("small")),
            ],
        )
        .await;
    let config = VerifierConfig { max_record_bytes: 1_000, ..VerifierConfig::default() };
    let out = processor(keys_for(&repo), config).process(&c1).await;
    assert_eq!(out.dropped, None, "the commit verifies and goes on");
    let records: Vec<_> = bodies(&out.items)
        .into_iter()
        .map(|b| match b {
            EventBody::Commit(op) => (op.rkey.as_str().to_owned(), op.record.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    let of = |rkey: String| records.iter().find(|(r, _)| *r == rkey).map(|(_, record)| record);
    assert!(matches!(of(tid(100)), Some(Some(Record::TooLarge { bytes })) if *bytes > 2_000), "{records:?}");
    assert!(matches!(of(tid(101)), Some(Some(Record::Data(_)))), "{records:?}");
}
