//! The operator endpoints: `/health` says the process is alive, `/ready` follows the database,
//! `/metrics` renders Prometheus text.

use std::time::Duration;

use plyr_store::testkit::TestDb;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn health_and_metrics_endpoints_answer() {
    let db = TestDb::new().await.expect("db");
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    plyr_indexer::telemetry::install_recorder().expect("recorder");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(plyr_indexer::telemetry::serve(
        addr,
        db.pool.clone(),
        Default::default(),
        shutdown.clone(),
    ));
    metrics::counter!("indexer_dropped_total", "reason" => "test").increment(1);
    let client = reqwest::Client::new();
    let mut health = None;
    for _ in 0..50 {
        if let Ok(r) = client.get(format!("http://{addr}/health")).send().await {
            health = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = health.expect("health endpoint up");
    assert_eq!(health.status(), 200);
    let ready = client.get(format!("http://{addr}/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200, "ready with the database up");
    let metrics = client.get(format!("http://{addr}/metrics")).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("body");
    assert!(text.contains("indexer_dropped_total"), "prometheus output: {text}");
    db.pool.close().await;
    let ready = client.get(format!("http://{addr}/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 503, "ready follows the database");
    let body: serde_json::Value = ready.json().await.expect("a JSON body");
    assert_eq!(body["database"], "unreachable", "{body}");
    let alive = client.get(format!("http://{addr}/health")).send().await.expect("health");
    assert_eq!(alive.status(), 200, "alive without the database");
    shutdown.cancel();
    task.await.expect("join").expect("serve");
}
