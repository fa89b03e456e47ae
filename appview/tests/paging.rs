//! The pagination invariant on a generated network (thousands of events with updates, deletes,
//! deactivations): for every paginated query and several page sizes, paging through the whole
//! feed returns every item exactly once, in the same order whatever the page size. Also: a new
//! like, an album or a label reaches cached views within a second through the indexer's
//! notification.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use plyr_gen::NetworkParams;
use plyr_store::testkit::TestDb;
use serde_json::Value;
use support::*;

async fn generated() -> (TestDb, plyr_appview::AppState) {
    let db = TestDb::new().await.expect("db");
    let lines: Vec<String> = plyr_gen::jetstream_lines(&NetworkParams::new(7, 4000))
        .expect("generator")
        .collect::<Result<_, _>>()
        .expect("lines");
    apply_lines(&db, &lines).await;
    let state = state(&db);
    (db, state)
}

/// Pages through `nsid` with `limit`; the item keys in order. Every page is lexicon-valid.
async fn walk(
    state: &plyr_appview::AppState,
    nsid: &str,
    query: &str,
    key: &str,
    id: &dyn Fn(&Value) -> String,
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut q = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!(
                "&cursor={}",
                url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ));
        }
        let body = ok(state, nsid, &q).await;
        let items = body[key].as_array().unwrap_or_else(|| panic!("{nsid}: {key} in {body}"));
        assert!(items.len() <= limit, "{nsid}: page larger than its limit");
        out.extend(items.iter().map(id));
        match body.get("cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("{nsid} never ended");
}

/// How a page's items are identified.
type ItemKey = dyn Fn(&Value) -> String;

async fn scalar(db: &TestDb, sql: &str) -> String {
    sqlx::query_scalar::<_, String>(sql).fetch_one(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn every_paginated_query_returns_each_item_once_whatever_the_page_size() {
    let (db, state) = generated().await;
    let artist = scalar(&db, "SELECT did FROM tracks t JOIN actors a USING (did) WHERE NOT a.hidden GROUP BY did ORDER BY count(*) DESC, did LIMIT 1").await;
    let liker = scalar(&db, "SELECT did FROM likes l JOIN actors a USING (did) WHERE NOT a.hidden GROUP BY did ORDER BY count(*) DESC, did LIMIT 1").await;
    let liked =
        scalar(&db, "SELECT subject_uri FROM subject_stats ORDER BY likes DESC, subject_uri LIMIT 1").await;
    let commented =
        scalar(&db, "SELECT subject_uri FROM subject_stats ORDER BY comments DESC, subject_uri LIMIT 1")
            .await;
    let lister = scalar(&db, "SELECT did FROM lists l JOIN actors a USING (did) WHERE NOT a.hidden GROUP BY did ORDER BY count(*) DESC, did LIMIT 1").await;
    let list = scalar(&db, "SELECT l.uri FROM lists l JOIN actors a USING (did) WHERE NOT a.hidden ORDER BY item_count DESC, uri LIMIT 1").await;
    let word = scalar(
        &db,
        "SELECT split_part(lower(title), ' ', 1) FROM tracks GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    )
    .await;

    let by_uri = |v: &Value| v["uri"].as_str().unwrap_or_default().to_owned();
    let by_did = |v: &Value| v["did"].as_str().unwrap_or_default().to_owned();
    let by_position = |v: &Value| v["position"].to_string();
    let cases: Vec<(&str, String, &str, &ItemKey)> = vec![
        ("fm.plyr.feed.getLatestTracks", String::new(), "tracks", &by_uri),
        ("fm.plyr.feed.getActorTracks", format!("actor={artist}"), "tracks", &by_uri),
        ("fm.plyr.feed.getTopTracks", "period=all".into(), "tracks", &by_uri),
        ("fm.plyr.feed.getActorLikes", format!("actor={liker}"), "tracks", &by_uri),
        ("fm.plyr.feed.getLikes", format!("uri={liked}"), "likes", &by_uri),
        ("fm.plyr.feed.getComments", format!("uri={commented}"), "comments", &by_uri),
        ("fm.plyr.feed.searchTracks", format!("q={word}"), "tracks", &by_uri),
        ("fm.plyr.actor.searchActors", "q=a".into(), "actors", &by_did),
        ("fm.plyr.graph.getActorLists", format!("actor={lister}"), "lists", &by_uri),
        ("fm.plyr.graph.getList", format!("list={list}"), "items", &by_position),
    ];
    for (nsid, query, key, id) in cases {
        let reference = walk(&state, nsid, &query, key, id, 100).await;
        assert!(reference.len() >= 2, "{nsid}?{query}: the generated network gives it at least 2 items");
        let unique: HashSet<&String> = reference.iter().collect();
        assert_eq!(unique.len(), reference.len(), "{nsid}?{query}: an item repeated");
        for limit in [1, 3, 17] {
            let paged = walk(&state, nsid, &query, key, id, limit).await;
            assert_eq!(paged, reference, "{nsid}?{query} with limit {limit}");
        }
    }

    // The latest feed is exactly the visible tracks: not by a hidden account, not self-labelled
    // with a value a list context hides (the generated network self-labels some tracks).
    let hiding = state.policy.hiding(plyr_appview::moderation::Context::List).to_vec();
    let visible: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tracks t WHERE NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
            AND NOT t.self_labels && $1",
    )
    .bind(&hiding)
    .fetch_one(&db.pool)
    .await
    .expect("count");
    let all = walk(&state, "fm.plyr.feed.getLatestTracks", "", "tracks", &by_uri, 100).await;
    assert_eq!(all.len() as i64, visible);
}

#[tokio::test]
async fn a_new_like_shows_in_cached_views_within_a_second() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    let t = n.create(ALICE, "fm.plyr.track", track("Cached", "Alice", &at(2, 0)));
    n.create(BOB, "fm.plyr.track", track("Bob's own", "Bob", &at(2, 1)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let state = state(&db);
    let listening = Listening::start(&db, &state).await;
    let q = format!("uris={t}");
    let body = ok(&state, "fm.plyr.feed.getTracks", &q).await;
    assert_eq!(body["tracks"][0]["likeCount"], 0);
    let body = ok(&state, "fm.plyr.actor.getProfile", &format!("actor={BOB}")).await;
    assert_eq!(body["likeCount"], 0);

    // Bob likes it, through the indexer's write path (which announces the change).
    let mut more = Net::default();
    more.create(BOB, "fm.plyr.like", like(&t, &at(3, 0)));
    more.apply(&db).await;
    let started = Instant::now();
    loop {
        let body = ok(&state, "fm.plyr.feed.getTracks", &q).await;
        let profile = ok(&state, "fm.plyr.actor.getProfile", &format!("actor={BOB}")).await;
        if body["tracks"][0]["likeCount"] == 1 && profile["likeCount"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "the like did not show within a second: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listening.stop().await;
}

#[tokio::test]
async fn a_renamed_list_shows_in_cached_views_within_a_second() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    let t = n.create(ALICE, "fm.plyr.track", track("Listed", "Alice", &at(2, 0)));
    n.put(ALICE, "fm.plyr.list", "mix", list("playlist", "Before", &[&t], &at(2, 1)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let state = state(&db);
    let listening = Listening::start(&db, &state).await;
    let names = || async {
        let body = ok(&state, "fm.plyr.graph.getActorLists", &format!("actor={ALICE}")).await;
        let lists = body["lists"].as_array().cloned().unwrap_or_default();
        lists.iter().map(|l| (l["name"].clone(), l["itemCount"].clone())).collect::<Vec<_>>()
    };
    let before = vec![(Value::from("Before"), Value::from(1))];
    assert_eq!(names().await, before);
    // Served from the list cache now: a change in the table that nobody announces is not seen...
    sqlx::query("UPDATE lists SET name = 'Unannounced'").execute(&db.pool).await.expect("update");
    assert_eq!(names().await, before, "the list row is cached");

    // ...and a new version written through the indexer's write path (which announces it) is
    // (the same network: its revisions are newer than the first version's).
    let t2 = n.create(ALICE, "fm.plyr.track", track("Also listed", "Alice", &at(3, 0)));
    n.put(ALICE, "fm.plyr.list", "mix", list("playlist", "After", &[&t, &t2], &at(3, 1)));
    n.apply(&db).await;
    let started = Instant::now();
    let after = vec![(Value::from("After"), Value::from(2))];
    while names().await != after {
        assert!(started.elapsed() < Duration::from_secs(1), "the rename did not show within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listening.stop().await;
}

async fn top(state: &plyr_appview::AppState) -> Vec<String> {
    uris(&ok(state, "fm.plyr.feed.getTopTracks", "period=all").await, "tracks")
}

#[tokio::test]
async fn top_tracks_are_the_rankers_and_follow_its_announcements_within_seconds() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.actor(CAROL, "carol.test");
    let t1 = n.create(ALICE, "fm.plyr.track", track("First", "Alice", &at(2, 0)));
    let t2 = n.create(BOB, "fm.plyr.track", track("Second", "Bob", &at(2, 1)));
    n.create(BOB, "fm.plyr.like", like(&t1, &at(3, 0)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let state = state(&db);
    let listening = Listening::start(&db, &state).await;
    assert_eq!(top(&state).await, vec![t1.clone()]);

    // Two more likers for the second track; the indexer's ranker refreshes and announces it.
    let mut more = Net::default();
    more.create(CAROL, "fm.plyr.like", like(&t2, &at(4, 0)));
    more.create(ALICE, "fm.plyr.like", like(&t2, &at(4, 1)));
    more.apply(&db).await;
    let started = Instant::now();
    while top(&state).await != vec![t2.clone(), t1.clone()] {
        // The ranker's contract is "a few seconds old"; here it refreshed before announcing.
        assert!(started.elapsed() < Duration::from_secs(3), "the new ranking did not show within 3 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listening.stop().await;

    // An AppView serves what the ranker stored and never ranks on its own: with no stored
    // rankings, a fresh one has none to show, whatever the likes say.
    sqlx::query("DELETE FROM ranking_periods").execute(&db.pool).await.expect("forget the rankings");
    assert_eq!(top(&support::state(&db)).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_handle_change_from_the_identity_worker_shows_in_cached_views_within_a_second() {
    use axum::extract::Path;
    use plyr_atproto::identity::{IdentityConfig, IdentityResolver, StaticHandles};

    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.create(ALICE, "fm.plyr.track", track("Renamed", "Alice", &at(2, 0)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let state = state(&db);
    let listening = Listening::start(&db, &state).await;
    let profile = || async { ok(&state, "fm.plyr.actor.getProfile", &format!("actor={ALICE}")).await };
    // A track view embeds its author; built views are kept per version of the rows they show.
    let author = || async {
        ok(&state, "fm.plyr.feed.getLatestTracks", "").await["tracks"][0]["author"]["handle"].clone()
    };
    assert_eq!(profile().await["handle"], "alice.test", "cached with the old handle");
    assert_eq!(author().await, "alice.test", "the track view is built and kept");

    // A PLC directory on loopback whose document now names alice-renamed.test, which resolves
    // back to her DID.
    let plc = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let plc_url = format!("http://{}", plc.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/{did}",
        axum::routing::get(|Path(did): Path<String>| async move {
            axum::Json(serde_json::json!({
                "id": did,
                "alsoKnownAs": ["at://alice-renamed.test"],
                "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                              "serviceEndpoint": "https://pds.example.com" }],
            }))
        }),
    );
    tokio::spawn(async move { axum::serve(plc, app).await });
    let resolver = IdentityResolver::with_handle_resolver(
        IdentityConfig { plc_url, ..Default::default() },
        std::sync::Arc::new(StaticHandles::new([("alice-renamed.test", ALICE)])),
    )
    .expect("resolver");
    let done = plyr_indexer::identity::round(&db.pool, &resolver, &Default::default()).await.expect("round");
    assert_eq!(done, 1, "alice's identity was resolved");

    let started = Instant::now();
    loop {
        let body = profile().await;
        if body["handle"] == "alice-renamed.test" && author().await == "alice-renamed.test" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the new handle did not show within a second: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listening.stop().await;
}

#[tokio::test]
async fn a_rest_track_kept_as_json_follows_its_album_and_labels_within_a_second() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    let t = n.create(ALICE, "fm.plyr.track", track("Kept", "Alice", &at(2, 0)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let mut o = options();
    o.response_cache_secs = 0;
    let state = plyr_appview::AppState::new(db.pool.clone(), o);
    let listening = Listening::start(&db, &state).await;
    let one = || async {
        let (status, body) = call(&state, &format!("/tracks/by-uri?uri={t}"), &[]).await;
        assert_eq!(status, 200, "{body}");
        body
    };
    let listed = || async { call(&state, "/tracks/", &[]).await.1["tracks"][0].clone() };
    let first = one().await;
    assert_eq!((first["album"].clone(), first["labels"].clone()), (Value::Null, serde_json::json!([])));
    assert_eq!(first["atproto_record_url"], Value::Null, "not on one track's answer");
    assert_eq!(listed().await["album"], Value::Null);
    let kept = state.caches.track_views.entry_count();
    assert_eq!(one().await, first, "answered again from the kept view");
    assert_eq!(state.caches.track_views.entry_count(), kept, "nothing new was built");

    // An album that lists the track: only the track's author is announced, not the track.
    let mut more = Net::default();
    more.create(ALICE, "fm.plyr.list", list("album", "Debut", &[&t], &at(3, 0)));
    more.apply(&db).await;
    let started = Instant::now();
    while one().await["album"]["title"] != "Debut" || listed().await["album"]["title"] != "Debut" {
        assert!(started.elapsed() < Duration::from_secs(1), "the album did not show within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A labeler's label (the track's row is unchanged): shown, and `r2_url` stays plyr.fm's own.
    sqlx::query("INSERT INTO labels (src, uri, val, cts) VALUES ($1, $2, 'spoiler', now())")
        .bind(LABELER)
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("label");
    let mut touched = plyr_store::changes::Touched::default();
    touched.labels();
    plyr_store::changes::announce(&db.pool, &touched).await.expect("announce");
    let started = Instant::now();
    while one().await["labels"] != serde_json::json!(["spoiler"]) {
        assert!(started.elapsed() < Duration::from_secs(1), "the label did not show within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shown = one().await;
    assert_eq!(shown["album"]["title"], "Debut", "{shown}");
    assert_eq!(listed().await["labels"], serde_json::json!(["spoiler"]));
    listening.stop().await;
}
