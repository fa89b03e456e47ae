//! `GET /`: plyr.fm's JSON meta document for API clients, or, for a browser, a small page for
//! people meeting the service: what it is, its DID, where its health, metrics, DID document and
//! lexicons are, and the latest tracks with a player each. Server-rendered, no script: the
//! `Content-Security-Policy` forbids any.
//!
//! Which one is chosen by `Accept` ([`prefers_html`]); both answers say `Vary: Accept`, and the
//! response cache leaves `/` alone (`crate::response_cache`), so neither is ever served for the
//! other.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::html::{escape, media_url};
use super::present::TrackResponse;
use crate::AppState;

/// Tracks the page lists.
const LATEST: i64 = 20;

/// No script, no frames, no forms; styles only inline; audio from wherever tracks are hosted.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; media-src *; img-src data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = if prefers_html(&headers) {
        match super::tracks::everyone(&state, &crate::cursor::TimeKey::newest(), LATEST).await {
            Ok(page) => {
                let html = render(state.auth.service_did(), &page.responses(&state).tracks);
                let h = [
                    (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                    (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
                    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                ];
                (h, html).into_response()
            }
            Err(err) => err.into_response(),
        }
    } else {
        // plyr.fm's answer, word for word: its clients (Subsonic apps among them) probe the bare
        // URL for reachability.
        Json(json!({ "service": "plyr.fm api", "docs": "https://docs.plyr.fm" })).into_response()
    };
    res.headers_mut().append(VARY, HeaderValue::from_static("accept"));
    res
}

/// Whether the client prefers HTML to JSON: it names `text/html` with a higher quality than
/// JSON gets (from `application/json`, else `application/*`, else `*/*`). Browsers send
/// `text/html,...,*/*;q=0.8`; API clients send no `Accept`, `*/*` or `application/json`, and a
/// tie goes to JSON, the contract API clients rely on.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html: f32 = 0.0;
    // (how specific the matching range is, its quality)
    let mut json: (u8, f32) = (0, 0.0);
    let ranges = headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let mut q = Some(1.0);
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = value.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q));
            }
        }
        // A quality that does not parse makes the range mean nothing.
        let Some(q) = q else { continue };
        let specific = match media.as_str() {
            "text/html" => {
                html = html.max(q);
                continue;
            }
            "application/json" => 3,
            "application/*" => 2,
            "*/*" => 1,
            _ => continue,
        };
        if specific > json.0 || (specific == json.0 && q > json.1) {
            json = (specific, q);
        }
    }
    html > 0.0 && html > json.1
}

/// The page, for the service `did` and the latest `tracks` (already filtered as the `/tracks/`
/// feed filters them).
pub fn render(did: &str, tracks: &[TrackResponse]) -> String {
    let mut page = String::with_capacity(4096 + tracks.len() * 512);
    page.push_str(HEAD);
    let _ = write!(
        page,
        "<h1>plyr AppView</h1>\n<p>The read side of <a href=\"https://plyr.fm\">plyr.fm</a> music on \
         the AT Protocol. It follows the network's <code>fm.plyr</code> records (tracks, likes, \
         comments, albums and playlists, each kept by its author in their own repository), \
         indexes them, and answers plyr.fm's REST API, its own XRPC queries \
         (<code>fm.plyr.*</code>) and the Subsonic API that music players speak. It keeps no \
         accounts and no audio: players fetch the audio from where each artist published it.</p>\n\
         <p>Service DID: <code id=\"did\">{}</code> (version {})</p>\n",
        escape(did),
        env!("CARGO_PKG_VERSION"),
    );
    page.push_str(LINKS);
    page.push_str("<h2>Latest tracks</h2>\n");
    if tracks.is_empty() {
        page.push_str("<p>No tracks indexed yet.</p>\n");
    } else {
        page.push_str("<ol class=\"tracks\">\n");
        for t in tracks {
            track(&mut page, t);
        }
        page.push_str("</ol>\n");
    }
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

fn track(page: &mut String, t: &TrackResponse) {
    let _ = writeln!(
        page,
        "<li><p><strong class=\"title\">{}</strong> by {} \
         <a class=\"handle\" href=\"/artists/{}\">@{}</a></p>",
        escape(&t.title),
        escape(&t.artist),
        escape(t.artist_did.as_str()),
        escape(&t.artist_handle),
    );
    match t.r2_url.as_deref().and_then(media_url) {
        Some(src) => {
            let _ = writeln!(page, "<audio controls preload=\"none\" src=\"{}\"></audio></li>", escape(src));
        }
        None => page.push_str("<p>(no audio location known)</p></li>\n"),
    }
}

const HEAD: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>plyr AppView</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>\n\
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }\n\
main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }\n\
code { font-size: 0.95em; overflow-wrap: anywhere; }\n\
ul.links li { margin: 0.2rem 0; }\n\
ol.tracks { padding-left: 1.5rem; }\n\
ol.tracks li { margin: 0 0 1rem; }\n\
ol.tracks p { margin: 0 0 0.3rem; }\n\
audio { width: 100%; height: 2.2rem; }\n\
</style>\n</head>\n<body>\n<main>\n";

const LINKS: &str = "<h2>Where things are</h2>\n<ul class=\"links\">\n\
<li><a href=\"/health\">/health</a>: the process answers</li>\n\
<li><a href=\"/ready\">/ready</a>: this replica is ready to serve</li>\n\
<li><a href=\"/xrpc/_health\">/xrpc/_health</a>: the database answers, the search index is built</li>\n\
<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>\n\
<li><a href=\"/.well-known/did.json\">/.well-known/did.json</a>: the service's DID document</li>\n\
<li><a href=\"/lexicons/\">/lexicons/</a>: the lexicons it reads and answers with</li>\n\
<li><a href=\"/tracks/\">/tracks/</a> and \
<a href=\"/xrpc/fm.plyr.feed.getLatestTracks\">fm.plyr.feed.getLatestTracks</a>: these tracks as JSON</li>\n\
</ul>\n";

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use plyr_atproto::Did;

    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn browsers_get_the_page_and_api_clients_the_json() {
        let cases: [(&[&str], bool); 14] = [
            // Chromium, Firefox, Safari.
            (
                &[
                    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
                ],
                true,
            ),
            (&["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"], true),
            (&["text/html"], true),
            (&["TEXT/HTML ; q=0.5"], true),
            (&["application/json;q=0.5", "text/html"], true),
            (&[], false),
            (&["*/*"], false),
            (&["application/json"], false),
            (&["application/json, text/html"], false),
            (&["text/html;q=0.8, application/json"], false),
            (&["text/html;q=0"], false),
            (&["text/html;q=abc"], false),
            (&["text/*"], false),
            (&["text/html;q=0.5, application/*;q=0.9, */*;q=0.1"], false),
        ];
        for (values, html) in cases {
            assert_eq!(prefers_html(&accept(values)), html, "{values:?}");
        }
        // The most specific JSON range decides, not the best one.
        assert!(prefers_html(&accept(&["text/html;q=0.5, application/json;q=0.1, */*"])));
    }

    /// A track with hostile text everywhere a record or a handle can put it.
    fn hostile_track() -> TrackResponse {
        TrackResponse {
            id: 1,
            title: "<script>alert('t')</script>".into(),
            artist: "\"Tom\" & 'Jerry'".into(),
            artist_handle: "a.test\"><script>x</script>".into(),
            artist_did: Did::new("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").expect("did"),
            artist_avatar_url: None,
            file_id: String::new(),
            file_type: String::new(),
            features: Vec::new(),
            r2_url: Some("https://audio.plyr.fm/a.mp3?x=1&y=\"2\"".into()),
            atproto_record_uri: None,
            atproto_record_cid: None,
            atproto_record_url: None,
            play_count: 0,
            created_at: String::new(),
            image_url: None,
            thumbnail_url: None,
            is_liked: false,
            like_count: 0,
            comment_count: 0,
            album: None,
            tags: Vec::new(),
            copyright_flagged: None,
            copyright_match: None,
            support_gate: None,
            gated: false,
            downloadable: true,
            download_policy: "open",
            artist_support_url: None,
            copyright_song_uri: None,
            copyright_recording_uri: None,
            original_file_id: None,
            original_file_type: None,
            description: None,
            audio_storage: "r2",
            pds_blob_cid: None,
            is_optimizing: false,
            visibility: "public",
            unlisted: false,
            self_labels: Vec::new(),
            operator_labels: Vec::new(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn record_text_is_shown_never_run() {
        let mut evil_src = hostile_track();
        evil_src.r2_url = Some("javascript:alert(1)".into());
        let page = render("did:web:<x>", &[hostile_track(), evil_src]);
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;"), "{page}");
        assert!(page.contains("&quot;Tom&quot; &amp; &#39;Jerry&#39;"), "{page}");
        assert!(page.contains("@a.test&quot;&gt;&lt;script&gt;x&lt;/script&gt;"), "{page}");
        assert!(page.contains("src=\"https://audio.plyr.fm/a.mp3?x=1&amp;y=&quot;2&quot;\""), "{page}");
        assert!(page.contains("did:web:&lt;x&gt;"), "{page}");
        assert!(!page.contains("javascript:"), "{page}");
        assert_eq!(page.matches("<audio ").count(), 1, "a source that is not a web URL gets no player");
        assert!(page.contains("href=\"/artists/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa\""));
    }

    /// API clients get plyr.fm's JSON through the whole router (the database is never asked).
    #[tokio::test]
    async fn api_clients_get_plyr_fm_meta_varying_on_accept() {
        use tower::ServiceExt;
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("lazy pool");
        let options = crate::AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
        let app = crate::router(AppState::new(pool, options));
        for accept in [None, Some("*/*"), Some("application/json"), Some("application/json, text/html")] {
            let mut req = axum::http::Request::get("/");
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            let res =
                app.clone().oneshot(req.body(axum::body::Body::empty()).expect("req")).await.expect("res");
            assert_eq!(res.status(), 200, "{accept:?}");
            assert!(res.headers().get_all(VARY).iter().any(|v| v == "accept"), "{accept:?}");
            assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
            let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(body, json!({"service": "plyr.fm api", "docs": "https://docs.plyr.fm"}));
        }
    }

    #[test]
    fn an_empty_index_says_so() {
        let page = render("did:web:example.com", &[]);
        assert!(page.contains("No tracks indexed yet."));
        for link in ["/health", "/ready", "/metrics", "/xrpc/_health", "/.well-known/did.json", "/lexicons/"]
        {
            assert!(page.contains(&format!("href=\"{link}\"")), "{link}");
        }
    }
}
