//! The indexer against the reference PDS (npm) end to end. Three accounts write tracks (one with
//! an uploaded audio blob, one with features), likes, a timed comment and its edit, an album and
//! a playlist, an `applyWrites` with several creates, deletes, and a track whose 300-character
//! title breaks the lexicon; a handle changes, an account is deactivated and reactivated, and one
//! is deleted. Then:
//!
//! 1. an indexer following that PDS's firehose (identities through the PDS's PLC directory and
//!    `--handle-pds`) reaches exactly the expected rows and counts;
//! 2. fresh databases filled only by `indexer backfill --pds` (listRecords, and getRepo) reach
//!    the same content (the deleted account's repo is gone from the PDS, so it is simply absent);
//! 3. a second firehose indexer, killed abruptly mid-scenario (its runtime dropped, an open
//!    transaction with it) and restarted, resumes from its cursor with nothing lost or doubled;
//! 4. the invalid track is dropped and counted (`indexer_dropped_total{reason="invalid_record"}`)
//!    while everything written after it is indexed;
//! 5. teal.fm plays and a status as plyr.fm writes them (a listener who never publishes on plyr,
//!    both play namespaces, a play naming a track's AT-URI, a deleted account's play) reach the
//!    same plays, counts and status from the firehose and from backfill, and the listener is not
//!    made an actor.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;
use plyr_e2e::pds::{Account, LocalPds, PdsClient, RecordRef, Write};
use plyr_indexer::cli::{Cli, Command};
use plyr_store::testkit::{TestDb, assert_same};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";
const COMMENT: &str = "fm.plyr.comment";
const LIST: &str = "fm.plyr.list";
const PLAY: &str = "fm.teal.feed.play";
const ALPHA_PLAY: &str = "fm.teal.alpha.feed.play";
const STATUS: &str = "fm.teal.actor.status";
const CREATED: &str = "2025-06-01T12:00:00.000Z";

/// A firehose indexer on its own runtime, so the test can kill it the abrupt way: dropping the
/// runtime stops every task at its next await, an open transaction included (rolled back).
struct Indexer {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Indexer {
    fn start(db: &TestDb, pds: &LocalPds, metrics: Option<u16>) -> anyhow::Result<Indexer> {
        let metrics = metrics.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default();
        let host = format!("ws://localhost:{}", pds.port());
        let cli = Cli::try_parse_from([
            "indexer",
            "--database-url",
            &db.url,
            "run",
            "--firehose",
            &host,
            "--plc-url",
            pds.plc_url(),
            "--handle-pds",
            pds.url(),
            "--allow-test-network",
            "--metrics-listen",
            &metrics,
            "--auto-backfill",
            "false",
        ])?;
        let (Command::Run(options), Some(url)) = (cli.command, cli.database_url) else {
            anyhow::bail!("not a run command");
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.spawn(async move {
            let pool = match plyr_store::connect(&url, 4).await {
                Ok(pool) => pool,
                Err(err) => return eprintln!("indexer: {err}"),
            };
            if let Err(err) = plyr_indexer::cli::run_live(pool, &options, CancellationToken::new()).await {
                eprintln!("indexer stopped: {err:#}");
            }
        });
        Ok(Indexer { runtime: Some(runtime) })
    }

    /// Stops it abruptly (no drain, no graceful shutdown).
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Replays the PDS's firehose from its first event (as if the indexer had been following it).
async fn from_the_start(db: &TestDb, pds: &LocalPds) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO cursors (source, cursor, time_us, updated_at) VALUES ($1, 0, 0, now())")
        .bind(format!("firehose:localhost:{}", pds.port()))
        .execute(&db.pool)
        .await?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&db.pool).await.unwrap_or(-1)
}

/// Polls `sql` (one bigint) until it equals `want`, or fails after `secs`.
async fn wait_for(db: &TestDb, sql: &str, want: i64, secs: u64, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = count(db, sql).await;
        if got == want {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{what}: {sql} is {got}, expected {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn track(title: &str, artist: &str, audio: Value, features: &[&str]) -> Value {
    let mut t =
        json!({ "$type": TRACK, "title": title, "artist": artist, "fileType": "mp3", "createdAt": CREATED });
    match audio {
        Value::String(url) => t["audioUrl"] = json!(url),
        blob => t["audioBlob"] = blob,
    }
    if !features.is_empty() {
        t["features"] = json!(features.iter().map(|d| json!({ "did": d })).collect::<Vec<_>>());
    }
    t
}

fn like(subject: &RecordRef) -> Value {
    json!({ "$type": LIKE, "subject": subject.strong_ref(), "createdAt": CREATED })
}

fn comment(subject: &RecordRef, text: &str, ms: i64) -> Value {
    json!({ "$type": COMMENT, "subject": subject.strong_ref(), "text": text, "timestampMs": ms, "createdAt": CREATED })
}

/// A play as plyr.fm's scrobbler writes it (`fm.teal.feed.play`).
fn play(title: &str, artist: &str) -> Value {
    json!({
        "$type": PLAY, "trackName": title, "artists": [{ "artistName": artist }],
        "musicServiceUri": "https://plyr.fm", "submissionClientAgent": "plyr.fm/1.0",
        "playedTime": CREATED, "duration": 200, "originUri": "https://plyr.fm/track/1",
    })
}

fn list(list_type: &str, name: &str, items: &[&RecordRef]) -> Value {
    let items: Vec<Value> = items.iter().map(|r| json!({ "subject": r.strong_ref() })).collect();
    json!({ "$type": LIST, "listType": list_type, "name": name, "items": items, "createdAt": CREATED })
}

/// What the scenario left behind, for the assertions.
struct Written {
    alice: Account,
    bob: Account,
    carol: Account,
    /// The listener.
    dave: String,
    t1: RecordRef,
    t2: RecordRef,
    blob_cid: String,
    invalid: RecordRef,
}

#[tokio::test]
async fn firehose_backfill_kill_and_invalid_records_against_the_reference_pds() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let client = pds.client();
    let (live_db, killed_db) = (TestDb::new().await?, TestDb::new().await?);
    from_the_start(&live_db, pds).await?;
    from_the_start(&killed_db, pds).await?;
    let metrics_port = free_port()?;
    let _live = Indexer::start(&live_db, pds, Some(metrics_port))?;
    let mut killed = Indexer::start(&killed_db, pds, None)?;

    let w = scenario(&client, &killed_db, &mut killed, pds).await?;

    // (1) and (3): both firehose databases reach the expected state.
    for (db, name) in [(&live_db, "live"), (&killed_db, "killed and restarted")] {
        wait_for(db, "SELECT count(*) FROM statuses", 1, 60, name).await?;
        wait_for(db, "SELECT count(*) FROM actors WHERE status = 'deleted'", 1, 60, name).await?;
        let verified = "SELECT count(*) FROM actors WHERE handle_verified AND status <> 'deleted'";
        wait_for(db, verified, 2, 60, name).await?;
        wait_for(db, "SELECT count(*) FROM actors WHERE handle = 'sc-alice2.test'", 1, 60, name).await?;
        wait_for(db, "SELECT count(*) FROM comments", 2, 60, name).await?;
        check_expected(db, &w, true).await.with_context(|| format!("the {name} indexer"))?;
    }
    let live = content(&live_db).await?;
    assert_same(&content(&killed_db).await?, &live, "killed/restarted indexer vs uninterrupted one");

    // (4): the invalid track was dropped and counted; later writes are indexed (checked above).
    let dropped: (bool, Option<String>) = sqlx::query_as("SELECT deleted, cid FROM records WHERE uri = $1")
        .bind(&w.invalid.uri)
        .fetch_one(&live_db.pool)
        .await?;
    assert_eq!(dropped, (true, None), "the invalid track leaves only a tombstone");
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await?.text().await?;
    let invalid = metric(&metrics, "indexer_dropped_total", "reason=\"invalid_record\"");
    assert!(invalid >= 1.0, "dropped records are counted: {invalid}\n{metrics}");

    // (2): fresh databases filled only by `indexer backfill` reach the same content.
    for mode in ["auto", "car"] {
        let db = TestDb::new().await?;
        let summary = backfill(&db, pds, mode).await?;
        assert_eq!((summary.done, summary.failed), (3, 0), "{mode}: alice, bob, dave (carol is deleted)");
        check_expected(&db, &w, false).await.with_context(|| format!("backfill ({mode})"))?;
        assert_same(&content(&db).await?, &live, &format!("backfill ({mode}) vs firehose"));
        // A second run skips both repos: they are done.
        let again = backfill(&db, pds, mode).await?;
        assert_eq!((again.done, again.failed), (0, 0), "{mode}: done repos are skipped");
    }
    Ok(())
}

async fn scenario(
    client: &PdsClient,
    killed_db: &TestDb,
    killed: &mut Indexer,
    pds: &LocalPds,
) -> anyhow::Result<Written> {
    let mut alice = client.create_account("sc-alice.test", "sc-alice@example.com", "pw-alice").await?;
    let bob = client.create_account("sc-bob.test", "sc-bob@example.com", "pw-bob").await?;
    let carol = client.create_account("sc-carol.test", "sc-carol@example.com", "pw-carol").await?;

    // Tracks: alice's with an uploaded blob (not an ID3 header: the PDS sniffs and fails on it),
    // bob's from a trusted audio origin, featuring alice.
    let blob = client.upload_blob(&alice, b"plyr scenario audio ".repeat(200), "audio/mpeg").await?;
    let blob_cid = blob["ref"]["$link"].as_str().context("blob ref")?.to_owned();
    let t1 = client.create_record(&alice, TRACK, track("Blob track", "Alice", blob, &[]), None).await?;
    let t2_value = track("Featuring", "Bob", json!("https://audio.plyr.fm/t2.mp3"), &[&alice.did]);
    let t2 = client.create_record(&bob, TRACK, t2_value, None).await?;
    client.create_record(&alice, LIKE, like(&t2), None).await?;
    client.create_record(&bob, LIKE, like(&t1), None).await?;
    client.create_record(&carol, LIKE, like(&t1), None).await?;
    let c = client.create_record(&alice, COMMENT, comment(&t2, "nice drop", 12_000), None).await?;
    let mut edited = comment(&t2, "nice drop!!", 12_000);
    edited["updatedAt"] = json!("2025-06-01T12:05:00.000Z");
    client.put_record(&alice, COMMENT, c.rkey(), edited).await?;
    client.create_record(&alice, LIST, list("album", "First album", &[&t1]), None).await?;
    client.create_record(&bob, LIST, list("playlist", "Mix", &[&t2, &t1]), None).await?;

    // A listener who never publishes on plyr scrobbles in both namespaces (putRecord at a TID, as
    // plyr.fm does) and is playing something now; bob's client names the track's AT-URI.
    let dave = client.create_account("sc-dave.test", "sc-dave@example.com", "pw-dave").await?;
    client.put_record(&dave, PLAY, "3kddddddddd22", play("Blob track", "Alice")).await?;
    let alpha = json!({
        "$type": ALPHA_PLAY, "trackName": "Featuring", "artists": [{ "artistName": "Bob" }],
        "musicServiceBaseDomain": "plyr.fm", "playedTime": CREATED, "originUrl": "https://plyr.fm/track/2",
    });
    client.put_record(&dave, ALPHA_PLAY, "3kddddddddd23", alpha).await?;
    let now = chrono::Utc::now();
    let status = json!({
        "$type": STATUS, "time": now.to_rfc3339(), "expiry": (now + chrono::Duration::seconds(600)).to_rfc3339(),
        "item": { "trackName": "Blob track", "artists": [{ "artistName": "Alice" }], "musicServiceUri": "https://plyr.fm" },
    });
    client.put_record(&dave, STATUS, "self", status).await?;
    let direct =
        json!({ "$type": PLAY, "trackName": "Blob track", "originUri": t1.uri, "playedTime": CREATED });
    client.create_record(&bob, PLAY, direct, None).await?;
    client.create_record(&carol, PLAY, play("Blob track", "Alice"), None).await?;

    // Kill the second indexer while it is still applying these (once it knows all three
    // accounts: the deleted one's earlier events vanish from the PDS), then write on while it is
    // down.
    wait_for(killed_db, "SELECT count(*) FROM likes", 3, 30, "before the kill").await?;
    killed.kill();

    let t3 = client
        .create_record(
            &carol,
            TRACK,
            track("Carol's", "Carol", json!("https://audio.plyr.fm/t3.mp3"), &[]),
            None,
        )
        .await?;
    client.create_record(&carol, COMMENT, comment(&t1, "from carol", 5_000), None).await?;
    client.create_record(&carol, LIKE, like(&t3), None).await?;
    let long = "x".repeat(300);
    let invalid = client
        .create_record(&alice, TRACK, track(&long, "Alice", json!("https://audio.plyr.fm/x.mp3"), &[]), None)
        .await?;
    let out = client
        .apply_writes(
            &bob,
            &[
                Write::Create {
                    collection: TRACK.into(),
                    rkey: Some("3kbbbbbbbbb22".into()),
                    value: track("Side B", "Bob", json!("https://audio.plyr.fm/b.mp3"), &[]),
                },
                Write::Create {
                    collection: COMMENT.into(),
                    rkey: None,
                    value: comment(&t1, "great", 30_000),
                },
                Write::Create {
                    collection: LIKE.into(),
                    rkey: Some("3kbbbbbbbbb23".into()),
                    value: like(&RecordRef {
                        uri: format!("at://{}/{TRACK}/3kbbbbbbbbb22", bob.did),
                        cid: t2.cid.clone(),
                    }),
                },
            ],
        )
        .await?;
    anyhow::ensure!(out["results"].as_array().map(Vec::len) == Some(3), "applyWrites: {out}");
    client.delete_record(&bob, TRACK, "3kbbbbbbbbb22").await?;
    client.delete_record(&bob, LIKE, "3kbbbbbbbbb23").await?;
    client.update_handle(&mut alice, "sc-alice2.test").await?;
    client.deactivate_account(&bob).await?;
    client.activate_account(&bob).await?;

    *killed = Indexer::start(killed_db, pds, None)?;
    client.delete_account(&carol.did).await?;
    Ok(Written { alice, bob, carol, dave: dave.did, t1, t2, blob_cid, invalid })
}

/// Every expected row and count, explicitly. `firehose`: the deleted account's actor row is
/// there (status deleted, records tombstoned); a backfill never saw it.
async fn check_expected(db: &TestDb, w: &Written, firehose: bool) -> anyhow::Result<()> {
    let (a, b) = (w.alice.did.as_str(), w.bob.did.as_str());
    type TrackRow = (String, String, String, Option<String>, Option<String>, Vec<String>);
    let tracks: Vec<TrackRow> = sqlx::query_as(
        "SELECT uri, did, title, audio_blob_cid, audio_url, features FROM tracks ORDER BY did = $1 DESC",
    )
    .bind(a)
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(
        tracks,
        vec![
            (w.t1.uri.clone(), a.into(), "Blob track".into(), Some(w.blob_cid.clone()), None, vec![]),
            (
                w.t2.uri.clone(),
                b.into(),
                "Featuring".into(),
                None,
                Some("https://audio.plyr.fm/t2.mp3".into()),
                vec![a.into()]
            ),
        ]
    );
    let likes: Vec<(String, String)> =
        sqlx::query_as("SELECT did, subject_uri FROM likes ORDER BY did = $1 DESC")
            .bind(a)
            .fetch_all(&db.pool)
            .await?;
    assert_eq!(likes, vec![(a.into(), w.t2.uri.clone()), (b.into(), w.t1.uri.clone())]);
    let comments: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT did, subject_uri, text, timestamp_ms FROM comments ORDER BY timestamp_ms")
            .fetch_all(&db.pool)
            .await?;
    assert_eq!(
        comments,
        vec![
            (a.into(), w.t2.uri.clone(), "nice drop!!".into(), 12_000),
            (b.into(), w.t1.uri.clone(), "great".into(), 30_000)
        ]
    );
    let items: Vec<(String, Option<String>, i32, String)> = sqlx::query_as(
        "SELECT l.list_type, l.name, i.position, i.subject_uri FROM lists l JOIN list_items i ON i.list_uri = l.uri
         ORDER BY l.list_type, i.position",
    )
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(
        items,
        vec![
            ("album".into(), Some("First album".into()), 0, w.t1.uri.clone()),
            ("playlist".into(), Some("Mix".into()), 0, w.t2.uri.clone()),
            ("playlist".into(), Some("Mix".into()), 1, w.t1.uri.clone()),
        ]
    );
    let subjects: Vec<(String, i32, i32)> = sqlx::query_as(
        "SELECT subject_uri, likes, comments FROM subject_stats WHERE likes <> 0 OR comments <> 0 ORDER BY subject_uri = $1 DESC",
    )
    .bind(&w.t1.uri)
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(
        subjects,
        vec![(w.t1.uri.clone(), 1, 1), (w.t2.uri.clone(), 1, 1)],
        "carol's like and comment purged"
    );
    // Plays: dave's two (matched by title and artist), bob's by AT-URI; carol's went with her.
    let plays: Vec<(String, i32)> = sqlx::query_as(
        "SELECT subject_uri, plays FROM subject_stats WHERE plays <> 0 ORDER BY subject_uri = $1 DESC",
    )
    .bind(&w.t1.uri)
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(plays, vec![(w.t1.uri.clone(), 2), (w.t2.uri.clone(), 1)]);
    assert_eq!(count(db, "SELECT count(*) FROM plays").await, 3);
    assert_eq!(count(db, "SELECT count(*) FROM plays WHERE collection = 'fm.teal.alpha.feed.play'").await, 1);
    let playing: Vec<(String, String)> =
        sqlx::query_as("SELECT did, track_name FROM statuses").fetch_all(&db.pool).await?;
    assert_eq!(playing, vec![(w.dave.clone(), "Blob track".to_owned())]);
    let actors: Vec<(String, i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT did, tracks, albums, playlists, likes FROM actor_stats ORDER BY did = $1 DESC",
    )
    .bind(a)
    .fetch_all(&db.pool)
    .await?;
    assert_eq!(actors, vec![(a.into(), 1, 1, 0, 1), (b.into(), 1, 0, 1, 1)]);
    let handles: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT did, handle, status FROM actors ORDER BY did = $1 DESC, did = $2 DESC")
            .bind(a)
            .bind(b)
            .fetch_all(&db.pool)
            .await?;
    let mut expected = vec![
        (a.to_owned(), Some("sc-alice2.test".to_owned()), "active".to_owned()),
        (b.to_owned(), Some("sc-bob.test".to_owned()), "active".to_owned()),
    ];
    if firehose {
        expected.push((w.carol.did.clone(), Some("sc-carol.test".to_owned()), "deleted".to_owned()));
        let carol = &w.carol.did;
        let live =
            count(db, &format!("SELECT count(*) FROM records WHERE did = '{carol}' AND NOT deleted")).await;
        let buried =
            count(db, &format!("SELECT count(*) FROM records WHERE did = '{carol}' AND deleted")).await;
        assert_eq!(live, 0, "the guard holds tombstones only");
        // At least its first like, which every indexer saw before the account went (a PDS drops
        // a deleted account's events, so one restarted after the deletion never sees the rest).
        assert!(buried >= 1, "the deleted account's records are tombstones");
    }
    assert_eq!(handles.len(), expected.len(), "{handles:?}");
    for (got, want) in handles.iter().zip(&expected) {
        assert_eq!((&got.0, &got.2), (&want.0, &want.2));
        if want.2 == "active" {
            assert_eq!(got.1, want.1, "handle of {}", got.0);
        }
    }
    Ok(())
}

/// The indexed content of the live accounts, without when or at which rev it was written.
async fn content(db: &TestDb) -> anyhow::Result<String> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' | ', 'track', uri, cid, title, artist, audio_blob_cid, audio_blob_mime, audio_blob_size,
                          audio_url, array_to_string(features, ','), created_at, sort_at) FROM tracks
         UNION ALL SELECT concat_ws(' | ', 'like', uri, cid, subject_uri, subject_cid, created_at) FROM likes
         UNION ALL SELECT concat_ws(' | ', 'comment', uri, cid, subject_uri, text, timestamp_ms, updated_at) FROM comments
         UNION ALL SELECT concat_ws(' | ', 'list', uri, id, cid, name, list_type, item_count) FROM lists
         UNION ALL SELECT concat_ws(' | ', 'item', list_uri, position, subject_uri, subject_cid) FROM list_items
         UNION ALL SELECT concat_ws(' | ', 'actor', did, tracks, albums, playlists, likes) FROM actor_stats
         UNION ALL SELECT concat_ws(' | ', 'subject', subject_uri, likes, comments, plays) FROM subject_stats
         UNION ALL SELECT concat_ws(' | ', 'play', uri, cid, collection, track_name, artist_name, duration,
                          origin_uri, direct_uri, matched_uri, played_at) FROM plays
         UNION ALL SELECT concat_ws(' | ', 'status', uri, cid, track_name, started_at, expires_at) FROM statuses
         UNION ALL SELECT concat_ws(' | ', 'handle', did, handle, handle_verified, status) FROM actors
           WHERE status <> 'deleted'
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.join("\n"))
}

/// `indexer backfill --pds <the PDS>` into `db`.
async fn backfill(
    db: &TestDb,
    pds: &LocalPds,
    mode: &str,
) -> anyhow::Result<plyr_indexer::backfill::Summary> {
    let cli = Cli::try_parse_from([
        "indexer",
        "--database-url",
        &db.url,
        "backfill",
        "--pds",
        pds.url(),
        "--plc-url",
        pds.plc_url(),
        "--handle-pds",
        pds.url(),
        "--allow-test-network",
        "--backfill-mode",
        mode,
        "--metrics-listen",
        "",
    ])?;
    let Command::Backfill(args) = cli.command else { anyhow::bail!("not a backfill command") };
    plyr_indexer::backfill::command::run(db.pool.clone(), &args, CancellationToken::new()).await
}

/// The value of `name{labels}` in a Prometheus text exposition (0 when absent).
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
