//! The bulk loader (`plyr-gen load`) writes what the indexer writes: the same dataset replayed
//! through `indexer replay`'s path into one database and loaded into another gives identical
//! tables. And a loaded database is consistent: counters equal counts of rows, every index is
//! back, and a second load into it is refused.

use std::sync::Arc;

use plyr_gen::DEFAULT_END_US;
use plyr_gen::load::encode::TRUSTED_AUDIO_ORIGIN;
use plyr_gen::load::{LoadError, LoadOptions, LoadParams, jetstream, load};
use plyr_indexer::pipeline::BatchConfig;
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::{TestDb, assert_same};
use tokio_util::sync::CancellationToken;

fn small() -> LoadParams {
    LoadParams {
        listeners: 60,
        comments: 90,
        playlists: 12,
        deactivated_per_10k: 600,
        ..LoadParams::new(7, 90, 700, 15, DEFAULT_END_US)
    }
}

fn quick() -> LoadOptions {
    LoadOptions { jobs: 2, work_mem: "64MB".into(), vacuum: false }
}

/// Replays `lines` through the indexer's replay path into `db`.
async fn replay(db: &TestDb, lines: &[String]) {
    let path = std::env::temp_dir().join(format!("plyr-gen-load-test-{}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the stream");
    let writer =
        Writer::new(db.pool.clone(), TrustedOrigins::new([TRUSTED_AUDIO_ORIGIN])).expect("indexer writer");
    let summary = plyr_indexer::replay::replay(
        Arc::new(writer),
        &path,
        true,
        BatchConfig::default(),
        CancellationToken::new(),
    )
    .await
    .expect("replay");
    let _ = std::fs::remove_file(&path);
    assert_eq!(summary.bad_lines, 0, "every line decodes");
    // As `indexer replay` does when it ends.
    plyr_indexer::ranking::refresh(&db.pool).await.expect("rankings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loader_writes_what_the_indexer_writes() {
    let params = small();
    let (lines, model) = jetstream(&params).expect("generates");
    assert!(model.accounts.iter().any(|a| a.plyr && a.deactivated), "the sample has a deactivated account");
    assert!(model.counts.lists > model.counts.list_items / 500, "the sample has lists");

    let indexed = TestDb::new().await.expect("database A");
    replay(&indexed, &lines).await;
    // What the identity worker would do once the handles resolve (it needs the network).
    let (dids, pds): (Vec<String>, Vec<String>) =
        model.accounts.iter().map(|a| (a.did.clone(), a.pds.clone())).unzip();
    sqlx::query(
        "UPDATE actors a SET handle_verified = TRUE, pds_endpoint = u.pds,
                identity_at = to_timestamp($3::bigint / 1e6)
           FROM UNNEST($1::text[], $2::text[]) AS u(did, pds) WHERE a.did = u.did",
    )
    .bind(&dids)
    .bind(&pds)
    .bind(params.identity_us())
    .execute(&indexed.pool)
    .await
    .expect("verify handles");
    sqlx::query("DELETE FROM cursors").execute(&indexed.pool).await.expect("forget the replay position");

    let loaded = TestDb::new().await.expect("database B");
    let report = load(&loaded.url, &params, &quick()).await.expect("loads");
    assert_eq!(report.counts, model.counts);

    // When each ranking was computed differs; what they rank must not.
    let volatile = ["ranking_periods.computed_at", "ranking_periods.since", "ranking_windows.edge"];
    let expected = indexed.snapshot(&volatile).await.expect("snapshot A");
    let actual = loaded.snapshot(&volatile).await.expect("snapshot B");
    assert!(expected.contains("== likes (700 rows)"), "{}", &expected[..expected.len().min(2_000)]);
    assert_same(&actual, &expected, "loaded rows differ from the indexer's");
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_database_is_consistent() {
    let params =
        LoadParams { deactivated_per_10k: 100, ..LoadParams::new(3, 2_000, 20_000, 150, DEFAULT_END_US) };
    let db = TestDb::new().await.expect("database");
    let fresh = TestDb::new().await.expect("reference database");
    let report = load(&db.url, &params, &LoadOptions { vacuum: true, ..quick() }).await.expect("loads");

    let count = |t: &str| format!("SELECT count(*) FROM {t}");
    assert_eq!(scalar(&db, &count("tracks")).await, 2_000);
    assert_eq!(scalar(&db, &count("likes")).await, 20_000);
    assert_eq!(scalar(&db, &count("comments")).await, 1_000);
    assert_eq!(scalar(&db, &count("lists")).await as u64, report.counts.lists);
    // The guard holds tombstones only (live records carry their rev), and the load deletes nothing.
    assert_eq!(scalar(&db, &count("records")).await, 0);
    let checks = [
        // Likes count distinct likers, comments count rows, both per subject.
        "SELECT count(*) FROM (SELECT subject_uri, count(DISTINCT did) AS n FROM likes GROUP BY 1) l
           FULL JOIN (SELECT subject_uri, likes FROM subject_stats WHERE likes > 0) s USING (subject_uri)
          WHERE l.n IS DISTINCT FROM s.likes",
        "SELECT count(*) FROM (SELECT subject_uri, count(*) AS n FROM comments GROUP BY 1) c
           FULL JOIN (SELECT subject_uri, comments FROM subject_stats WHERE comments > 0) s USING (subject_uri)
          WHERE c.n IS DISTINCT FROM s.comments",
        "SELECT count(*) FROM subject_stats WHERE likes = 0 AND comments = 0",
        // Per actor: tracks, albums, playlists, distinct subjects liked.
        "SELECT count(*) FROM actors a LEFT JOIN actor_stats s USING (did)
          WHERE COALESCE(s.tracks, 0) <> (SELECT count(*) FROM tracks t WHERE t.did = a.did)
             OR COALESCE(s.albums, 0) <> (SELECT count(*) FROM lists l WHERE l.did = a.did AND l.list_type = 'album')
             OR COALESCE(s.playlists, 0) <> (SELECT count(*) FROM lists l WHERE l.did = a.did AND l.list_type = 'playlist')
             OR COALESCE(s.likes, 0) <> (SELECT count(DISTINCT subject_uri) FROM likes l WHERE l.did = a.did)",
        // Every record has an actor; list item counts match.
        "SELECT count(*) FROM (SELECT uri, did FROM tracks UNION ALL SELECT uri, did FROM likes
                                UNION ALL SELECT uri, did FROM comments UNION ALL SELECT uri, did FROM lists) r
          WHERE NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = r.did)",
        "SELECT count(*) FROM lists l WHERE item_count <> (SELECT count(*) FROM list_items i WHERE i.list_uri = l.uri)",
        // Views are complete: verified handles, a PDS, display names for artists.
        "SELECT count(*) FROM actors WHERE NOT handle_verified OR pds_endpoint IS NULL OR handle IS NULL",
        "SELECT count(*) FROM tracks t WHERE NOT EXISTS (SELECT 1 FROM bsky_profiles b WHERE b.did = t.did)",
        "SELECT count(*) FROM tracks WHERE sort_at > indexed_at OR id <= 0",
    ];
    for sql in checks {
        assert_eq!(scalar(&db, sql).await, 0, "{sql}");
    }
    assert!(scalar(&db, "SELECT count(*) FROM actors WHERE hidden").await > 0, "some accounts are hidden");
    assert!(
        scalar(
            &db,
            "SELECT count(*) FROM likes WHERE created_at > to_timestamp(1767225600) - interval '7 days'"
        )
        .await
            > 100,
        "the last week has likes"
    );

    // Every index and constraint is back, as migrations define them.
    let shape = "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'";
    assert_eq!(scalar(&db, shape).await, scalar(&fresh, shape).await);
    let keys = "SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace";
    assert_eq!(scalar(&db, keys).await, scalar(&fresh, keys).await);

    let again = load(&db.url, &params, &quick()).await;
    assert!(matches!(again, Err(LoadError::NotEmpty(_))), "{again:?}");
}

#[test]
fn same_parameters_same_dataset() {
    let params = small();
    let (a, _) = jetstream(&params).expect("generates");
    let (b, _) = jetstream(&params).expect("generates");
    assert!(a == b, "two runs differ");
    let (c, _) = jetstream(&LoadParams { seed: 8, ..params }).expect("generates");
    assert_ne!(a, c);
}
