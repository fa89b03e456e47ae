//! A newcomer's first look, in a real browser: the bundled sample replayed as `plyr --replay`
//! replays it (trusting the handles the file announces), an AppView serving it on a socket, and
//! Debian's Chromium, headless, opening `/`. The page shows the service's DID, links to its
//! health, metrics, DID document and lexicons, and the latest tracks (the ones `/tracks/` lists)
//! with their artists' real handles and a player each, without any script; a screenshot of it
//! is a PNG. API clients still get plyr.fm's JSON at `/`, and the lexicons are served.
//!
//! Chromium is installed with apt on first use (`sudo` when not root), so this test is in
//! `deploy/test-fast.sh`'s `needs_packages`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use plyr_appview::{AppState, AppviewOptions};
use plyr_indexer::IndexerOptions;
use plyr_store::testkit::TestDb;
use reqwest::header::{ACCEPT, CONTENT_TYPE, VARY};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CHROMIUM: &str = "/usr/bin/chromium";
/// What Chromium sends for a page.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The indexer's command line, as `plyr --replay` sets it.
#[derive(Parser)]
struct Indexer {
    #[command(flatten)]
    options: IndexerOptions,
}

/// Installs Debian's `chromium` unless it is there.
fn ensure_chromium() -> anyhow::Result<()> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    plyr_e2e::debian::install("chromium")?;
    anyhow::ensure!(Path::new(CHROMIUM).exists(), "apt-get installed chromium, but {CHROMIUM} is missing");
    Ok(())
}

/// Runs headless Chromium on `url` with `args`, in a profile of its own; returns its stdout.
async fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let mut cmd = tokio::process::Command::new(CHROMIUM);
    cmd.args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--no-first-run", "--disable-extensions", "--disable-background-networking"])
        .args(args)
        .arg(url)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium finishes within two minutes")
        .expect("chromium runs");
    assert!(out.status.success(), "chromium {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 DOM")
}

/// Text as Chromium serializes it into a DOM dump.
fn as_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\u{a0}', "&nbsp;")
}

/// The handle each DID's newest `#identity` event in `lines` announced.
fn announced_handles(sample: &str) -> HashMap<String, String> {
    let mut handles = HashMap::new();
    for line in sample.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        if v["kind"] == "identity"
            && let (Some(did), Some(handle)) = (v["did"].as_str(), v["identity"]["handle"].as_str())
        {
            handles.insert(did.to_owned(), handle.to_ascii_lowercase());
        }
    }
    handles
}

#[tokio::test]
async fn a_newcomer_opens_the_home_page_in_chromium() {
    tokio::task::spawn_blocking(ensure_chromium).await.expect("install task").expect("chromium installed");

    let db = TestDb::new().await.expect("db");
    let sample: PathBuf = plyr_e2e::repo_root().join("deploy").join("sample").join("jetstream.jsonl");
    let indexer = Indexer::try_parse_from(["indexer", "--trust-stream-handles"]).expect("options").options;
    plyr_indexer::cli::replay_file(db.pool.clone(), &indexer, &sample, true, CancellationToken::new())
        .await
        .expect("replay the sample");
    let announced = announced_handles(&std::fs::read_to_string(&sample).expect("sample"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut options = AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
    options.public_url = Some(base.clone());
    let did = options.service_did();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(plyr_appview::serve_on(
        listener,
        AppState::new(db.pool.clone(), options),
        shutdown.clone(),
    ));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let get = |path: &str, accept: Option<&str>| {
        let mut req = http.get(format!("{base}{path}"));
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        req.send()
    };

    // The tracks the page must show: `/tracks/`'s first page, by the same code path.
    let feed: Value = get("/tracks/?limit=20", None).await.expect("feed").json().await.expect("JSON");
    let tracks = feed["tracks"].as_array().expect("tracks");
    assert!(tracks.len() >= 10, "the sample shows a full page of tracks: {}", tracks.len());
    for t in tracks {
        let did = t["artist_did"].as_str().expect("artist_did");
        assert_eq!(t["artist_handle"].as_str(), announced.get(did).map(String::as_str), "{did}: {t}");
    }

    // A browser's Accept gets the page, with its headers; the JSON before and after is plyr.fm's
    // (the response cache never hands one to the other).
    let meta = json!({ "service": "plyr.fm api", "docs": "https://docs.plyr.fm" });
    for accept in [Some("application/json"), None, Some(BROWSER_ACCEPT), Some("*/*"), Some(BROWSER_ACCEPT)] {
        let res = get("/", accept).await.expect("GET /");
        assert_eq!(res.status(), 200, "{accept:?}");
        assert!(res.headers().get_all(VARY).iter().any(|v| v == "accept"), "{accept:?}");
        let html = accept == Some(BROWSER_ACCEPT);
        let kind = res.headers()[CONTENT_TYPE].to_str().expect("type").to_owned();
        if html {
            assert_eq!(kind, "text/html; charset=utf-8");
            let csp = res.headers()["content-security-policy"].to_str().expect("csp").to_owned();
            assert!(csp.starts_with("default-src 'none'"), "{csp}");
            assert!(res.text().await.expect("page").contains(&did));
        } else {
            assert_eq!(kind, "application/json", "{accept:?}");
            assert_eq!(res.json::<Value>().await.expect("JSON"), meta, "{accept:?}");
        }
    }

    // The lexicons, at stable paths.
    let track: Value =
        get("/lexicons/fm.plyr.track.json", None).await.expect("get").json().await.expect("JSON");
    assert_eq!(track["id"], "fm.plyr.track");
    assert_eq!(track["defs"]["main"]["type"], "record");
    let index: Value = get("/lexicons/", None).await.expect("get").json().await.expect("JSON");
    let listed = index["lexicons"].as_array().expect("lexicons");
    assert!(
        listed
            .iter()
            .any(|l| l["id"] == "fm.plyr.track" && l["url"] == format!("{base}/lexicons/fm.plyr.track.json")),
        "{index}"
    );
    let missing = get("/lexicons/fm.plyr.nothing", None).await.expect("get");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.expect("JSON"), json!({ "detail": "lexicon not found" }));

    // The page in Chromium.
    let scratch =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("home-page-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let url = format!("{base}/");
    let dom = chromium(&scratch.join("profile-dom"), &["--dump-dom"], &url).await;
    assert!(dom.contains(&did), "the service DID is shown:\n{dom}");
    for link in ["/health", "/ready", "/metrics", "/xrpc/_health", "/.well-known/did.json", "/lexicons/"] {
        assert!(dom.contains(&format!("href=\"{link}\"")), "a link to {link}:\n{dom}");
    }
    assert!(!dom.contains("<script"), "no script:\n{dom}");
    assert!(!dom.contains("handle.invalid"), "real handles:\n{dom}");
    assert_eq!(dom.matches("<audio ").count(), tracks.len(), "a player per track:\n{dom}");
    for t in tracks {
        let (title, handle) =
            (t["title"].as_str().expect("title"), t["artist_handle"].as_str().expect("handle"));
        assert!(dom.contains(&as_text(title)), "{title}:\n{dom}");
        assert!(dom.contains(&format!("@{}</a>", as_text(handle))), "{handle}:\n{dom}");
    }

    let png = scratch.join("home.png");
    chromium(
        &scratch.join("profile-shot"),
        &["--hide-scrollbars", "--window-size=1024,1600", &format!("--screenshot={}", png.display())],
        &url,
    )
    .await;
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG: {} bytes", bytes.len());
    println!("screenshot: {}", png.display());
    for profile in ["profile-dom", "profile-shot"] {
        let _ = std::fs::remove_dir_all(scratch.join(profile));
    }

    shutdown.cancel();
    let _ = server.await;
}
