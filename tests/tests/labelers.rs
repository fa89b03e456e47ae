//! Following a real labeler (`@skyware/labeler` from npm) whose DID lives on the local PLC
//! directory: labels made before and after the indexer subscribes, negations, expiry and `cid`
//! pins stored as sent, a forged signature dropped without blocking what follows, a key
//! rotation, a labeler restart mid-stream, and an indexer restart resuming from its cursor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plyr_atproto::identity::{IdentityConfig, IdentityResolver};
use plyr_atproto::outbound::NetworkPolicy;
use plyr_e2e::labeler::{LabelOptions, LocalLabeler};
use plyr_e2e::pds::LocalPds;
use plyr_indexer::websocket::Timing;
use plyr_store::testkit::TestDb;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// A label row as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Row {
    val: String,
    neg: bool,
    cid: Option<String>,
    exp: Option<chrono::DateTime<chrono::Utc>>,
}

async fn row(db: &PgPool, src: &str, uri: &str, val: &str) -> Option<Row> {
    sqlx::query_as("SELECT val, neg, cid, exp FROM labels WHERE src = $1 AND uri = $2 AND val = $3")
        .bind(src)
        .bind(uri)
        .bind(val)
        .fetch_optional(db)
        .await
        .expect("query labels")
}

/// Waits up to `limit` for `(src, uri, val)` to be stored with `neg`; returns how long it took.
async fn stored(db: &PgPool, src: &str, uri: &str, val: &str, neg: bool, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if row(db, src, uri, val).await.is_some_and(|r| r.neg == neg) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{val} on {uri} (neg {neg}) not stored within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cursor(db: &PgPool, did: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT cursor FROM cursors WHERE source = $1")
        .bind(format!("labeler:{did}"))
        .fetch_optional(db)
        .await
        .expect("query cursors")
}

fn timing() -> Timing {
    Timing {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..Timing::default()
    }
}

/// Follows `did` until the returned token is cancelled.
fn follow(db: &PgPool, plc_url: &str, did: &str) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let config = IdentityConfig {
        plc_url: plc_url.to_owned(),
        network: NetworkPolicy::test_network(),
        ..IdentityConfig::default()
    };
    let resolver = IdentityResolver::new(config).expect("resolver");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(plyr_indexer::labeler::run(
        db.clone(),
        Arc::new(resolver),
        vec![did.to_owned()],
        timing(),
        shutdown.clone(),
    ));
    (shutdown, task)
}

#[tokio::test]
async fn a_real_labeler_is_followed_verified_and_resumed() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let db = TestDb::new().await?;
    let mut labeler = LocalLabeler::start(pds.plc_url()).await?;
    let src = labeler.did().to_owned();
    let track = "at://did:plc:artist00000000000000000/fm.plyr.track/3kabc";
    let account = "did:plc:troll000000000000000000";
    let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

    // Made before anyone subscribes: the first subscription must ask for them (cursor=0).
    labeler.label(track, "porn", LabelOptions::default()).await?;
    labeler.label(account, "!hide", LabelOptions::default()).await?;
    let (stop, task) = follow(&db.pool, pds.plc_url(), &src);
    stored(&db.pool, &src, track, "porn", false, Duration::from_secs(10)).await;
    stored(&db.pool, &src, account, "!hide", false, Duration::from_secs(10)).await;

    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool).await?;
    listener.listen(plyr_store::changes::CHANNEL).await?;

    // Live: a negation, an expiring label and a pinned one, each stored and announced within 1 s.
    labeler.label(track, "porn", LabelOptions { neg: true, ..Default::default() }).await?;
    let took = stored(&db.pool, &src, track, "porn", true, Duration::from_secs(1)).await;
    let note = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await??;
    let change = plyr_store::changes::Change::parse(note.payload()).expect("a change payload");
    assert!(change.labels && change.uris.contains(&track.to_owned()), "{change:?}");
    eprintln!("negation stored {took:?} after the labeler made it");

    let exp = "2031-01-02T03:04:05.678Z";
    labeler.label(track, "sexual", LabelOptions { exp: Some(exp), ..Default::default() }).await?;
    labeler
        .label(track, "copyright-violation", LabelOptions { cid: Some(cid), ..Default::default() })
        .await?;
    stored(&db.pool, &src, track, "copyright-violation", false, Duration::from_secs(1)).await;
    let sexual = row(&db.pool, &src, track, "sexual").await.expect("stored");
    assert_eq!(
        sexual.exp.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).as_deref(),
        Some(exp)
    );
    let pinned = row(&db.pool, &src, track, "copyright-violation").await.expect("stored");
    assert_eq!(pinned.cid.as_deref(), Some(cid));

    // A forged signature is dropped; the label after it is not held up.
    labeler.forged(account, "spam").await?;
    labeler.label(account, "rude", LabelOptions::default()).await?;
    stored(&db.pool, &src, account, "rude", false, Duration::from_secs(2)).await;
    assert_eq!(row(&db.pool, &src, account, "spam").await, None, "a forged label was stored");

    // Key rotation: labels signed with the new key verify once the DID is looked up again.
    labeler.rotate().await?;
    labeler.label(account, "after-rotation", LabelOptions::default()).await?;
    stored(&db.pool, &src, account, "after-rotation", false, Duration::from_secs(10)).await;

    // The labeler restarts mid-stream: we reconnect from our cursor and miss nothing.
    labeler.restart().await?;
    let seq = labeler.label(account, "after-restart", LabelOptions::default()).await?;
    stored(&db.pool, &src, account, "after-restart", false, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while cursor(&db.pool, &src).await != Some(seq) {
        assert!(Instant::now() < deadline, "cursor {:?}, want {seq}", cursor(&db.pool, &src).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The indexer stops; labels made meanwhile arrive when it resumes from the stored cursor.
    stop.cancel();
    task.await?;
    labeler.label(account, "while-away", LabelOptions::default()).await?;
    labeler.label(account, "rude", LabelOptions { neg: true, ..Default::default() }).await?;
    let (stop, task) = follow(&db.pool, pds.plc_url(), &src);
    stored(&db.pool, &src, account, "rude", true, Duration::from_secs(10)).await;
    stored(&db.pool, &src, account, "while-away", false, Duration::from_secs(1)).await;
    // Every label was delivered once per subscription; nothing was stored twice or lost.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM labels WHERE src = $1")
        .bind(&src)
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(
        rows, 8,
        "porn, sexual, copyright-violation, !hide, rude, after-rotation, after-restart, while-away"
    );
    stop.cancel();
    task.await?;
    Ok(())
}
