//! The plyr.fm-compatible REST surface on a small network applied through the indexer's real
//! write path: every route's shape and key values, plyr.fm's errors, pagination (ties
//! included), audio redirects, the mention search, and credentialed CORS.

mod support;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use plyr_appview::{AppState, router};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

const AUDIO_URL: &str = "https://audio.example.com/audio/0123456789abcdef.mp3";

struct World {
    _db: TestDb,
    state: AppState,
    /// alice: blob track with a feature, blob track, trusted-URL track, gated track.
    a: Vec<String>,
    b1: String,
    /// bob's three tracks sharing one `createdAt`.
    ties: Vec<String>,
    hidden_track: String,
    dave_track: String,
    album: String,
    playlist: String,
}

fn record(title: &str, created_at: &str, extra: Value) -> Value {
    let mut r = track(title, "Alice", created_at);
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                r.remove(k);
            } else {
                r.insert(k.clone(), v.clone());
            }
        }
    }
    r
}

async fn world_with(options: plyr_appview::AppviewOptions) -> World {
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
        n.create(
            ALICE,
            "fm.plyr.track",
            record(
                "Morning Light",
                &at(2, 0),
                json!({ "features": [{ "did": BOB }], "description": "dawn" }),
            ),
        ),
        n.create(ALICE, "fm.plyr.track", record("Evening Tide", &at(3, 0), json!({}))),
        n.create(
            ALICE,
            "fm.plyr.track",
            record(
                "Light Years",
                &at(4, 0),
                json!({ "audioBlob": null, "audioUrl": AUDIO_URL, "fileId": "0123456789abcdef" }),
            ),
        ),
        n.create(
            ALICE,
            "fm.plyr.track",
            record("Secret Light", &at(4, 6), json!({ "supportGate": { "type": "any" } })),
        ),
    ];
    let b1 = n.create(BOB, "fm.plyr.track", track("Lighthouse", "Bob", &at(5, 0)));
    let ties = ["Tie A", "Tie B", "Tie C"]
        .iter()
        .map(|t| n.create(BOB, "fm.plyr.track", track(t, "Bob", &at(5, 12))))
        .collect();
    let hidden_track = n.create(CAROL, "fm.plyr.track", track("Gone Light", "Carol", &at(6, 0)));
    let dave_track = n.create(DAVE, "fm.plyr.track", track("Daybreak", "Dave", &at(1, 12)));
    n.create(BOB, "fm.plyr.like", like(&a[0], &at(7, 0)));
    n.create(CAROL, "fm.plyr.like", like(&a[0], &at(7, 1)));
    n.create(DAVE, "fm.plyr.like", like(&a[0], &at(7, 2)));
    n.create(DAVE, "fm.plyr.like", like(&a[1], &at(7, 3)));
    n.create(DAVE, "fm.plyr.like", like(&b1, &at(7, 4)));
    n.create(BOB, "fm.plyr.comment", comment(&a[0], "nice drop", 30_000, &at(8, 0)));
    n.create(DAVE, "fm.plyr.comment", comment(&a[0], "intro!", 1_000, &at(8, 1)));
    let album = n.create(ALICE, "fm.plyr.list", list("album", "Light Works", &[&a[0], &a[2]], &at(9, 0)));
    let missing = "at://did:plc:nobodyxxxxxxxxxxxxxxxxxx/fm.plyr.track/3kaaaaaaaaaaa";
    let playlist =
        n.create(BOB, "fm.plyr.list", list("playlist", "Bob Mix", &[&b1, missing, &a[1]], &at(9, 1)));
    // Bob adds a track to his playlist later.
    let rkey = playlist.rsplit('/').next().unwrap_or_default().to_owned();
    let mut updated = list("playlist", "Bob Mix", &[&b1, missing, &a[1], &a[0]], &at(9, 1));
    updated["updatedAt"] = json!(at(9, 5));
    n.put(BOB, "fm.plyr.list", &rkey, updated);
    n.account(CAROL, false, Some("deactivated"));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = AppState::new(db.pool.clone(), options);
    World { _db: db, state, a, b1, ties, hidden_track, dave_track, album, playlist }
}

impl World {
    /// A world of just `n`'s records (the other fields empty), with `playlist` named.
    async fn small(n: &Net, playlist: String) -> World {
        let db = TestDb::new().await.expect("test db");
        n.apply(&db).await;
        let state = AppState::new(db.pool.clone(), options());
        World {
            _db: db,
            state,
            a: Vec::new(),
            b1: String::new(),
            ties: Vec::new(),
            hidden_track: String::new(),
            dave_track: String::new(),
            album: String::new(),
            playlist,
        }
    }
}

async fn world() -> World {
    world_with(options()).await
}

/// A request through the router: status, headers, JSON body (`Null` when not JSON).
async fn send(
    state: &AppState,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let res = router(state.clone()).oneshot(req.body(body).expect("request")).await.expect("response");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = to_bytes(res.into_body(), 16 << 20).await.expect("body");
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get(w: &World, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(&w.state, Method::GET, uri, &[], None).await;
    (status, body)
}

async fn ok(w: &World, uri: &str) -> Value {
    let (status, body) = get(w, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ids(tracks: &Value) -> Vec<String> {
    tracks
        .as_array()
        .unwrap_or_else(|| panic!("an array: {tracks}"))
        .iter()
        .map(|t| t["atproto_record_uri"].as_str().expect("uri").to_owned())
        .collect()
}

/// The fields the plyrfm SDK's `Track` model requires or types, with their JSON types.
fn assert_track_shape(t: &Value) {
    assert!(t["id"].is_i64(), "id: {t}");
    for k in
        ["title", "file_id", "file_type", "artist", "artist_handle", "artist_did", "created_at", "visibility"]
    {
        assert!(t[k].is_string(), "{k}: {t}");
    }
    for k in ["play_count", "like_count", "comment_count"] {
        assert!(t[k].is_i64(), "{k}: {t}");
    }
    for k in ["gated", "unlisted", "is_liked", "downloadable", "is_optimizing"] {
        assert!(t[k].is_boolean(), "{k}: {t}");
    }
    for k in ["tags", "features", "self_labels", "operator_labels", "labels"] {
        assert!(t[k].is_array(), "{k}: {t}");
    }
    assert!(t["album"].is_null() || t["album"]["id"].as_str().is_some_and(|id| id.len() == 36), "{t}");
}

#[tokio::test]
async fn latest_tracks_page_by_iso_cursor_without_splitting_ties() {
    let w = world().await;
    let all = ok(&w, "/tracks/").await;
    assert_eq!(all["has_more"], false);
    assert!(all["next_cursor"].is_null());
    let uris = ids(&all["tracks"]);
    assert_eq!(&uris[..3].iter().filter(|u| w.ties.contains(u)).count(), &3, "ties first: {uris:?}");
    assert_eq!(uris[3], w.b1);
    assert_eq!(uris[4..8], [w.a[3].clone(), w.a[2].clone(), w.a[1].clone(), w.a[0].clone()]);
    assert_eq!(uris[8], w.dave_track);
    assert!(!uris.contains(&w.hidden_track), "deactivated account hidden");
    for t in all["tracks"].as_array().expect("tracks") {
        assert_track_shape(t);
    }
    // /tracks/ fills atproto_record_url from the artist's PDS.
    let first = &all["tracks"][3];
    assert_eq!(
        first["atproto_record_url"],
        format!(
            "{PDS}/xrpc/com.atproto.repo.getRecord?repo={BOB}&collection=fm.plyr.track&rkey={}",
            w.b1.rsplit('/').next().unwrap_or_default()
        )
    );

    // Every page size pages through everything exactly once; a page never ends inside the tie.
    for limit in 1..=5 {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let q = cursor.as_deref().map_or(String::new(), |c| format!("&cursor={}", enc(c)));
            let page = ok(&w, &format!("/tracks/?limit={limit}{q}")).await;
            seen.extend(ids(&page["tracks"]));
            if page["has_more"] == false {
                assert!(page["next_cursor"].is_null());
                break;
            }
            let c = page["next_cursor"].as_str().expect("cursor").to_owned();
            let time = c.split_once("::").map_or(c.as_str(), |(time, _)| time);
            assert!(time.ends_with("+00:00"), "an isoformat time, then maybe a URI: {c}");
            cursor = Some(c);
        }
        assert_eq!(seen, uris, "limit {limit}");
    }
    // A page that ends inside a tie names the last track in its cursor; one that ends at a
    // time boundary keeps plyr.fm's bare time.
    let page = ok(&w, "/tracks/?limit=2").await;
    assert_eq!(ids(&page["tracks"]).len(), 2);
    assert_eq!(page["has_more"], true);
    let uri = &ids(&page["tracks"])[1];
    assert_eq!(page["next_cursor"], format!("2026-01-05T12:00:00+00:00::{uri}"));
    assert_eq!(ok(&w, "/tracks/?limit=3").await["next_cursor"], "2026-01-05T12:00:00+00:00");
    // plyr.fm's cursor string is accepted as the SDK and frontend send it.
    let page = ok(&w, &format!("/tracks/?cursor={}", enc("2026-01-04T06:00:00+00:00"))).await;
    assert_eq!(
        ids(&page["tracks"]),
        vec![w.a[2].clone(), w.a[1].clone(), w.a[0].clone(), w.dave_track.clone()]
    );

    let mine = ok(&w, &format!("/tracks/?artist_did={ALICE}&limit=2")).await;
    assert_eq!(ids(&mine["tracks"]), vec![w.a[3].clone(), w.a[2].clone()]);
    assert_eq!(mine["has_more"], true);
    assert_eq!(ok(&w, "/tracks/?tags=ambient").await["tracks"], json!([]));
    assert_eq!(ids(&ok(&w, "/tracks/?limit=1000").await["tracks"]).len(), uris.len(), "limit clamped");

    let (status, body) = get(&w, "/tracks/?cursor=yesterday").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "detail": "invalid cursor format" })));
    let (status, body) = get(&w, "/tracks/?limit=many").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]));
    assert_eq!(body["detail"][0]["type"], "int_parsing");
    let (status, headers, _) = send(&w.state, Method::GET, "/tracks?limit=3", &[], None).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(headers["location"], "/tracks/?limit=3");
}

#[tokio::test]
async fn one_track_by_id_or_uri_with_plyr_fields_and_errors() {
    let w = world().await;
    let by_uri = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&w.a[0]))).await;
    assert_track_shape(&by_uri);
    let id = by_uri["id"].as_i64().expect("id");
    // An unknown bearer token and session cookie are ignored on public reads.
    let (status, _, t) = send(
        &w.state,
        Method::GET,
        &format!("/tracks/{id}"),
        &[("authorization", "Bearer not-a-plyr-session"), ("cookie", "session_id=bogus")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t, by_uri);
    assert_eq!(t["title"], "Morning Light");
    assert_eq!(t["artist"], "Alice");
    assert_eq!(t["artist_handle"], "alice.test");
    assert_eq!(t["artist_did"], ALICE);
    assert_eq!(t["description"], "dawn");
    assert_eq!(t["file_type"], "mp3");
    assert_eq!(t["file_id"], w.a[0].rsplit('/').next().unwrap_or_default(), "the rkey names the file");
    assert_eq!(t["like_count"], 3);
    assert_eq!(t["comment_count"], 2);
    assert_eq!(t["play_count"], 0);
    assert_eq!(t["tags"], json!([]));
    assert_eq!(t["created_at"], "2026-01-02T00:00:00+00:00");
    assert_eq!(t["audio_storage"], "pds");
    assert_eq!(t["pds_blob_cid"], BLOB);
    assert_eq!(
        t["r2_url"],
        format!("http://appview.test/audio/{}", t["file_id"].as_str().unwrap_or_default())
    );
    assert!(t["atproto_record_url"].is_null(), "only /tracks/ and albums fill it");
    assert_eq!(t["atproto_record_cid"].as_str().map(|c| c.starts_with("bafy")), Some(true));
    assert_eq!(
        t["features"],
        json!([{ "did": BOB, "handle": "bob.test", "display_name": "bob.test", "avatar_url": null }])
    );
    assert_eq!(t["album"]["title"], "Light Works");
    assert_eq!(t["album"]["slug"], "light-works");
    assert_eq!((t["gated"].clone(), t["downloadable"].clone()), (json!(false), json!(true)));
    assert_eq!(t["visibility"], "public");

    let url_track = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&w.a[2]))).await;
    assert_eq!(url_track["r2_url"], AUDIO_URL);
    assert_eq!(url_track["file_id"], "0123456789abcdef");
    assert_eq!(url_track["audio_storage"], "r2");
    let gated = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&w.a[3]))).await;
    assert_eq!(gated["support_gate"], json!({ "type": "any" }));
    assert_eq!((gated["gated"].clone(), gated["downloadable"].clone()), (json!(true), json!(false)));
    assert_eq!(gated["visibility"], "supporters");

    assert_eq!(get(&w, "/tracks/42").await, (StatusCode::NOT_FOUND, json!({ "detail": "track not found" })));
    let hidden = format!("/tracks/by-uri?uri={}", enc(&w.hidden_track));
    assert_eq!(get(&w, &hidden).await, (StatusCode::NOT_FOUND, json!({ "detail": "track not found" })));
    let (status, body) = get(&w, "/tracks/abc").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["path", "track_id"]));
    let (status, body) = get(&w, "/tracks/by-uri").await;
    assert_eq!(
        (status, body["detail"][0]["type"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("missing"))
    );
}

#[tokio::test]
async fn top_tracks_likers_comments_and_tags() {
    let w = world().await;
    let top = ok(&w, "/tracks/top").await;
    assert_eq!(ids(&top), vec![w.a[0].clone(), w.b1.clone(), w.a[1].clone()], "by likes, then recency");
    assert_eq!(ids(&ok(&w, "/tracks/top?limit=1&period=week").await), Vec::<String>::new(), "likes are old");
    assert_eq!(ids(&ok(&w, "/tracks/top?limit=1&period=all_time").await), vec![w.a[0].clone()]);
    let (status, body) = get(&w, "/tracks/top?period=year").await;
    assert_eq!(
        (status, body["detail"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["query", "period"]))
    );

    let id = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&w.a[0]))).await["id"].clone();
    let likes = ok(&w, &format!("/tracks/{id}/likes")).await;
    assert_eq!(likes["count"], 2, "carol is deactivated");
    assert_eq!(likes["users"][0]["did"], DAVE);
    assert_eq!(likes["users"][0]["handle"], "handle.invalid", "dave's handle is not verified");
    assert_eq!(likes["users"][1]["handle"], "bob.test");
    assert_eq!(likes["users"][1]["liked_at"], "2026-01-07T00:00:00+00:00");
    let comments = ok(&w, &format!("/tracks/{id}/comments")).await;
    assert_eq!(comments["comments_enabled"], true);
    assert_eq!(comments["count"], 2);
    let texts: Vec<&Value> =
        comments["comments"].as_array().expect("comments").iter().map(|c| &c["text"]).collect();
    assert_eq!(texts, vec!["intro!", "nice drop"], "playback order");
    assert!(comments["comments"][0]["id"].is_i64());
    assert_eq!(comments["comments"][1]["user_handle"], "bob.test");
    assert_eq!(comments["comments"][1]["timestamp_ms"], 30_000);
    assert_eq!(get(&w, "/tracks/42/likes").await.0, StatusCode::NOT_FOUND);

    assert_eq!(ok(&w, "/tracks/tags?limit=5&q=am").await, json!([]));
    assert_eq!(get(&w, "/tracks/tags?limit=0").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        get(&w, "/tracks/tags/Lo%20Fi/Beats").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "tag 'lo fi/beats' not found" }))
    );
}

#[tokio::test]
async fn artists_and_their_likes() {
    let w = world().await;
    let alice = ok(&w, &format!("/artists/{ALICE}")).await;
    assert_eq!(alice["did"], ALICE);
    assert_eq!(alice["handle"], "alice.test");
    assert_eq!(alice["display_name"], "Alice Liddell");
    assert_eq!(alice["bio"], "sound artist");
    assert_eq!(alice["created_at"], "2026-01-01T00:00:00+00:00");
    assert_eq!(alice["show_liked_on_profile"], false);
    assert!(alice["support_url"].is_null() && alice["updated_at"].is_string());
    assert_eq!(ok(&w, "/artists/by-handle/alice.test").await, alice);
    assert_eq!(get(&w, "/artists/by-handle/dave.test").await.0, StatusCode::NOT_FOUND, "unverified handle");
    assert_eq!(
        get(&w, &format!("/artists/{CAROL}")).await,
        (StatusCode::NOT_FOUND, json!({ "detail": "artist not found" }))
    );

    let (status, _, batch) = send(
        &w.state,
        Method::POST,
        "/artists/batch",
        &[],
        Some(json!([ALICE, BOB, CAROL, "did:plc:nobody"])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut keys: Vec<&String> = batch.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, vec![ALICE, BOB]);
    assert_eq!(batch[ALICE], alice);
    let (status, _, _) =
        send(&w.state, Method::POST, "/artists/batch", &[], Some(json!({ "not": "a list" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let likes = ok(&w, "/users/bob.test/likes").await;
    assert_eq!(
        likes["user"],
        json!({ "did": BOB, "handle": "bob.test", "display_name": "bob.test", "avatar_url": null })
    );
    assert_eq!(ids(&likes["tracks"]), vec![w.a[0].clone()]);
    assert_eq!(likes["count"], 1);
    assert_eq!(
        get(&w, "/users/nobody.test/likes").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "user not found" }))
    );
}

#[tokio::test]
async fn albums_playlists_and_list_lookups() {
    let w = world().await;
    let albums = ok(&w, "/albums/alice.test").await;
    assert_eq!(albums["albums"].as_array().map(Vec::len), Some(1));
    let a = &albums["albums"][0];
    assert_eq!(
        (a["title"].clone(), a["slug"].clone(), a["track_count"].clone()),
        (json!("Light Works"), json!("light-works"), json!(2))
    );
    assert_eq!(a["total_plays"], 0);
    assert_eq!(get(&w, "/albums/nobody.test").await.0, StatusCode::NOT_FOUND);

    let album = ok(&w, "/albums/alice.test/light-works").await;
    assert_eq!(ids(&album["tracks"]), vec![w.a[0].clone(), w.a[2].clone()], "list order");
    let m = &album["metadata"];
    assert_eq!(m["id"], a["id"]);
    assert_eq!(m["list_uri"], w.album);
    assert_eq!(m["artist"], "Alice Liddell");
    assert_eq!(m["artist_handle"], "alice.test");
    assert_eq!(m["track_count"], 2);
    assert!(album["tracks"][0]["atproto_record_url"].is_string());
    assert_eq!(
        get(&w, "/albums/alice.test/nope").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "album not found" }))
    );

    let by_uri = ok(&w, &format!("/lists/by-uri?uri={}", enc(&w.album))).await;
    assert_eq!(
        by_uri,
        json!({ "type": "album", "id": a["id"], "handle": "alice.test", "slug": "light-works" })
    );
    let pl_ref = ok(&w, &format!("/lists/by-uri?uri={}", enc(&w.playlist))).await;
    assert_eq!(pl_ref["type"], "playlist");
    let pid = pl_ref["id"].as_str().expect("id").to_owned();

    let pl = ok(&w, &format!("/lists/playlists/{pid}")).await;
    assert_eq!(pl["id"], pid);
    assert_eq!(pl["name"], "Bob Mix");
    assert_eq!((pl["owner_did"].clone(), pl["owner_handle"].clone()), (json!(BOB), json!("bob.test")));
    assert_eq!(
        ids(&pl["tracks"]),
        vec![w.b1.clone(), w.a[1].clone(), w.a[0].clone()],
        "unindexed item skipped"
    );
    assert_eq!(pl["track_count"], 3);
    assert_eq!(pl["atproto_record_uri"], w.playlist);
    assert_eq!(pl["is_private"], false);
    assert_eq!(pl["created_at"], "2026-01-09T01:00:00+00:00");
    assert_eq!(ok(&w, &format!("/lists/playlists/by-uri?uri={}", enc(&w.playlist))).await, pl);
    let mine = ok(&w, &format!("/lists/playlists/by-artist/{BOB}")).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    assert_eq!(mine[0]["id"], pid);
    assert_eq!(mine[0]["track_count"], 4, "the record's items");
    assert_eq!(ok(&w, &format!("/lists/playlists/by-artist/{ALICE}")).await, json!([]));
    let nf = (StatusCode::NOT_FOUND, json!({ "detail": "playlist not found" }));
    assert_eq!(get(&w, "/lists/playlists/not-a-uuid").await, nf);
    assert_eq!(get(&w, "/lists/playlists/00000000-0000-0000-0000-000000000000").await, nf);
    assert_eq!(get(&w, &format!("/lists/playlists/by-uri?uri={}", enc(&w.album))).await, nf, "an album");
}

#[tokio::test]
async fn search_by_kind_with_counts_and_relevance() {
    let w = world().await;
    let all = ok(&w, "/search/?q=light").await;
    let counts = &all["counts"];
    assert_eq!(counts, &json!({ "tracks": 4, "artists": 0, "albums": 1, "tags": 0, "playlists": 0 }));
    let results = all["results"].as_array().expect("results");
    let rel: Vec<f64> = results.iter().map(|r| r["relevance"].as_f64().expect("relevance")).collect();
    assert!(rel.windows(2).all(|p| p[0] >= p[1]), "by relevance: {rel:?}");
    let track = results.iter().find(|r| r["type"] == "track" && r["title"] == "Light Years").expect("track");
    assert!(
        track["id"].is_i64()
            && track["artist_display_name"] == "Alice Liddell"
            && track["artist_handle"] == "alice.test"
    );
    let album = results.iter().find(|r| r["type"] == "album").expect("album");
    assert_eq!(
        (album["slug"].clone(), album["artist_display_name"].clone()),
        (json!("light-works"), json!("Alice Liddell"))
    );
    assert!(!results.iter().any(|r| r["title"] == "Gone Light"), "hidden account");

    let artists = ok(&w, "/search/?q=alice&type=artists").await;
    assert_eq!(
        artists["results"][0],
        json!({
            "type": "artist", "did": ALICE, "handle": "alice.test", "display_name": "Alice Liddell",
            "avatar_url": null, "relevance": artists["results"][0]["relevance"],
        })
    );
    assert_eq!(artists["counts"]["tracks"], 0, "type filter");
    let pl = ok(&w, "/search/?q=bob%20mix&type=playlists,tags").await;
    assert_eq!(pl["results"][0]["type"], "playlist");
    assert_eq!(
        (pl["results"][0]["owner_display_name"].clone(), pl["results"][0]["track_count"].clone()),
        (json!("bob.test"), json!(4))
    );
    assert_eq!(ok(&w, "/search/?q=light&limit=1&type=tracks").await["counts"]["tracks"], 1, "limit per type");
    assert_eq!(get(&w, "/search/?q=l").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get(&w, "/search/?q=light&limit=51").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get(&w, "/search/").await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn mention_search_links_to_the_frontend() {
    let mut o = options();
    o.frontend_url = "https://fm.example".into();
    let w = world_with(o).await;
    let svc = enc("at://did:plc:x/parts.page.mention.service/self");
    let body = ok(&w, &format!("/xrpc/parts.page.mention.search?service={svc}&search=light%20works")).await;
    let first = &body["results"][0];
    assert_eq!(first["subscope"], json!({ "scope": "albums", "label": "Albums" }), "{body}");
    assert_eq!(first["href"], "https://fm.example/u/alice.test/album/light-works");
    assert_eq!(
        first["embed"],
        json!({ "src": "https://fm.example/embed/album/alice.test/light-works", "width": 600, "height": 400 })
    );
    let tracks =
        ok(&w, &format!("/xrpc/parts.page.mention.search?service={svc}&search=light&scope=tracks&limit=2"))
            .await;
    let items = tracks["results"].as_array().expect("results");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["labels"] == json!([{ "text": "track" }]) && i["embed"]["height"] == 160));
    assert!(items[0]["uri"].as_str().is_some_and(|u| u.starts_with("https://fm.example/track/")));
    assert_eq!(
        ok(&w, &format!("/xrpc/parts.page.mention.search?service={svc}&search=l")).await,
        json!({ "results": [] })
    );
    let (status, body) = get(&w, "/xrpc/parts.page.mention.search?search=light").await;
    assert_eq!((status, body["error"].clone()), (StatusCode::BAD_REQUEST, json!("InvalidRequest")));
}

/// A supporter-gated track exactly as plyr.fm publishes it (its audio behind plyr.fm's API, no
/// blob) is indexed with the default trusted origins and shown as gated; its audio is refused
/// as plyr.fm refuses a listener who is not signed in, never redirected to.
#[tokio::test]
async fn a_gated_track_as_plyr_fm_writes_it_is_shown_gated_and_its_audio_refused() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    let uri = n.create(
        ALICE,
        "fm.plyr.track",
        json!({ "$type": "fm.plyr.track", "title": "Members Only", "artist": "alice.test", "fileType": "mp3",
                "audioUrl": "https://api.plyr.fm/audio/5f0c0ffee0ddba11", "fileId": "5f0c0ffee0ddba11",
                "supportGate": { "type": "any" }, "duration": 180, "createdAt": at(1, 0) }),
    );
    let w = World::small(&n, String::new()).await;
    let t = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&uri))).await;
    assert_eq!((t["gated"].clone(), t["support_gate"].clone()), (json!(true), json!({ "type": "any" })));
    let listed = ok(&w, &format!("/tracks/?artist_did={ALICE}")).await;
    assert_eq!(listed["tracks"][0]["title"], "Members Only", "on the artist's page");
    let x = ok(&w, &format!("/xrpc/fm.plyr.feed.getTracks?uris={}", enc(&uri))).await;
    assert_eq!(x["tracks"][0]["supportGate"]["type"], "any", "{x}");
    for method in [Method::GET, Method::HEAD] {
        let (status, headers, body) =
            send(&w.state, method.clone(), "/audio/5f0c0ffee0ddba11", &[], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}");
        assert!(headers.get("location").is_none());
        if method == Method::GET {
            assert_eq!(body, json!({ "detail": "authentication required to stream this track" }));
        }
    }
}

/// A list update that adds several tracks at once: one event each, no two with the same key the
/// plyr.fm activity page uses (`created_at + actor + type + collection id`).
#[tokio::test]
async fn tracks_added_together_are_distinct_activity_events() {
    let mut n = Net::default();
    n.actor(BOB, "bob.test");
    let t: Vec<String> =
        (0..4).map(|i| n.create(BOB, "fm.plyr.track", track(&format!("T{i}"), "Bob", &at(1, i)))).collect();
    let playlist = n.create(BOB, "fm.plyr.list", list("playlist", "Mix", &[&t[0]], &at(2, 0)));
    let rkey = playlist.rsplit('/').next().unwrap_or_default().to_owned();
    let mut updated = list("playlist", "Mix", &[&t[0], &t[1], &t[2], &t[3]], &at(2, 0));
    updated["updatedAt"] = json!(at(3, 0));
    n.put(BOB, "fm.plyr.list", &rkey, updated);
    let w = World::small(&n, playlist).await;
    let feed = ok(&w, "/activity/?limit=100").await;
    let added: Vec<&Value> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "track_added_to_playlist")
        .collect();
    let mut titles: Vec<&str> = added.iter().filter_map(|e| e["track"]["title"].as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["T1", "T2", "T3"], "{feed}");
    let keys: std::collections::HashSet<String> = added
        .iter()
        .map(|e| format!("{}{}{}{}", e["created_at"], e["actor"]["did"], e["type"], e["collection"]["id"]))
        .collect();
    assert_eq!(keys.len(), 3, "events sharing a key: {added:?}");
    assert_eq!(
        added[2]["created_at"], "2026-01-03T00:00:00+00:00",
        "the first added keeps the update's time"
    );
    // Paging one event at a time meets each once.
    let mut seen = 0;
    let mut q = String::from("/activity/?limit=1");
    loop {
        let page = ok(&w, &q).await;
        seen += page["events"]
            .as_array()
            .map_or(0, |e| e.iter().filter(|e| e["type"] == "track_added_to_playlist").count());
        match page["next_cursor"].as_str() {
            Some(c) => q = format!("/activity/?limit=1&cursor={}", enc(c)),
            None => break,
        }
    }
    assert_eq!(seen, 3);
}

#[tokio::test]
async fn stats_activity_and_oembed() {
    let w = world().await;
    let stats = ok(&w, "/stats").await;
    assert_eq!(
        stats,
        json!({ "total_plays": 0, "total_tracks": 10, "total_artists": 4, "total_duration_seconds": 2000 })
    );
    assert_eq!(get(&w, "/stats/").await.0, StatusCode::TEMPORARY_REDIRECT);

    let feed = ok(&w, "/activity/?limit=100").await;
    let events = feed["events"].as_array().expect("events");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds[0], "track_added_to_playlist", "{kinds:?}");
    assert_eq!(kinds[1..3], ["playlist_create", "album_release"]);
    for k in ["comment", "like", "track"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let added = &events[0];
    assert_eq!(added["actor"]["did"], BOB);
    assert_eq!(added["track"]["title"], "Morning Light");
    assert_eq!(added["collection"]["name"], "Bob Mix");
    assert_eq!(added["created_at"], "2026-01-09T05:00:00+00:00");
    let comment = events.iter().find(|e| e["type"] == "comment").expect("comment");
    assert_eq!(comment["comment_text"], "intro!");
    assert!(events.iter().all(|e| e["actor"]["did"] != CAROL), "deactivated account");
    // Paging through gives the same events.
    let mut seen = Vec::new();
    let mut q = String::from("/activity/?limit=4");
    loop {
        let page = ok(&w, &q).await;
        seen.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => q = format!("/activity/?limit=4&cursor={}", enc(c)),
            None => break,
        }
    }
    assert_eq!(&seen, events);

    let id = ok(&w, &format!("/tracks/by-uri?uri={}", enc(&w.a[0]))).await["id"].clone();
    let o =
        ok(&w, &format!("/oembed?url={}&maxwidth=1000", enc(&format!("https://plyr.fm/track/{id}")))).await;
    assert_eq!(o["type"], "rich");
    assert_eq!(o["title"], "Morning Light - Alice Liddell");
    assert_eq!(o["author_url"], "https://plyr.fm/u/alice.test");
    assert_eq!((o["width"].clone(), o["height"].clone()), (json!(800), json!(165)));
    assert!(o["html"].as_str().is_some_and(|h| h.contains(&format!("https://plyr.fm/embed/track/{id}"))));
    let o = ok(&w, &format!("/oembed?url={}", enc("https://plyr.fm/u/alice.test/album/light-works"))).await;
    assert_eq!(o["title"], "\"Light Works\" by Alice Liddell");
    assert_eq!(
        get(&w, "/oembed?url=https://plyr.fm/about").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "unsupported URL format" }))
    );
    assert_eq!(get(&w, "/oembed?url=x&format=xml").await.0, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn audio_redirects_to_the_blob_or_the_trusted_url() {
    let w = world().await;
    let file = |i: usize| w.a[i].rsplit('/').next().unwrap_or_default().to_owned();
    let blob = format!("{PDS}/xrpc/com.atproto.sync.getBlob?did={ALICE}&cid={BLOB}");
    for method in [Method::GET, Method::HEAD] {
        let (status, headers, _) = send(&w.state, method, &format!("/audio/{}", file(0)), &[], None).await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(headers["location"], blob.as_str());
    }
    let (status, headers, _) =
        send(&w.state, Method::GET, &format!("/audio/{}/download", file(0)), &[], None).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(headers["location"], blob.as_str());
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment; filename=\"Alice - Morning Light.mp3\""), "{disposition}");
    let (status, headers, _) = send(&w.state, Method::GET, "/audio/0123456789abcdef", &[], None).await;
    assert_eq!(
        (status, headers["location"].to_str().ok()),
        (StatusCode::TEMPORARY_REDIRECT, Some(AUDIO_URL))
    );

    let gated = format!("/audio/{}", file(3));
    assert_eq!(
        get(&w, &gated).await,
        (StatusCode::UNAUTHORIZED, json!({ "detail": "authentication required to stream this track" }))
    );
    assert_eq!(
        get(&w, &format!("{gated}/download")).await,
        (StatusCode::FORBIDDEN, json!({ "detail": "gated tracks cannot be downloaded" }))
    );
    assert_eq!(
        get(&w, "/audio/nothing").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "audio file not found" }))
    );
    let dave = w.dave_track.rsplit('/').next().unwrap_or_default();
    assert_eq!(get(&w, &format!("/audio/{dave}")).await.0, StatusCode::NOT_FOUND, "PDS not resolved yet");
    let hidden = w.hidden_track.rsplit('/').next().unwrap_or_default();
    assert_eq!(get(&w, &format!("/audio/{hidden}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn configured_origins_get_credentialed_cors() {
    let mut o = options();
    o.cors_origins = vec!["https://plyr.example".into()];
    let w = world_with(o).await;
    let (_, h, _) =
        send(&w.state, Method::GET, "/tracks/top", &[("origin", "https://plyr.example")], None).await;
    assert_eq!(h["access-control-allow-origin"], "https://plyr.example");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let (_, h, _) =
        send(&w.state, Method::GET, "/xrpc/_health", &[("origin", "https://other.example")], None).await;
    assert_eq!(h["access-control-allow-origin"], "https://other.example");
    assert!(h.get("access-control-allow-credentials").is_none());
    let preflight = [
        ("origin", "https://plyr.example"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization"),
    ];
    let (status, h, _) = send(&w.state, Method::OPTIONS, "/tracks/", &preflight, None).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-headers"], "authorization");

    let plain = world().await;
    let (_, h, _) =
        send(&plain.state, Method::GET, "/tracks/", &[("origin", "https://any.example")], None).await;
    assert_eq!(h["access-control-allow-origin"], "*", "no configured origins: permissive");
}

/// The site routes plyr.fm's frontend asks for on every page, in plyr.fm's shapes.
#[tokio::test]
async fn site_routes_answer_in_plyr_fm_shapes() {
    let mut o = options();
    o.site.dmca_email = "takedowns@example.com".into();
    let w = world_with(o).await;
    let config = ok(&w, "/config").await;
    let keys: Vec<&str> = config.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 11, "{config}");
    assert_eq!(config["browser_observability"], false);
    assert_eq!(config["default_hidden_tags"], json!(["ai", "ai-slop", "suno"]));
    assert_eq!(
        (config["contact_email"].clone(), config["privacy_email"].clone()),
        (json!("help@plyr.fm"), json!("help@plyr.fm"))
    );
    assert_eq!(config["dmca_email"], "takedowns@example.com");
    assert_eq!(config["terms_last_updated"], "2026-08-04T00:00:00");
    assert_eq!(ok(&w, "/health").await, json!({ "status": "ok" }));
    assert_eq!(
        get(&w, "/auth/me").await,
        (StatusCode::UNAUTHORIZED, json!({ "detail": "not authenticated - login required" }))
    );

    // Analytics: the artist's tracks, duration and most liked; zeros for a stranger.
    let a = ok(&w, &format!("/artists/{ALICE}/analytics")).await;
    assert_eq!((a["total_plays"].clone(), a["total_items"].clone()), (json!(0), json!(4)), "{a}");
    assert_eq!(a["total_duration_seconds"], 800);
    assert_eq!(a["top_liked"]["title"], "Morning Light");
    assert!(a["top_liked"]["play_count"].as_i64().is_some_and(|n| n >= 2), "likes in play_count: {a}");
    assert_eq!((a["top_item"]["play_count"].clone(), a["rank"].clone()), (json!(0), json!(null)));
    let none = json!({ "total_plays": 0, "total_items": 0, "total_duration_seconds": 0,
                       "top_item": null, "top_liked": null, "rank": null });
    assert_eq!(ok(&w, "/artists/did:plc:nobodyxxxxxxxxxxxxxxxxxx/analytics").await, none);
    assert_eq!(ok(&w, &format!("/artists/{CAROL}/analytics")).await, none, "deactivated");

    // The histogram: zero-filled days, oldest first; bounds as plyr.fm's.
    let h = ok(&w, "/activity/histogram?days=3").await;
    let buckets = h["buckets"].as_array().expect("buckets");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(buckets.len(), 3);
    assert_eq!(buckets[2]["date"], today.as_str());
    assert!(buckets.iter().all(|b| b["count"] == 0), "the world is from January: {h}");
    assert_eq!(ok(&w, "/activity/histogram").await["buckets"].as_array().map(Vec::len), Some(7));
    for bad in ["0", "31", "x"] {
        assert_eq!(
            get(&w, &format!("/activity/histogram?days={bad}")).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    // The sitemap's three lists.
    let s = ok(&w, "/sitemap-data").await;
    assert_eq!(
        s["tracks"].as_array().map(Vec::len),
        Some(ok(&w, "/stats").await["total_tracks"].as_u64().unwrap_or(0) as usize - 1),
        "all but the deactivated account's: {s}"
    );
    assert!(s["artists"].as_array().expect("artists").iter().any(|a| a["handle"] == "alice.test"));
    assert_eq!(
        s["albums"],
        json!([{ "handle": "alice.test", "slug": "light-works", "updated": "2026-01-09" }])
    );
    assert!(s["tracks"][0]["updated"].as_str().is_some_and(|d| d.len() == 10));

    // A playlist's preview without its tracks; 404 as the full one.
    let pid = ok(&w, &format!("/lists/by-uri?uri={}", enc(&w.playlist))).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let meta = ok(&w, &format!("/lists/playlists/{pid}/meta")).await;
    assert_eq!((meta["name"].clone(), meta["track_count"].clone()), (json!("Bob Mix"), json!(4)));
    assert!(meta.get("tracks").is_none());
    assert_eq!(
        get(&w, "/lists/playlists/00000000-0000-0000-0000-000000000000/meta").await,
        (StatusCode::NOT_FOUND, json!({ "detail": "playlist not found" }))
    );

    // refresh-avatar answers the avatar as indexed.
    let (status, _, body) =
        send(&w.state, Method::POST, &format!("/artists/{ALICE}/refresh-avatar"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["avatar_url"], ok(&w, &format!("/artists/{ALICE}")).await["avatar_url"]);
    let (status, _, body) =
        send(&w.state, Method::POST, "/artists/did:plc:nobodyxxxxxxxxxxxxxxxxxx/refresh-avatar", &[], None)
            .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "detail": "artist not found" })));
}

/// The histogram counts what happened in its days.
#[tokio::test]
async fn the_activity_histogram_counts_recent_events() {
    let mut n = Net::now();
    n.actor(BOB, "bob.test");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let t = n.create(BOB, "fm.plyr.track", track("Fresh", "Bob", &now));
    n.create(BOB, "fm.plyr.like", like(&t, &now));
    n.create(BOB, "fm.plyr.track", track("Old", "Bob", &at(1, 0)));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let state = AppState::new(db.pool.clone(), options());
    let (status, _, body) = send(&state, Method::GET, "/activity/histogram?days=2", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let counts: Vec<i64> =
        body["buckets"].as_array().expect("buckets").iter().filter_map(|b| b["count"].as_i64()).collect();
    // Today's, unless the day turned between writing and asking.
    assert_eq!(counts.iter().sum::<i64>(), 2, "a track and a like, not January's track: {body}");
}
