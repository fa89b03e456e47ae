//! The pipeline's batching against a real database. While the lanes are busy (held here by a
//! lock on the cursors table, which every part writes last), the batch being collected keeps
//! filling up to its size instead of being cut by its deadline: a source that is catching up is
//! applied in full batches, whatever its pace. Once the lanes are free, everything sent is
//! applied and the cursor covers the last event.
//!
//! Nothing here waits for time to pass to learn what the pipeline did. The test is the source:
//! it sends on one thread (a `current_thread` runtime, so no other task runs between two sends
//! that do not await) and learns that the pipeline has taken everything sent by reserving the
//! whole channel, which resolves when the channel is empty. The only clock in the test makes
//! sure a batch's deadline has passed; timeouts only turn a hang into a failure.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use ipld_core::ipld::Ipld;
use jacquard_common::types::string::{Did, Nsid, Rkey, Tid};
use plyr_indexer::event::{Action, Cursor, Event, EventBody, RecordOp, SourceItem};
use plyr_indexer::pipeline::{self, BatchConfig, CHANNEL_CAPACITY};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use tokio::sync::mpsc::Sender;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const DID: &str = "did:plc:batching22222222222222222";
const SOURCE: &str = "batching-test";
const TOTAL: usize = 5_000;
/// Events per batch: at most the channel's capacity, so a whole batch can be queued at once.
const MAX_EVENTS: usize = 400;
/// Turns a pipeline that stopped taking events into a failure instead of a hang.
const GUARD: Duration = Duration::from_secs(30);

/// The `i`-th event: a post (not an indexed collection, so it is counted as skipped and only its
/// cursor is written).
fn event(i: usize) -> SourceItem {
    let n = i64::try_from(i).expect("small") + 1;
    let rkey = format!("3l3qo2vu{:05}", i);
    let body = EventBody::Commit(RecordOp {
        rev: Tid::new("3l3qo2vuowo2b").expect("test TID"),
        collection: Nsid::new_owned("app.bsky.feed.post").expect("test NSID"),
        rkey: Rkey::new_owned(rkey).expect("test rkey"),
        action: Action::Create,
        cid: Some(
            plyr_atproto::Cid::new("bafyreihc5ukfe7ahsv6xqsbwwz4yqj6rkyvpqwxqvmrjk3q2qlyhp7wbpa")
                .expect("test CID"),
        ),
        record: Some(Ipld::Map([("text".to_owned(), Ipld::String("hi".to_owned()))].into()).into()),
    });
    SourceItem::Event {
        event: Event { did: Did::new_owned(DID).expect("test DID"), time_us: n, body },
        cursor: Cursor { source: SOURCE.to_owned(), value: n, time_us: n, issuer: None },
    }
}

/// Queues `events` all at once: the pipeline, when it next runs, finds them all in the channel
/// and takes them into one batch without waiting, so that batch is cut by its size.
async fn burst(tx: &Sender<SourceItem>, events: Range<usize>) {
    let permits = tx.reserve_many(events.len()).await.expect("pipeline running");
    for (permit, i) in permits.zip(events) {
        permit.send(event(i));
    }
}

/// Resolves once the pipeline has taken everything sent (the channel is empty).
async fn taken(tx: &Sender<SourceItem>) {
    drop(tx.reserve_many(CHANNEL_CAPACITY).await.expect("pipeline running"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_keeps_filling_while_the_lanes_are_busy_then_everything_is_applied() {
    let db = TestDb::new().await.expect("test database");
    let writer = Arc::new(
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer"),
    );
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE cursors IN EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");

    let config = BatchConfig {
        max_events: MAX_EVENTS,
        max_delay: Duration::from_millis(1),
        attempts: 5,
        partitions: 1,
    };
    let (tx, rx) = pipeline::channel();
    let pipeline = tokio::spawn(pipeline::run(writer, rx, config.clone(), CancellationToken::new()));

    // Two full batches: the lane takes the first and waits on the lock with it (it cannot finish
    // while the lock is held), the second waits in its queue. From then on no lane can take a
    // batch, whenever the lane reaches the lock.
    burst(&tx, 0..MAX_EVENTS).await;
    taken(&tx).await;
    burst(&tx, MAX_EVENTS..2 * MAX_EVENTS).await;
    taken(&tx).await;
    let in_lane = 2 * MAX_EVENTS; // events the lane holds until the lock is released

    // The third batch starts with one event, and its deadline passes before the next one: this
    // sleep starts after the pipeline set that deadline, on the same clock, so it ends after it.
    let mut sent = in_lane;
    tx.send(event(sent)).await.expect("pipeline running");
    sent += 1;
    taken(&tx).await;
    tokio::time::sleep(config.max_delay).await;

    // One event at a time, each taken before the next is sent: the overdue batch must keep taking
    // them up to its size. A pipeline that stopped filling it because no lane could take it would
    // leave an event in the channel, and the guard would end the wait with `sent` short.
    let filled = timeout(GUARD, async {
        while sent < in_lane + MAX_EVENTS {
            tx.send(event(sent)).await.expect("pipeline running");
            sent += 1;
            taken(&tx).await;
        }
        // The batch is full: the channel fills behind it.
        while sent < in_lane + MAX_EVENTS + CHANNEL_CAPACITY {
            tx.send(event(sent)).await.expect("pipeline running");
            sent += 1;
        }
    })
    .await;
    // The pipeline was woken by the sends: let it take whatever it still would before looking.
    tokio::task::yield_now().await;
    // Where the source is held: what it sent, plus any room the pipeline made after that.
    let held = sent + tx.capacity();
    assert!(
        filled.is_ok() && held >= in_lane + config.max_events + CHANNEL_CAPACITY,
        "the source was held after {held} events: the batch stopped filling while the lane was busy"
    );
    assert_eq!(
        held,
        in_lane + config.max_events + CHANNEL_CAPACITY,
        "the pipeline took more than a full batch while its lane was busy"
    );
    assert!(held < TOTAL, "nothing held the source back ({held} events sent)");

    lock.rollback().await.expect("release the lock");
    let rest = timeout(GUARD, async {
        for i in sent..TOTAL {
            tx.send(event(i)).await.expect("pipeline running");
        }
        drop(tx);
        pipeline.await.expect("pipeline task").expect("pipeline")
    });
    let totals = rest.await.expect("everything is applied once the lane is free");
    assert_eq!(totals.events, TOTAL as u64);
    assert_eq!(totals.skipped, TOTAL as u64);
    let cursor: i64 = sqlx::query_scalar("SELECT max(cursor) FROM cursors WHERE source = $1")
        .bind(SOURCE)
        .fetch_one(&db.pool)
        .await
        .expect("cursor");
    assert_eq!(cursor, TOTAL as i64);
}
