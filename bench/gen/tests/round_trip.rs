//! Every registered collection round-trips through the generator, replay and backfill.
//!
//! One generated network, two ways in: its Jetstream stream replayed event by event, and its
//! final state served as signed repo CARs (`plyr-gen repos`) and backfilled with `getRepo`. For
//! each collection of the indexer's registry (`write::collections::ALL`), both databases must
//! hold records of it, and the same ones: the same URIs with the same CIDs. A collection added to
//! the registry that the generator does not write, or that one path indexes differently from the
//! other, fails here.
//!
//! One difference is by design: a live stream keeps an account's Bluesky profile only from the
//! account's first fm.plyr record on (the stream carries every Bluesky account's profile), so a
//! profile last written before that is missing from the replay until a backfill of the repo,
//! which the indexer queues for every account it first sees live, brings it in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod backfill_support;

use plyr_gen::bench::pds;
use plyr_gen::keys::KeyFile;
use plyr_gen::load::encode::TRUSTED_AUDIO_ORIGIN;
use plyr_gen::repos::{ReposParams, generate, network_params};
use plyr_indexer::pipeline::BatchConfig;
use plyr_indexer::write::Writer;
use plyr_indexer::write::collections;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use tokio_util::sync::CancellationToken;

/// Live records by collection: URI → CID, of the accounts in `dids`.
type Live = BTreeMap<String, BTreeMap<String, String>>;

async fn live_records(db: &TestDb, dids: &[String]) -> Live {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT collection, uri, cid FROM live_records WHERE did = ANY($1)")
            .bind(dids)
            .fetch_all(&db.pool)
            .await
            .expect("live records");
    let mut live = Live::new();
    for (collection, uri, cid) in rows {
        live.entry(collection).or_default().insert(uri, cid);
    }
    live
}

/// URIs of the Bluesky profiles whose last write in the stream comes before their account's first
/// fm.plyr record.
fn profiles_before_first_plyr_record(lines: &[String]) -> BTreeSet<String> {
    let mut first_plyr: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_profile: BTreeMap<String, i64> = BTreeMap::new();
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let (Some(did), Some(time), Some(collection)) = (
            event["did"].as_str(),
            event["time_us"].as_i64(),
            event.pointer("/commit/collection").and_then(|c| c.as_str()),
        ) else {
            continue;
        };
        if collection.starts_with("fm.plyr.") {
            first_plyr.entry(did.to_owned()).or_insert(time);
        } else if collection == "app.bsky.actor.profile" {
            last_profile.insert(did.to_owned(), time);
        }
    }
    last_profile
        .into_iter()
        .filter(|(did, time)| first_plyr.get(did).is_none_or(|first| time < first))
        .map(|(did, _)| format!("at://{did}/app.bsky.actor.profile/self"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_collection_comes_out_of_replay_and_backfill_the_same() {
    let params = ReposParams { other_records: 10, ..ReposParams::new(29, 60) };
    let dir = std::env::temp_dir().join(format!("plyr-gen-round-trip-{}", std::process::id()));
    generate(&params, &dir).await.expect("generates the repos");
    let keys = KeyFile::read(&dir.join("keys.json")).expect("keys");
    // Accounts gone at the end (deleted, deactivated) have no repo: compare the ones that do.
    let dids: Vec<String> = keys.0.keys().cloned().collect();

    // Replay: the network's stream, event by event.
    let lines: Vec<String> = plyr_gen::jetstream_lines(&network_params(&params))
        .expect("valid parameters")
        .collect::<Result<_, _>>()
        .expect("generates the stream");
    let stream = dir.join("stream.jsonl");
    std::fs::write(&stream, lines.join("\n") + "\n").expect("writes the stream");
    let replayed = TestDb::new().await.expect("database A");
    let writer =
        Writer::new(replayed.pool.clone(), TrustedOrigins::new([TRUSTED_AUDIO_ORIGIN])).expect("writer");
    let summary = plyr_indexer::replay::replay(
        Arc::new(writer),
        &stream,
        true,
        BatchConfig::default(),
        CancellationToken::new(),
    )
    .await
    .expect("replays");
    assert_eq!(summary.bad_lines, 0);

    // Backfill: the final state, as getRepo serves it.
    let server = pds::serve(&dir, "127.0.0.1:0".parse().expect("addr")).await.expect("serves the repos");
    let backfilled = TestDb::new().await.expect("database B");
    let done = backfill_support::backfill_all(&backfilled.pool, server.url.as_str()).await;
    assert_eq!(done.failed, 0);
    server.stop.cancel();

    let (a, b) = (live_records(&replayed, &dids).await, live_records(&backfilled, &dids).await);
    // Every registered collection but teal.fm's listens, which the generator does not write
    // (their replay/backfill agreement is the reference PDS scenario's, tests/tests/pds_scenario.rs).
    let registered: BTreeSet<&str> =
        collections::ALL.iter().map(|c| c.nsid()).filter(|n| !n.starts_with("fm.teal.")).collect();
    let found: BTreeSet<&str> = a.keys().chain(b.keys()).map(String::as_str).collect();
    assert_eq!(found, registered, "the live records name exactly the registered collections");
    let before_plyr = profiles_before_first_plyr_record(&lines);
    for nsid in registered {
        let (from_replay, mut from_backfill) = (&a[nsid], b[nsid].clone());
        if nsid == "app.bsky.actor.profile" {
            let missing: BTreeSet<String> =
                from_backfill.keys().filter(|u| !from_replay.contains_key(*u)).cloned().collect();
            let unexplained: Vec<&String> = missing.iter().filter(|u| !before_plyr.contains(*u)).collect();
            assert!(unexplained.is_empty(), "profiles the replay missed for no reason: {unexplained:?}");
            from_backfill.retain(|u, _| !missing.contains(u));
        }
        let from_backfill = &from_backfill;
        assert!(!from_replay.is_empty(), "{nsid}: the generator wrote none");
        let only_replay: Vec<_> =
            from_replay.iter().filter(|(u, c)| from_backfill.get(*u) != Some(c)).take(3).collect();
        let only_backfill: Vec<_> =
            from_backfill.iter().filter(|(u, c)| from_replay.get(*u) != Some(c)).take(3).collect();
        assert!(
            only_replay.is_empty() && only_backfill.is_empty(),
            "{nsid}: {} replayed and {} backfilled records; only replayed: {only_replay:?}; only backfilled: {only_backfill:?}",
            from_replay.len(),
            from_backfill.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
