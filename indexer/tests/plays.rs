//! teal.fm plays and statuses through the one write path, with records exactly as plyr.fm writes
//! them (`../shared/lexicons-upstream/teal/README.md`): which plays are kept, how each is matched
//! to a track (AT-URI; else title, artist and duration within 2 s when exactly one track fits),
//! and that the counts stay exact under replays, putRecord replacements, deletes, ambiguity,
//! account purges and either order of arrival.

mod support;

use serde_json::{Value, json};
use support::*;

const TRACK: &str = "fm.plyr.track";
const PLAY: &str = "fm.teal.feed.play";
const ALPHA: &str = "fm.teal.alpha.feed.play";
const STATUS: &str = "fm.teal.actor.status";
/// A listener who never wrote an fm.plyr record.
const DAVE: &str = "did:plc:dave22222222222222222222";

/// A track by "Artist" (the support's default) with `title` and `duration`.
fn track_of(title: &str, duration: i64) -> Value {
    let mut t = track(title);
    t["duration"] = json!(duration);
    t
}

/// A play exactly as plyr.fm writes one since August 2026.
fn plyr_play(title: &str, artist: &str, duration: i64) -> Value {
    json!({
        "$type": PLAY, "trackName": title, "artists": [{ "artistName": artist }],
        "musicServiceUri": "https://plyr.fm", "submissionClientAgent": "plyr.fm/1.0",
        "playedTime": "2026-01-05T10:00:00Z", "duration": duration, "releaseName": "LP",
        "originUri": "https://plyr.fm/track/42",
    })
}

/// A play as plyr.fm wrote one before, in the alpha namespace.
fn alpha_play(title: &str, artist: &str, duration: i64) -> Value {
    json!({
        "$type": ALPHA, "trackName": title, "artists": [{ "artistName": artist }],
        "musicServiceBaseDomain": "plyr.fm", "submissionClientAgent": "plyr.fm/1.0",
        "playedTime": "2026-01-05T10:00:00Z", "duration": duration, "originUrl": "https://plyr.fm/track/42",
    })
}

/// plyr.fm's status: `{time, expiry (+600 s), item}`.
fn plyr_status(title: &str, artist: &str, time: &str, expiry: &str) -> Value {
    json!({
        "$type": STATUS, "time": time, "expiry": expiry,
        "item": { "trackName": title, "artists": [{ "artistName": artist }], "musicServiceUri": "https://plyr.fm",
                  "submissionClientAgent": "plyr.fm/1.0", "playedTime": time, "duration": 180 },
    })
}

/// Plays counted per track, as `(track uri, plays)` in URI order.
async fn counted(db: &plyr_store::testkit::TestDb) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT subject_uri, plays FROM subject_stats WHERE plays <> 0 ORDER BY subject_uri")
        .fetch_all(&db.pool)
        .await
        .expect("plays")
}

/// The counters agree with a recount from the plays table: every counted play is one row.
async fn assert_consistent(db: &plyr_store::testkit::TestDb) {
    let recount: Vec<(String, i32)> = sqlx::query_as(
        "SELECT matched_uri, count(*)::int FROM plays WHERE matched_uri IS NOT NULL GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("recount");
    assert_eq!(counted(db).await, recount, "counters drifted from the plays they count");
}

#[tokio::test]
async fn plyr_plays_of_both_namespaces_count_for_the_track_they_name_by_title_artist_and_duration() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let song = uri(ALICE, TRACK, &tid(1));
    let other = uri(ALICE, TRACK, &tid(2));
    let spotify = json!({
        "$type": PLAY, "trackName": "Song", "artists": [{ "artistName": "Artist" }],
        "musicServiceUri": "https://open.spotify.com", "playedTime": "2026-01-05T10:00:00Z", "duration": 180,
    });
    let direct = json!({
        "$type": PLAY, "trackName": "whatever a client calls it", "originUri": other,
        "playedTime": "2026-01-05T10:00:00Z",
    });
    let report = w
        .apply(&[
            ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track_of("Song", 180))),
            ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track_of("Other", 200))),
            // Case and surrounding spaces do not matter; 2 s either way do not either.
            ev.commit(DAVE, &tid(3), PLAY, &tid(3), Some(plyr_play(" song ", "ARTIST", 182))),
            ev.commit(DAVE, &tid(4), ALPHA, &tid(4), Some(alpha_play("Song", "Artist", 178))),
            // Three seconds off: another recording, not counted for this one.
            ev.commit(DAVE, &tid(5), PLAY, &tid(5), Some(plyr_play("Song", "Artist", 184))),
            // Another service's listen of a same-named song: not kept at all.
            ev.commit(DAVE, &tid(6), PLAY, &tid(6), Some(spotify)),
            // Any client naming the track's AT-URI counts for it.
            ev.commit(BOB, &tid(7), PLAY, &tid(7), Some(direct)),
        ])
        .await
        .expect("apply");
    assert_eq!((report.dropped, report.stale), (1, 0), "{report:?}");
    assert_eq!(counted(&db).await, vec![(song.clone(), 2), (other.clone(), 1)]);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plays").await, 4, "the Spotify play is not stored");
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM plays WHERE collection = 'fm.teal.alpha.feed.play'").await,
        1
    );
    // A listener is not made an actor by their plays: they never published on plyr.
    assert_eq!(
        scalar_i64(&db, "SELECT count(*) FROM actors WHERE did = 'did:plc:dave22222222222222222222'").await,
        0
    );
    assert_consistent(&db).await;

    // Delivered again (a replay, a reconnect): nothing moves.
    let replay = [
        ev.commit(DAVE, &tid(3), PLAY, &tid(3), Some(plyr_play(" song ", "ARTIST", 182))),
        ev.commit(DAVE, &tid(4), ALPHA, &tid(4), Some(alpha_play("Song", "Artist", 178))),
    ];
    let again = w.apply(&replay).await.expect("replay");
    assert!(again.stale >= 2, "{again:?}");
    assert_eq!(counted(&db).await, vec![(song.clone(), 2), (other.clone(), 1)]);
    assert_consistent(&db).await;
}

#[tokio::test]
async fn a_replaced_or_deleted_play_moves_its_count_and_arrival_order_does_not_matter() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let song = uri(ALICE, TRACK, &tid(1));
    let other = uri(ALICE, TRACK, &tid(2));
    // Plays first, their tracks later (a listener's repo backfilled before the artist's).
    w.apply(&[
        ev.commit(DAVE, &tid(10), PLAY, &tid(10), Some(plyr_play("Song", "Artist", 180))),
        ev.commit(DAVE, &tid(11), PLAY, &tid(11), Some(plyr_play("Song", "Artist", 180))),
    ])
    .await
    .expect("plays");
    assert_eq!(counted(&db).await, vec![], "no track yet");
    w.apply(&[
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track_of("Song", 180))),
        ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track_of("Other", 120))),
    ])
    .await
    .expect("tracks");
    assert_eq!(counted(&db).await, vec![(song.clone(), 2)], "counted once the track appears");

    // putRecord on the same rkey replaces the play: it now counts for the other track.
    w.apply(&[ev.commit(DAVE, &tid(12), PLAY, &tid(11), Some(plyr_play("Other", "Artist", 121)))])
        .await
        .expect("replace");
    assert_eq!(counted(&db).await, vec![(song.clone(), 1), (other.clone(), 1)]);
    w.apply(&[ev.commit(DAVE, &tid(13), PLAY, &tid(10), None)]).await.expect("delete");
    assert_eq!(counted(&db).await, vec![(other.clone(), 1)]);
    // A stale replay of the deleted play's create is refused by its tombstone.
    let stale = w
        .apply(&[ev.commit(DAVE, &tid(10), PLAY, &tid(10), Some(plyr_play("Song", "Artist", 180)))])
        .await
        .expect("stale");
    assert_eq!(stale.stale, 1, "{stale:?}");
    assert_eq!(counted(&db).await, vec![(other.clone(), 1)]);

    // A renamed track takes its plays with it only if they still fit.
    w.apply(&[ev.commit(ALICE, &tid(14), TRACK, &tid(2), Some(track_of("Other (edit)", 120)))])
        .await
        .expect("rename");
    assert_eq!(counted(&db).await, vec![]);
    w.apply(&[ev.commit(ALICE, &tid(15), TRACK, &tid(2), Some(track_of("Other", 120)))]).await.expect("back");
    assert_eq!(counted(&db).await, vec![(other.clone(), 1)]);
    assert_consistent(&db).await;
}

#[tokio::test]
async fn an_ambiguous_play_counts_for_nothing_until_one_track_fits() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let first = uri(ALICE, TRACK, &tid(1));
    let twin = uri(ALICE, TRACK, &tid(2));
    w.apply(&[
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track_of("Song", 180))),
        ev.commit(DAVE, &tid(3), PLAY, &tid(3), Some(plyr_play("Song", "Artist", 180))),
    ])
    .await
    .expect("one track");
    assert_eq!(counted(&db).await, vec![(first.clone(), 1)]);
    // A second upload with the same title, artist and a duration within 2 s: which one was
    // heard cannot be told, so neither counts it.
    w.apply(&[ev.commit(ALICE, &tid(2), TRACK, &tid(2), Some(track_of("Song", 181)))]).await.expect("twin");
    assert_eq!(counted(&db).await, vec![]);
    w.apply(&[ev.commit(DAVE, &tid(4), PLAY, &tid(4), Some(plyr_play("Song", "Artist", 179)))])
        .await
        .expect("another play");
    assert_eq!(counted(&db).await, vec![]);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plays WHERE matched_uri IS NULL").await, 2);
    // The first upload is deleted: the twin is the only fit left and counts both.
    w.apply(&[ev.commit(ALICE, &tid(5), TRACK, &tid(1), None)]).await.expect("delete first");
    assert_eq!(counted(&db).await, vec![(twin.clone(), 2)]);
    assert_consistent(&db).await;
}

#[tokio::test]
async fn account_deletions_take_back_what_their_plays_and_tracks_counted() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let song = uri(ALICE, TRACK, &tid(1));
    w.apply(&[
        ev.commit(ALICE, &tid(1), TRACK, &tid(1), Some(track_of("Song", 180))),
        ev.commit(DAVE, &tid(2), PLAY, &tid(2), Some(plyr_play("Song", "Artist", 180))),
        ev.commit(BOB, &tid(3), PLAY, &tid(3), Some(plyr_play("Song", "Artist", 180))),
        ev.commit(
            BOB,
            &tid(4),
            STATUS,
            "self",
            Some(plyr_status("Song", "Artist", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z")),
        ),
    ])
    .await
    .expect("apply");
    assert_eq!(counted(&db).await, vec![(song.clone(), 2)]);
    w.apply(&[ev.account(BOB, false, Some("deleted"))]).await.expect("delete listener");
    assert_eq!(counted(&db).await, vec![(song.clone(), 1)]);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM statuses").await, 0, "the listener's status went too");
    // The artist's account goes: its tracks do, and the plays that matched them count for nothing.
    w.apply(&[ev.account(ALICE, false, Some("deleted"))]).await.expect("delete artist");
    assert_eq!(counted(&db).await, vec![]);
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plays WHERE matched_uri IS NOT NULL").await, 0);
    assert_consistent(&db).await;
}

#[tokio::test]
async fn a_status_holds_until_its_expiry_and_only_plyr_statuses_are_kept() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    let report = w
        .apply(&[
            ev.commit(
                DAVE,
                &tid(1),
                STATUS,
                "self",
                Some(plyr_status("Song", "Artist", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z")),
            ),
            // A status only ever lives at `self`.
            ev.commit(
                BOB,
                &tid(2),
                STATUS,
                &tid(2),
                Some(plyr_status("Song", "Artist", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z")),
            ),
        ])
        .await
        .expect("apply");
    assert_eq!(report.dropped, 1, "{report:?}");
    let expires: String =
        sqlx::query_scalar("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'HH24:MI') FROM statuses")
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(expires, "00:10");
    // A status claiming to hold for a week is held for an hour at most.
    w.apply(&[ev.commit(
        DAVE,
        &tid(3),
        STATUS,
        "self",
        Some(plyr_status("Song", "Artist", "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z")),
    )])
    .await
    .expect("long");
    let expires: String =
        sqlx::query_scalar("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'DD HH24:MI') FROM statuses")
            .fetch_one(&db.pool)
            .await
            .expect("status");
    assert_eq!(expires, "01 01:00");
    // Now playing something on another service: nothing plyr is playing any more.
    let mut elsewhere = plyr_status("Other", "Someone", "2026-01-01T00:01:00Z", "2026-01-01T00:11:00Z");
    elsewhere["item"]["musicServiceUri"] = json!("https://open.spotify.com");
    w.apply(&[ev.commit(DAVE, &tid(4), STATUS, "self", Some(elsewhere))]).await.expect("elsewhere");
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM statuses").await, 0);
}

#[tokio::test]
async fn a_play_and_its_track_written_concurrently_always_meet() {
    let (db, w) = setup().await;
    let mut ev = Events::default();
    // Each round writes a track and a play of it in two transactions at once (two write lanes,
    // or two backfill slots): whichever commits second must see the other.
    for round in 0..40u64 {
        let title = format!("Song {round}");
        let track =
            ev.commit(ALICE, &tid(2 * round + 1), TRACK, &tid(2 * round + 1), Some(track_of(&title, 180)));
        let play = ev.commit(
            DAVE,
            &tid(2 * round + 2),
            PLAY,
            &tid(2 * round + 2),
            Some(plyr_play(&title, "Artist", 180)),
        );
        let (a, b) =
            tokio::join!(w.apply(std::slice::from_ref(&track)), w.apply(std::slice::from_ref(&play)));
        a.expect("track");
        b.expect("play");
    }
    assert_eq!(scalar_i64(&db, "SELECT count(*) FROM plays WHERE matched_uri IS NULL").await, 0);
    assert_eq!(scalar_i64(&db, "SELECT sum(plays)::bigint FROM subject_stats").await, 40);
    assert_consistent(&db).await;
}
