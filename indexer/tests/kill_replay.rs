//! Crash safety: `indexer replay` of a generated 50,000-event stream, killed with SIGKILL at ten
//! random points and restarted each time, ends with exactly the database a clean run produces
//! (the cursor is committed in the same transaction as the data it covers, and the write path
//! is idempotent, so nothing is lost and nothing is doubled). The clean run applies each batch in
//! one transaction and the crashed ones as one to three concurrent partitions (a different count
//! after each restart, the last one in one transaction), so this also shows that partitioned batches leave exactly the database a
//! sequential pass does, whichever partitions had committed when the process died.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plyr_store::testkit::TestDb;
use support::{VOLATILE, assert_same, next};

const EVENTS: usize = 50_000;
const KILLS: usize = 10;

fn indexer(db: &TestDb, file: &std::path::Path, partitions: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["replay", "--batch-size", "500", "--write-partitions", &partitions.to_string()])
        .arg(file)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start indexer")
}

fn run_to_end(db: &TestDb, file: &std::path::Path, partitions: u16) {
    let status = indexer(db, file, partitions).wait().expect("indexer");
    assert!(status.success(), "indexer replay failed: {status}");
}

/// The line number the last committed batch covers (0 before the first commit).
async fn replay_position(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT min(cursor) FROM cursors WHERE source = 'replay'")
        .fetch_optional(&db.pool)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_during_replay_loses_and_doubles_nothing() {
    let dir = std::env::temp_dir().join(format!("plyr-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("stream.jsonl");
    let params = plyr_gen::NetworkParams::new(7, EVENTS);
    let out = std::fs::File::create(&file).expect("create stream file");
    plyr_gen::write_jetstream(&params, std::io::BufWriter::new(out)).expect("generate stream");

    let clean = TestDb::new().await.expect("clean db");
    let started = Instant::now();
    run_to_end(&clean, &file, 1);
    println!("clean replay of {EVENTS} events: {:.1} s", started.elapsed().as_secs_f64());
    let expected = clean.snapshot(VOLATILE).await.expect("snapshot");
    let tracks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tracks").fetch_one(&clean.pool).await.expect("count");
    assert!(tracks > 100, "the stream should index plenty of tracks, got {tracks}");

    let crashed = TestDb::new().await.expect("crash db");
    let mut rng = u64::from(std::process::id());
    let mut killed_mid_run = 0;
    for round in 0..KILLS {
        // Kill once the committed position passes a random line in the next tenth of the stream,
        // plus a random delay: the kill lands anywhere in the batch cycle (decoding, writing,
        // committing), never before the process has made progress or after it has finished.
        let span = (EVENTS / (KILLS + 1)) as u64;
        let target = (round as u64 + 1) * span + next(&mut rng) % span;
        let mut child = indexer(&crashed, &file, (round % 3 + 1) as u16);
        let deadline = Instant::now() + Duration::from_secs(120);
        while replay_position(&crashed).await < target as i64 && Instant::now() < deadline {
            if child.try_wait().expect("poll").is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(next(&mut rng) % 200)).await;
        if child.try_wait().expect("poll").is_none() {
            killed_mid_run += 1;
        }
        child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
        child.wait().expect("reap");
    }
    // The last restart applies batches in one transaction: it also retires the cursors the
    // partitioned runs stored, so the two databases match row for row.
    run_to_end(&crashed, &file, 1);
    assert!(killed_mid_run >= KILLS - 1, "only {killed_mid_run} of {KILLS} kills hit a running replay");
    assert_same(
        &crashed.snapshot(VOLATILE).await.expect("snapshot"),
        &expected,
        "a crashed-and-resumed replay differs from a clean run",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
