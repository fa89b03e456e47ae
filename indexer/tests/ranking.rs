//! The ranker: every period's top tracks land in `rankings`, computed from distinct likers in the
//! window, without hidden accounts' tracks; a refresh is announced; two rankers never refresh at
//! once; and the background loop follows the write path's announcements within seconds.

mod support;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use plyr_indexer::ranking::{self, RankerConfig, Refresh};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";

/// A like of `subject` created `hours_ago` hours before now.
fn like_at(subject: &str, hours_ago: i64) -> Value {
    let at = (Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({ "$type": "fm.plyr.like", "subject": { "uri": subject, "cid": BLOB_RECORD }, "createdAt": at })
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
    let mut ev = Events::default();
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
    let mut ev = Events::default();
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
