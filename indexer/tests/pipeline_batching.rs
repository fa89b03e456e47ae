//! The pipeline's batching against a real database. While the lanes are busy (held here by a
//! lock on the cursors table, which every part writes last), the batch being collected keeps
//! filling up to its size instead of being cut by its deadline: a source that is catching up is
//! applied in full batches, whatever its pace. Once the lanes are free, everything sent is
//! applied and the cursor covers the last event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipld_core::ipld::Ipld;
use jacquard_common::types::string::{Did, Nsid, Rkey, Tid};
use plyr_indexer::event::{Action, Cursor, Event, EventBody, RecordOp, SourceItem};
use plyr_indexer::pipeline::{self, BatchConfig, CHANNEL_CAPACITY};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use tokio_util::sync::CancellationToken;

const DID: &str = "did:plc:batching22222222222222222";
const SOURCE: &str = "batching-test";
const TOTAL: usize = 5_000;

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
        cid: Some("bafyreihc5ukfe7ahsv6xqsbwwz4yqj6rkyvpqwxqvmrjk3q2qlyhp7wbpa".to_owned()),
        record: Some(Ipld::Map([("text".to_owned(), Ipld::String("hi".to_owned()))].into()).into()),
    });
    SourceItem::Event {
        event: Event { did: Did::new_owned(DID).expect("test DID"), time_us: n, body },
        cursor: Cursor { source: SOURCE.to_owned(), value: n, time_us: n, issuer: None },
    }
}

/// Waits until `count` has not moved for a while: the source is held back.
async fn settled(count: &AtomicUsize) -> usize {
    let mut last = count.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test]
async fn a_batch_keeps_filling_while_the_lanes_are_busy_then_everything_is_applied() {
    let db = TestDb::new().await.expect("test database");
    let writer = Arc::new(
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer"),
    );
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE cursors IN EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock");

    let config =
        BatchConfig { max_events: 1_000, max_delay: Duration::from_millis(1), attempts: 5, partitions: 1 };
    let (tx, rx) = pipeline::channel();
    let pipeline = tokio::spawn(pipeline::run(writer, rx, config.clone(), CancellationToken::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let source = tokio::spawn(async move {
        for i in 0..TOTAL {
            tx.send(event(i)).await.expect("pipeline running");
            counter.fetch_add(1, Ordering::SeqCst);
            // The first two events come alone, each cut into its own batch by the deadline: one
            // the lane applies (and waits on the lock with), one queued behind it.
            if i < 2 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });

    let held = settled(&sent).await;
    // Held back only once the collected batch is full and the channel too: a pipeline that cut
    // batches only when the lanes could take them would hold the source after the channel.
    assert!(
        held >= 2 + config.max_events + CHANNEL_CAPACITY,
        "the source was held after {held} events: the batch stopped filling while the lane was busy"
    );
    assert!(held < TOTAL, "nothing held the source back ({held} events sent)");

    lock.rollback().await.expect("release the lock");
    source.await.expect("source task");
    let totals = pipeline.await.expect("pipeline task").expect("pipeline");
    assert_eq!(totals.events, TOTAL as u64);
    assert_eq!(totals.skipped, TOTAL as u64);
    let cursor: i64 = sqlx::query_scalar("SELECT max(cursor) FROM cursors WHERE source = $1")
        .bind(SOURCE)
        .fetch_one(&db.pool)
        .await
        .expect("cursor");
    assert_eq!(cursor, TOTAL as i64);
}
