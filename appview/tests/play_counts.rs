//! Public play counts and now playing on the read side, from teal.fm records exactly as plyr.fm
//! writes them, applied through the indexer's write path: `play_count` / `playCount` on every
//! track, totals in `/stats`, analytics and albums, top tracks by plays (likes stay the
//! default), and now playing in plyr.fm's shape and as an XRPC query.

mod support;

use axum::http::StatusCode;
use plyr_appview::AppState;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;

/// A listener who never published on plyr.
const ERIN: &str = "did:plc:erin22222222222222222222";

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A play as plyr.fm's scrobbler writes it to `fm.teal.feed.play`.
fn play(title: &str, artist: &str, duration: i64) -> Value {
    json!({
        "$type": "fm.teal.feed.play", "trackName": title, "artists": [{ "artistName": artist }],
        "musicServiceUri": "https://plyr.fm", "submissionClientAgent": "plyr.fm/1.0",
        "playedTime": iso(chrono::Utc::now()), "duration": duration, "originUri": "https://plyr.fm/track/7",
    })
}

/// plyr.fm's status: `{time, expiry (+600 s), item}`, written `ago` seconds ago.
fn status(title: &str, artist: &str, ago: i64) -> Value {
    let time = chrono::Utc::now() - chrono::Duration::seconds(ago);
    json!({
        "$type": "fm.teal.actor.status", "time": iso(time), "expiry": iso(time + chrono::Duration::seconds(600)),
        "item": { "trackName": title, "artists": [{ "artistName": artist }], "musicServiceUri": "https://plyr.fm",
                  "submissionClientAgent": "plyr.fm/1.0", "playedTime": iso(time), "duration": 180,
                  "releaseName": "Light Works" },
    })
}

struct World {
    _db: TestDb,
    state: AppState,
    song: String,
    other: String,
}

async fn world() -> World {
    let mut n = Net::now();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    let today = iso(chrono::Utc::now() - chrono::Duration::minutes(10));
    let mut song = track("Song", "Alice", &today);
    song["duration"] = json!(180);
    let song = n.create(ALICE, "fm.plyr.track", song);
    let other = n.create(ALICE, "fm.plyr.track", track("Other", "Alice", &today));
    n.create(ALICE, "fm.plyr.list", list("album", "Light Works", &[&song, &other], &today));
    // Other has the like, Song the plays.
    n.create(BOB, "fm.plyr.like", like(&other, &today));
    for _ in 0..3 {
        n.create(ERIN, "fm.teal.feed.play", play("Song", "Alice", 181));
    }
    let alpha = json!({
        "$type": "fm.teal.alpha.feed.play", "trackName": "Other", "artists": [{ "artistName": "Alice" }],
        "musicServiceBaseDomain": "plyr.fm", "playedTime": iso(chrono::Utc::now()), "duration": 200,
    });
    n.create(ERIN, "fm.teal.alpha.feed.play", alpha);
    n.create(
        BOB,
        "fm.teal.feed.play",
        json!({ "$type": "fm.teal.feed.play", "trackName": "x", "originUri": other }),
    );
    n.put(ERIN, "fm.teal.actor.status", "self", status("Song", "Alice", 30));
    n.put(BOB, "fm.teal.actor.status", "self", status("Song", "Alice", 3600));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = AppState::new(db.pool.clone(), options());
    World { _db: db, state, song, other }
}

async fn rest(w: &World, uri: &str) -> (StatusCode, Value) {
    call(&w.state, uri, &[]).await
}

async fn rest_ok(w: &World, uri: &str) -> Value {
    let (status, body) = rest(w, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn titles(tracks: &Value) -> Vec<&str> {
    tracks.as_array().expect("array").iter().filter_map(|t| t["title"].as_str()).collect()
}

#[tokio::test]
async fn tracks_carry_their_plays_everywhere_and_rank_by_them_when_asked() {
    let w = world().await;
    // REST: plyr.fm's `play_count` (an integer) on every TrackResponse.
    let latest = rest_ok(&w, "/tracks/").await;
    let counts: Vec<(String, i64)> = latest["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            (t["title"].as_str().unwrap_or_default().to_owned(), t["play_count"].as_i64().expect("integer"))
        })
        .collect();
    assert_eq!(counts, vec![("Other".to_owned(), 2), ("Song".to_owned(), 3)], "{latest}");
    let id = latest["tracks"][1]["id"].as_i64().expect("id");
    assert_eq!(rest_ok(&w, &format!("/tracks/{id}")).await["play_count"], 3);

    // XRPC: `playCount` on the track view, valid against the lexicon.
    let got = ok(&w.state, "fm.plyr.feed.getTracks", &format!("uris={}&uris={}", w.song, w.other)).await;
    let plays: Vec<i64> =
        got["tracks"].as_array().expect("tracks").iter().filter_map(|t| t["playCount"].as_i64()).collect();
    assert_eq!(plays, vec![3, 2], "{got}");

    // Top tracks: likes by default, plays when asked, on both surfaces and every period.
    assert_eq!(titles(&rest_ok(&w, "/tracks/top").await), vec!["Other"]);
    assert_eq!(titles(&rest_ok(&w, "/tracks/top?sort=plays").await), vec!["Song", "Other"]);
    assert_eq!(titles(&rest_ok(&w, "/tracks/top?sort=plays&period=day").await), vec!["Song", "Other"]);
    let (status, body) = rest(&w, "/tracks/top?sort=hot").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "sort"]));
    for period in ["day", "week", "month", "all"] {
        let top = ok(&w.state, "fm.plyr.feed.getTopTracks", &format!("sort=plays&period={period}")).await;
        assert_eq!(uris(&top, "tracks"), vec![w.song.clone(), w.other.clone()], "{period}");
    }
    assert_eq!(uris(&ok(&w.state, "fm.plyr.feed.getTopTracks", "").await, "tracks"), vec![w.other.clone()]);
    // Paging the plays ranking one at a time reaches both, in order.
    let first = ok(&w.state, "fm.plyr.feed.getTopTracks", "sort=plays&limit=1").await;
    let cursor = first["cursor"].as_str().expect("cursor");
    let second =
        ok(&w.state, "fm.plyr.feed.getTopTracks", &format!("sort=plays&limit=1&cursor={cursor}")).await;
    assert_eq!(
        (uris(&first, "tracks"), uris(&second, "tracks")),
        (vec![w.song.clone()], vec![w.other.clone()])
    );
    assert_eq!(xrpc(&w.state, "fm.plyr.feed.getTopTracks", "sort=hot").await.0, StatusCode::BAD_REQUEST);

    // Totals.
    assert_eq!(rest_ok(&w, "/stats").await["total_plays"], 5);
    assert_eq!(ok(&w.state, "fm.plyr.unspecced.getStats", "").await["plays"], 5);
    let a = rest_ok(&w, &format!("/artists/{ALICE}/analytics")).await;
    assert_eq!(
        (a["total_plays"].clone(), a["top_item"].clone(), a["rank"].clone()),
        (json!(5), json!({ "id": id, "title": "Song", "play_count": 3 }), json!(1)),
        "{a}"
    );
    assert_eq!(a["top_liked"]["title"], "Other");
    let albums = rest_ok(&w, "/albums/alice.test").await;
    assert_eq!(albums["albums"][0]["total_plays"], 5, "{albums}");
    let album = rest_ok(&w, "/albums/alice.test/light-works").await;
    assert_eq!(album["metadata"]["total_plays"], 5, "{album}");
}

#[tokio::test]
async fn now_playing_answers_in_plyr_fm_shape_while_the_status_holds() {
    let w = world().await;
    let (status, np) = rest(&w, &format!("/now-playing/by-did/{ERIN}")).await;
    assert_eq!(status, StatusCode::OK, "{np}");
    let keys: Vec<&str> = np.as_object().expect("object").keys().map(String::as_str).collect();
    let mut expected = vec![
        "track_name",
        "artist_name",
        "album_name",
        "duration_ms",
        "progress_ms",
        "is_playing",
        "track_id",
        "file_id",
        "track_url",
        "image_url",
        "service_base_url",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected, "plyr.fm's NowPlayingResponse fields");
    assert_eq!(
        (
            np["track_name"].clone(),
            np["artist_name"].clone(),
            np["album_name"].clone(),
            np["duration_ms"].clone()
        ),
        (json!("Song"), json!("Alice"), json!("Light Works"), json!(180_000))
    );
    assert_eq!((np["is_playing"].clone(), np["service_base_url"].clone()), (json!(true), json!("plyr.fm")));
    let progress = np["progress_ms"].as_i64().expect("integer");
    assert!((25_000..=180_000).contains(&progress), "30 s into the song: {progress}");
    let id = np["track_id"].as_i64().expect("integer");
    assert_eq!(np["track_url"], format!("https://plyr.fm/track/{id}"));
    assert_eq!(rest_ok(&w, &format!("/tracks/{id}")).await["title"], "Song");
    assert!(np["file_id"].is_string());

    // Expired, absent, unknown: 204 without a body, or plyr.fm's 404 for an unknown handle.
    let (code, body) = rest(&w, &format!("/now-playing/by-did/{BOB}")).await;
    assert_eq!((code, body), (StatusCode::NO_CONTENT, Value::Null), "an hour-old status has expired");
    assert_eq!(rest(&w, "/now-playing/by-handle/alice.test").await.0, StatusCode::NO_CONTENT);
    assert_eq!(rest(&w, "/now-playing/by-did/not-a-did").await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        rest(&w, "/now-playing/by-handle/nobody.test").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "user not found" }))
    );

    // The XRPC query: any account by DID, indexed ones by handle; the matched track's view.
    let q = ok(&w.state, "fm.plyr.actor.getNowPlaying", &format!("actor={ERIN}")).await;
    assert_eq!((q["did"].clone(), q["nowPlaying"]["trackName"].clone()), (json!(ERIN), json!("Song")));
    assert_eq!(q["nowPlaying"]["track"]["uri"], w.song.as_str());
    assert_eq!(q["nowPlaying"]["track"]["playCount"], 3);
    let idle = ok(&w.state, "fm.plyr.actor.getNowPlaying", "actor=bob.test").await;
    assert_eq!(idle, json!({ "did": BOB }));
    let (code, body) = xrpc(&w.state, "fm.plyr.actor.getNowPlaying", "actor=nobody.test").await;
    assert_eq!((code, body["error"].clone()), (StatusCode::BAD_REQUEST, json!("ActorNotFound")));
}
