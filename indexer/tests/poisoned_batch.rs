//! A batch the database rejects because of one event's content is split until that event is
//! found: it alone is dropped (counted as `database_rejected`), everything else is applied in
//! order, the cursor moves past the end, and the pipeline carries on. The rejection is a real
//! one: a trigger on `tracks` that raises a data exception (SQLSTATE 22000) for a marker title.

mod support;

use std::sync::Arc;
use std::time::Duration;

use plyr_indexer::event::SourceItem;
use plyr_indexer::pipeline::{self, BatchConfig};
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use support::*;
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";
const POISON: &str = "POISON";
const DIDS: [&str; 3] = [ALICE, BOB, CAROL];

/// A database whose `tracks` rejects the title [`POISON`] as PostgreSQL rejects bad data.
async fn poisoned_db() -> (TestDb, Arc<Writer>) {
    let db = TestDb::new().await.expect("test database");
    for sql in [
        r#"CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.title = 'POISON' THEN
               RAISE EXCEPTION 'poisoned title in %', NEW.uri USING ERRCODE = '22000';
             END IF;
             RETURN NEW;
           END $$"#,
        "CREATE TRIGGER reject_poison BEFORE INSERT OR UPDATE ON tracks
           FOR EACH ROW EXECUTE FUNCTION reject_poison()",
    ] {
        sqlx::query(sql).execute(&db.pool).await.expect("install the trigger");
    }
    let writer =
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer");
    (db, Arc::new(writer))
}

/// What a stream should leave behind.
struct Expected {
    rejected: Vec<String>,
    tracks: usize,
    likes: usize,
}

/// `n` events over three accounts: tracks, each followed by a like of it from another account;
/// the events at `poisoned` (indexes into the stream) are tracks with the marker title.
fn stream(n: usize, poisoned: &[usize]) -> (Vec<SourceItem>, Expected) {
    let mut events = Events::default();
    let mut items = Vec::new();
    let mut expected = Expected { rejected: Vec::new(), tracks: 0, likes: 0 };
    let mut last_track: Option<String> = None;
    for i in 0..n {
        let did = DIDS[i % DIDS.len()];
        let rkey = tid(i as u64 + 1);
        let u = uri(did, TRACK, &rkey);
        let item = if poisoned.contains(&i) {
            expected.rejected.push(u);
            events.commit(did, &rkey, TRACK, &rkey, Some(track(POISON)))
        } else if let (1, Some(subject)) = (i % 2, &last_track) {
            expected.likes += 1;
            events.commit(did, &rkey, LIKE, &rkey, Some(like(subject)))
        } else {
            expected.tracks += 1;
            last_track = Some(u);
            events.commit(did, &rkey, TRACK, &rkey, Some(track(&format!("track {i}"))))
        };
        items.push(item);
    }
    (items, expected)
}

fn config() -> BatchConfig {
    BatchConfig { max_events: 1000, max_delay: Duration::from_millis(20), attempts: 5, partitions: 2 }
}

fn dropped_metric(handle: &metrics_exporter_prometheus::PrometheusHandle) -> u64 {
    handle
        .render()
        .lines()
        .find(|l| l.starts_with("indexer_dropped_total{") && l.contains("reason=\"database_rejected\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_rejected_event_is_dropped_alone_and_the_rest_of_its_batch_is_applied() {
    let metrics = plyr_indexer::telemetry::install_recorder().expect("recorder");
    const N: usize = 40;
    let cases: [(&str, Vec<usize>); 4] = [
        ("in the middle", vec![20]),
        ("first", vec![0]),
        ("last", vec![N - 1]),
        ("two of them", vec![7, 30]),
    ];
    for (case, poisoned) in cases {
        let (db, writer) = poisoned_db().await;
        let (items, expected) = stream(N, &poisoned);
        let last = match items.last() {
            Some(SourceItem::Event { cursor, .. }) => cursor.clone(),
            _ => unreachable!("events only"),
        };
        let (tx, rx) = pipeline::channel();
        for item in items {
            tx.send(item).await.expect("queued");
        }
        drop(tx);
        let before = dropped_metric(&metrics);
        let run = pipeline::run(Arc::clone(&writer), rx, config(), CancellationToken::new());
        let totals = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the pipeline finishes")
            .unwrap_or_else(|e| panic!("{case}: the pipeline stopped: {e}"));
        assert_eq!(totals.events, N as u64, "{case}: every event seen once");
        assert_eq!(totals.dropped, poisoned.len() as u64, "{case}: exactly the poisoned events dropped");
        assert_eq!(
            dropped_metric(&metrics) - before,
            poisoned.len() as u64,
            "{case}: counted as database_rejected"
        );

        let tracks: Vec<String> =
            sqlx::query_scalar("SELECT uri FROM tracks").fetch_all(&db.pool).await.expect("tracks");
        for u in &expected.rejected {
            assert!(!tracks.contains(u), "{case}: {u} was rejected");
        }
        assert_eq!(tracks.len(), expected.tracks, "{case}: every other track applied");
        let likes = scalar_i64(&db, "SELECT count(*) FROM likes").await;
        assert_eq!(likes as usize, expected.likes, "{case}: every like applied");
        let counted = scalar_i64(&db, "SELECT coalesce(sum(likes), 0)::bigint FROM subject_stats").await;
        assert_eq!(counted, likes, "{case}: counters follow the rows");
        // The same stream without the rejected events, in one database with no trigger.
        let reference = TestDb::new().await.expect("reference database");
        let clean: Vec<SourceItem> = stream(N, &poisoned)
            .0
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !poisoned.contains(i))
            .map(|(_, item)| item)
            .collect();
        let reference_writer =
            Writer::new(reference.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"]))
                .expect("writer");
        reference_writer.apply(&clean).await.expect("the clean stream applies");
        let positions: Vec<&str> =
            VOLATILE.iter().copied().chain(["cursors.cursor", "cursors.time_us", "cursors.part"]).collect();
        let expected_rows = reference.snapshot(&positions).await.expect("snapshot");
        let actual_rows = db.snapshot(&positions).await.expect("snapshot");
        // One cursor row per partition here, one in the reference: compare the data only.
        let data =
            |s: &str| s.split("== ").filter(|t| !t.starts_with("cursors ")).collect::<Vec<_>>().join("== ");
        assert_same(&data(&actual_rows), &data(&expected_rows), case);

        let cursor = writer
            .stored_cursor(&last.source, &CancellationToken::new())
            .await
            .expect("cursor")
            .expect("a stored cursor");
        assert_eq!(cursor.value, last.value, "{case}: the cursor is past the end of the batch");
    }
}
