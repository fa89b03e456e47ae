//! The test database helper creates an isolated, migrated database and drops it afterwards.

#![cfg(feature = "testkit")]

use plyr_store::testkit::TestDb;

#[tokio::test]
async fn each_test_database_is_fresh_migrated_and_dropped() {
    let a = TestDb::new().await.expect("create a");
    let b = TestDb::new().await.expect("create b");
    assert_ne!(a.name(), b.name());
    sqlx::query("INSERT INTO cursors (source, cursor, time_us, updated_at) VALUES ('x', 1, 1, now())")
        .execute(&a.pool)
        .await
        .expect("schema present in a");
    let in_b: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cursors").fetch_one(&b.pool).await.expect("count b");
    assert_eq!(in_b, 0, "databases are isolated");
    let name = a.name().to_owned();
    let probe = b.pool.clone();
    drop(a);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&probe)
        .await
        .expect("query pg_database");
    assert_eq!(left, 0, "dropped database must be gone");
}
