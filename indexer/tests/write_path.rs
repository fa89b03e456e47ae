//! The one write path against a real PostgreSQL: every collection's create/update/delete,
//! ordering by rev, idempotency, counts, accounts and dropped records.

mod support;

use support::*;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";
const COMMENT: &str = "fm.plyr.comment";
const LIST: &str = "fm.plyr.list";

#[tokio::test]
async fn create_update_delete_every_collection() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(1));
    let profile = serde_json::json!({ "$type": "fm.plyr.actor.profile", "bio": "hi", "createdAt": "2026-01-01T00:00:00Z" });
    let bsky = serde_json::json!({ "$type": "app.bsky.actor.profile", "displayName": "Alice A." });
    let items = vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("First"))),
        ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like(&t))),
        ev.commit(BOB, &tid(3), COMMENT, &tid(3), Some(comment(&t, "nice", 1500))),
        ev.commit(ALICE, &tid(4), LIST, &tid(4), Some(list("album", "LP", &[&t]))),
        ev.commit(ALICE, &tid(5), "fm.plyr.actor.profile", "self", Some(profile)),
        ev.commit(ALICE, &tid(6), "app.bsky.actor.profile", "self", Some(bsky)),
    ];
    let report = w.apply(&items).await.expect("apply");
    assert_eq!((report.applied, report.dropped, report.stale), (6, 0, 0), "{report:?}");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'First'").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT likes::bigint FROM subject_stats").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT comments::bigint FROM subject_stats").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM list_items").await, 1);
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT (tracks + albums)::bigint FROM actor_stats WHERE did = 'did:plc:alice2222222222222222222'"
        )
        .await,
        2
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plyr_profiles WHERE bio = 'hi'").await, 1);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM bsky_profiles WHERE display_name = 'Alice A.'").await,
        1
    );

    // Updates replace each record's content.
    let t2 = uri(ALICE, TRACK, &tid(10));
    let updates = vec![
        ev.commit(ALICE, &tid(10), TRACK, &tid(10), Some(track("Second"))),
        ev.commit(ALICE, &tid(11), TRACK, &tid(1), Some(track("First (remaster)"))),
        ev.commit(BOB, &tid(12), COMMENT, &tid(3), Some(comment(&t, "nice!!", 2000))),
        ev.commit(ALICE, &tid(13), LIST, &tid(4), Some(list("album", "LP", &[&t, &t2]))),
    ];
    w.apply(&updates).await.expect("apply updates");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'First (remaster)'").await, 1);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM comments WHERE text = 'nice!!' AND timestamp_ms = 2000").await,
        1
    );
    assert_eq!(scalar_i64(&db, "SELECT comments::bigint FROM subject_stats WHERE subject_uri LIKE '%' || (SELECT rkey FROM tracks WHERE title LIKE 'First%')").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM list_items").await, 2);
    assert_eq!(scalar_i64(&db, "SELECT item_count::bigint FROM lists").await, 2);

    // Deletes remove rows and leave tombstones; counts follow.
    let deletes = vec![
        ev.commit(BOB, &tid(20), LIKE, &tid(2), None),
        ev.commit(BOB, &tid(21), COMMENT, &tid(3), None),
        ev.commit(ALICE, &tid(22), LIST, &tid(4), None),
        ev.commit(ALICE, &tid(23), TRACK, &tid(10), None),
        ev.commit(ALICE, &tid(24), "fm.plyr.actor.profile", "self", None),
    ];
    w.apply(&deletes).await.expect("apply deletes");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM likes").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM comments").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM lists").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM list_items").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plyr_profiles").await, 0);
    assert_eq!(
        scalar_i64(&db, "SELECT COALESCE(sum(likes + comments), 0)::bigint FROM subject_stats").await,
        0
    );
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT (tracks + albums)::bigint FROM actor_stats WHERE did = 'did:plc:alice2222222222222222222'"
        )
        .await,
        1
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM records WHERE deleted").await, 5);
}

#[tokio::test]
async fn duplicate_delivery_and_replayed_prefixes_change_nothing() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(1));
    let stream = vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A"))),
        ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like(&t))),
        ev.commit(CAROL, &tid(3), LIKE, &tid(3), Some(like(&t))),
        ev.commit(BOB, &tid(4), COMMENT, &tid(4), Some(comment(&t, "x", 1))),
        ev.commit(CAROL, &tid(5), LIKE, &tid(3), None),
        ev.commit(ALICE, &tid(6), LIST, &tid(6), Some(list("playlist", "Mix", &[&t]))),
        ev.account(CAROL, false, Some("deactivated")),
        ev.commit(ALICE, &tid(7), TRACK, &tid(1), Some(track("A2"))),
    ];
    w.apply(&stream).await.expect("first pass");
    let once = db.snapshot(VOLATILE).await.expect("snapshot");
    w.apply(&stream).await.expect("whole stream again");
    assert_same(
        &db.snapshot(VOLATILE).await.expect("snapshot"),
        &once,
        "replaying the stream changed the database",
    );
    for cut in 1..stream.len() {
        w.apply(&stream[..cut]).await.expect("prefix again");
        w.apply(&stream[cut..]).await.expect("rest again");
        assert_same(
            &db.snapshot(VOLATILE).await.expect("snapshot"),
            &once,
            &format!("replaying a prefix of {cut} changed the database"),
        );
    }
    // Each event in its own batch gives the same result as one batch.
    let (db2, w2) = setup().await;
    for item in &stream {
        w2.apply(std::slice::from_ref(item)).await.expect("single");
    }
    assert_same(
        &db2.snapshot(VOLATILE).await.expect("snapshot"),
        &once,
        "one event per batch differs from one batch",
    );
}

#[tokio::test]
async fn order_is_decided_by_rev_not_by_arrival() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let rkey = tid(1);
    let v1 = ev.commit(ALICE, &tid(1), TRACK, &rkey, Some(track("v1")));
    let v2 = ev.commit(ALICE, &tid(2), TRACK, &rkey, Some(track("v2")));
    let v3 = ev.commit(ALICE, &tid(3), TRACK, &rkey, Some(track("v3")));
    let report = w.apply(&[v3.clone(), v1.clone()]).await.expect("shuffled");
    assert_eq!(report.stale, 1);
    w.apply(&[v2, v1]).await.expect("stale ones later");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'v3'").await, 1);
    // The same rev again is stale too.
    let same = ev.commit(ALICE, &tid(3), TRACK, &rkey, Some(track("v3 but different")));
    assert_eq!(w.apply(&[same]).await.expect("same rev").stale, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'v3'").await, 1);
}

#[tokio::test]
async fn a_late_older_create_cannot_resurrect_a_deleted_record() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let rkey = tid(1);
    let create = ev.commit(ALICE, &tid(1), TRACK, &rkey, Some(track("ghost")));
    let delete = ev.commit(ALICE, &tid(2), TRACK, &rkey, None);
    w.apply(&[delete]).await.expect("delete first");
    let report = w.apply(&[create]).await.expect("late create");
    assert_eq!(report.stale, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 0);
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM records WHERE deleted AND rev = (SELECT max(rev) FROM records)"
        )
        .await,
        1
    );
    // A genuinely newer create (rkeys can be reused) is applied.
    w.apply(&[ev.commit(ALICE, &tid(3), TRACK, &rkey, Some(track("reborn")))]).await.expect("newer");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'reborn'").await, 1);
    // The live record carries the guard's rev on its own row: its tombstone is gone, and an op
    // older than the live version is still stale.
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM records").await, 0);
    let old_delete = ev.commit(ALICE, &tid(2), TRACK, &rkey, None);
    assert_eq!(w.apply(&[old_delete]).await.expect("old delete").stale, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'reborn'").await, 1);
}

#[tokio::test]
async fn likes_before_their_track_count_and_each_author_counts_once() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(9));
    w.apply(&[
        ev.commit(BOB, &tid(1), LIKE, &tid(1), Some(like(&t))),
        ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like(&t))), // a second like by the same author
        ev.commit(CAROL, &tid(3), LIKE, &tid(3), Some(like(&t))),
    ])
    .await
    .expect("likes");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT likes::bigint FROM subject_stats").await, 2, "distinct authors");
    w.apply(&[ev.commit(ALICE, &tid(9), TRACK, &tid(9), Some(track("late")))]).await.expect("track");
    let sql = "SELECT s.likes::bigint FROM tracks t JOIN subject_stats s ON s.subject_uri = t.uri";
    assert_eq!(scalar_i64(&db, sql).await, 2, "the likes count once the track appears");
    w.apply(&[ev.commit(BOB, &tid(4), LIKE, &tid(1), None)]).await.expect("unlike one");
    assert_eq!(scalar_i64(&db, sql).await, 2, "bob still has a like");
    w.apply(&[ev.commit(BOB, &tid(5), LIKE, &tid(2), None)]).await.expect("unlike other");
    assert_eq!(scalar_i64(&db, sql).await, 1);
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT likes::bigint FROM actor_stats WHERE did = 'did:plc:carol2222222222222222222'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn account_deactivation_hides_reactivation_shows_deletion_purges() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(1));
    let history = vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A"))),
        ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like(&t))),
        ev.commit(BOB, &tid(3), COMMENT, &tid(3), Some(comment(&t, "hey", 5))),
        ev.commit(BOB, &tid(4), TRACK, &tid(4), Some(track("Bob's"))),
    ];
    w.apply(&history).await.expect("history");
    let hidden = "SELECT count(*) FROM actors WHERE hidden";
    w.apply(&[ev.account(BOB, false, Some("deactivated"))]).await.expect("deactivate");
    assert_eq!(scalar_i64(&db, hidden).await, 1);
    w.apply(&[ev.account(BOB, false, Some("throttled"))]).await.expect("throttled");
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM actors WHERE status = 'deactivated'").await,
        1,
        "throttled changes nothing"
    );
    w.apply(&[ev.account(BOB, true, None)]).await.expect("reactivate");
    assert_eq!(scalar_i64(&db, hidden).await, 0);
    let old = ev.account(BOB, false, Some("takendown"));
    let delete = ev.account(BOB, false, Some("deleted"));
    w.apply(&[delete]).await.expect("delete");
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM likes").await
            + scalar_i64(&db, "SELECT count(*) FROM comments").await,
        0
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 1, "only alice's track is left");
    assert_eq!(scalar_i64(&db, "SELECT COALESCE(sum(likes + comments), 0)::bigint FROM subject_stats WHERE subject_uri LIKE '%alice%'").await, 0);
    // An older account event and a replay of the account's history change nothing.
    w.apply(&[old]).await.expect("older status");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM actors WHERE status = 'deleted'").await, 1);
    let before = db.snapshot(VOLATILE).await.expect("snapshot");
    w.apply(&history).await.expect("replayed history");
    assert_same(&db.snapshot(VOLATILE).await.expect("snapshot"), &before, "purged records came back");
}

/// Valid records among invalid ones (each rule once), by two accounts.
fn mixed_batch(ev: &mut Events) -> Vec<plyr_indexer::event::SourceItem> {
    let t = uri(ALICE, TRACK, &tid(1));
    let mut long_title = track(&"x".repeat(257));
    long_title["title"] = serde_json::json!("x".repeat(257));
    let mut no_audio = track("silent");
    no_audio.as_object_mut().expect("object").remove("audioBlob");
    let mut untrusted_only = no_audio.clone();
    untrusted_only["audioUrl"] = serde_json::json!("https://evil.example/a.mp3");
    let mut untrusted_with_blob = track("blob wins");
    untrusted_with_blob["audioUrl"] = serde_json::json!("https://evil.example/a.mp3");
    let mut bad_like = like(&t);
    bad_like["subject"]["uri"] = serde_json::json!("https://plyr.fm/track/1");
    let items: Vec<String> = (0..501).map(|_| t.clone()).collect();
    let item_refs: Vec<&str> = items.iter().map(String::as_str).collect();
    let bad_bsky = serde_json::json!({ "$type": "app.bsky.actor.profile", "displayName": 42 });
    vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("ok"))),
        ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(long_title)),
        ev.commit(ALICE, &tid(3), TRACK, &tid(3), Some(no_audio)),
        ev.commit(ALICE, &tid(4), TRACK, &tid(4), Some(untrusted_only)),
        ev.commit(BOB, &tid(5), COMMENT, &tid(5), Some(comment(&t, "neg", -1))),
        ev.commit(BOB, &tid(6), LIKE, &tid(6), Some(bad_like)),
        ev.commit(BOB, &tid(7), LIST, &tid(7), Some(list("playlist", "huge", &item_refs))),
        ev.commit(ALICE, &tid(8), "app.bsky.actor.profile", "self", Some(bad_bsky)),
        ev.commit(ALICE, &tid(9), TRACK, &tid(9), Some(untrusted_with_blob)),
        ev.commit(BOB, &tid(10), LIKE, &tid(10), Some(like(&t))),
    ]
}

#[tokio::test]
async fn invalid_records_are_dropped_counted_and_the_stream_goes_on() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let batch = mixed_batch(&mut ev);
    let report = w.apply(&batch).await.expect("apply");
    assert_eq!(report.dropped, 7, "{report:?}");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 2);
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'blob wins' AND audio_url IS NULL").await,
        1
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM likes").await,
        1,
        "the valid like after the bad ones is indexed"
    );
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM comments").await
            + scalar_i64(&db, "SELECT count(*) FROM lists").await,
        0
    );
    // An invalid newer version removes the older valid one (its current state is invalid).
    let mut broken = track("ok");
    broken["title"] = serde_json::json!("");
    w.apply(&[ev.commit(ALICE, &tid(11), TRACK, &tid(1), Some(broken))]).await.expect("broken update");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks WHERE title = 'ok'").await, 0);
}

/// The pipeline checks records as they arrive (`Writer::prepare`) and hands the fold their rows;
/// backfill and these tests hand raw items, which the fold checks itself. Both must count the
/// same drops and write the same database.
#[tokio::test]
async fn prepared_items_are_applied_exactly_as_raw_ones() {
    let batch = mixed_batch(&mut Events::default());
    let (raw_db, raw) = setup().await;
    let raw_report = raw.apply(&batch).await.expect("raw");
    let (prepared_db, w) = setup().await;
    let prepared: Vec<_> = batch.iter().cloned().map(|item| w.prepare(item)).collect();
    let report = w.apply(&prepared).await.expect("prepared");
    assert_eq!(
        (report.applied, report.dropped, report.stale, report.skipped),
        (raw_report.applied, raw_report.dropped, raw_report.stale, raw_report.skipped),
        "{report:?} vs {raw_report:?}"
    );
    assert_eq!(report.dropped, 7);
    assert_same(
        &prepared_db.snapshot(VOLATILE).await.expect("snapshot"),
        &raw_db.snapshot(VOLATILE).await.expect("snapshot"),
        "prepared items wrote a different database",
    );
}

/// An `#account` event ends a run only when the run holds commits of its own account; applied
/// ahead of other accounts' pending commits, it must leave the database a one-at-a-time pass
/// does, wherever batches split and however often a stretch is delivered again.
#[tokio::test]
async fn account_events_have_the_same_effect_however_batches_split() {
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(2));
    let stream = vec![
        ev.commit(CAROL, &tid(1), LIKE, &tid(1), Some(like(&t))),
        ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track("A"))),
        ev.commit(BOB, &tid(3), LIKE, &tid(3), Some(like(&t))),
        ev.account(CAROL, false, Some("deleted")),
        ev.commit(BOB, &tid(4), COMMENT, &tid(4), Some(comment(&t, "nice", 1000))),
        ev.commit(CAROL, &tid(5), LIKE, &tid(5), Some(like(&t))),
        ev.account(ALICE, false, Some("deactivated")),
        ev.commit(BOB, &tid(6), LIKE, &tid(6), Some(like(&t))),
        ev.account(ALICE, true, None),
    ];
    let (db, w) = setup().await;
    for item in &stream {
        w.apply(std::slice::from_ref(item)).await.expect("one event at a time");
    }
    assert_eq!(scalar_i64(&db, "SELECT likes::bigint FROM subject_stats").await, 1, "only Bob counts");
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM likes WHERE did = 'did:plc:carol2222222222222222222'").await,
        0
    );
    let expected = db.snapshot(VOLATILE).await.expect("snapshot");
    let (one, w1) = setup().await;
    w1.apply(&stream).await.expect("one batch");
    assert_same(&one.snapshot(VOLATILE).await.expect("snapshot"), &expected, "one batch differs");
    assert_same_however_split(&stream, &expected).await;
}

/// An account's Bluesky profile is kept from the time the account was first seen with an
/// fm.plyr record on, whatever batches the events fall in and however often they are delivered
/// (under the old "an fm.plyr record in the same batch" rule, Bob's earlier profile was kept in
/// one batch and dropped when a batch split before his track).
#[tokio::test]
async fn a_bluesky_profile_counts_from_the_first_plyr_record_however_batches_split() {
    let mut ev = Events::default();
    let bsky = |name: &str| serde_json::json!({ "$type": "app.bsky.actor.profile", "displayName": name });
    let stream = vec![
        ev.commit(BOB, &tid(1), "app.bsky.actor.profile", "self", Some(bsky("Bob, before plyr"))),
        ev.commit(BOB, &tid(2), TRACK, &tid(2), Some(track("B"))),
        ev.commit(ALICE, &tid(3), TRACK, &tid(3), Some(track("A"))),
        ev.commit(ALICE, &tid(4), "app.bsky.actor.profile", "self", Some(bsky("Alice"))),
        ev.commit(CAROL, &tid(5), "app.bsky.actor.profile", "self", Some(bsky("Carol, never on plyr"))),
    ];
    let (db, w) = setup().await;
    w.apply(&stream).await.expect("one batch");
    let names: Vec<String> = sqlx::query_scalar("SELECT display_name FROM bsky_profiles ORDER BY did")
        .fetch_all(&db.pool)
        .await
        .expect("profiles");
    assert_eq!(names, ["Alice"], "only the profile written after its account's first plyr record");
    let once = db.snapshot(VOLATILE).await.expect("snapshot");
    assert_same_however_split(&stream, &once).await;
}

#[tokio::test]
async fn future_dated_records_sort_by_the_time_they_were_indexed() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let mut future = track("from the future");
    future["createdAt"] = serde_json::json!("2099-01-01T00:00:00Z");
    w.apply(&[ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(future))]).await.expect("apply");
    let mut last = track("at the end of time");
    last["createdAt"] = serde_json::json!("9999-12-31T23:59:59-05:00"); // an instant in year 10000
    w.apply(&[ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(last))]).await.expect("apply");
    let kept = "SELECT count(*) FROM tracks WHERE created_at > '2098-01-01' AND sort_at = indexed_at";
    assert_eq!(scalar_i64(&db, kept).await, 2);
}

#[tokio::test]
async fn identity_events_update_known_actors_only() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    w.apply(&[ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A")))]).await.expect("track");
    w.apply(&[ev.identity(ALICE, "Alice.Example.com"), ev.identity(BOB, "bob.example.com")])
        .await
        .expect("identity");
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM actors WHERE handle = 'alice.example.com' AND NOT handle_verified"
        )
        .await,
        1
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM actors").await, 1, "unknown DIDs are not indexed");
}

#[tokio::test]
async fn committed_batches_notify_listeners_with_what_changed() {
    let (db, w) = setup().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(plyr_store::changes::CHANNEL).await.expect("listen");
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(1));
    w.apply(&[
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A"))),
        ev.commit(BOB, &tid(2), LIKE, &tid(2), Some(like(&t))),
    ])
    .await
    .expect("apply");
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("in time")
        .expect("recv");
    let payload: serde_json::Value = serde_json::from_str(note.payload()).expect("json payload");
    let uris: Vec<&str> =
        payload["uris"].as_array().expect("uris").iter().filter_map(|u| u.as_str()).collect();
    assert!(uris.contains(&t.as_str()), "the liked track is named: {payload}");
    assert!(payload["dids"].as_array().expect("dids").iter().any(|d| d == BOB));
}

#[tokio::test]
async fn an_identity_event_before_the_first_record_has_the_same_effect_however_batches_split() {
    let mut ev = Events::default();
    let stream = vec![
        ev.identity(ALICE, "alice.test"),
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("A"))),
        ev.identity(BOB, "bob.test"),
        ev.commit(BOB, &tid(2), TRACK, &tid(2), Some(track("B"))),
        ev.identity(BOB, "bob2.test"),
    ];
    let (db, w) = setup().await;
    w.apply(&stream).await.expect("one batch");
    let once = db.snapshot(VOLATILE).await.expect("snapshot");
    let handle: Option<String> = sqlx::query_scalar("SELECT handle FROM actors WHERE did = $1")
        .bind(BOB)
        .fetch_one(&db.pool)
        .await
        .expect("bob");
    assert_eq!(handle.as_deref(), Some("bob2.test"), "an identity event after the first record applies");
    assert_same_however_split(&stream, &once).await;
}

/// Applies `stream` split in two at every point, then the first part again (a resumed stream
/// delivers a stretch again after later events were committed), and checks each database
/// equals `expected`.
async fn assert_same_however_split(stream: &[plyr_indexer::event::SourceItem], expected: &str) {
    for cut in 1..stream.len() {
        let (db, w) = setup().await;
        w.apply(&stream[..cut]).await.expect("prefix");
        w.apply(&stream[cut..]).await.expect("rest");
        w.apply(&stream[..cut]).await.expect("redelivered prefix");
        assert_same(
            &db.snapshot(VOLATILE).await.expect("snapshot"),
            expected,
            &format!("splitting the batch after {cut} events (and redelivering) changed the database"),
        );
    }
}

/// A partition's first commit must not let the source resume past another partition's events:
/// partitions without a cursor row are held at the run's start.
#[tokio::test]
async fn a_partition_that_has_not_committed_holds_the_source_at_the_runs_start() {
    use plyr_indexer::db::cursors;
    use plyr_indexer::event::{Cursor, SourceItem};
    use plyr_indexer::write::Part;

    let (db, w) = setup().await;
    let mut ev = Events::default();
    let first = ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("a")));
    let later = ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track("b")));
    let cursor_of = |item: &SourceItem| match item {
        SourceItem::Event { cursor, .. } => cursor.clone(),
        other => panic!("not an event: {other:?}"),
    };
    let (c1, c2) = (cursor_of(&first), cursor_of(&later));
    let floor = Cursor { value: c1.value - 1, time_us: c1.time_us - 1, ..c1.clone() };
    // Partition 0 of 3 commits both events; partitions 1 and 2 have committed nothing.
    w.apply_part(&[first, later], Part { index: 0, count: 3 }, std::slice::from_ref(&floor))
        .await
        .expect("part 0");
    let resume = cursors::load(&db.pool, &c1.source).await.expect("load").expect("a position");
    assert_eq!((resume.value, resume.time_us), (floor.value, floor.time_us), "held at the run's start");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM cursors").await, 3);
    // Once the others commit past it, the source resumes from the newest position.
    for index in [1, 2] {
        w.apply_part(
            &[SourceItem::Position(c2.clone())],
            Part { index, count: 3 },
            std::slice::from_ref(&floor),
        )
        .await
        .expect("other parts");
    }
    let resume = cursors::load(&db.pool, &c1.source).await.expect("load").expect("a position");
    assert_eq!(resume.value, c2.value, "every partition is past both events");
}

/// Fewer partitions than the last run: the retired partitions' oldest position holds the rest
/// back until they commit again, since their events now belong to the remaining partitions.
#[tokio::test]
async fn retired_partitions_hold_the_remaining_ones_at_their_oldest_position() {
    use plyr_indexer::db::cursors;
    use plyr_indexer::event::{Cursor, SourceItem};
    use plyr_indexer::write::Part;

    let (db, w) = setup().await;
    let at = |n: i64| Cursor { source: "jetstream".into(), value: n, time_us: T0 + n, issuer: None };
    // A run with three partitions left them at 30, 30 and 10.
    for (index, n) in [(0, 30), (1, 30), (2, 10)] {
        w.apply_part(&[SourceItem::Position(at(n))], Part { index, count: 3 }, &[]).await.expect("old run");
    }
    // This run has two: partition 0 commits first, at 40, and retires partition 2.
    w.apply_part(&[SourceItem::Position(at(40))], Part { index: 0, count: 2 }, &[at(9)])
        .await
        .expect("part 0");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM cursors").await, 2);
    let resume = cursors::load(&db.pool, "jetstream").await.expect("load").expect("a position");
    assert_eq!(resume.value, 10, "partition 1 has not committed since partition 2's events became its own");
    w.apply_part(&[SourceItem::Position(at(40))], Part { index: 1, count: 2 }, &[at(9)])
        .await
        .expect("part 1");
    w.apply_part(&[SourceItem::Position(at(50))], Part { index: 0, count: 2 }, &[at(9)])
        .await
        .expect("part 0");
    let resume = cursors::load(&db.pool, "jetstream").await.expect("load").expect("a position");
    assert_eq!(resume.value, 40, "both partitions are past 40");
}

/// The value of `indexer_dropped_total{reason}` in the process-wide recorder (0 when absent).
fn dropped_total(reason: &str) -> u64 {
    let text = plyr_indexer::telemetry::install_recorder().expect("recorder").render();
    let needle = format!("indexer_dropped_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(needle.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Records with U+0000 anywhere (PostgreSQL cannot store it), one per kind of field, among
/// valid events, and an identity event whose handle has one.
fn nul_batch(ev: &mut Events) -> Vec<plyr_indexer::event::SourceItem> {
    let t = uri(ALICE, TRACK, &tid(1));
    let with = |mut record: serde_json::Value, field: &str| {
        record[field] = serde_json::json!("nul \u{0} inside");
        record
    };
    let mut key = track("nul in a key");
    key["extra\u{0}"] = serde_json::json!(1);
    let mut deep = list("playlist", "deep", &[&t]);
    deep["items"][0]["note\u{0}"] = serde_json::json!("x");
    let profile = serde_json::json!({ "$type": "fm.plyr.actor.profile", "bio": "a\u{0}b", "createdAt": "2026-01-01T00:00:00Z" });
    let bsky = serde_json::json!({ "$type": "app.bsky.actor.profile", "displayName": "\u{0}" });
    vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("ok"))),
        ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(with(track("t"), "title"))),
        ev.commit(ALICE, &tid(3), TRACK, &tid(3), Some(with(track("a"), "artist"))),
        ev.commit(ALICE, &tid(4), TRACK, &tid(4), Some(with(track("d"), "description"))),
        ev.commit(ALICE, &tid(5), TRACK, &tid(5), Some(with(track("al"), "album"))),
        ev.commit(ALICE, &tid(6), TRACK, &tid(6), Some(key)),
        ev.commit(BOB, &tid(7), COMMENT, &tid(7), Some(comment(&t, "a\u{0}", 1000))),
        ev.commit(BOB, &tid(8), LIST, &tid(8), Some(list("playlist", "mix\u{0}", &[&t]))),
        ev.commit(BOB, &tid(9), LIST, &tid(9), Some(deep)),
        ev.commit(ALICE, &tid(10), "fm.plyr.actor.profile", "self", Some(profile)),
        ev.commit(ALICE, &tid(11), "app.bsky.actor.profile", "self", Some(bsky)),
        ev.identity(ALICE, "alice\u{0}.test"),
        ev.commit(BOB, &tid(12), LIKE, &tid(12), Some(like(&t))),
    ]
}

#[tokio::test]
async fn nul_characters_are_dropped_with_their_reason_and_the_batch_goes_on() {
    let before = dropped_total("nul_character");
    let handles_before = dropped_total("invalid_handle");
    let (db, w) = setup().await;
    let batch = nul_batch(&mut Events::default());
    let report = w.apply(&batch).await.expect("a NUL character never fails the batch");
    assert_eq!(report.dropped, 10, "{report:?}");
    assert!(dropped_total("nul_character") >= before + 10, "counted by reason");
    assert!(dropped_total("invalid_handle") > handles_before, "the bad handle is counted");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM likes").await, 1, "the event after them is applied");
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM comments").await
            + scalar_i64(&db, "SELECT count(*) FROM lists").await
            + scalar_i64(&db, "SELECT count(*) FROM plyr_profiles").await
            + scalar_i64(&db, "SELECT count(*) FROM bsky_profiles").await,
        0
    );
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM actors WHERE handle IS NOT NULL").await, 0);
    let cursor = scalar_i64(&db, "SELECT max(cursor) FROM cursors").await;
    assert_eq!(cursor, T0 + 13_000_000, "the cursor covers the whole batch");

    // The pipeline's path (records checked as they arrive) drops the same.
    let (prepared_db, p) = setup().await;
    let prepared: Vec<_> = nul_batch(&mut Events::default()).into_iter().map(|i| p.prepare(i)).collect();
    let report = p.apply(&prepared).await.expect("prepared");
    assert_eq!(report.dropped, 10, "{report:?}");
    assert_same(
        &prepared_db.snapshot(VOLATILE).await.expect("snapshot"),
        &db.snapshot(VOLATILE).await.expect("snapshot"),
        "prepared items wrote a different database",
    );
}

#[tokio::test]
async fn records_over_the_size_bound_are_dropped_undecoded_and_the_batch_goes_on() {
    let before = dropped_total("too_large");
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let t = uri(ALICE, TRACK, &tid(1));
    let mut huge = track("huge");
    huge["description"] = serde_json::json!("x".repeat(plyr_atproto::MAX_RECORD_BYTES));
    let oversize = ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(huge));
    let plyr_indexer::event::SourceItem::Event { event, .. } = &oversize else { panic!("an event") };
    let plyr_indexer::event::EventBody::Commit(op) = &event.body else { panic!("a commit") };
    assert!(
        matches!(op.record, Some(plyr_indexer::event::Record::TooLarge { bytes }) if bytes > plyr_atproto::MAX_RECORD_BYTES),
        "the decoder leaves it undecoded"
    );
    let batch = vec![
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track("ok"))),
        oversize,
        ev.commit(BOB, &tid(3), LIKE, &tid(3), Some(like(&t))),
    ];
    let report = w.apply(&batch).await.expect("apply");
    assert_eq!((report.applied, report.dropped), (2, 1), "{report:?}");
    assert!(dropped_total("too_large") > before, "counted as too_large");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM tracks").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM likes").await, 1, "the event after it is applied");
}
