//! The Subsonic API with the music players' own libraries: the Python `py-sonic` client (PyPI)
//! and the npm `subsonic-api` client each run a scripted session (ping, the artist index, an
//! artist and an album, album lists of every type, search, a playlist and the starred tracks of
//! a handle, a stream and a download that redirect to the track's audio, cover art, and the
//! protocol's error codes) against a running AppView serving a generated network, in JSON and
//! (py-sonic's run) XML, once with every credential accepted and once with an operator
//! password. The scripts are `tests/py/subsonic_check.py` and `tests/js/subsonic-check.mjs`;
//! what they must find is computed here from the database with SQL of its own (visible rows:
//! no hidden account's, no list-hidden self-labelled track where a list is searched).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use plyr_appview::config::Secret;
use plyr_appview::{AppState, AppviewOptions};
use plyr_gen::NetworkParams;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Tracks shown by a view: not by a hidden account.
const VISIBLE: &str =
    "SELECT t.uri, t.id, t.did, t.title, t.artist, t.audio_url, t.image_url, t.support_gate, t.self_labels
                         FROM tracks t JOIN actors a ON a.did = t.did WHERE NOT a.hidden";

async fn seeded() -> anyhow::Result<TestDb> {
    let db = TestDb::new().await?;
    plyr_e2e::seed_generated(&db.pool, &NetworkParams::new(11, 3000)).await?;
    Ok(db)
}

async fn text(db: &PgPool, sql: &str, bind: &[&str]) -> anyhow::Result<String> {
    let mut q = sqlx::query_scalar::<_, String>(sql);
    for b in bind {
        q = q.bind(*b);
    }
    q.fetch_one(db).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))
}

async fn texts(db: &PgPool, sql: &str, bind: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut q = sqlx::query_scalar::<_, String>(sql);
    for b in bind {
        q = q.bind(*b);
    }
    q.fetch_all(db).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))
}

/// What the scripts must find, from the database.
async fn expectations(db: &PgPool, password: Option<&str>) -> anyhow::Result<Value> {
    // The listener, who is also the artist the scripts open: an account with an album and a
    // playlist of two or more visible tracks each, and a liked track.
    let (did, playlist_uri, album_uri): (String, String, String) = sqlx::query_as(&format!(
        "WITH vis AS ({VISIBLE}),
              sizes AS (SELECT l.uri, l.did, l.list_type, l.name, l.sort_at,
                               (SELECT count(*) FROM list_items li JOIN vis ON vis.uri = li.subject_uri
                                 WHERE li.list_uri = l.uri) AS n
                          FROM lists l JOIN actors a ON a.did = l.did AND NOT a.hidden AND a.handle_verified)
         SELECT al.did, pl.uri, al.uri FROM sizes al
           JOIN LATERAL (SELECT p.uri FROM sizes p WHERE p.did = al.did AND p.list_type = 'playlist' AND p.n >= 2
                          ORDER BY p.sort_at DESC LIMIT 1) pl ON true
          WHERE al.list_type = 'album' AND al.name IS NOT NULL AND al.n >= 2
            AND EXISTS (SELECT 1 FROM likes k JOIN vis ON vis.uri = k.subject_uri WHERE k.did = al.did)
          ORDER BY al.did, al.uri LIMIT 1"
    ))
    .fetch_one(db)
    .await
    .map_err(|e| anyhow::anyhow!("no account has an album, a playlist and a like in this network: {e}"))?;
    let d = did.as_str();
    let handle = text(db, "SELECT handle FROM actors WHERE did = $1", &[d]).await?;
    let playlist_id = text(db, "SELECT id::TEXT FROM lists WHERE uri = $1", &[&playlist_uri]).await?;
    let playlist_name =
        text(db, "SELECT COALESCE(name, 'untitled') FROM lists WHERE uri = $1", &[&playlist_uri]).await?;
    let items = |list: String| async move {
        texts(
            db,
            &format!(
                "WITH vis AS ({VISIBLE}) SELECT vis.id::TEXT FROM list_items li JOIN vis ON vis.uri = li.subject_uri
                  WHERE li.list_uri = $1 ORDER BY li.position"
            ),
            &[&list],
        )
        .await
    };
    let playlist_song_ids = items(playlist_uri.clone()).await?;
    let starred_song_ids = texts(
        db,
        &format!(
            "WITH vis AS ({VISIBLE})
             SELECT vis.id::TEXT FROM (SELECT DISTINCT ON (subject_uri) subject_uri, sort_at, uri FROM likes
                                        WHERE did = $1 ORDER BY subject_uri, sort_at DESC, uri DESC) k
               JOIN vis ON vis.uri = k.subject_uri ORDER BY k.sort_at DESC, k.uri DESC"
        ),
        &[d],
    )
    .await?;
    let artist_name = text(
        db,
        "SELECT COALESCE(NULLIF(btrim(b.display_name), ''), a.handle) FROM actors a
           LEFT JOIN bsky_profiles b ON b.did = a.did WHERE a.did = $1",
        &[d],
    )
    .await?;
    let album_id = text(db, "SELECT id::TEXT FROM lists WHERE uri = $1", &[&album_uri]).await?;
    let album_name = text(db, "SELECT name FROM lists WHERE uri = $1", &[&album_uri]).await?;
    let album_song_ids = items(album_uri.clone()).await?;
    // Albums shown anywhere: named, with a visible track, by a visible account; newest first.
    let albums = format!(
        "WITH vis AS ({VISIBLE})
         SELECT l.id::TEXT FROM lists l JOIN actors a ON a.did = l.did AND NOT a.hidden
          WHERE l.list_type = 'album' AND l.name IS NOT NULL
            AND EXISTS (SELECT 1 FROM list_items li JOIN vis ON vis.uri = li.subject_uri WHERE li.list_uri = l.uri)
          ORDER BY l.created_at DESC, lower(l.name), l.uri"
    );
    let every_album = texts(db, &albums, &[]).await?;
    let artist_count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM actor_stats s JOIN actors a ON a.did = s.did WHERE s.tracks > 0 AND NOT a.hidden",
    )
    .fetch_one(db)
    .await?;
    // A song to play and find: public, with audio and a cover, no self-label, a title no other
    // track (or artist) has, so search must put it first.
    let (song_id, song_title, audio_url, cover_url): (String, String, String, String) = sqlx::query_as(&format!(
        "WITH vis AS ({VISIBLE})
         SELECT v.id::TEXT, v.title, v.audio_url, v.image_url FROM vis v
          WHERE v.audio_url IS NOT NULL AND v.image_url IS NOT NULL AND v.support_gate IS NULL
            AND cardinality(v.self_labels) = 0
            AND (SELECT count(*) FROM tracks o WHERE lower(o.title) = lower(v.title) OR lower(o.artist) = lower(v.title)) = 1
          ORDER BY v.id LIMIT 1"
    ))
    .fetch_one(db)
    .await?;
    let gated_song_id = text(
        db,
        &format!("WITH vis AS ({VISIBLE}) SELECT id::TEXT FROM vis WHERE support_gate IS NOT NULL LIMIT 1"),
        &[],
    )
    .await?;
    Ok(json!({
        "handle": handle, "did": did, "artist_name": artist_name, "artist_count": artist_count,
        "album_id": album_id, "album_name": album_name, "album_song_ids": album_song_ids,
        "album_count": every_album.len(), "newest_album_id": every_album.first(),
        "song_id": song_id, "song_title": song_title.clone(), "audio_url": audio_url, "cover_url": cover_url,
        "playlist_id": playlist_id, "playlist_name": playlist_name, "playlist_song_ids": playlist_song_ids,
        "starred_song_ids": starred_song_ids, "search_query": song_title, "search_song_id": song_id,
        "gated_song_id": gated_song_id, "password": password,
    }))
}

/// An AppView on a loopback port; its base URL.
async fn serve(db: &PgPool, password: Option<&str>, shutdown: &CancellationToken) -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut options = AppviewOptions::defaults(format!("127.0.0.1:{port}").parse()?);
    options.public_url = Some(format!("http://127.0.0.1:{port}"));
    options.rate_limit_per_sec = 0; // the scripts call in bursts from one address
    options.subsonic_password = password.map(Secret::new);
    tokio::spawn(plyr_appview::serve(AppState::new(db.clone(), options), shutdown.clone()));
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/xrpc/_health")).await.is_ok() {
            return Ok(base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the AppView did not start")
}

/// Runs a check script; its output on failure.
async fn check(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "{what} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    println!("{what}: {}", stdout.lines().last().unwrap_or_default());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_sonic_and_subsonic_api_browse_search_and_stream_the_network() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let (venv, ()) = tokio::try_join!(
        async { tokio::task::spawn_blocking(move || plyr_e2e::python::venv(&root)).await? },
        async { tokio::task::spawn_blocking(plyr_e2e::ensure_npm_packages).await? },
    )?;
    let db = seeded().await?;
    let shutdown = CancellationToken::new();
    let work = std::env::temp_dir().join(format!("plyr-subsonic-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    for password in [None, Some("sesame")] {
        let base = serve(&db.pool, password, &shutdown).await?;
        let expect = expectations(&db.pool, password).await?;
        let file = work.join(format!("expect-{}.json", password.is_some()));
        std::fs::write(&file, serde_json::to_vec_pretty(&expect)?)?;
        let mut py = Command::new(venv.join("bin").join("python"));
        py.arg(plyr_e2e::python::py_dir().join("subsonic_check.py"))
            .arg("--base")
            .arg(&base)
            .arg("--expect")
            .arg(&file);
        let mut js = Command::new("node");
        js.current_dir(plyr_e2e::js_dir())
            .arg("subsonic-check.mjs")
            .arg("--base")
            .arg(&base)
            .arg("--expect")
            .arg(&file);
        let label = if password.is_some() { "with a password" } else { "open" };
        check(py, &format!("py-sonic ({label})")).await?;
        check(js, &format!("subsonic-api ({label})")).await?;
    }
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
