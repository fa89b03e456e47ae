//! Records dated at the edges of the atproto datetime range (years 0000, 1000 and 9999: valid,
//! but outside what a nanosecond clock holds) go through the indexer's real write path and are
//! read through every XRPC and REST route that shows them: each answers 200 with JSON, and times
//! are presented as the data model's rule says (RFC 3339 UTC, microseconds, years 0000-9999).

mod support;

use axum::http::StatusCode;
use serde_json::Value;
use support::*;

const EDGES: [&str; 3] = ["9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"];

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET uri`, which must answer 200 with a JSON body.
async fn ok_json(state: &plyr_appview::AppState, uri: &str) -> Value {
    let (status, body) = call(state, uri, &[]).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert!(!body.is_null(), "{uri}: not JSON");
    body
}

#[tokio::test]
async fn records_dated_at_the_edges_of_the_range_are_served_by_every_route() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.put(ALICE, "fm.plyr.actor.profile", "self", plyr_profile("edge artist", EDGES[2]));
    let mut tracks = Vec::new();
    for (i, at) in EDGES.into_iter().enumerate() {
        let t = n.create(ALICE, "fm.plyr.track", track(&format!("Epoch {i}"), "Alice", at));
        n.create(BOB, "fm.plyr.like", like(&t, at));
        n.create(BOB, "fm.plyr.comment", comment(&t, "timeless", 1_000, at));
        tracks.push(t);
    }
    let refs: Vec<&str> = tracks.iter().map(String::as_str).collect();
    let album = n.create(ALICE, "fm.plyr.list", list("album", "Edges", &refs, EDGES[0]));
    let playlist = n.create(BOB, "fm.plyr.list", list("playlist", "Edge Mix", &refs, EDGES[1]));
    n.create(BOB, "fm.plyr.list", list("playlist", "Origin Mix", &refs, EDGES[2]));
    let db = plyr_store::testkit::TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = state(&db);

    // XRPC: every 200 is also checked against the method's output schema.
    let latest = ok(&state, "fm.plyr.feed.getLatestTracks", "").await;
    assert_eq!(uris(&latest, "tracks").len(), 3);
    let created: Vec<&str> = latest["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["createdAt"].as_str().expect("createdAt"))
        .collect();
    for expected in
        ["9999-12-31T23:59:59.000000Z", "1000-01-01T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z"]
    {
        assert!(created.contains(&expected), "{expected} in {created:?}");
    }
    let q = tracks.iter().map(|t| format!("uris={t}")).collect::<Vec<_>>().join("&");
    assert_eq!(uris(&ok(&state, "fm.plyr.feed.getTracks", &q).await, "tracks").len(), 3);
    ok(&state, "fm.plyr.feed.searchTracks", "q=epoch").await;
    ok(&state, "fm.plyr.unspecced.search", "q=epoch").await;
    ok(&state, "fm.plyr.feed.getActorTracks", &format!("actor={ALICE}")).await;
    ok(&state, "fm.plyr.feed.getActorLikes", &format!("actor={BOB}")).await;
    ok(&state, "fm.plyr.feed.getTopTracks", "period=all").await;
    ok(&state, "fm.plyr.actor.getProfile", "actor=alice.test").await;
    ok(&state, "fm.plyr.graph.getActorLists", "actor=alice.test").await;
    ok(&state, "fm.plyr.graph.getActorLists", "actor=bob.test").await;
    ok(&state, "fm.plyr.graph.getList", &format!("list={album}")).await;
    ok(&state, "fm.plyr.graph.getList", &format!("list={playlist}")).await;
    ok(&state, "fm.plyr.unspecced.getStats", "").await;
    for t in &tracks {
        let likes = ok(&state, "fm.plyr.feed.getLikes", &format!("uri={t}")).await;
        assert_eq!(likes["likes"].as_array().map(Vec::len), Some(1), "{likes}");
        let comments = ok(&state, "fm.plyr.feed.getComments", &format!("uri={t}")).await;
        assert_eq!(comments["comments"].as_array().map(Vec::len), Some(1), "{comments}");
    }
    // Paging through a feed whose items are dated before 1970 (negative cursor timestamps).
    let first = ok(&state, "fm.plyr.feed.getActorTracks", &format!("actor={ALICE}&limit=1")).await;
    let mut cursor = first["cursor"].as_str().map(str::to_owned);
    let mut seen = uris(&first, "tracks");
    while let Some(c) = cursor {
        let page =
            ok(&state, "fm.plyr.feed.getActorTracks", &format!("actor={ALICE}&limit=1&cursor={}", enc(&c)))
                .await;
        seen.extend(uris(&page, "tracks"));
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    let mut all = tracks.clone();
    all.sort();
    assert_eq!(seen, all, "every page concatenated is the whole feed");

    // REST.
    let rest_tracks = ok_json(&state, "/tracks/").await;
    let ids: Vec<i64> = rest_tracks["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 3);
    for id in ids {
        ok_json(&state, &format!("/tracks/{id}")).await;
        ok_json(&state, &format!("/tracks/{id}/likes")).await;
        ok_json(&state, &format!("/tracks/{id}/comments")).await;
    }
    for t in &tracks {
        ok_json(&state, &format!("/tracks/by-uri?uri={}", enc(t))).await;
    }
    ok_json(&state, "/tracks/top").await;
    ok_json(&state, "/users/bob.test/likes").await;
    ok_json(&state, "/artists/by-handle/alice.test").await;
    ok_json(&state, &format!("/artists/{ALICE}")).await;
    let albums = ok_json(&state, "/albums/alice.test").await;
    let slug = albums["albums"][0]["slug"].as_str().expect("slug").to_owned();
    ok_json(&state, &format!("/albums/alice.test/{slug}")).await;
    ok_json(&state, &format!("/lists/playlists/by-artist/{BOB}")).await;
    ok_json(&state, &format!("/lists/playlists/by-uri?uri={}", enc(&playlist))).await;
    let list_ref = ok_json(&state, &format!("/lists/by-uri?uri={}", enc(&playlist))).await;
    let pid = list_ref["id"].as_str().expect("playlist id").to_owned();
    ok_json(&state, &format!("/lists/playlists/{pid}")).await;
    ok_json(&state, "/search/?q=epoch").await;
    ok_json(&state, "/stats").await;
    let activity = ok_json(&state, "/activity/?limit=100").await;
    if let Some(c) = activity["next_cursor"].as_str() {
        ok_json(&state, &format!("/activity/?limit=100&cursor={}", enc(c))).await;
    }
}
