//! Backfill end to end against a mock PDS (axum on 127.0.0.1): signed repo CARs built in
//! memory, both fetch paths, deletion of records the repo no longer has, merging with live
//! events, HTTP 429 as backpressure, retries and failure bookkeeping, resuming past done repos,
//! discovery, and the background queue worker.

mod backfill_support;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use backfill_support::{MemRepo, MockPds};
use plyr_atproto::outbound::NetworkPolicy;
use plyr_indexer::backfill::command::skip_done;
use plyr_indexer::backfill::progress::Progress;
use plyr_indexer::backfill::worker::QueueConfig;
use plyr_indexer::backfill::{BackfillConfig, BackfillError, Backfiller, Mode, StaticLocator, discover};
use plyr_indexer::write::Writer;
use plyr_store::testkit::TestDb;
use support::*;
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";
const LIST: &str = "fm.plyr.list";

/// The mock PDS is on loopback: a test network.
fn config(mode: Mode) -> BackfillConfig {
    BackfillConfig {
        mode,
        retry_base: Duration::from_millis(10),
        batch_size: 3,
        network: NetworkPolicy::test_network(),
        ..Default::default()
    }
}

/// Alice's repo at rev 100: two tracks, a like, an album, her profile, and a Bluesky post that
/// backfill must ignore.
fn alice_repo() -> MemRepo {
    let mut repo = MemRepo::new(ALICE, 3, &tid(100));
    let a = uri(ALICE, TRACK, "a");
    repo.put(TRACK, "a", track("A (final)"))
        .put(TRACK, "b", track("B"))
        .put(LIKE, "l1", like(&a))
        .put(LIST, "album", list("album", "Both", &[&a, &uri(ALICE, TRACK, "b")]))
        .put("fm.plyr.actor.profile", "self", serde_json::json!({ "$type": "fm.plyr.actor.profile", "bio": "hi", "createdAt": "2026-01-01T00:00:00.000Z" }))
        .put("app.bsky.feed.post", "p1", serde_json::json!({ "$type": "app.bsky.feed.post", "text": "not ours", "createdAt": "2026-01-01T00:00:00.000Z" }));
    repo
}

async fn backfiller(
    db: &TestDb,
    locator: StaticLocator,
    config: BackfillConfig,
) -> Backfiller<StaticLocator> {
    let writer = Writer::new(
        db.pool.clone(),
        plyr_indexer::write::rules::TrustedOrigins::new(["https://audio.plyr.fm"]),
    )
    .expect("writer");
    Backfiller::new(Arc::new(writer), locator, config).expect("backfiller")
}

async fn rows(db: &TestDb, sql: &'static str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(sql).fetch_all(&db.pool).await.expect(sql)
}

async fn repo_state(db: &TestDb, did: &str) -> (String, Option<String>, i32, Option<String>) {
    sqlx::query_as("SELECT backfill, backfill_rev, attempts, last_error FROM repos WHERE did = $1")
        .bind(did)
        .fetch_one(&db.pool)
        .await
        .expect("repos row")
}

/// The indexed content, without the columns that record when or at which rev it was written.
const CONTENT: &str = "SELECT concat_ws(' | ', 'track', uri, title, cid, array_to_string(features, ','))
                         FROM tracks
                       UNION ALL SELECT concat_ws(' | ', 'like', uri, subject_uri) FROM likes
                       UNION ALL SELECT concat_ws(' | ', 'list', uri, name, list_type, item_count) FROM lists
                       UNION ALL SELECT concat_ws(' | ', 'item', list_uri, position, subject_uri) FROM list_items
                       UNION ALL SELECT concat_ws(' | ', 'profile', uri, bio) FROM plyr_profiles
                       UNION ALL SELECT concat_ws(' | ', 'stats', did, tracks, albums, playlists, likes) FROM actor_stats
                       UNION ALL SELECT concat_ws(' | ', 'subject', subject_uri, likes, comments) FROM subject_stats
                         WHERE likes > 0 OR comments > 0
                       ORDER BY 1";

#[tokio::test]
async fn car_and_list_snapshots_apply_the_same_rows_and_delete_what_is_gone() {
    let pds = MockPds::start().await;
    let repo = alice_repo();
    pds.serve(&repo).await;

    // The database already holds an older version of track a, and a track the repo lost since.
    let (db, writer) = setup().await;
    let mut events = Events::default();
    writer
        .apply(&[
            events.commit(ALICE, &tid(1), TRACK, "a", Some(track("A (draft)"))),
            events.commit(ALICE, &tid(2), TRACK, "gone", Some(track("Gone"))),
        ])
        .await
        .expect("seed");
    let b = backfiller(&db, pds.locator(), config(Mode::Car)).await;
    let report = b.repo(ALICE, &CancellationToken::new()).await.expect("backfilled");
    assert_eq!((report.rev.as_str(), report.source), (tid(100).as_str(), "car"));
    assert_eq!((report.counts.creates, report.counts.deletes, report.counts.unchanged), (5, 1, 0));
    assert_eq!(
        rows(&db, "SELECT title FROM tracks ORDER BY uri").await,
        vec!["A (final)".to_owned(), "B".to_owned()]
    );
    let gone: (bool, String) = sqlx::query_as("SELECT deleted, rev FROM records WHERE uri = $1")
        .bind(uri(ALICE, TRACK, "gone"))
        .fetch_one(&db.pool)
        .await
        .expect("tombstone");
    assert_eq!(gone, (true, tid(100)), "deleted at the snapshot rev");
    assert_eq!(repo_state(&db, ALICE).await, ("done".into(), Some(tid(100)), 0, None));
    let content = rows(&db, CONTENT).await;
    assert_eq!(content.len(), 2 + 1 + 1 + 2 + 1 + 1 + 1, "{content:#?}");
    assert!(content.contains(&format!("stats | {ALICE} | 2 | 1 | 0 | 1")), "{content:#?}");

    // The same repo through listRecords (paged two at a time) gives the same content.
    let db2 = TestDb::new().await.expect("db");
    let b2 = backfiller(&db2, pds.locator(), config(Mode::List)).await;
    let report = b2.repo(ALICE, &CancellationToken::new()).await.expect("backfilled by listing");
    assert_eq!((report.source, report.counts.creates), ("list", 5));
    assert_same(&rows(&db2, CONTENT).await.join("\n"), &content.join("\n"), "listRecords vs getRepo");
    // One page per collection, two for the tracks (a full page, then an empty one).
    assert_eq!(pds.calls("com.atproto.repo.listRecords"), 5, "paged");

    // Live events at or below the snapshot rev change nothing; newer ones apply.
    let live = [
        events.commit(ALICE, &tid(50), TRACK, "gone", Some(track("Gone (replayed)"))),
        events.commit(ALICE, &tid(60), TRACK, "b", None),
        events.commit(ALICE, &tid(100), TRACK, "a", Some(track("A (same rev)"))),
    ];
    writer.apply(&live).await.expect("stale live events");
    assert_eq!(rows(&db, CONTENT).await, content, "stale live events ignored");
    writer.apply(&[events.commit(ALICE, &tid(101), TRACK, "c", Some(track("C")))]).await.expect("live");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 3);

    // Backfilling again rewrites nothing that did not change, and deletes the newer track c
    // only if the repo lacks it at a newer rev; at rev 100 the live create (101) wins.
    let report = b.repo(ALICE, &CancellationToken::new()).await.expect("again");
    assert_eq!((report.counts.creates, report.counts.deletes, report.counts.unchanged), (0, 1, 5));
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 3, "the newer live track stays");
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_failures_are_retried_then_recorded() {
    let pds = MockPds::start().await;
    pds.serve(&alice_repo()).await;
    let mut bob = MemRepo::new(BOB, 4, &tid(7));
    bob.put(TRACK, "t", track("Bob's"));
    pds.serve(&bob).await;
    pds.lock().rate_limit = vec![vec![("ratelimit-reset", "1".into())], vec![("retry-after", "1".into())]];
    let db = TestDb::new().await.expect("db");
    let b = backfiller(&db, pds.locator(), config(Mode::Car)).await;
    let started = Instant::now();
    b.repo(ALICE, &CancellationToken::new()).await.expect("done despite two 429s");
    assert!(started.elapsed() >= Duration::from_millis(1900), "waited {:?}", started.elapsed());
    assert_eq!(pds.calls("com.atproto.sync.getRepo"), 3);
    assert_eq!(
        repo_state(&db, ALICE).await,
        ("done".into(), Some(tid(100)), 0, None),
        "429s are not failures"
    );

    // A server error is retried (attempts = 3), then the repo is marked failed.
    pds.lock().broken.insert(BOB.into(), 503);
    let err = b.repo(BOB, &CancellationToken::new()).await.expect_err("fails");
    assert!(matches!(err, BackfillError::Status { status: 503, .. }), "{err}");
    let (state, rev, attempts, last_error) = repo_state(&db, BOB).await;
    assert_eq!((state.as_str(), rev, attempts), ("failed", None, 3));
    assert!(last_error.is_some_and(|e| e.contains("503")));
    // A client error is not retried.
    pds.lock().broken.insert(BOB.into(), 404);
    let before = pds.calls("com.atproto.sync.getRepo");
    b.repo(BOB, &CancellationToken::new()).await.expect_err("fails at once");
    assert_eq!(pds.calls("com.atproto.sync.getRepo"), before + 1);
}

#[tokio::test]
async fn a_restarted_backfill_skips_done_repos() {
    let pds = MockPds::start().await;
    pds.serve(&alice_repo()).await;
    let mut bob = MemRepo::new(BOB, 4, &tid(7));
    bob.put(TRACK, "t", track("Bob's"));
    pds.serve(&bob).await;
    pds.lock().broken.insert(BOB.into(), 500);
    let db = TestDb::new().await.expect("db");
    let b = backfiller(&db, pds.locator(), BackfillConfig { attempts: 1, ..config(Mode::Car) }).await;
    let all = vec![ALICE.to_owned(), BOB.to_owned()];
    let summary = b.run(all.clone(), &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed), (1, 1));

    // "Restart": done repos are skipped, the failed one is fetched again.
    pds.lock().broken.clear();
    let (todo, skipped) = skip_done(&db.pool, all).await.expect("state");
    assert_eq!((todo, skipped), (vec![BOB.to_owned()], 1));
    let alice_fetches = pds.calls("com.atproto.sync.getRepo");
    let summary = b.run(vec![BOB.to_owned()], &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed, summary.snapshot_records), (1, 0, 1));
    assert_eq!(pds.calls("com.atproto.sync.getRepo"), alice_fetches + 1, "only bob fetched");
    assert_eq!(repo_state(&db, BOB).await.0, "done");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 3);
}

#[tokio::test]
async fn a_commit_signed_by_another_key_is_rejected() {
    let pds = MockPds::start().await;
    let repo = alice_repo();
    pds.serve(&repo).await;
    let mut locator = pds.locator();
    let impostor = MemRepo::new(ALICE, 9, &tid(1)).key();
    if let Some(host) = locator.0.get_mut(ALICE) {
        host.key = Some(impostor);
    }
    let db = TestDb::new().await.expect("db");
    let b = backfiller(&db, locator, config(Mode::Car)).await;
    let err = b.repo(ALICE, &CancellationToken::new()).await.expect_err("bad signature");
    assert_eq!(err.reason(), "bad_signature", "{err}");
    assert_eq!(repo_state(&db, ALICE).await.0, "failed");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM records").await, 0);
}

#[tokio::test]
async fn discovery_pages_through_list_repos_by_collection() {
    let pds = MockPds::start().await;
    pds.serve(&alice_repo()).await;
    let mut bob = MemRepo::new(BOB, 4, &tid(7));
    bob.put(LIKE, "l", like(&uri(ALICE, TRACK, "a")));
    pds.serve(&bob).await;
    let mut carol = MemRepo::new(CAROL, 5, &tid(7));
    carol.put("app.bsky.feed.post", "p", serde_json::json!({ "text": "x" }));
    pds.serve(&carol).await;
    let b = backfiller(&TestDb::new().await.expect("db"), pds.locator(), config(Mode::Car)).await;
    let relay = pds.url.parse().expect("url");
    let found =
        discover::by_collection(b.fetcher(), &relay, plyr_indexer::backfill::plyr_collections(), 1 << 20)
            .await
            .expect("discovered");
    assert_eq!(found, vec![ALICE.to_owned(), BOB.to_owned()]);
    assert!(pds.calls("com.atproto.sync.listReposByCollection") >= 6, "one call per collection and page");
}

#[tokio::test]
async fn the_background_worker_backfills_queued_and_newly_seen_repos() {
    let pds = MockPds::start().await;
    pds.serve(&alice_repo()).await;
    let (db, writer) = setup().await;
    // Alice is first seen live (one like): her older records are missing until backfilled.
    let mut events = Events::default();
    writer
        .apply(&[events.commit(ALICE, &tid(101), LIKE, "live", Some(like(&uri(ALICE, TRACK, "b"))))])
        .await
        .expect("live");
    let b = Arc::new(backfiller(&db, pds.locator(), config(Mode::Auto)).await);
    let shutdown = CancellationToken::new();
    let queue = QueueConfig {
        idle: Duration::from_millis(20),
        new_every: Duration::from_millis(20),
        ..Default::default()
    };
    let worker = tokio::spawn({
        let (b, stop) = (Arc::clone(&b), shutdown.clone());
        async move { b.run_queue(queue, stop).await }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while sqlx::query_scalar::<_, String>("SELECT backfill FROM repos WHERE did = $1")
        .bind(ALICE)
        .fetch_optional(&db.pool)
        .await
        .expect("repos")
        .as_deref()
        != Some("done")
    {
        assert!(Instant::now() < deadline, "not backfilled in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    worker.await.expect("worker");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 2);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM likes").await,
        2,
        "the live like is kept (rev 101 > 100)"
    );
    assert_eq!(pds.calls("com.atproto.repo.listRecords"), 5, "auto mode listed the small repo");
    assert_eq!(pds.calls("com.atproto.sync.getRepo"), 0);
}

/// Many small repos and one large one, all liking one track, through two write slots: every
/// repo is applied exactly once (a repo whose plan another slot took waits for that outcome),
/// and the shared like counter, written by concurrent transactions, comes out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_write_slots_apply_every_repo_once() {
    const SMALL: usize = 40;
    const BIG_LIKES: usize = 25;
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz234567".chars().collect();
    let did = |i: usize| format!("did:plc:{}{}{}", alphabet[i / 32], alphabet[i % 32], "w".repeat(22));
    let pds = MockPds::start().await;
    let liked = uri(ALICE, TRACK, "a");
    let mut alice = MemRepo::new(ALICE, 3, &tid(100));
    alice.put(TRACK, "a", track("Shared"));
    // Alice's repo is several batches long: it takes a write slot for all of them.
    for i in 0..BIG_LIKES {
        alice.put(TRACK, &tid(5000 + i as u64), track(&format!("Alice {i}")));
    }
    pds.serve(&alice).await;
    let mut dids = vec![ALICE.to_owned()];
    for i in 0..SMALL {
        let mut repo = MemRepo::new(&did(i), 10 + i as u8, &tid(200));
        repo.put(TRACK, "t", track(&format!("Track {i}"))).put(LIKE, "l", like(&liked));
        pds.serve(&repo).await;
        dids.push(did(i));
    }
    let db = TestDb::new().await.expect("db");
    let config = BackfillConfig { concurrency: 4, writers: 2, batch_size: 10, ..config(Mode::Car) };
    let b = backfiller(&db, pds.locator(), config).await;
    let summary = b.run(dids, &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed), (SMALL + 1, 0));
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM repos WHERE backfill = 'done'").await, SMALL as i64 + 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, (SMALL + BIG_LIKES + 1) as i64);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM likes").await, SMALL as i64);
    assert_eq!(
        scalar_i64(&db, "SELECT likes::bigint FROM subject_stats WHERE subject_uri LIKE '%/fm.plyr.track/a'")
            .await,
        SMALL as i64
    );
    assert_eq!(pds.calls("com.atproto.sync.getRepo"), SMALL + 1, "each repo fetched once");
}

#[tokio::test]
async fn size_bounds_a_car_and_each_record() {
    // A CAR over `max_car_bytes` fails its repo without being buffered; a record over
    // `max_record_bytes` inside an accepted CAR is dropped alone, the rest applied.
    let pds = MockPds::start().await;
    let mut huge = MemRepo::new(ALICE, 3, &tid(100));
    let big_title = "x".repeat(4_000);
    huge.put(TRACK, "a", track(&big_title)).put(TRACK, "b", track("Small"));
    pds.serve(&huge).await;
    let mut bob = MemRepo::new(BOB, 4, &tid(7));
    bob.put(TRACK, "t", track("Bob's"));
    pds.serve(&bob).await;
    let db = TestDb::new().await.expect("db");

    let tiny_car = BackfillConfig { attempts: 1, max_car_bytes: 2_000, ..config(Mode::Car) };
    let b = backfiller(&db, pds.locator(), tiny_car).await;
    let summary = b.run(vec![ALICE.to_owned()], &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed), (0, 1));
    let (state, _, _, error) = repo_state(&db, ALICE).await;
    assert_eq!(state, "failed");
    assert!(error.as_deref().unwrap_or_default().contains("2000"), "the error names the bound: {error:?}");

    let small_records = BackfillConfig { max_record_bytes: 1_000, ..config(Mode::Car) };
    let b = backfiller(&db, pds.locator(), small_records).await;
    let summary =
        b.run(vec![ALICE.to_owned(), BOB.to_owned()], &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed), (2, 0));
    assert_eq!(
        rows(&db, "SELECT title FROM tracks ORDER BY title").await,
        vec!["Bob's".to_owned(), "Small".to_owned()],
        "the oversized record alone is left out"
    );
}

/// Records per second of a getRepo backfill (fetch, verify, walk, decode, validate, write) of
/// one generated repo into an empty database. Run with
/// `cargo test --release -p plyr-indexer --test backfill -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn backfill_throughput() {
    const TRACKS: usize = 10_000;
    const LIKES: usize = 10_000;
    let pds = MockPds::start().await;
    let mut repo = MemRepo::new(ALICE, 3, &tid(100));
    for i in 0..TRACKS {
        repo.put(TRACK, &tid(1000 + i as u64), track(&format!("Track {i}")));
    }
    for i in 0..LIKES {
        repo.put(LIKE, &tid(100_000 + i as u64), like(&uri(BOB, TRACK, &tid(i as u64))));
    }
    pds.serve(&repo).await;
    let db = TestDb::new().await.expect("db");
    let b = backfiller(&db, pds.locator(), BackfillConfig { batch_size: 2000, ..config(Mode::Car) }).await;
    let started = Instant::now();
    let host = pds.url.parse().expect("url");
    let snapshot = plyr_indexer::backfill::fetch::by_car(b.fetcher(), b.config(), &host, ALICE, &repo.key())
        .await
        .expect("snapshot");
    let fetched = started.elapsed().as_secs_f64();
    println!(
        "getRepo fetch + verify + MST walk + decode: {} records in {fetched:.2} s",
        snapshot.records.len()
    );
    let started = Instant::now();
    let report = b.repo(ALICE, &CancellationToken::new()).await.expect("backfilled");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.counts.creates, TRACKS + LIKES);
    println!(
        "getRepo: {} records in {secs:.2} s = {:.0} records/s",
        TRACKS + LIKES,
        (TRACKS + LIKES) as f64 / secs
    );
}

#[tokio::test]
async fn a_pds_on_a_non_public_host_is_not_fetched_from() {
    // A DID document can name any PDS: by default only public https hosts are fetched from.
    let pds = MockPds::start().await;
    pds.serve(&alice_repo()).await;
    let db = TestDb::new().await.expect("db");
    let public = BackfillConfig { attempts: 1, network: NetworkPolicy::public(), ..config(Mode::Auto) };
    let b = backfiller(&db, pds.locator(), public).await;
    let summary = b.run(vec![ALICE.to_owned()], &Progress::hidden(), &CancellationToken::new()).await;
    assert_eq!((summary.done, summary.failed), (0, 1));
    let (state, _, _, error) = repo_state(&db, ALICE).await;
    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("127.0.0.1") && error.contains("not"), "the refusal names the host: {error}");
    let calls: usize =
        ["com.atproto.sync.getRepo", "com.atproto.repo.describeRepo", "com.atproto.sync.getLatestCommit"]
            .iter()
            .map(|m| pds.calls(m))
            .sum();
    assert_eq!(calls, 0, "no request reached the loopback PDS");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 0);
}
