//! The ranker: every period's top tracks land in `rankings`, computed from distinct likers in the
//! window, without hidden accounts' tracks; a refresh is announced; two rankers never refresh at
//! once; the background loop follows the write path's announcements within seconds; and the
//! windowed counters the write path and the sliding windows keep equal a recount at every step.

mod support;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use plyr_indexer::ranking::{self, RankerConfig, Refresh, Windows};
use plyr_store::rankings::Period;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";
const PLAY: &str = "fm.teal.feed.play";

/// A like of `subject` created `hours_ago` hours before now.
fn like_at(subject: &str, hours_ago: i64) -> Value {
    let at = (Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({ "$type": "fm.plyr.like", "subject": { "uri": subject, "cid": BLOB_RECORD }, "createdAt": at })
}

/// Events seen from now on (their times are when the write path saw them), and that now.
fn seen_now() -> (Events, DateTime<Utc>) {
    let mut ev = Events::default();
    let now = Utc::now();
    ev.time_us = now.timestamp_micros();
    (ev, now)
}

/// `period`'s ranking as stored: (track URI, likes), in rank order.
async fn stored(db: &TestDb, period: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT subject_uri, score FROM rankings WHERE period = $1 ORDER BY position")
        .bind(period)
        .fetch_all(&db.pool)
        .await
        .expect("rankings")
}

#[tokio::test]
async fn every_period_ranks_distinct_likers_in_its_window_without_hidden_accounts() {
    let (db, w) = setup().await;
    // Seen now: a like dated after it was seen counts as of when it was seen.
    let (mut ev, _) = seen_now();
    let (a, b, c) = (uri(ALICE, TRACK, &tid(1)), uri(ALICE, TRACK, &tid(2)), uri(CAROL, TRACK, &tid(3)));
    let mut n = 10;
    let mut like = |did: &str, subject: &str, hours_ago: i64| {
        n += 1;
        ev.commit(did, &tid(n), LIKE, &tid(n), Some(like_at(subject, hours_ago)))
    };
    let likes = vec![
        like(BOB, &a, 2),
        like(CAROL, &a, 3),
        like(BOB, &b, 3 * 24),
        // One account's two likes of one track count once.
        like(BOB, &c, 40 * 24),
        like(BOB, &c, 45 * 24),
        like(ALICE, &c, 40 * 24),
    ];
    let mut items = vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A"))),
        ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track("B"))),
        ev.commit(CAROL, &tid(3), TRACK, &tid(3), Some(track("C"))),
    ];
    items.extend(likes);
    w.apply(&items).await.expect("apply");
    assert_eq!(ranking::refresh(&db.pool).await.expect("refresh").ranked(), Some(8));

    assert_eq!(stored(&db, "day").await, vec![(a.clone(), 2)]);
    assert_eq!(stored(&db, "week").await, vec![(a.clone(), 2), (b.clone(), 1)]);
    assert_eq!(stored(&db, "month").await, vec![(a.clone(), 2), (b.clone(), 1)]);
    // A tie (A and C: two likers each, tracks of the same time) goes to the greater URI.
    assert_eq!(stored(&db, "all").await, vec![(c.clone(), 2), (a.clone(), 2), (b.clone(), 1)]);
    let periods: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ranking_periods WHERE computed_at > now() - interval '1 minute'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("periods");
    assert_eq!(periods, 8, "every period records when it was computed, by likes and by plays");
    assert_eq!(stored(&db, "plays:all").await, vec![], "no plays: an empty plays ranking, not a missing one");

    // Carol's account goes away: her track leaves every ranking at the next refresh.
    w.apply(&[ev.account(CAROL, false, Some("takendown"))]).await.expect("apply");
    ranking::refresh(&db.pool).await.expect("refresh");
    assert_eq!(stored(&db, "all").await, vec![(a.clone(), 2), (b.clone(), 1)]);
}

#[tokio::test]
async fn a_second_ranker_does_not_refresh_while_one_is_and_a_refresh_is_announced() {
    let (db, _w) = setup().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(plyr_store::changes::CHANNEL).await.expect("listen");

    let mut holder = db.pool.begin().await.expect("tx");
    assert!(plyr_indexer::db::rankings::try_lock(&mut holder).await.expect("lock"));
    assert_eq!(ranking::refresh(&db.pool).await.expect("refresh"), Refresh::Busy);
    holder.rollback().await.expect("release");

    assert_eq!(ranking::refresh(&db.pool).await.expect("refresh").ranked(), Some(0));
    let note =
        tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.expect("in time").expect("recv");
    let change = plyr_store::changes::Change::parse(note.payload()).expect("readable");
    assert!(change.rankings && !change.touches_records(), "{}", note.payload());
}

#[tokio::test]
async fn the_background_ranker_follows_new_likes_within_seconds() {
    let (db, w) = setup().await;
    let (mut ev, _) = seen_now();
    let a = uri(ALICE, TRACK, &tid(1));
    w.apply(&[ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A")))]).await.expect("apply");

    let stop = CancellationToken::new();
    let config = RankerConfig { interval: Duration::from_millis(200), max_age: Duration::from_secs(60) };
    let task = tokio::spawn(ranking::run(db.pool.clone(), config, stop.clone()));
    // It ranks at start, before anything is announced.
    wait_for(&db, "all", Vec::new()).await;

    w.apply(&[ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like_at(&a, 1)))]).await.expect("apply");
    wait_for(&db, "day", vec![(a.clone(), 1)]).await;
    w.apply(&[ev.commit(BOB, &tid(3), LIKE, &tid(2), None)]).await.expect("apply");
    wait_for(&db, "day", Vec::new()).await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").expect("no panic");
}

/// Waits (at most 5 s) for `period`'s stored ranking to be `expected`.
async fn wait_for(db: &TestDb, period: &str, expected: Vec<(String, i64)>) {
    let started = std::time::Instant::now();
    loop {
        let computed: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM ranking_periods WHERE period = $1)")
                .bind(period)
                .fetch_one(&db.pool)
                .await
                .expect("periods");
        let now = stored(db, period).await;
        if computed && now == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{period} is still {now:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every windowed count as stored, and as a recount from the likes and plays at the stored
/// edges: `(ranking, subject, n)` in order.
async fn windows_and_recount(db: &TestDb) -> (Vec<(String, String, i32)>, Vec<(String, String, i32)>) {
    let stored = sqlx::query_as("SELECT ranking, subject_uri, n FROM window_counts ORDER BY 1, 2")
        .fetch_all(&db.pool)
        .await
        .expect("window counts");
    let recount = sqlx::query_as(
        "SELECT ranking, subject, n FROM (
           SELECT r.period AS ranking, l.subject_uri::text AS subject, count(DISTINCT l.did)::int AS n
             FROM likes l JOIN ranking_windows r ON l.sort_at >= r.edge GROUP BY 1, 2
           UNION ALL
           SELECT 'plays:' || r.period, p.matched_uri, count(*)::int
             FROM plays p JOIN ranking_windows r ON p.played_at >= r.edge
            WHERE p.matched_uri IS NOT NULL GROUP BY 1, 2) c
         ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .expect("recount");
    (stored, recount)
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn windowed_counts_kept_by_writes_and_slides_equal_a_recount_at_every_step() {
    let (db, w) = setup().await;
    let (mut ev, real_now) = seen_now();
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let days = |d: u64| chrono::Duration::minutes((d * 24 * 60) as i64);
    const ERIN: &str = "did:plc:erin22222222222222222222";
    const DAVE: &str = "did:plc:dave22222222222222222222";
    let mut likers = vec![BOB, CAROL, DAVE, ERIN];
    let titles = ["A", "B", "C"];
    let tracks: Vec<String> = (1..=3).map(|i| uri(ALICE, TRACK, &tid(i))).collect();
    let items: Vec<_> = (1..=3)
        .map(|i| ev.commit(ALICE, &tid(i), TRACK, &tid(i), Some(track(titles[i as usize - 1]))))
        .collect();
    w.apply(&items).await.expect("tracks");
    // The first update counts the (empty) windows and records their edges.
    let mut now = real_now;
    ranking::update(&db.pool, now, Windows::Slide, &[]).await.expect("first update");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut n = 100;
    // Live likes and plays: (author, rkey).
    let mut likes: Vec<(&str, String)> = Vec::new();
    let mut plays: Vec<(&str, String)> = Vec::new();
    let mut track_live = [true; 3];
    let mut seen = std::collections::BTreeSet::new();
    for step in 0..240 {
        n += 1;
        // A time up to 40 days back, or (now and then) a hostile one days ahead.
        let when = if rng.below(20) == 0 {
            real_now + days(3)
        } else {
            real_now - chrono::Duration::minutes(rng.below(40 * 24 * 60) as i64)
        };
        let subject = &tracks[rng.below(3) as usize];
        let item = match rng.below(9) {
            // A new like, often of a pair that already has one.
            0..=2 => {
                let did = likers[rng.below(likers.len() as u64) as usize];
                likes.push((did, tid(n)));
                ev.commit(did, &tid(n), LIKE, &tid(n), Some(json!({ "$type": LIKE, "subject": { "uri": subject, "cid": BLOB_RECORD }, "createdAt": at(when) })))
            }
            // A like replaced (another subject or time) or deleted.
            3 | 4 if !likes.is_empty() => {
                let (did, rkey) = likes[rng.below(likes.len() as u64) as usize].clone();
                if rng.below(2) == 0 {
                    ev.commit(did, &tid(n), LIKE, &rkey, Some(json!({ "$type": LIKE, "subject": { "uri": subject, "cid": BLOB_RECORD }, "createdAt": at(when) })))
                } else {
                    likes.retain(|l| l.1 != rkey);
                    ev.commit(did, &tid(n), LIKE, &rkey, None)
                }
            }
            // A play, naming the track or matched by title; one replaced or deleted.
            5 | 6 => {
                let did = likers[rng.below(likers.len() as u64) as usize];
                let i = rng.below(3) as usize;
                let mut play = json!({ "$type": PLAY, "trackName": titles[i], "artists": [{ "artistName": "Artist" }],
                    "musicServiceUri": "https://plyr.fm", "playedTime": at(when), "duration": 180 });
                if rng.below(2) == 0 {
                    play["originUri"] = json!(tracks[i]);
                }
                if !plays.is_empty() && rng.below(3) == 0 {
                    let (did, rkey) = plays[rng.below(plays.len() as u64) as usize].clone();
                    if rng.below(2) == 0 {
                        plays.retain(|p| p.1 != rkey);
                        ev.commit(did, &tid(n), PLAY, &rkey, None)
                    } else {
                        ev.commit(did, &tid(n), PLAY, &rkey, Some(play))
                    }
                } else {
                    plays.push((did, tid(n)));
                    ev.commit(did, &tid(n), PLAY, &tid(n), Some(play))
                }
            }
            // A track deleted or written again: the plays matched by its title move.
            7 => {
                let i = rng.below(3) as usize;
                track_live[i] = !track_live[i];
                let record = track_live[i].then(|| track(titles[i]));
                ev.commit(ALICE, &tid(n), TRACK, &tid(i as u64 + 1), record)
            }
            // Time passes: the windows slide.
            _ => {
                now += chrono::Duration::minutes(rng.below(12 * 60) as i64);
                ranking::update(&db.pool, now, Windows::Slide, &[]).await.expect("slide");
                continue;
            }
        };
        w.apply(&[item]).await.expect("apply");
        if step == 160 {
            // Erin's account is deleted: her likes and plays go.
            w.apply(&[ev.account(ERIN, false, Some("deleted"))]).await.expect("purge");
            likers.retain(|d| *d != ERIN);
            likes.retain(|l| l.0 != ERIN);
            plays.retain(|p| p.0 != ERIN);
        }
        let (counts, recount) = windows_and_recount(&db).await;
        assert_eq!(counts, recount, "step {step}: the windows drifted from a recount");
        seen.extend(counts.into_iter().map(|(r, _, _)| r));
    }
    assert_eq!(seen.len(), 6, "the run exercised likes and plays in every window: {seen:?}");
    assert!(now - real_now > days(3), "the windows slid by days");
    let (counts, _) = windows_and_recount(&db).await;

    // A ranking read from the windows equals one from a full rebuild.
    ranking::update(&db.pool, now, Windows::Slide, &Period::EVERY).await.expect("replace");
    let mut incremental = Vec::new();
    for name in ["day", "week", "month", "plays:day", "plays:week", "plays:month"] {
        incremental.push(stored(&db, name).await);
    }
    ranking::update(&db.pool, now, Windows::Rebuild, &Period::EVERY).await.expect("rebuild");
    let (after_rebuild, _) = windows_and_recount(&db).await;
    assert_eq!(after_rebuild, counts, "a rebuild counts what the writes and slides kept");
    for (i, name) in ["day", "week", "month", "plays:day", "plays:week", "plays:month"].iter().enumerate() {
        assert_eq!(stored(&db, name).await, incremental[i], "{name}");
    }
}

#[tokio::test]
async fn writes_racing_the_sliding_edge_are_counted_exactly_once() {
    let (db, w) = setup().await;
    let (mut ev, _) = seen_now();
    let tracks: Vec<String> = (1..=4).map(|i| uri(ALICE, TRACK, &tid(i))).collect();
    let items: Vec<_> =
        (1..=4).map(|i| ev.commit(ALICE, &tid(i), TRACK, &tid(i), Some(track("T")))).collect();
    w.apply(&items).await.expect("tracks");

    let stop = CancellationToken::new();
    let config = RankerConfig { interval: Duration::from_millis(100), max_age: Duration::from_secs(60) };
    let task = tokio::spawn(ranking::run(db.pool.clone(), config, stop.clone()));
    // Likes created right at the day window's edge while it moves: each batch's partitions
    // (several accounts) count against the edge as the ranker slides it every 100 ms.
    let dids: Vec<String> = (0..8).map(|i| format!("did:plc:racer{i}22222222222222222")).collect();
    let started = std::time::Instant::now();
    let mut n = 100;
    let mut rng = Rng(42);
    while started.elapsed() < Duration::from_secs(3) {
        let mut batch = Vec::new();
        for did in &dids {
            n += 1;
            let offset = rng.below(600) as i64 - 300;
            let created = Utc::now() - chrono::Duration::days(1) + chrono::Duration::milliseconds(offset);
            let subject = &tracks[rng.below(4) as usize];
            let record = json!({ "$type": LIKE, "subject": { "uri": subject, "cid": BLOB_RECORD },
                                 "createdAt": created.to_rfc3339_opts(SecondsFormat::Millis, true) });
            batch.push(ev.commit(did, &tid(n), LIKE, &tid(n), Some(record)));
        }
        w.apply(&batch).await.expect("apply");
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").expect("no panic");
    let (stored, recount) = windows_and_recount(&db).await;
    assert_eq!(stored, recount, "a write raced a slide");
    let likes = scalar_i64(&db, "SELECT count(*) FROM likes").await;
    assert!(likes > 100, "the race ran ({likes} likes)");
}

#[tokio::test]
async fn a_like_dated_years_ahead_leaves_the_windows_like_any_other() {
    let (db, w) = setup().await;
    let (mut ev, now) = seen_now();
    let a = uri(ALICE, TRACK, &tid(1));
    let hostile = json!({ "$type": LIKE, "subject": { "uri": a, "cid": BLOB_RECORD }, "createdAt": "2099-01-01T00:00:00.000Z" });
    w.apply(&[ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A")))]).await.expect("track");
    ranking::update(&db.pool, now, Windows::Slide, &[]).await.expect("count the windows");
    w.apply(&[ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(hostile))]).await.expect("like");
    ranking::update(&db.pool, now, Windows::Slide, &Period::EVERY).await.expect("rank");
    // Counted when it was seen (its claimed date is no later than that, by the write path's rule)...
    assert_eq!(stored(&db, "day").await, vec![(a.clone(), 1)]);
    // ...and gone from the day window a day later, as a like of today would be.
    let later = now + chrono::Duration::hours(25);
    ranking::update(&db.pool, later, Windows::Slide, &Period::EVERY).await.expect("slide");
    assert_eq!(stored(&db, "day").await, vec![]);
    assert_eq!(stored(&db, "week").await, vec![(a.clone(), 1)]);
    let (stored_counts, recount) = windows_and_recount(&db).await;
    assert_eq!(stored_counts, recount);
}
