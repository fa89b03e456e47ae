//! The last-resort path of `locate`: a private cluster from the machine's initdb/pg_ctl.

use plyr_store::LocalCluster;
use sqlx::{ConnectOptions, Connection};

#[tokio::test]
async fn private_cluster_initialises_starts_serves_and_stops() {
    let dir = std::env::temp_dir().join(format!("plyr-cluster-test-{}", std::process::id()));
    let cluster = LocalCluster::start(&dir).await.expect("start cluster");
    let mut conn = cluster.admin_options().connect().await.expect("connect");
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.expect("query");
    assert_eq!(one, 1);
    conn.close().await.expect("close");

    // Starting again reuses the same data folder and port.
    let again = LocalCluster::start(&dir).await.expect("restart is a no-op");
    assert_eq!(again.port(), cluster.port());

    cluster.stop().await.expect("stop");
    assert!(cluster.admin_options().connect().await.is_err(), "server must be down after stop");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
