//! The OpenSubsonic surface (`/rest/*`) on a small network applied through the indexer's write
//! path: the envelope in XML and JSON, every read method's answer from the index, the identity
//! rule (`u` names the listener; a shared password when the operator sets one), the protocol's
//! error codes, redirects for audio and covers, and the visibility rules every read applies
//! (hidden accounts, labelled records, supporter-gated audio).

mod support;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use plyr_appview::config::Secret;
use plyr_appview::{AppState, router};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

/// A listener who never published on plyr.
const ERIN: &str = "did:plc:erin22222222222222222222";

struct World {
    _db: TestDb,
    state: AppState,
    /// Track ids: Alice's "Morning Light", "Evening Tide", the gated "Secret Song", Bob's "Bass Line".
    morning: i64,
    evening: i64,
    secret: i64,
    bass: i64,
    tides: String,
    low_end: String,
    mix: String,
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn play(title: &str, artist: &str) -> Value {
    json!({
        "$type": "fm.teal.feed.play", "trackName": title, "artists": [{ "artistName": artist }],
        "musicServiceUri": "https://plyr.fm", "submissionClientAgent": "plyr.fm/1.0",
        "playedTime": iso(chrono::Utc::now()), "duration": 200,
    })
}

/// plyr.fm's now-playing status, written a minute ago (it holds for ten).
fn status(title: &str, artist: &str) -> Value {
    let time = chrono::Utc::now() - chrono::Duration::seconds(60);
    json!({
        "$type": "fm.teal.actor.status", "time": iso(time), "expiry": iso(time + chrono::Duration::seconds(600)),
        "item": { "trackName": title, "artists": [{ "artistName": artist }], "musicServiceUri": "https://plyr.fm",
                  "submissionClientAgent": "plyr.fm/1.0", "playedTime": iso(time), "duration": 200 },
    })
}

fn with(mut record: Value, extra: Value) -> Value {
    if let (Value::Object(r), Value::Object(e)) = (&mut record, extra) {
        r.extend(e);
    }
    record
}

async fn world() -> World {
    // Events happen now, so the statuses below still hold.
    let mut n = Net::now();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.actor(CAROL, "carol.test");
    n.put(ALICE, "fm.plyr.actor.profile", "self", plyr_profile("sings about the sea", &at(1, 0)));
    // After the first fm.plyr record: a Bluesky profile is kept for plyr accounts only.
    n.put(ALICE, "app.bsky.actor.profile", "self", bsky_profile("Alice Ant"));
    let morning = n.create(
        ALICE,
        "fm.plyr.track",
        with(
            track("Morning Light", "Alice Ant", &at(2, 0)),
            json!({ "imageUrl": "https://images.example.com/m.jpg" }),
        ),
    );
    let evening = n.create(ALICE, "fm.plyr.track", track("Evening Tide", "Alice Ant", &at(3, 0)));
    let secret = n.create(
        ALICE,
        "fm.plyr.track",
        with(track("Secret Song", "Alice Ant", &at(4, 0)), json!({ "supportGate": { "type": "any" } })),
    );
    let bass = n.create(BOB, "fm.plyr.track", track("Bass Line", "bob", &at(5, 0)));
    let flagged = n.create(BOB, "fm.plyr.track", track("Flagged Tune", "bob", &at(5, 1)));
    let hidden = n.create(CAROL, "fm.plyr.track", track("Carol Hidden", "Carol", &at(5, 2)));
    n.create(ALICE, "fm.plyr.list", list("album", "Tides", &[&evening, &morning], &at(6, 0)));
    n.create(
        ALICE,
        "fm.plyr.list",
        list("album", "Nothing Yet", &["at://did:plc:nobody/fm.plyr.track/x"], &at(6, 1)),
    );
    n.create(BOB, "fm.plyr.list", list("album", "Low End", &[&bass], &at(7, 0)));
    n.create(CAROL, "fm.plyr.list", list("album", "Carol's Album", &[&hidden], &at(7, 1)));
    n.create(BOB, "fm.plyr.list", list("playlist", "Mix", &[&evening, &morning, &bass, &hidden], &at(8, 0)));
    n.create(BOB, "fm.plyr.like", like(&morning, &at(9, 0)));
    n.create(BOB, "fm.plyr.like", like(&evening, &at(9, 1)));
    n.create(BOB, "fm.plyr.like", like(&flagged, &at(9, 2)));
    n.create(ERIN, "fm.teal.feed.play", play("Evening Tide", "Alice Ant"));
    n.create(ERIN, "fm.teal.feed.play", play("Evening Tide", "Alice Ant"));
    n.put(ERIN, "fm.teal.actor.status", "self", status("Evening Tide", "Alice Ant"));
    n.put(BOB, "fm.teal.actor.status", "self", status("Nothing Indexed", "Nobody"));
    n.account(CAROL, false, Some("takendown"));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    sqlx::query("INSERT INTO labels (src, uri, val, cts) VALUES ('did:plc:labeler', $1, '!hide', now())")
        .bind(&flagged)
        .execute(&db.pool)
        .await
        .expect("label");
    let id = |uri: String| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM tracks WHERE uri = $1")
                .bind(uri)
                .fetch_one(&pool)
                .await
                .expect("track id")
        }
    };
    let list_id = |name: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT id::TEXT FROM lists WHERE name = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .expect("list id")
        }
    };
    let (morning, evening, secret, bass) =
        (id(morning).await, id(evening).await, id(secret).await, id(bass).await);
    let (tides, low_end, mix) = (list_id("Tides").await, list_id("Low End").await, list_id("Mix").await);
    let state = state(&db);
    World { _db: db, state, morning, evening, secret, bass, tides, low_end, mix }
}

/// `GET /rest/<path>`: status, headers and body text.
async fn get(state: &AppState, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::get(format!("/rest/{path}")).body(Body::empty()).expect("request");
    send(state, req).await
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = router(state.clone()).oneshot(req).await.expect("response");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = to_bytes(res.into_body(), 16 << 20).await.expect("body");
    (status, headers, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

/// A method answered in JSON (`u=bob.test` unless the query names another user): the inner
/// `subsonic-response` object, after checking the envelope.
async fn json_of(state: &AppState, method: &str, query: &str) -> Value {
    let user = if query.contains("u=") { String::new() } else { "&u=bob.test&p=x".to_owned() };
    let (status, headers, body) = get(state, &format!("{method}?f=json&v=1.16.1&c=test{user}&{query}")).await;
    assert_eq!(status, StatusCode::OK, "{method}: {body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let v: Value = serde_json::from_str(&body).expect("json");
    let r = v["subsonic-response"].clone();
    assert_eq!(r["version"], "1.16.1");
    assert_eq!(r["type"], "plyr-appview");
    assert_eq!(r["openSubsonic"], true);
    assert!(r["serverVersion"].is_string());
    r
}

async fn ok(state: &AppState, method: &str, query: &str) -> Value {
    let r = json_of(state, method, query).await;
    assert_eq!(r["status"], "ok", "{method}?{query}: {r}");
    r
}

/// The failed envelope's code.
async fn code(state: &AppState, method: &str, query: &str) -> i64 {
    let r = json_of(state, method, query).await;
    assert_eq!(r["status"], "failed", "{method}?{query}: {r}");
    assert!(r["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
    r["error"]["code"].as_i64().expect("code")
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x["id"].as_str().expect("id").to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn browsing_by_artist_and_album_shows_the_visible_network() {
    let w = world().await;
    let s = &w.state;
    ok(s, "ping", "").await;
    assert_eq!(ok(s, "getLicense", "").await["license"]["valid"], true);
    assert_eq!(ok(s, "getMusicFolders", "").await["musicFolders"]["musicFolder"][0]["id"], 1);

    // Artists: Alice ("Alice Ant", her Bluesky name) and Bob; Carol is taken down.
    let r = ok(s, "getArtists", "").await;
    let index = r["artists"]["index"].as_array().expect("index").clone();
    let letters: Vec<&str> = index.iter().map(|i| i["name"].as_str().expect("letter")).collect();
    assert_eq!(letters, ["A", "B"], "{r}");
    assert_eq!(index[0]["artist"][0]["id"], ALICE);
    assert_eq!(index[0]["artist"][0]["name"], "Alice Ant");
    assert_eq!(index[1]["artist"][0]["name"], "bob.test");
    let r = ok(s, "getIndexes", "").await;
    assert_eq!(r["indexes"]["index"][1]["artist"][0]["id"], BOB, "{r}");

    // An artist's albums: only those with indexed tracks.
    let r = ok(s, "getArtist", &format!("id={ALICE}")).await;
    assert_eq!(r["artist"]["albumCount"], 1, "{r}");
    assert_eq!(ids(&r["artist"]["album"]), [w.tides.as_str()]);
    assert_eq!(r["artist"]["coverArt"], format!("ar-{ALICE}"));
    assert_eq!(code(s, "getArtist", &format!("id={CAROL}")).await, 70, "a taken-down artist is not found");
    assert_eq!(code(s, "getArtist", "id=not-a-did").await, 70);
    assert_eq!(code(s, "getArtist", "").await, 10);
    let r = ok(s, "getArtistInfo2", &format!("id={ALICE}")).await;
    assert_eq!(r["artistInfo2"]["biography"], "sings about the sea", "{r}");

    // An album: its songs in list order, totals over them.
    let r = ok(s, "getAlbum", &format!("id={}", w.tides)).await;
    let album = &r["album"];
    assert_eq!(album["name"], "Tides");
    assert_eq!(album["artist"], "Alice Ant");
    assert_eq!(album["artistId"], ALICE);
    assert_eq!(album["songCount"], 2);
    assert_eq!(album["duration"], 400);
    assert_eq!(album["playCount"], 2, "Erin's two plays of Evening Tide: {album}");
    assert_eq!(ids(&album["song"]), [w.evening.to_string(), w.morning.to_string()]);
    let song = &album["song"][0];
    assert_eq!(song["title"], "Evening Tide");
    assert_eq!(song["albumId"], w.tides.as_str());
    assert_eq!(song["parent"], w.tides.as_str());
    assert_eq!(song["album"], "Tides");
    assert_eq!(song["artistId"], ALICE);
    assert_eq!(song["isDir"], false);
    assert_eq!(song["suffix"], "mp3");
    assert_eq!(song["contentType"], "audio/mpeg");
    assert_eq!(song["size"], 4242);
    assert_eq!(song["duration"], 200);
    assert_eq!(song["playCount"], 2);
    assert_eq!(song["type"], "music");
    assert_eq!(song["coverArt"], format!("tr-{}", w.evening));
    assert_eq!(code(s, "getAlbum", "id=not-a-uuid").await, 70);
    assert_eq!(code(s, "getAlbum", "id=00000000-0000-0000-0000-000000000000").await, 70);
    let r = ok(s, "getMusicDirectory", &format!("id={ALICE}")).await;
    assert_eq!(r["directory"]["child"][0]["isDir"], true, "{r}");
    let r = ok(s, "getMusicDirectory", &format!("id={}", w.tides)).await;
    assert_eq!(ids(&r["directory"]["child"]), [w.evening.to_string(), w.morning.to_string()]);

    // One song; the labelled one and the taken-down artist's are not found.
    let r = ok(s, "getSong", &format!("id={}", w.bass)).await;
    assert_eq!(r["song"]["title"], "Bass Line");
    assert_eq!(r["song"]["album"], "Low End");
    assert_eq!(code(s, "getSong", "id=999999999").await, 70);
    assert_eq!(code(s, "getSong", "id=abc").await, 70);
    assert_eq!(code(s, "getSong", "").await, 10);
    let flagged: i64 = sqlx::query_scalar("SELECT id FROM tracks WHERE title = 'Flagged Tune'")
        .fetch_one(&s.db)
        .await
        .expect("id");
    assert_eq!(code(s, "getSong", &format!("id={flagged}")).await, 70, "a !hide label hides it");
    assert!(ok(s, "getGenres", "").await["genres"]["genre"].as_array().is_some_and(Vec::is_empty));
}

#[tokio::test]
async fn album_lists_search_and_random_songs() {
    let w = world().await;
    let s = &w.state;
    let list = |kind: &'static str, extra: &'static str| async move {
        ids(&ok(s, "getAlbumList2", &format!("type={kind}&{extra}")).await["albumList2"]["album"])
    };
    let (tides, low) = (w.tides.clone(), w.low_end.clone());
    assert_eq!(list("newest", "").await, [low.clone(), tides.clone()]);
    assert_eq!(list("alphabeticalByName", "").await, [low.clone(), tides.clone()]);
    assert_eq!(list("alphabeticalByName", "size=1&offset=1").await, [tides.as_str()]);
    assert_eq!(
        list("alphabeticalByArtist", "").await,
        [tides.clone(), low.clone()],
        "Alice Ant before bob.test"
    );
    assert_eq!(list("frequent", "").await, [tides.clone(), low.clone()], "Tides has plays");
    assert_eq!(list("highest", "").await, [tides.clone(), low.clone()], "Tides has likes");
    assert_eq!(list("byYear", "fromYear=2026&toYear=2026").await.len(), 2);
    assert!(list("byYear", "fromYear=1990&toYear=2000").await.is_empty());
    let mut random = list("random", "").await;
    random.sort();
    let mut both = vec![tides.clone(), low.clone()];
    both.sort();
    assert_eq!(random, both);
    assert!(list("starred", "").await.is_empty());
    assert_eq!(code(s, "getAlbumList2", "").await, 10, "type is required");
    assert_eq!(code(s, "getAlbumList2", "type=byYear").await, 10, "byYear needs its years");
    assert_eq!(code(s, "getAlbumList2", "type=loudest").await, 0);
    assert_eq!(code(s, "getAlbumList2", "type=newest&size=many").await, 0);
    let v1 = ok(s, "getAlbumList", "type=newest").await;
    assert_eq!(v1["albumList"]["album"][0]["title"], "Low End", "{v1}");

    // Search: the shared engine and relevance; hidden things never found.
    let r = ok(s, "search3", "query=evening").await;
    assert_eq!(ids(&r["searchResult3"]["song"])[0], w.evening.to_string(), "{r}");
    let r = ok(s, "search3", "query=tides").await;
    assert_eq!(ids(&r["searchResult3"]["album"]), [tides.as_str()], "{r}");
    let r = ok(s, "search3", "query=alice").await;
    assert_eq!(ids(&r["searchResult3"]["artist"]), [ALICE], "{r}");
    let r = ok(s, "search3", "query=carol").await;
    assert!(
        ids(&r["searchResult3"]["artist"]).is_empty() && ids(&r["searchResult3"]["song"]).is_empty(),
        "{r}"
    );
    assert!(ids(&ok(s, "search3", "query=flagged").await["searchResult3"]["song"]).is_empty());
    let r = ok(s, "search3", "query=%22%22").await;
    assert!(ids(&r["searchResult3"]["song"]).is_empty());
    assert_eq!(code(s, "search3", "").await, 10);
    let r = ok(s, "search2", "query=bass").await;
    assert_eq!(ids(&r["searchResult2"]["song"]), [w.bass.to_string()]);

    // Random songs: visible ones only (Carol's and the labelled one never).
    for _ in 0..5 {
        let r = ok(s, "getRandomSongs", "size=50").await;
        let got = ids(&r["randomSongs"]["song"]);
        assert!(!got.is_empty() && got.len() <= 4, "{r}");
        for id in &got {
            assert!([w.morning, w.evening, w.secret, w.bass].iter().any(|i| i.to_string() == *id), "{id}");
        }
    }
}

#[tokio::test]
async fn the_listener_named_by_u_sees_their_playlists_and_likes() {
    let w = world().await;
    let s = &w.state;
    let r = ok(s, "getPlaylists", "u=bob.test&p=anything").await;
    let p = &r["playlists"]["playlist"];
    assert_eq!(ids(p), [w.mix.as_str()], "{r}");
    assert_eq!(p[0]["owner"], "bob.test");
    assert_eq!(p[0]["name"], "Mix");
    assert_eq!(p[0]["songCount"], 3, "Carol's track is not counted: {r}");
    // By DID, with the token form of credentials: the same.
    let r = ok(s, "getPlaylists", &format!("u={BOB}&t=abc&s=def")).await;
    assert_eq!(ids(&r["playlists"]["playlist"]), [w.mix.as_str()]);
    // Someone else, or a name nobody has: no playlists; `username` names whose.
    assert!(ids(&ok(s, "getPlaylists", "u=alice.test&p=x").await["playlists"]["playlist"]).is_empty());
    assert!(ids(&ok(s, "getPlaylists", "u=admin&p=x").await["playlists"]["playlist"]).is_empty());
    let r = ok(s, "getPlaylists", "u=admin&p=x&username=bob.test").await;
    assert_eq!(ids(&r["playlists"]["playlist"]), [w.mix.as_str()]);

    let r = ok(s, "getPlaylist", &format!("id={}", w.mix)).await;
    assert_eq!(
        ids(&r["playlist"]["entry"]),
        [w.evening.to_string(), w.morning.to_string(), w.bass.to_string()]
    );
    assert_eq!(r["playlist"]["duration"], 600);
    assert_eq!(code(s, "getPlaylist", &format!("id={}", w.tides)).await, 70, "an album is not a playlist");

    // Liked tracks, most recent like first, each with when it was liked; the labelled one not.
    let r = ok(s, "getStarred2", "u=bob.test&p=x").await;
    let songs = &r["starred2"]["song"];
    assert_eq!(ids(songs), [w.evening.to_string(), w.morning.to_string()], "{r}");
    assert_eq!(songs[0]["starred"], "2026-01-09T01:00:00.000Z");
    assert!(ids(&ok(s, "getStarred2", "u=nobody&p=x").await["starred2"]["song"]).is_empty());
    let r = ok(s, "getStarred", "u=bob.test&p=x").await;
    assert_eq!(ids(&r["starred"]["song"]).len(), 2);
    // Now playing: Erin's status matches Evening Tide (she is no artist: named by her DID); Bob's
    // matches nothing indexed.
    let r = ok(s, "getNowPlaying", "").await;
    let entries = &r["nowPlaying"]["entry"];
    assert_eq!(ids(entries), [w.evening.to_string()], "{r}");
    assert_eq!(entries[0]["username"], ERIN);
    assert_eq!(entries[0]["minutesAgo"], 1);
    assert_eq!(entries[0]["title"], "Evening Tide");
    let r = ok(s, "getUser", "username=bob.test").await;
    assert_eq!(r["user"]["username"], "bob.test");
    assert_eq!(r["user"]["streamRole"], true);
    assert_eq!(code(s, "getUser", "").await, 10);
}

#[tokio::test]
async fn streams_and_covers_redirect_and_gated_audio_is_refused() {
    let w = world().await;
    let s = &w.state;
    let (status, headers, _) = get(s, &format!("stream?u=x&p=y&id={}", w.morning)).await;
    assert_eq!(status, StatusCode::FOUND);
    let audio = format!("{PDS}/xrpc/com.atproto.sync.getBlob?did={ALICE}&cid={BLOB}");
    assert_eq!(headers[header::LOCATION], audio.as_str());
    let (status, headers, _) = get(s, &format!("download.view?u=x&p=y&id={}", w.morning)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii")
            .contains("Alice Ant - Morning Light.mp3")
    );
    assert_eq!(code(s, "stream", &format!("id={}", w.secret)).await, 50, "supporter-gated");
    assert_eq!(code(s, "download", &format!("id={}", w.secret)).await, 50);
    assert_eq!(code(s, "stream", "id=424242").await, 70);

    let (status, headers, _) = get(s, &format!("getCoverArt?id=tr-{}", w.morning)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[header::LOCATION], "https://images.example.com/m.jpg");
    let (status, headers, _) = get(s, &format!("getCoverArt?id=al-{}", w.tides)).await;
    assert_eq!(
        (status, &headers[header::LOCATION]),
        (StatusCode::FOUND, &"https://images.example.com/m.jpg".parse().expect("value"))
    );
    let (status, headers, _) = get(s, &format!("getCoverArt?id={}&size=300", w.morning)).await;
    assert_eq!((status, headers.get(header::LOCATION).is_some()), (StatusCode::FOUND, true));
    assert_eq!(
        code(s, "getCoverArt", &format!("id=al-{}", w.low_end)).await,
        70,
        "no track of it has a cover"
    );
    assert_eq!(code(s, "getCoverArt", "id=ar-did:plc:nobody").await, 70);
}

#[tokio::test]
async fn the_protocol_envelope_errors_and_forms() {
    let w = world().await;
    let s = &w.state;
    // XML by default, with the namespace and the OpenSubsonic fields; `.view` is the same method.
    let (status, headers, body) = get(s, "ping.view?u=x&p=y&v=1.16.1&c=t").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/xml; charset=utf-8");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<subsonic-response "), "{body}");
    for attribute in [
        "xmlns=\"http://subsonic.org/restapi\"",
        "status=\"ok\"",
        "version=\"1.16.1\"",
        "type=\"plyr-appview\"",
        "serverVersion=\"",
        "openSubsonic=\"true\"",
    ] {
        assert!(body.contains(attribute), "{attribute}: {body}");
    }
    let (_, _, body) = get(s, &format!("getAlbum?id={}", w.tides)).await;
    assert!(body.contains("<album ") && body.contains(&format!(" id=\"{}\"", w.tides)), "{body}");
    assert!(body.contains("<song ") && body.contains(&format!(" id=\"{}\"", w.evening)), "{body}");
    assert!(body.contains(" isDir=\"false\""), "{body}");
    let (_, _, body) = get(s, &format!("getArtistInfo2?id={ALICE}")).await;
    assert!(body.contains("<biography>sings about the sea</biography>"), "{body}");
    let (_, _, body) = get(s, "getOpenSubsonicExtensions").await;
    assert!(
        body.contains(
            "<openSubsonicExtensions name=\"formPost\"><versions>1</versions></openSubsonicExtensions>"
        ),
        "{body}"
    );
    let (_, _, body) = get(s, "getSong").await;
    assert!(body.contains("status=\"failed\"") && body.contains("<error code=\"10\""), "{body}");

    // An unknown method is a failed envelope, never an HTML 404; writes are refused with 50.
    for path in ["frobnicate?f=json", "a/b/c.view?f=json"] {
        let (status, _, body) = get(s, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["subsonic-response"]["status"], "failed", "{path}");
        assert_eq!(v["subsonic-response"]["error"]["code"], 0, "{path}");
    }
    for write in ["star", "scrobble", "createPlaylist", "deletePlaylist", "setRating"] {
        assert_eq!(code(s, write, "id=1").await, 50, "{write}");
    }

    // A form POST (OpenSubsonic's formPost) carries the parameters in the body.
    let req = Request::post("/rest/getSong.view")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("u=bob.test&p=x&f=json&id={}", w.morning)))
        .expect("request");
    let (status, _, body) = send(s, req).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["subsonic-response"]["song"]["title"], "Morning Light", "{v}");
}

#[tokio::test]
async fn an_operator_password_is_required_in_every_form() {
    let w = world().await;
    let mut options = options();
    options.subsonic_password = Some(Secret::new("sesame"));
    let s = &AppState::new(w.state.db.clone(), options);
    // md5("sesame" + "c19b2d"), computed independently.
    let token = "u=bob.test&t=26719a1196d2a940705a59634eb18eab&s=c19b2d";
    for creds in ["u=bob.test&p=sesame", "u=bob.test&p=enc:736573616d65", token, "apiKey=sesame"] {
        ok(s, "ping", creds).await;
    }
    let r = ok(s, "getPlaylists", token).await;
    assert_eq!(ids(&r["playlists"]["playlist"]), [w.mix.as_str()], "u still names the listener");
    for creds in
        ["u=bob.test&p=open", "u=bob.test&t=26719a1196d2a940705a59634eb18eab&s=c19b2e", "apiKey=sesam"]
    {
        assert_eq!(code(s, "ping", creds).await, 40, "{creds}");
    }
    assert_eq!(code(s, "ping", "u=bob.test").await, 10);
    assert_eq!(code(s, "getSong", &format!("u=bob.test&p=open&id={}", w.morning)).await, 40);
}

#[tokio::test]
async fn hostile_text_keeps_the_xml_well_formed() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.create(ALICE, "fm.plyr.track", track("a<b>&\"c\u{1}\u{7}\u{1b}", "x", &at(2, 0)));
    let db = TestDb::new().await.expect("test db");
    n.apply(&db).await;
    let s = state(&db);
    let id: i64 = sqlx::query_scalar("SELECT id FROM tracks").fetch_one(&db.pool).await.expect("id");
    let (_, _, body) = get(&s, &format!("getSong?id={id}")).await;
    assert!(body.contains("title=\"a&lt;b&gt;&amp;&quot;c\""), "{body}");
    assert!(!body.chars().any(|c| (c as u32) < 0x20 && c != '\n'), "no control character: {body:?}");
    let (_, _, body) = get(&s, &format!("getSong?id={id}&f=json")).await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["subsonic-response"]["song"]["title"], "a<b>&\"c\u{1}\u{7}\u{1b}");
}
