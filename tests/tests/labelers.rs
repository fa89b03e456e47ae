//! Following a real labeler (`@skyware/labeler` from npm) whose DID lives on the local PLC
//! directory: labels made before and after the indexer subscribes, negations, expiry and `cid`
//! pins stored as sent, a forged signature dropped without blocking what follows, a key
//! rotation, a labeler restart mid-stream, and an indexer restart resuming from its cursor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plyr_appview::{AppState, AppviewOptions};
use plyr_atproto::identity::{IdentityConfig, IdentityResolver};
use plyr_atproto::outbound::NetworkPolicy;
use plyr_e2e::labeler::{LabelOptions, LocalLabeler};
use plyr_e2e::pds::{LocalPds, RecordRef};
use plyr_indexer::websocket::Timing;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
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

/// Replays `records` (`(did, collection, record, value, rev)`) as Jetstream commits.
async fn replay(db: &TestDb, records: &[(&str, &str, &RecordRef, Value, &str)]) -> anyhow::Result<()> {
    let mut t = chrono::Utc::now().timestamp_micros() - 60_000_000;
    let lines: Vec<String> = records
        .iter()
        .map(|(did, collection, r, value, rev)| {
            t += 1000;
            json!({ "did": did, "time_us": t, "kind": "commit", "commit": {
                "rev": rev, "operation": "create", "collection": collection, "rkey": r.rkey(),
                "cid": r.cid, "record": value,
            }})
            .to_string()
        })
        .collect();
    plyr_e2e::replay_lines(&db.pool, &lines).await?;
    Ok(())
}

/// One answer of the AppView.
struct Answer {
    status: u16,
    labelers: String,
    body: Value,
}

async fn get(base: &str, path: &str, accept: Option<&str>) -> anyhow::Result<Answer> {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(accept) = accept {
        req = req.header("atproto-accept-labelers", accept);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let labelers = res
        .headers()
        .get("atproto-content-labelers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Answer { status, labelers, body: res.json().await.unwrap_or(Value::Null) })
}

/// The titles of the tracks in an XRPC or REST answer, sorted.
fn titles(body: &Value) -> Vec<String> {
    let tracks = body.get("tracks").unwrap_or(body);
    let mut titles: Vec<String> = tracks
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["title"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    titles.sort();
    titles
}

/// Polls `check` every 50 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    loop {
        if check().await? {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real labeler's labels as the AppView applies them, through XRPC and REST: list contexts
/// hide `porn`/`sexual`, view contexts show them with their labels; `copyright-violation` and an
/// account's `!hide` hide everywhere; a pinned label stops at a new version of the record, an
/// expired one stops applying, a negation applies within a second; a request chooses its
/// labelers with `atproto-accept-labelers` and is told which applied; the author still sees
/// their own records; an operator takedown applies whatever labelers a request chose.
#[tokio::test]
async fn labels_apply_by_context_labeler_version_expiry_and_author() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let client = pds.client();
    let alice = client.create_account("alice-labels.test", "alice-labels@example.com", "pw-alice").await?;
    let bob = client.create_account("bob-labels.test", "bob-labels@example.com", "pw-bob").await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let track = |title: &str| {
        json!({ "$type": "fm.plyr.track", "title": title, "artist": "Alice", "fileType": "mp3",
                "audioUrl": "https://audio.plyr.fm/audio/x.mp3",
                "imageUrl": format!("https://images.plyr.fm/covers/{}.jpg", title.to_lowercase()),
                "createdAt": now })
    };
    let mut made = Vec::new();
    for (who, title) in
        [(&alice, "Explicit"), (&alice, "Pinned"), (&alice, "Expiring"), (&alice, "Plain"), (&bob, "Bobs")]
    {
        let r = client.create_record(who, "fm.plyr.track", track(title), None).await?;
        made.push((who.did.clone(), r, track(title)));
    }
    let db = TestDb::new().await?;
    let rows: Vec<_> =
        made.iter().map(|(did, r, v)| (did.as_str(), "fm.plyr.track", r, v.clone(), r.rkey())).collect();
    replay(&db, &rows).await?;
    let uri = |i: usize| made[i].1.uri.clone();

    let mut labeler = LocalLabeler::start(pds.plc_url()).await?;
    let src = labeler.did().to_owned();
    let (stop, task) = follow(&db.pool, pds.plc_url(), &src);
    let exp = (chrono::Utc::now() + chrono::Duration::seconds(6))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    labeler.label(&uri(0), "porn", LabelOptions::default()).await?;
    labeler
        .label(
            &uri(1),
            "copyright-violation",
            LabelOptions { cid: Some(&made[1].1.cid), ..Default::default() },
        )
        .await?;
    labeler.label(&uri(2), "sexual", LabelOptions { exp: Some(&exp), ..Default::default() }).await?;
    labeler.label(&bob.did, "!hide", LabelOptions::default()).await?;
    stored(&db.pool, &src, &bob.did, "!hide", false, Duration::from_secs(10)).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut options = AppviewOptions::defaults(format!("127.0.0.1:{port}").parse()?);
    options.public_url = Some(format!("http://localhost:{port}"));
    options.plc_url = pds.plc_url().to_owned();
    options.allow_test_network = true;
    options.labelers = vec![src.clone()];
    options.response_cache_secs = 2;
    let own = options.service_did();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::serve(AppState::new(db.pool.clone(), options), shutdown.clone()));
    let base = format!("http://127.0.0.1:{port}");
    eventually("the AppView answers", Duration::from_secs(5), || async {
        Ok(reqwest::get(format!("{base}/xrpc/_health")).await.is_ok())
    })
    .await?;
    let latest = "/xrpc/fm.plyr.feed.getLatestTracks";

    // List context: porn and sexual hidden, copyright and the hidden account everywhere.
    let a = get(&base, latest, None).await?;
    assert_eq!(titles(&a.body), ["Plain"], "{}", a.body);
    assert_eq!(a.labelers, format!("{own},{src}"));
    let rest = get(&base, "/tracks/", None).await?;
    assert_eq!(titles(&rest.body), ["Plain"], "{}", rest.body);
    // View context: a track by URI, an artist's tracks.
    let all: Vec<String> = (0..5).map(uri).collect();
    let query: String = all.iter().map(|u| format!("uris={u}&")).collect();
    let a = get(&base, &format!("/xrpc/fm.plyr.feed.getTracks?{query}"), None).await?;
    assert_eq!(titles(&a.body), ["Expiring", "Explicit", "Plain"], "{}", a.body);
    // XRPC views carry the labels as the labeler signed them.
    let view = a.body["tracks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["title"] == "Explicit"))
        .cloned()
        .unwrap_or_default();
    let label = &view["labels"][0];
    assert_eq!(
        (&label["src"], &label["uri"], &label["val"]),
        (&json!(src), &json!(uri(0)), &json!("porn")),
        "{view}"
    );
    assert!(label["sig"]["$bytes"].is_string() && label["ver"] == 1, "{label}");
    let rest = get(&base, &format!("/tracks/?artist_did={}", alice.did), None).await?;
    assert_eq!(titles(&rest.body), ["Expiring", "Explicit", "Plain"], "{}", rest.body);
    let explicit = rest.body["tracks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["title"] == "Explicit"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(explicit["labels"], json!(["porn"]), "REST labels carry the labeler's value");
    let id = explicit["id"].as_i64().unwrap_or_default();
    let file = explicit["file_id"].as_str().unwrap_or_default();
    assert_eq!(explicit["r2_url"], format!("http://localhost:{port}/audio/{file}"), "gated through /audio/");
    let plain =
        rest.body["tracks"].as_array().and_then(|ts| ts.iter().find(|t| t["title"] == "Plain")).cloned();
    assert_eq!(plain.unwrap_or_default()["r2_url"], "https://audio.plyr.fm/audio/x.mp3");
    assert_eq!(get(&base, &format!("/tracks/{id}"), None).await?.status, 200);
    let pinned_id = sqlx::query_scalar::<_, i64>("SELECT id FROM tracks WHERE uri = $1")
        .bind(uri(1))
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(get(&base, &format!("/tracks/{pinned_id}"), None).await?.status, 404);

    // queryLabels serves the labels held, as signed, by subject pattern and source.
    let q =
        get(&base, &format!("/xrpc/com.atproto.label.queryLabels?uriPatterns=at://{}/*", alice.did), None)
            .await?;
    let mut vals: Vec<&str> = q.body["labels"]
        .as_array()
        .map(|ls| ls.iter().filter_map(|l| l["val"].as_str()).collect())
        .unwrap_or_default();
    vals.sort();
    assert_eq!(vals, ["copyright-violation", "porn", "sexual"], "{}", q.body);
    assert!(q.body["labels"][0]["sig"]["$bytes"].is_string(), "{}", q.body);
    let q = get(&base, &format!("/xrpc/com.atproto.label.queryLabels?uriPatterns={}", bob.did), None).await?;
    assert_eq!(q.body["labels"][0]["val"], "!hide", "{}", q.body);
    let q = get(
        &base,
        &format!("/xrpc/com.atproto.label.queryLabels?uriPatterns={}&sources=did:plc:other", bob.did),
        None,
    )
    .await?;
    assert_eq!(q.body["labels"], json!([]), "{}", q.body);
    let q = get(&base, "/xrpc/com.atproto.label.queryLabels?uriPatterns=at://*/x", None).await?;
    assert_eq!((q.status, &q.body["error"]), (400, &json!("InvalidRequest")), "{}", q.body);

    // plyr.fm's blur list: the covers of sexual and porn tracks.
    let s = get(&base, "/moderation/sensitive-images", None).await?;
    assert_eq!(s.body["image_ids"], json!(["expiring", "explicit"]), "{}", s.body);
    assert_eq!(s.body["urls"][1], "https://images.plyr.fm/covers/explicit.jpg", "{}", s.body);

    // A request that names no followed labeler gets the service's own labels only.
    let a = get(&base, latest, Some("did:plc:somebodyelse")).await?;
    assert_eq!(titles(&a.body), ["Bobs", "Expiring", "Explicit", "Pinned", "Plain"], "{}", a.body);
    assert_eq!(a.labelers, own);
    let a = get(&base, latest, Some(&format!("{src};redact"))).await?;
    assert_eq!(titles(&a.body), ["Plain"]);
    assert_eq!(a.labelers, format!("{own},{src};redact"));

    // The author sees their own labelled tracks, even in a list context; not bob's.
    let proxy = format!("{own}#plyr_appview");
    let res = client.proxied_get(&alice, "fm.plyr.feed.getLatestTracks", &[], &proxy).await?;
    assert_eq!(res.status(), 200);
    assert_eq!(titles(&res.json().await?), ["Expiring", "Explicit", "Pinned", "Plain"]);

    // A negation applies within a second.
    labeler.label(&uri(0), "porn", LabelOptions { neg: true, ..Default::default() }).await?;
    let took = eventually("the negation", Duration::from_secs(1), || async {
        Ok(titles(&get(&base, latest, None).await?.body).contains(&"Explicit".to_owned()))
    })
    .await?;
    eprintln!("a negation reached the AppView's answers in {took:?}");

    // A new version of the pinned record is not labelled.
    let mut edited = made[1].2.clone();
    edited["title"] = json!("Pinned");
    edited["description"] = json!("second version");
    let v2 = client.put_record(&alice, "fm.plyr.track", made[1].1.rkey(), edited.clone()).await?;
    assert_ne!(v2.cid, made[1].1.cid);
    replay(&db, &[(alice.did.as_str(), "fm.plyr.track", &v2, edited, "jzzzzzzzzzzzz")]).await?;
    eventually("the new version", Duration::from_secs(3), || async {
        Ok(get(&base, &format!("/tracks/{pinned_id}"), None).await?.status == 200)
    })
    .await?;

    // The expiring label stops applying when it expires.
    eventually("the expiry", Duration::from_secs(12), || async {
        Ok(titles(&get(&base, latest, None).await?.body).contains(&"Expiring".to_owned()))
    })
    .await?;
    assert!(chrono::Utc::now() >= chrono::DateTime::parse_from_rfc3339(&exp)?, "shown before it expired");

    // An operator takedown applies at once, whichever labelers the request chose.
    let takedown = plyr_indexer::labeler::own::LabelArgs {
        service_did: own.clone(),
        action: plyr_indexer::labeler::own::LabelAction::Apply(plyr_indexer::labeler::own::Change {
            subject: uri(3),
            val: "!takedown".into(),
            reason: "test".into(),
            by: "tester".into(),
            cid: None,
            exp: None,
            signing_key: None,
        }),
    };
    plyr_indexer::labeler::own::run(&db.pool, takedown).await?;
    eventually("the takedown", Duration::from_secs(1), || async {
        let a = get(&base, latest, Some("did:plc:somebodyelse")).await?;
        Ok(!titles(&a.body).contains(&"Plain".to_owned()))
    })
    .await?;

    shutdown.cancel();
    server.await??;
    stop.cancel();
    task.await?;
    Ok(())
}
