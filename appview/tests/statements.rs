//! What each read costs the database once the row caches are warm: the statements a request
//! runs, counted from sqlx's per-statement events, stay at or under a budget per endpoint, so
//! hydration cannot creep back to one query per item or per kind of fact.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plyr_appview::AppState;
use plyr_store::testkit::TestDb;
use support::*;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// Counts sqlx's statement events.
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The statements one request to `uri` runs, after one unmeasured request warmed the caches.
async fn statements(state: &AppState, uri: &str) -> usize {
    let (status, _) = call(state, uri, &[]).await;
    assert!(status.is_success(), "{uri}: {status}");
    let counter = Statements::default();
    let subscriber =
        Registry::default().with(counter.clone().with_filter(tracing_subscriber::filter::LevelFilter::TRACE));
    let dispatch = tracing::Dispatch::new(subscriber);
    let _guard = tracing::dispatcher::set_default(&dispatch);
    let (status, _) = call(state, uri, &[]).await;
    assert!(status.is_success(), "{uri}: {status}");
    counter.0.load(Ordering::Relaxed)
}

#[tokio::test]
async fn warm_reads_cost_a_bounded_number_of_statements() {
    let mut n = Net::default();
    let artists = [ALICE, BOB, CAROL];
    for (i, did) in artists.iter().enumerate() {
        n.actor(did, &format!("artist{i}.test"));
    }
    let mut tracks = Vec::new();
    for i in 0..60u32 {
        let did = artists[i as usize % artists.len()];
        tracks.push(n.create(
            did,
            "fm.plyr.track",
            track(&format!("Song {i}"), "Artist", &at(2 + i % 20, i % 24)),
        ));
    }
    for (i, t) in tracks.iter().enumerate().take(30) {
        n.create(artists[(i + 1) % artists.len()], "fm.plyr.like", like(t, &at(25, (i % 24) as u32)));
    }
    n.create(ALICE, "fm.plyr.list", list("playlist", "Song mix", &[&tracks[0], &tracks[1]], &at(26, 0)));
    n.create(BOB, "fm.plyr.list", list("album", "Song book", &[&tracks[1]], &at(26, 1)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let mut options = options();
    // The response cache would answer the second request without any statement at all.
    options.response_cache_secs = 0;
    let state = AppState::new(db.pool.clone(), options);
    // Searches are answered from the index once it is built (until then they run SQL).
    state.caches.search.rebuild(&db.pool).await.expect("search index");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let some: Vec<String> = tracks.iter().take(25).map(|t| format!("uris={}", enc(t))).collect();
    let id: i64 = sqlx::query_scalar("SELECT id FROM tracks WHERE uri = $1")
        .bind(&tracks[0])
        .fetch_one(&db.pool)
        .await
        .expect("track id");

    // (request, most statements once the caches are warm)
    let budget: Vec<(String, usize)> = vec![
        ("/xrpc/fm.plyr.feed.getLatestTracks?limit=50".into(), 0),
        (format!("/xrpc/fm.plyr.feed.getActorTracks?actor={}&limit=50", enc(ALICE)), 1),
        (format!("/xrpc/fm.plyr.feed.getTracks?{}", some.join("&")), 0),
        (format!("/xrpc/fm.plyr.actor.getProfile?actor={}", enc(ALICE)), 0),
        ("/xrpc/fm.plyr.feed.getTopTracks?period=all&limit=50".into(), 0),
        (format!("/tracks/{id}"), 2),
        ("/tracks/?limit=50".into(), 2),
        ("/tracks/top?limit=50".into(), 1),
        ("/xrpc/fm.plyr.unspecced.search?q=song&limit=25".into(), 0),
        ("/search/?q=song&limit=25".into(), 0),
    ];
    let mut over = Vec::new();
    for (uri, most) in &budget {
        let n = statements(&state, uri).await;
        eprintln!("{n} statements: {uri}");
        if n > *most {
            over.push(format!("{uri}: {n} statements, budget {most}"));
        }
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
    // The searches above hydrated lists (from the list cache once warm).
    let (_, found) = call(&state, "/xrpc/fm.plyr.unspecced.search?q=song&limit=25", &[]).await;
    assert_eq!(found["playlists"][0]["name"], "Song mix", "{found}");
    assert_eq!(found["albums"][0]["name"], "Song book", "{found}");
}
