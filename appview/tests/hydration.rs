//! The visibility rules live in the hydration: on a network with a deactivated account and
//! labeler labels (operator-hidden values), hidden tracks, lists and records do not come out of
//! the `Hydration` accessors or `Hydrator::records`, and so not out of the handlers; the one
//! named path to hidden rows, a visible track's credits, still shows a hidden featured artist.

mod support;

use plyr_appview::db::social;
use plyr_appview::hydrate::Hydrator;
use plyr_atproto::{AtUri, Did};
use plyr_store::testkit::TestDb;
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

struct World {
    _db: TestDb,
    state: plyr_appview::AppState,
    /// alice's track featuring carol.
    featuring: String,
    /// alice's track carrying a labeler's `!hide`.
    labeled_track: String,
    /// the deactivated account's track.
    hidden_track: String,
    playlist: String,
    labeled_playlist: String,
    shown_comment: String,
    labeled_comment: String,
}

async fn world() -> World {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.actor(CAROL, "carol.test");
    let mut featuring = track("Duet", "Alice", &at(2, 0));
    featuring["features"] = json!([{ "did": CAROL }]);
    let featuring = n.create(ALICE, "fm.plyr.track", featuring);
    let labeled_track = n.create(ALICE, "fm.plyr.track", track("Flagged", "Alice", &at(2, 1)));
    let hidden_track = n.create(CAROL, "fm.plyr.track", track("Gone", "Carol", &at(2, 2)));
    let shown_comment = n.create(BOB, "fm.plyr.comment", comment(&featuring, "lovely", 1_000, &at(3, 0)));
    let labeled_comment = n.create(BOB, "fm.plyr.comment", comment(&featuring, "spam", 2_000, &at(3, 1)));
    n.create(CAROL, "fm.plyr.comment", comment(&featuring, "from carol", 3_000, &at(3, 2)));
    let playlist = n.create(BOB, "fm.plyr.list", list("playlist", "Mix", &[&featuring], &at(4, 0)));
    let labeled_playlist = n.create(BOB, "fm.plyr.list", list("playlist", "Bad", &[&featuring], &at(4, 1)));
    n.account(CAROL, false, Some("deactivated"));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    for (uri, val) in
        [(&labeled_track, "!hide"), (&labeled_comment, "!hide"), (&labeled_playlist, "!takedown")]
    {
        sqlx::query("INSERT INTO labels (src, uri, val, cts) VALUES ('did:plc:labeler', $1, $2, now())")
            .bind(uri)
            .bind(val)
            .execute(&db.pool)
            .await
            .expect("label");
    }
    let state = state(&db);
    World {
        _db: db,
        state,
        featuring,
        labeled_track,
        hidden_track,
        playlist,
        labeled_playlist,
        shown_comment,
        labeled_comment,
    }
}

#[tokio::test]
async fn hidden_tracks_lists_and_actors_do_not_come_out_of_a_hydration() {
    let w = world().await;
    let hydrator = Hydrator::new(&w.state, None);
    let uri = |s: &str| AtUri::new(s).expect("an AT-URI");
    let uris = [uri(&w.featuring), uri(&w.labeled_track), uri(&w.hidden_track)];
    let h = hydrator.tracks(&uris).await.expect("tracks");
    assert!(h.track(&w.featuring).is_some(), "a visible track");
    assert!(h.track(&w.labeled_track).is_none(), "a labeler's hidden label hides the track");
    assert!(h.track(&w.hidden_track).is_none(), "a deactivated account's track is hidden");
    assert!(h.actor(ALICE).is_some() && h.actor(CAROL).is_none(), "the deactivated account is hidden");

    let t = h.track(&w.featuring).expect("visible");
    let credits: Vec<_> =
        h.features_including_hidden(t).map(|(d, a)| (d.as_str(), a.map(|a| a.hidden))).collect();
    assert_eq!(credits, vec![(CAROL, Some(true))], "a visible track keeps its (hidden) featured artist");

    let h = hydrator.lists(&[uri(&w.playlist), uri(&w.labeled_playlist)]).await.expect("lists");
    assert!(h.list(&w.playlist).is_some());
    assert!(h.list(&w.labeled_playlist).is_none(), "a labeled list is hidden");

    let h = hydrator
        .actors(&[Did::new(ALICE).expect("a DID"), Did::new(CAROL).expect("a DID")])
        .await
        .expect("actors");
    assert!(h.actor(ALICE).is_some() && h.actor(CAROL).is_none());
}

#[tokio::test]
async fn records_come_back_only_when_visible_and_handlers_show_only_those() {
    let w = world().await;
    let rows = social::comments_on(&w.state.db, &AtUri::new(&w.featuring).expect("an AT-URI"), None, 100)
        .await
        .expect("comments");
    assert_eq!(rows.len(), 3, "the skeleton holds every comment");
    let (rows, h) = Hydrator::new(&w.state, None).records(rows).await.expect("records");
    let kept: Vec<&str> = rows.iter().map(|c| c.uri.as_str()).collect();
    assert_eq!(kept, vec![w.shown_comment.as_str()], "neither the labeled comment nor the hidden author's");
    assert!(h.actor(BOB).is_some());

    let body = ok(&w.state, "fm.plyr.feed.getComments", &format!("uri={}", w.featuring)).await;
    assert_eq!(uris(&body, "comments"), vec![w.shown_comment.clone()], "not {}", w.labeled_comment);
    let body = ok(&w.state, "fm.plyr.graph.getActorLists", &format!("actor={BOB}")).await;
    assert_eq!(uris(&body, "lists"), vec![w.playlist.clone()]);
    let body = ok(&w.state, "fm.plyr.feed.getLatestTracks", "").await;
    assert_eq!(uris(&body, "tracks"), vec![w.featuring.clone()]);
    let features = &body["tracks"][0]["features"];
    assert_eq!(features[0]["handle"], "carol.test", "credited as before: {features}");
}

#[tokio::test]
async fn a_label_announced_by_a_writer_applies_within_a_second() {
    let w = world().await;
    let listening = Listening::start(&w._db, &w.state).await;
    let latest = || async { uris(&ok(&w.state, "fm.plyr.feed.getLatestTracks", "").await, "tracks") };
    assert_eq!(latest().await, vec![w.featuring.clone()]);

    // Labels are held in memory: a label written without an announcement is not seen yet...
    sqlx::query("INSERT INTO labels (src, uri, val, cts) VALUES ('did:plc:labeler', $1, '!takedown', now())")
        .bind(ALICE)
        .execute(&w.state.db)
        .await
        .expect("label");
    assert_eq!(latest().await, vec![w.featuring.clone()]);
    // ...and applies once a writer announces it, as the label writer does in its transaction.
    let mut touched = plyr_store::changes::Touched::default();
    touched.labels();
    plyr_store::changes::announce(&w.state.db, &touched).await.expect("announce");
    let started = Instant::now();
    while !latest().await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(1), "the label did not apply within 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Its negation lifts it the same way.
    sqlx::query("UPDATE labels SET neg = TRUE WHERE uri = $1")
        .bind(ALICE)
        .execute(&w.state.db)
        .await
        .expect("negate");
    plyr_store::changes::announce(&w.state.db, &touched).await.expect("announce");
    let started = Instant::now();
    while latest().await != vec![w.featuring.clone()] {
        assert!(started.elapsed() < Duration::from_secs(1), "the negation did not apply within 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listening.stop().await;
}
