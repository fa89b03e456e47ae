//! The in-process search index: its measures are PostgreSQL's to the bit, its ranking puts what
//! plyr.fm's rules put first on a generated network (a pinned set of queries: exact titles,
//! prefixes, substrings, typos, artists, handles), the latest feed it holds pages exactly as the
//! SQL does, and once an AppView runs, a new or changed track is searchable and in the latest
//! feed within a second and a hidden account's tracks are not.

mod support;

use std::time::{Duration, Instant};

use plyr_appview::db::search::Query as SqlQuery;
use plyr_appview::search::trigram;
use plyr_gen::NetworkParams;
use plyr_store::testkit::TestDb;
use support::*;
use tokio_util::sync::CancellationToken;

/// A generated network (`seed`, `events` events), applied through the indexer.
async fn generated(seed: u64, events: usize) -> TestDb {
    let db = TestDb::new().await.expect("db");
    let path = std::env::temp_dir().join(format!("plyr-search-index-{}-{seed}.jsonl", std::process::id()));
    let mut file = std::fs::File::create(&path).expect("temp file");
    plyr_gen::write_jetstream(&NetworkParams::new(seed, events), &mut file).expect("generate");
    let lines: Vec<String> =
        std::fs::read_to_string(&path).expect("read").lines().map(str::to_owned).collect();
    let _ = std::fs::remove_file(&path);
    apply_lines(&db, &lines).await;
    db
}

/// A generated network with an AppView state whose index is built.
async fn network() -> (TestDb, plyr_appview::AppState) {
    let db = generated(23, 3000).await;
    let state = state(&db);
    state.caches.search.rebuild(&db.pool).await.expect("build the index");
    assert!(state.caches.search.ready());
    (db, state)
}

#[tokio::test]
async fn trigram_measures_agree_with_postgresql() {
    let (db, _state) = network().await;
    let titles: Vec<String> = sqlx::query_scalar("SELECT lower(title) FROM tracks ORDER BY uri LIMIT 300")
        .fetch_all(&db.pool)
        .await
        .expect("titles");
    let mut queries: Vec<String> =
        vec!["light".into(), "a".into(), "the night".into(), "zq".into(), "rivr".into()];
    for t in titles.iter().step_by(7) {
        let word = t.split_whitespace().next().unwrap_or("x").to_owned();
        queries.push(word.chars().take(4).collect());
        queries.push(word.chars().skip(1).collect());
        queries.push(word);
    }
    let mut checked = 0;
    for q in &queries {
        let set = trigram::trigram_set(q);
        let rows: Vec<(String, f32, f32)> =
            sqlx::query_as("SELECT t, similarity(t, $1), word_similarity($1, t) FROM UNNEST($2::text[]) t")
                .bind(q)
                .bind(&titles)
                .fetch_all(&db.pool)
                .await
                .expect("pg_trgm");
        for (t, sim, ws) in rows {
            assert_eq!(
                trigram::similarity_of_sets(&trigram::trigram_set(&t), &set),
                sim,
                "similarity({t:?}, {q:?})"
            );
            assert_eq!(trigram::word_similarity(&set, &t), ws, "word_similarity({q:?}, {t:?})");
            assert_eq!(trigram::similarities(&set, &t), (ws, sim), "both at once ({q:?}, {t:?})");
            checked += 1;
        }
    }
    assert!(checked > 2_000, "{checked} pairs");
}

/// The first result's key for `q` among tracks, from the index.
async fn first_track(state: &plyr_appview::AppState, q: &str) -> Vec<(String, String, f64)> {
    let hits = plyr_appview::search::tracks(&state.db, &state.caches.search, &SqlQuery::new(q), 5, 0)
        .await
        .expect("search");
    let mut out = Vec::new();
    for h in hits {
        let (title, artist): (String, String) =
            sqlx::query_as("SELECT title, artist FROM tracks WHERE uri = $1")
                .bind(&h.key)
                .fetch_one(&state.db)
                .await
                .expect("row");
        out.push((title, artist, h.relevance));
    }
    out
}

#[tokio::test]
async fn relevance_puts_first_what_plyr_fm_puts_first() {
    let (db, state) = network().await;
    // Titles of visible tracks that no other track shares.
    let titles: Vec<String> = sqlx::query_scalar(
        "SELECT t.title FROM tracks t JOIN actors a ON a.did = t.did AND NOT a.hidden
          GROUP BY t.title HAVING count(*) = 1 AND length(t.title) >= 8 ORDER BY t.title LIMIT 40",
    )
    .fetch_all(&db.pool)
    .await
    .expect("titles");
    assert!(titles.len() >= 20, "the network has distinct titles: {titles:?}");
    let mut failures = Vec::new();
    for title in &titles {
        let lower = title.to_lowercase();
        // The exact title: that track first, scored 5.
        let got = first_track(&state, title).await;
        if got.first().map(|g| (g.0.as_str(), g.2)) != Some((title.as_str(), 5.0)) {
            failures.push(format!("exact {title:?}: {got:?}"));
        }
        let prefix: String = lower.chars().take(5).collect();
        let got = first_track(&state, &prefix).await;
        // A prefix of at least four characters: a track whose title or artist starts with it first.
        let starts = |g: &(String, String, f64)| {
            (g.0.to_lowercase().starts_with(&prefix) || g.1.to_lowercase().starts_with(&prefix)) && g.2 >= 3.0
        };
        if !got.first().is_some_and(starts) {
            failures.push(format!("prefix {prefix:?} of {title:?}: {got:?}"));
        }
        // One letter dropped from the title (a typo): the track is still among the first five.
        let typo: String = lower.chars().enumerate().filter(|(i, _)| *i != 3).map(|(_, c)| c).collect();
        let got = first_track(&state, &typo).await;
        if !got.iter().any(|g| &g.0 == title) {
            failures.push(format!("typo {typo:?} of {title:?}: {got:?}"));
        }
    }
    // An artist's name finds their tracks.
    let (artist, count): (String, i64) = sqlx::query_as(
        "SELECT t.artist, count(*) FROM tracks t JOIN actors a ON a.did = t.did AND NOT a.hidden
          GROUP BY t.artist ORDER BY count(*) DESC, t.artist LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("artist");
    let got = first_track(&state, &artist).await;
    if count >= 5 && !got.iter().all(|g| g.1 == artist && g.2 == 5.0) {
        failures.push(format!("artist {artist:?}: {got:?}"));
    }
    // A handle finds its actor first (as the identity worker would set one).
    let handle = "pinned-listener.example.com";
    sqlx::query(
        "UPDATE actors SET handle = $1 WHERE did = (SELECT did FROM actors WHERE NOT hidden ORDER BY did LIMIT 1)",
    )
    .bind(handle)
    .execute(&db.pool)
    .await
    .expect("set a handle");
    state.caches.search.rebuild(&db.pool).await.expect("rebuild");
    let hits = plyr_appview::search::actors(&state.db, &state.caches.search, &SqlQuery::new(handle), 3, 0)
        .await
        .expect("actors");
    let did: String = sqlx::query_scalar("SELECT did FROM actors WHERE handle = $1")
        .bind(handle)
        .fetch_one(&db.pool)
        .await
        .expect("did");
    if hits.first().map(|h| h.key.as_str()) != Some(did.as_str()) {
        failures.push(format!("handle {handle:?}: {hits:?}"));
    }
    assert!(failures.is_empty(), "{} of the pinned queries failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_latest_feed_from_the_index_pages_exactly_as_the_sql_does() {
    let db = generated(29, 2000).await;
    // Groups of tracks sharing one time (ties break on the URI) and hidden accounts.
    sqlx::query("UPDATE tracks SET sort_at = '2026-01-01T00:00:00Z' WHERE uri IN (SELECT uri FROM tracks ORDER BY md5(uri) LIMIT 40)")
        .execute(&db.pool)
        .await
        .expect("ties");
    let hidden = sqlx::query(
        "UPDATE actors SET hidden = true WHERE did IN (SELECT did FROM tracks ORDER BY md5(did) LIMIT 5)",
    )
    .execute(&db.pool)
    .await
    .expect("hide")
    .rows_affected();
    assert!(hidden > 0);
    let state = state(&db);
    state.caches.search.rebuild(&db.pool).await.expect("build the index");
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tracks").fetch_one(&db.pool).await.expect("count");
    for per in [1, 7, 50] {
        let (mut key, mut seen) = (plyr_appview::cursor::TimeKey::newest(), 0);
        loop {
            let from_sql = plyr_appview::db::feeds::latest(&db.pool, &key, per).await.expect("sql");
            let from_index =
                plyr_appview::search::latest(&db.pool, &state.caches.search, &key, per).await.expect("index");
            assert_eq!(from_index, from_sql, "page of {per} after {key:?}");
            let Some(last) = from_sql.last() else { break };
            key = plyr_appview::cursor::TimeKey { at: last.at, uri: last.uri.to_string() };
            seen += from_sql.len() as i64;
        }
        assert!(seen > 0 && seen < total, "pages of {per}: {seen} of {total} tracks, hidden ones left out");
    }
}

#[tokio::test]
async fn a_running_appview_searches_new_and_changed_tracks_within_a_second_or_two() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.create(ALICE, "fm.plyr.track", track("Harbour Lights", "Alice", &at(2, 0)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let state = state(&db);
    let shutdown = CancellationToken::new();
    let tasks = [
        tokio::spawn(plyr_appview::cache::listen(db.pool.clone(), state.caches.clone(), shutdown.clone())),
        tokio::spawn(plyr_appview::cache::update_search(
            db.pool.clone(),
            state.caches.clone(),
            shutdown.clone(),
        )),
    ];
    let started = Instant::now();
    while !state.caches.search.ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "the index was not built within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let titles = |q: &'static str| {
        let state = state.clone();
        async move {
            let body = ok(
                &state,
                "fm.plyr.feed.searchTracks",
                &format!("q={}", url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()),
            )
            .await;
            body["tracks"]
                .as_array()
                .expect("tracks")
                .iter()
                .map(|t| t["title"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(titles("harbour").await, vec!["Harbour Lights".to_owned()]);
    assert!(titles("nights").await.iter().all(|t| t != "Harbour Nights"));

    // A new track by Bob, through the indexer's write path.
    // (One `Net` throughout: its revs keep growing; replaying its earlier lines changes nothing.)
    let uri = n.create(BOB, "fm.plyr.track", track("Harbour Nights", "Bob", &at(3, 0)));
    n.apply(&db).await;
    // Within a second, `q` finds `first` first and never `absent`.
    let within = |what: &'static str, q: &'static str, first: &'static str, absent: &'static str| {
        let titles = &titles;
        async move {
            let started = Instant::now();
            loop {
                let got = titles(q).await;
                if got.first().map(String::as_str) == Some(first) && !got.iter().any(|t| t == absent) {
                    eprintln!("{what}: searchable after {} ms", started.elapsed().as_millis());
                    return;
                }
                // Within a second on a quiet machine (the figures print above); the bound leaves
                // room for a test machine running every suite at once.
                assert!(started.elapsed() < Duration::from_secs(2), "{what}: {got:?} after 2 s");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    within("a new track", "harbour nights", "Harbour Nights", "").await;
    // The latest feed, read from the same index, has it first; and loses it with the account.
    let latest_first = |state: plyr_appview::AppState| async move {
        let body = ok(&state, "fm.plyr.feed.getLatestTracks", "limit=5").await;
        body["tracks"][0]["uri"].as_str().unwrap_or("").to_owned()
    };
    let started = Instant::now();
    while latest_first(state.clone()).await != uri {
        assert!(started.elapsed() < Duration::from_secs(2), "the new track is not the latest after 2 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Renamed.
    let rkey = uri.rsplit('/').next().expect("rkey").to_owned();
    n.put(BOB, "fm.plyr.track", &rkey, track("Harbour Days", "Bob", &at(3, 0)));
    n.apply(&db).await;
    within("a renamed track", "harbour days", "Harbour Days", "Harbour Nights").await;
    // Bob's account is taken down: his tracks leave the results.
    n.account(BOB, false, Some("takendown"));
    n.apply(&db).await;
    within("a hidden account", "harbour", "Harbour Lights", "Harbour Days").await;
    let started = Instant::now();
    while latest_first(state.clone()).await == uri {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a hidden account's track is still the latest after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    shutdown.cancel();
    for t in tasks {
        let _ = t.await;
    }
}
