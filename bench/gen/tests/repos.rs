//! Smoke run of the backfill benchmark: a few generated repo CARs served by `plyr-bench`'s
//! loopback PDS + PLC directory, backfilled by the `indexer backfill` command's own code path
//! (discovery with listRepos, DID documents from the PLC, getRepo verified) into a fresh
//! database: every indexed record the generator wrote becomes a row, and the fetch-only
//! measurement decodes the same records.

mod backfill_support;

use plyr_gen::bench::pds;
use plyr_gen::keys::KeyFile;
use plyr_gen::repos::{ReposParams, generate};
use plyr_store::testkit::TestDb;

fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("plyr-gen-{name}-{}", std::process::id()))
}

async fn count(db: &TestDb, table: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM {table}");
    let n: i64 = sqlx::query_scalar(&sql).fetch_one(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    n as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_repos_backfill_into_the_expected_rows() {
    let dir = scratch("repos");
    let params = ReposParams { other_records: 20, ..ReposParams::new(11, 40) };
    let summary = generate(&params, &dir).await.expect("generates");
    assert!(summary.repos >= 30, "{summary}");
    assert!(summary.of("fm.plyr.track") > 0 && summary.of("fm.plyr.like") > 100, "{summary}");
    assert!(summary.of("app.bsky.feed.post") > 100, "other apps' records too: {summary}");
    let keys = KeyFile::read(&dir.join("keys.json")).expect("keys");
    assert_eq!(keys.0.len() as u64, summary.repos);

    let server = pds::serve(&dir, "127.0.0.1:0".parse().expect("addr")).await.expect("serves");
    let fetched =
        plyr_gen::bench::snapshots::run(&server.url.parse().expect("url"), &keys, 4).await.expect("fetch");
    assert_eq!((fetched.repos, fetched.failed), (summary.repos, 0));
    assert_eq!(fetched.records, summary.indexed(), "every indexed record decodes from the CARs");

    let db = TestDb::new().await.expect("database");
    let url = server.url.as_str();
    let done = backfill_support::backfill_all(&db.pool, url).await;
    assert_eq!((done.done as u64, done.failed), (summary.repos, 0));
    assert_eq!(done.snapshot_records, summary.indexed());

    let expected = [
        ("tracks", summary.of("fm.plyr.track")),
        ("likes", summary.of("fm.plyr.like")),
        ("comments", summary.of("fm.plyr.comment")),
        ("lists", summary.of("fm.plyr.list")),
        ("plyr_profiles", summary.of("fm.plyr.actor.profile")),
        ("bsky_profiles", summary.of("app.bsky.actor.profile")),
    ];
    for (table, n) in expected {
        assert_eq!(count(&db, table).await, n, "{table}");
    }
    assert_eq!(count(&db, "repos WHERE backfill = 'done'").await, summary.repos);
    server.stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "current_thread")]
async fn the_repos_depend_only_on_the_parameters() {
    let params = ReposParams { other_records: 5, ..ReposParams::new(5, 12) };
    let (a, b) = (scratch("repos-a"), scratch("repos-b"));
    let first = generate(&params, &a).await.expect("generates");
    let second = generate(&params, &b).await.expect("generates");
    assert_eq!(first, second);
    let keys = KeyFile::read(&a.join("keys.json")).expect("keys");
    for did in keys.0.keys() {
        let car = |dir: &std::path::Path| std::fs::read(dir.join(format!("{did}.car"))).expect("a CAR");
        assert!(car(&a) == car(&b), "{did}: same parameters, same CAR");
    }
    let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
}
