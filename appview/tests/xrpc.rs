//! The XRPC queries on a small hand-built network, applied through the indexer's real write
//! path: ordering, counts, visibility rules, audio, errors, and every 200 response checked
//! against its lexicon's output schema.

mod support;

use axum::http::StatusCode;
use plyr_store::testkit::TestDb;
use serde_json::Value;
use support::*;

struct World {
    db: TestDb,
    state: plyr_appview::AppState,
    /// alice's tracks, oldest first.
    a: Vec<String>,
    /// bob's track.
    b1: String,
    /// the deactivated account's track.
    hidden_track: String,
    album: String,
    playlist: String,
    comments: Vec<String>,
}

async fn world() -> World {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.actor(CAROL, "carol.test");
    n.unverified_actor(DAVE, "dave.test");
    // Bluesky profiles count from an account's first fm.plyr record on (earlier ones come with
    // the account's backfill).
    n.put(ALICE, "fm.plyr.actor.profile", "self", plyr_profile("sound artist", &at(1, 0)));
    n.put(ALICE, "app.bsky.actor.profile", "self", bsky_profile("Alice Liddell"));
    let a = vec![
        n.create(ALICE, "fm.plyr.track", track("Morning Light", "Alice", &at(2, 0))),
        n.create(ALICE, "fm.plyr.track", track("Evening Tide", "Alice", &at(3, 0))),
        n.create(ALICE, "fm.plyr.track", track("Light Years", "Alice", &at(4, 0))),
    ];
    let b1 = n.create(BOB, "fm.plyr.track", track("Lighthouse", "Bob", &at(5, 0)));
    let hidden_track = n.create(CAROL, "fm.plyr.track", track("Gone Light", "Carol", &at(6, 0)));
    n.create(DAVE, "fm.plyr.track", track("Daybreak", "Dave", &at(1, 12)));
    // Likes: bob likes a[0] twice (counts once), carol likes a[0]; dave likes a[1] and b1.
    n.create(BOB, "fm.plyr.like", like(&a[0], &at(7, 0)));
    n.create(BOB, "fm.plyr.like", like(&a[0], &at(7, 1)));
    n.create(CAROL, "fm.plyr.like", like(&a[0], &at(7, 2)));
    n.create(DAVE, "fm.plyr.like", like(&a[1], &at(7, 3)));
    n.create(DAVE, "fm.plyr.like", like(&b1, &at(7, 4)));
    let comments = vec![
        n.create(BOB, "fm.plyr.comment", comment(&a[0], "nice drop", 30_000, &at(8, 0))),
        n.create(DAVE, "fm.plyr.comment", comment(&a[0], "intro!", 1_000, &at(8, 1))),
    ];
    let album = n.create(ALICE, "fm.plyr.list", list("album", "Light Works", &[&a[0], &a[2]], &at(9, 0)));
    let missing = "at://did:plc:nobodyxxxxxxxxxxxxxxxxxx/fm.plyr.track/3kaaaaaaaaaaa";
    let playlist =
        n.create(BOB, "fm.plyr.list", list("playlist", "Bob Mix", &[&b1, missing, &a[1]], &at(9, 1)));
    n.account(CAROL, false, Some("deactivated"));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = state(&db);
    World { db, state, a, b1, hidden_track, album, playlist, comments }
}

fn track_by<'a>(body: &'a Value, key: &str, uri: &str) -> &'a Value {
    body[key].as_array().and_then(|ts| ts.iter().find(|t| t["uri"] == uri)).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn latest_tracks_are_newest_first_hydrated_and_hide_deactivated_accounts() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.feed.getLatestTracks", "").await;
    let dave_track = uris(&body, "tracks").into_iter().find(|u| u.contains(DAVE)).expect("dave's track");
    assert_eq!(
        uris(&body, "tracks"),
        vec![w.b1.clone(), w.a[2].clone(), w.a[1].clone(), w.a[0].clone(), dave_track]
    );
    assert!(!uris(&body, "tracks").contains(&w.hidden_track), "deactivated account hidden");
    assert!(body.get("cursor").is_none(), "one page holds everything");

    let t = track_by(&body, "tracks", &w.a[0]);
    assert_eq!(t["likeCount"], 2, "bob's two likes count once, plus carol's");
    assert_eq!(t["commentCount"], 2);
    assert_eq!(t["title"], "Morning Light");
    assert_eq!(t["author"]["handle"], "alice.test");
    assert_eq!(t["author"]["displayName"], "Alice Liddell");
    assert_eq!(t["audio"]["source"], "blob");
    assert_eq!(t["audio"]["cid"], BLOB);
    assert_eq!(t["audio"]["mimeType"], "audio/mpeg");
    assert_eq!(t["audio"]["size"], 4242);
    assert_eq!(
        t["audio"]["url"],
        format!("{PDS}/xrpc/com.atproto.sync.getBlob?did={ALICE}&cid={BLOB}"),
        "a URL a player can fetch"
    );
    assert!(t.get("viewer").is_none(), "no viewer state without a viewer");

    let dave = body["tracks"].as_array().and_then(|ts| ts.last()).expect("dave's");
    assert_eq!(dave["author"]["handle"], "handle.invalid", "unverified handles are not shown");
}

#[tokio::test]
async fn pages_have_stable_cursors_and_bad_parameters_are_invalid_requests() {
    let w = world().await;
    let first = ok(&w.state, "fm.plyr.feed.getLatestTracks", "limit=2").await;
    assert_eq!(uris(&first, "tracks"), vec![w.b1.clone(), w.a[2].clone()]);
    let cursor = first["cursor"].as_str().expect("more pages");
    let second =
        ok(&w.state, "fm.plyr.feed.getLatestTracks", &format!("limit=2&cursor={}", urlencode(cursor))).await;
    assert_eq!(uris(&second, "tracks"), vec![w.a[1].clone(), w.a[0].clone()]);

    for (nsid, q) in [
        ("fm.plyr.feed.getLatestTracks", "limit=0"),
        ("fm.plyr.feed.getLatestTracks", "limit=101"),
        ("fm.plyr.feed.getLatestTracks", "cursor=garbage"),
        ("fm.plyr.feed.getTopTracks", "period=year"),
        ("fm.plyr.actor.getProfile", ""),
        ("fm.plyr.feed.getLikes", "uri=https://example.com"),
        ("fm.plyr.graph.getList", "list=at://did:plc:x/fm.plyr.list/1&cursor=-4"),
    ] {
        let (status, body) = xrpc(&w.state, nsid, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{nsid}?{q}: {body}");
        assert_eq!(body["error"], "InvalidRequest", "{nsid}?{q}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, body) = xrpc(&w.state, "fm.plyr.feed.getNothing", "").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_IMPLEMENTED, Some("MethodNotImplemented")));
    let (status, body) = xrpc(&w.state, "fm.plyr.feed.getForYou", "").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("AuthRequired")));
    let (status, body) =
        call(&w.state, "/xrpc/fm.plyr.feed.getLatestTracks", &[("authorization", "Bearer x.y.z")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("InvalidToken")),
        "never anonymous"
    );
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn actor_tracks_likes_and_profiles() {
    let w = world().await;
    for actor in ["alice.test", "ALICE.test", ALICE] {
        let body = ok(&w.state, "fm.plyr.feed.getActorTracks", &format!("actor={actor}")).await;
        assert_eq!(uris(&body, "tracks"), vec![w.a[2].clone(), w.a[1].clone(), w.a[0].clone()], "{actor}");
    }
    for actor in ["nobody.test", "did:plc:nobodyxxxxxxxxxxxxxxxxxx", "dave.test"] {
        let (status, body) = xrpc(&w.state, "fm.plyr.feed.getActorTracks", &format!("actor={actor}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("ActorNotFound")),
            "{actor}"
        );
    }

    let body = ok(&w.state, "fm.plyr.feed.getActorLikes", &format!("actor={DAVE}")).await;
    assert_eq!(uris(&body, "tracks"), vec![w.b1.clone(), w.a[1].clone()], "most recent like first");
    let body = ok(&w.state, "fm.plyr.feed.getActorLikes", "actor=bob.test").await;
    assert_eq!(uris(&body, "tracks"), vec![w.a[0].clone()], "two likes of one track show it once");

    let p = ok(&w.state, "fm.plyr.actor.getProfile", "actor=alice.test").await;
    assert_eq!(p["did"], ALICE);
    assert_eq!(p["handle"], "alice.test");
    assert_eq!(p["displayName"], "Alice Liddell");
    assert_eq!(p["bio"], "sound artist");
    assert_eq!(p["trackCount"], 3);
    assert_eq!(p["albumCount"], 1);
    assert_eq!(p["playlistCount"], 0);
    let p = ok(&w.state, "fm.plyr.actor.getProfile", &format!("actor={DAVE}")).await;
    assert_eq!((p["handle"].as_str(), p["likeCount"].as_i64()), (Some("handle.invalid"), Some(2)));
    let (status, _) = xrpc(&w.state, "fm.plyr.actor.getProfile", &format!("actor={CAROL}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a deactivated account has no profile");

    let body = ok(
        &w.state,
        "fm.plyr.actor.getProfiles",
        &format!("actors=bob.test&actors={ALICE}&actors={CAROL}&actors=x.test"),
    )
    .await;
    let dids: Vec<&str> =
        body["profiles"].as_array().expect("array").iter().filter_map(|p| p["did"].as_str()).collect();
    assert_eq!(dids, vec![BOB, ALICE], "in order; hidden and unknown actors left out");
}

#[tokio::test]
async fn likes_and_comments_of_a_track() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.feed.getLikes", &format!("uri={}", w.a[0])).await;
    let likers: Vec<&str> =
        body["likes"].as_array().expect("likes").iter().filter_map(|l| l["author"]["did"].as_str()).collect();
    assert_eq!(likers, vec![BOB], "one per account; carol is deactivated");
    assert_eq!(body["uri"], w.a[0]);

    let body = ok(&w.state, "fm.plyr.feed.getComments", &format!("uri={}", w.a[0])).await;
    assert_eq!(uris(&body, "comments"), vec![w.comments[1].clone(), w.comments[0].clone()], "playback order");
    assert_eq!(body["comments"][0]["timestampMs"], 1_000);
    let page = ok(&w.state, "fm.plyr.feed.getComments", &format!("uri={}&limit=1", w.a[0])).await;
    let cursor = page["cursor"].as_str().expect("cursor");
    let next = ok(
        &w.state,
        "fm.plyr.feed.getComments",
        &format!("uri={}&limit=1&cursor={}", w.a[0], urlencode(cursor)),
    )
    .await;
    assert_eq!(uris(&next, "comments"), vec![w.comments[0].clone()]);
}

#[tokio::test]
async fn top_tracks_rank_by_likes_within_the_period() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.feed.getTopTracks", "period=all").await;
    // a0: 2 likers; a1 and b1: 1 each, b1 is newer.
    assert_eq!(uris(&body, "tracks"), vec![w.a[0].clone(), w.b1.clone(), w.a[1].clone()]);
    // Every like in this world is from January 2026: none in the last week.
    let body = ok(&w.state, "fm.plyr.feed.getTopTracks", "period=week").await;
    assert_eq!(uris(&body, "tracks"), Vec::<String>::new());
    let page = ok(&w.state, "fm.plyr.feed.getTopTracks", "limit=1").await;
    let next = ok(
        &w.state,
        "fm.plyr.feed.getTopTracks",
        &format!("limit=2&cursor={}", urlencode(page["cursor"].as_str().expect("cursor"))),
    )
    .await;
    assert_eq!(uris(&next, "tracks"), vec![w.b1.clone(), w.a[1].clone()]);
}

#[tokio::test]
async fn get_tracks_keeps_the_requested_order_and_skips_the_unknown() {
    let w = world().await;
    let q = format!(
        "uris={}&uris=at://did:plc:x/fm.plyr.track/nope&uris={}&uris={}",
        w.a[1], w.b1, w.hidden_track
    );
    let body = ok(&w.state, "fm.plyr.feed.getTracks", &q).await;
    assert_eq!(uris(&body, "tracks"), vec![w.a[1].clone(), w.b1.clone()]);
}

#[tokio::test]
async fn lists_keep_item_order_and_show_unindexed_items_without_a_track() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.graph.getActorLists", "actor=alice.test").await;
    assert_eq!(uris(&body, "lists"), vec![w.album.clone()]);
    assert_eq!(body["lists"][0]["itemCount"], 2);
    assert_eq!(body["lists"][0]["listType"], "album");
    let body = ok(&w.state, "fm.plyr.graph.getActorLists", "actor=alice.test&listType=playlist").await;
    assert_eq!(uris(&body, "lists"), Vec::<String>::new());

    let body = ok(&w.state, "fm.plyr.graph.getList", &format!("list={}", w.playlist)).await;
    assert_eq!(body["list"]["name"], "Bob Mix");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["track"]["uri"], w.b1);
    assert!(items[1].get("track").is_none(), "an unindexed subject has no track");
    assert_eq!(items[2]["track"]["uri"], w.a[1]);
    let positions: Vec<i64> = items.iter().filter_map(|i| i["position"].as_i64()).collect();
    assert_eq!(positions, vec![0, 1, 2]);
    let page = ok(&w.state, "fm.plyr.graph.getList", &format!("list={}&limit=2", w.playlist)).await;
    let next = ok(
        &w.state,
        "fm.plyr.graph.getList",
        &format!("list={}&limit=2&cursor={}", w.playlist, page["cursor"].as_str().expect("cursor")),
    )
    .await;
    assert_eq!(next["items"][0]["position"], 2);
    let (status, body) =
        xrpc(&w.state, "fm.plyr.graph.getList", "list=at://did:plc:x/fm.plyr.list/nope").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("NotFound")));
}

#[tokio::test]
async fn search_ranks_exact_then_prefix_then_substring() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.feed.searchTracks", "q=light").await;
    let found = uris(&body, "tracks");
    // "Light Years" starts with the query; "Morning Light" and "Lighthouse" contain it.
    assert_eq!(found.first(), Some(&w.a[2]), "prefix match first: {found:?}");
    assert!(found.contains(&w.a[0]) && found.contains(&w.b1));
    assert!(!found.contains(&w.hidden_track), "hidden accounts are not searchable");
    let body = ok(&w.state, "fm.plyr.feed.searchTracks", "q=Evening%20Tide").await;
    assert_eq!(uris(&body, "tracks").first(), Some(&w.a[1]), "exact title first");

    let body = ok(&w.state, "fm.plyr.actor.searchActors", "q=alice").await;
    assert_eq!(body["actors"][0]["did"], ALICE);
    let body = ok(&w.state, "fm.plyr.actor.searchActors", "q=liddell").await;
    assert_eq!(body["actors"][0]["did"], ALICE, "by display name");

    let body = ok(&w.state, "fm.plyr.unspecced.search", "q=light").await;
    assert!(!body["tracks"].as_array().expect("tracks").is_empty());
    assert_eq!(uris(&body, "albums"), vec![w.album.clone()]);
    let body = ok(&w.state, "fm.plyr.unspecced.search", "q=mix&types=playlist").await;
    assert_eq!(uris(&body, "playlists"), vec![w.playlist.clone()]);
    assert_eq!(body["tracks"], Value::Array(vec![]));
}

#[tokio::test]
async fn stats_count_everything_indexed() {
    let w = world().await;
    let body = ok(&w.state, "fm.plyr.unspecced.getStats", "").await;
    assert_eq!(body["tracks"], 6);
    assert_eq!(body["artists"], 5 - 1, "four accounts published tracks");
    assert_eq!(body["likes"], 4, "distinct (account, track) pairs");
    assert_eq!(body["comments"], 2);
    assert_eq!(body["lists"], 2);
    assert_eq!(body["totalDurationSeconds"], 6 * 200);
    drop(w.db);
}
