//! The collection registry against the schema: every registered collection has its branch of the
//! `live_records` view (account purges tombstone every live record through it), and the view
//! names no collection that is not registered.

use std::collections::BTreeSet;

use plyr_indexer::write::collections;
use plyr_store::testkit::TestDb;

#[tokio::test]
async fn the_registry_and_the_live_records_view_name_the_same_collections() {
    let db = TestDb::new().await.expect("test database");
    let definition: String = sqlx::query_scalar("SELECT pg_get_viewdef('live_records'::regclass)")
        .fetch_one(&db.pool)
        .await
        .expect("the view's definition");
    // Each branch selects its collection as a constant: `'fm.plyr.like'::text AS collection`.
    let named: BTreeSet<&str> =
        definition.split('\'').skip(1).step_by(2).filter(|s| s.contains('.') && !s.contains(' ')).collect();
    let registered: BTreeSet<&str> = collections::ALL.iter().map(|c| c.nsid()).collect();
    assert_eq!(named, registered, "live_records: {definition}");
    assert_eq!(definition.matches("UNION ALL").count() + 1, collections::ALL.len(), "{definition}");
}
