//! A hostile Jetstream end to end (issue 18): every class of bad input anyone on the network can
//! publish, each followed by well-formed events, replayed through the indexer (`indexer replay`'s
//! code path: the real decoder, pipeline and write path) into a fresh database, then read through
//! every AppView route over a real socket.
//!
//! Asserted: the replay ends without an error; every good event after a bad one is applied; the
//! records that must be dropped are absent and counted by reason; the records the data model may
//! either drop or store in a safe form (extreme datetimes, NUL) are absent or stored without NUL;
//! and every XRPC query and REST route touching those records answers JSON with a status below
//! 500 over a connection that is not dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use plyr_appview::{AppState, AppviewOptions};
use plyr_indexer::pipeline::BatchConfig;
use plyr_indexer::write::Writer;
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const AUDIO: &str = "https://audio.plyr.fm/audio/0123456789abcdef.mp3";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
/// Valid atproto datetimes outside what `timestamp_nanos` (1677-2262) holds, with offsets that
/// move them past year 9999 or before year 0 in UTC.
const EXTREME_DATES: &[&str] = &[
    "9999-12-31T23:59:59Z",
    "1000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999-14:00",
    "0000-01-01T00:00:00+14:00",
    "2262-04-11T23:47:16.854775808Z",
    "1677-09-21T00:12:43.145224191Z",
];

/// The table a collection's rows live in.
fn table(collection: &str) -> Option<&'static str> {
    match collection {
        "fm.plyr.track" => Some("tracks"),
        "fm.plyr.like" => Some("likes"),
        "fm.plyr.comment" => Some("comments"),
        "fm.plyr.list" => Some("lists"),
        _ => None,
    }
}

/// A DID of the generic `did:plc` shape, distinct per `n`.
fn did(name: &str) -> String {
    format!("did:plc:{name:a>24}")
}

/// The `n`th TID of the stream (base32-sortable, increasing).
fn tid(n: u64) -> String {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut v = (1_750_000_000_000_000u64 + n) << 10;
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// What must become of a published record.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Applied: its row is there.
    Stored,
    /// Invalid, too large, unknown: no row, and a counted drop.
    Dropped,
    /// The data model's rule decides (drop with a counted reason, or store a safe form): either
    /// way no NUL reaches a row and every view shows it or leaves it out.
    Either,
}

/// The hostile stream and what each event must come to.
#[derive(Default)]
struct Stream {
    lines: Vec<String>,
    n: u64,
    /// (collection, uri, fate, label)
    records: Vec<(String, String, Fate, String)>,
    /// Lines that are not Jetstream events at all.
    malformed: usize,
    /// (did, handle) of identity events that must be applied.
    handles: Vec<(String, String)>,
    good_tracks: Vec<String>,
}

impl Stream {
    fn time_us(&self) -> i64 {
        1_750_000_000_000_000 + self.n as i64 * 1_000_000
    }

    fn raw(&mut self, line: impl Into<String>) {
        self.n += 1;
        self.lines.push(line.into());
    }

    fn commit(
        &mut self,
        did: &str,
        collection: &str,
        rkey: Option<&str>,
        record: Value,
        fate: Fate,
        label: &str,
    ) -> String {
        self.n += 1;
        let rev = tid(self.n);
        let rkey = rkey.map_or_else(|| rev.clone(), str::to_owned);
        let line = json!({"did": did, "time_us": self.time_us(), "kind": "commit",
            "commit": {"rev": rev, "operation": "create", "collection": collection, "rkey": rkey,
                       "record": record, "cid": CID}});
        self.lines.push(line.to_string());
        let uri = format!("at://{did}/{collection}/{rkey}");
        self.records.push((collection.to_owned(), uri.clone(), fate, label.to_owned()));
        uri
    }

    fn identity(&mut self, did: &str, handle: &str) {
        self.n += 1;
        let line = json!({"did": did, "time_us": self.time_us(), "kind": "identity",
            "identity": {"did": did, "handle": handle, "seq": self.n, "time": "2025-06-15T15:06:40Z"}});
        self.lines.push(line.to_string());
    }

    /// A well-formed event after a bad one: a track, a like, a comment or a list, in turn.
    fn good(&mut self, after: &str) {
        let artist = did("goodartist");
        let listener = did("goodlistener");
        let label = format!("good after {after}");
        let target = self.good_tracks.first().cloned();
        match (self.records.len() % 4, target) {
            (1, Some(subject)) => {
                let r = json!({"$type": "fm.plyr.like", "subject": {"uri": subject, "cid": CID},
                               "createdAt": "2025-06-15T15:06:42.000Z"});
                self.commit(&listener, "fm.plyr.like", None, r, Fate::Stored, &label);
            }
            (2, Some(subject)) => {
                let r = json!({"$type": "fm.plyr.comment", "subject": {"uri": subject, "cid": CID},
                               "text": label, "timestampMs": 1000, "createdAt": "2025-06-15T15:06:42.000Z"});
                self.commit(&listener, "fm.plyr.comment", None, r, Fate::Stored, &label);
            }
            (3, Some(subject)) => {
                let r = json!({"$type": "fm.plyr.list", "name": label, "listType": "playlist",
                               "items": [{"subject": {"uri": subject, "cid": CID}}],
                               "createdAt": "2025-06-15T15:06:42.000Z"});
                self.commit(&listener, "fm.plyr.list", None, r, Fate::Stored, &label);
            }
            _ => {
                let uri = self.commit(&artist, "fm.plyr.track", None, track(&label), Fate::Stored, &label);
                self.good_tracks.push(uri);
            }
        }
    }
}

fn track(title: &str) -> Value {
    json!({"$type": "fm.plyr.track", "title": title, "artist": "Ada", "fileType": "mp3",
           "audioUrl": AUDIO, "duration": 215, "createdAt": "2025-06-15T15:06:40.000Z"})
}

/// Every hostile class of the issue, each followed by a good event.
fn hostile_stream() -> Stream {
    let mut s = Stream::default();
    let artist = did("goodartist");
    let listener = did("goodlistener");
    let evil = did("evilartist");
    // Identity events only apply to accounts already known from an fm.plyr record.
    s.good("the start");
    let target = s.good_tracks[0].clone();
    let hello = json!({"$type": "fm.plyr.like", "subject": {"uri": target, "cid": CID},
                       "createdAt": "2025-06-15T15:06:42.000Z"});
    s.commit(&listener, "fm.plyr.like", None, hello.clone(), Fate::Stored, "the listener's first like");
    s.commit(&evil, "fm.plyr.like", None, hello, Fate::Stored, "the evil account's first like");
    s.identity(&artist, "ada.example.com");
    s.handles.push((artist.clone(), "ada.example.com".into()));
    s.identity(&listener, "bea.example.com");
    s.identity(&evil, "eve.example.com");
    let subject = json!({"uri": target, "cid": CID});

    // 1. Datetimes outside 1677-2262, on every collection that shows one; likes, comments and
    // lists point at a good track, whose getLikes / getComments / lists must keep working.
    for date in EXTREME_DATES {
        let label = format!("dated {date}");
        let mut t = track(&format!("track {label}"));
        t["createdAt"] = json!(date);
        s.commit(&evil, "fm.plyr.track", None, t, Fate::Either, &label);
        s.good(&label);
        let like = json!({"$type": "fm.plyr.like", "subject": subject, "createdAt": date});
        s.commit(&evil, "fm.plyr.like", None, like, Fate::Either, &label);
        s.good(&label);
        let comment = json!({"$type": "fm.plyr.comment", "subject": subject, "text": label,
                             "timestampMs": 5, "createdAt": date, "updatedAt": date});
        s.commit(&evil, "fm.plyr.comment", None, comment, Fate::Either, &label);
        s.good(&label);
        let list = json!({"$type": "fm.plyr.list", "name": label, "listType": "album",
                          "items": [{"subject": subject}], "createdAt": date, "updatedAt": date});
        s.commit(&evil, "fm.plyr.list", None, list, Fate::Either, &label);
        s.good(&label);
    }
    let profile = json!({"$type": "fm.plyr.actor.profile", "bio": "from the far future",
                         "createdAt": "9999-12-31T23:59:59Z", "updatedAt": "0000-01-01T00:00:00Z"});
    s.commit(&evil, "fm.plyr.actor.profile", Some("self"), profile, Fate::Either, "dated profile");
    s.good("a dated profile");

    // 2. NUL in every text field of every collection, and in an identity event's handle.
    for field in ["title", "artist", "album", "description", "fileType"] {
        let mut t = track("nul");
        t[field] = json!(format!("a\u{0}{field}"));
        s.commit(&evil, "fm.plyr.track", None, t, Fate::Either, &format!("NUL in track {field}"));
        s.good(&format!("NUL in track {field}"));
    }
    let comment = json!({"$type": "fm.plyr.comment", "subject": subject, "text": "a\u{0}b",
                         "timestampMs": 5, "createdAt": "2025-06-15T15:06:42.000Z"});
    s.commit(&evil, "fm.plyr.comment", None, comment, Fate::Either, "NUL in comment text");
    s.good("NUL in a comment");
    for field in ["name", "listType"] {
        let mut list = json!({"$type": "fm.plyr.list", "name": "n", "listType": "playlist",
                              "items": [{"subject": subject}], "createdAt": "2025-06-15T15:06:42.000Z"});
        list[field] = json!("x\u{0}y");
        s.commit(&evil, "fm.plyr.list", None, list, Fate::Either, &format!("NUL in list {field}"));
        s.good(&format!("NUL in list {field}"));
    }
    let nul_profile = did("nulprofile");
    let bio =
        json!({"$type": "fm.plyr.actor.profile", "bio": "b\u{0}io", "createdAt": "2025-06-15T15:06:42.000Z"});
    s.commit(&nul_profile, "fm.plyr.actor.profile", Some("self"), bio, Fate::Either, "NUL in bio");
    s.good("NUL in a bio");
    let bsky = json!({"$type": "app.bsky.actor.profile", "displayName": "d\u{0}n"});
    s.commit(&nul_profile, "app.bsky.actor.profile", Some("self"), bsky, Fate::Either, "NUL in displayName");
    s.good("NUL in a displayName");
    s.identity(&evil, "eve\u{0}.example.com");
    s.good("NUL in a handle");
    s.identity(&listener, "bea.example.com");
    s.handles.push((listener.clone(), "bea.example.com".into()));

    // 3. A record over the 1 MiB bound (valid otherwise: the padding is an unknown field).
    let mut big = track("over-size");
    big["padding"] = json!("x".repeat(1_200_000));
    s.commit(&evil, "fm.plyr.track", None, big, Fate::Dropped, "over-size record");
    s.good("an over-size record");

    // 4. Lines that are not Jetstream events.
    let evil_line = format!(r#"{{"did": "{evil}", "time_us": 1, "kind": "commit", "commit": {{"rev": "#);
    for line in ["{not json", "null", "[]", "42", "\"text\"", "{}", evil_line.as_str(), "{\"did\": 5}"] {
        s.raw(line);
        s.malformed += 1;
        s.good("a malformed line");
    }

    // 5. Collections we do not index.
    for collection in ["fm.plyr.unknownThing", "app.bsky.feed.post", "com.example.record"] {
        let r = json!({"$type": collection, "text": "hi", "createdAt": "2025-06-15T15:06:42.000Z"});
        s.commit(&evil, collection, None, r, Fate::Dropped, &format!("unknown collection {collection}"));
        s.good("an unknown collection");
    }

    // 6. Invalid lexicon values.
    let invalid: Vec<(&str, Value)> = vec![
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": 7, "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t".repeat(257), "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "duration": -1, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "yesterday"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "10000-01-01T00:00:00Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "createdAt": "2025-02-30T00:00:00Z"}),
        ),
        (
            "fm.plyr.track",
            json!({"$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3", "audioUrl": AUDIO, "duration": 1.5, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.like",
            json!({"$type": "fm.plyr.like", "subject": "at://nope", "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.like",
            json!({"$type": "fm.plyr.like", "subject": {"uri": "not a uri", "cid": "nope"}, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.comment",
            json!({"$type": "fm.plyr.comment", "subject": subject, "text": "t", "timestampMs": -5, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.comment",
            json!({"$type": "fm.plyr.comment", "subject": subject, "text": "", "timestampMs": 5, "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.list",
            json!({"$type": "fm.plyr.list", "items": "none", "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.list",
            json!({"$type": "fm.plyr.list", "items": vec![json!({"subject": subject}); 501], "createdAt": "2025-06-15T15:06:40Z"}),
        ),
        (
            "fm.plyr.actor.profile",
            json!({"$type": "fm.plyr.actor.profile", "bio": "b".repeat(2561), "createdAt": "2025-06-15T15:06:40Z"}),
        ),
    ];
    for (i, (collection, record)) in invalid.into_iter().enumerate() {
        let rkey = (collection == "fm.plyr.actor.profile").then_some("self");
        let who = if rkey.is_some() { did("invalidprofile") } else { evil.clone() };
        s.commit(&who, collection, rkey, record, Fate::Dropped, &format!("invalid value #{i}"));
        s.good("an invalid value");
    }

    // 7. Huge strings and integers: a comment of 900 KB (over its maxLength), a valid track with
    // a 500 KB unknown field, integers past every native width.
    let huge = json!({"$type": "fm.plyr.comment", "subject": subject, "text": "h".repeat(900_000),
                      "timestampMs": 5, "createdAt": "2025-06-15T15:06:40Z"});
    s.commit(&evil, "fm.plyr.comment", None, huge, Fate::Dropped, "a huge comment");
    s.good("a huge string");
    let mut wide = track("a wide record");
    wide["notes"] = json!("w".repeat(500_000));
    s.commit(&evil, "fm.plyr.track", None, wide, Fate::Either, "a 500 KB unknown field");
    s.good("a wide record");
    for (i, n) in [json!(9_007_199_254_740_993i64), json!(i64::MAX), json!(u64::MAX)].into_iter().enumerate()
    {
        let mut t = track(&format!("huge duration {i}"));
        t["duration"] = n.clone();
        s.commit(&evil, "fm.plyr.track", None, t, Fate::Either, &format!("huge duration #{i}"));
        s.good("a huge integer");
        let c = json!({"$type": "fm.plyr.comment", "subject": subject, "text": "late",
                       "timestampMs": n, "createdAt": "2025-06-15T15:06:40Z"});
        s.commit(&evil, "fm.plyr.comment", None, c, Fate::Either, &format!("huge timestampMs #{i}"));
        s.good("a huge integer");
    }
    s.raw(format!(r#"{{"did": "{evil}", "time_us": 1e400, "kind": "identity", "identity": {{}}}}"#));
    s.malformed += 1;
    s.good("an infinite time");

    // And the good events at the end.
    for i in 0..4 {
        s.good(&format!("the end #{i}"));
    }
    s.identity(&evil, "eve.example.com");
    s
}

/// A JSON body and status from one GET, retried while the AppView rate-limits (429). A request
/// without a response (a dropped connection: a panic in a handler) answers a pseudo-status 599,
/// a body that is not JSON 598.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> (u16, Option<Value>) {
    for _ in 0..30 {
        let res = match client.get(format!("{base}{path}")).send().await {
            Ok(res) => res,
            Err(e) => {
                eprintln!("GET {path}: no response: {e}");
                return (599, None);
            }
        };
        let status = res.status().as_u16();
        if status == 429 {
            let wait = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
            continue;
        }
        let Ok(bytes) = res.bytes().await else { return (599, None) };
        if (300..400).contains(&status) {
            return (status, None);
        }
        let body: Value = match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(e) => {
                let shown = String::from_utf8_lossy(&bytes);
                eprintln!("GET {path}: status {status}, body is not JSON ({e}): {shown:?}");
                return (598, None);
            }
        };
        return (status, Some(body));
    }
    panic!("GET {path}: still rate-limited after 30 tries");
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Drop counters by `name{reason}` from the Prometheus rendering.
fn counters(rendered: &str) -> BTreeMap<String, f64> {
    rendered
        .lines()
        .filter(|l| !l.starts_with('#') && (l.contains("dropped_total") || l.contains("bad_lines_total")))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_stream_is_indexed_and_served_without_a_failure() {
    let metrics = plyr_indexer::telemetry::install_recorder();
    let stream = hostile_stream();
    let db = TestDb::new().await.expect("db");
    let file = std::env::temp_dir().join(format!("plyr-hostile-{}.jsonl", std::process::id()));
    std::fs::write(&file, stream.lines.join("\n")).expect("write the stream");
    let writer = Arc::new(
        Writer::new(db.pool.clone(), TrustedOrigins::new(["https://audio.plyr.fm"])).expect("writer"),
    );
    // Batches as `indexer replay` makes them: the whole stream fits in one, so a bad record must
    // be isolated from the good events around it.
    let replayed =
        plyr_indexer::replay::replay(writer, &file, true, BatchConfig::default(), CancellationToken::new())
            .await;
    let _ = std::fs::remove_file(&file);
    // A failed replay is recorded, not raised at once: the reads below still run on whatever it
    // applied, so one run reports every class that fails.
    let mut failures = Vec::new();
    let summary = replayed.unwrap_or_else(|e| {
        failures.push(format!("the replay failed (indexer replay would exit 1): {e}"));
        plyr_indexer::replay::ReplaySummary::default()
    });
    if let Err(e) = plyr_indexer::ranking::refresh(&db.pool).await {
        failures.push(format!("ranking what the replay stored failed: {e}"));
    }

    // Every good event is applied; what must be dropped is absent; nothing stored holds a NUL.
    for (collection, uri, fate, label) in &stream.records {
        let Some(table) = table(collection) else { continue };
        let sql = format!("SELECT count(*) FROM {table} WHERE uri = $1");
        let n: i64 = sqlx::query_scalar(&sql).bind(uri).fetch_one(&db.pool).await.expect("count");
        match (fate, n) {
            (Fate::Stored, 0) => failures.push(format!("good record not applied: {label} ({uri})")),
            (Fate::Dropped, n) if n > 0 => failures.push(format!("should be dropped but stored: {label}")),
            _ => {}
        }
    }
    for (did, handle) in &stream.handles {
        let got: Option<String> = sqlx::query_scalar("SELECT handle FROM actors WHERE did = $1")
            .bind(did)
            .fetch_optional(&db.pool)
            .await
            .expect("handle")
            .flatten();
        if got.as_deref() != Some(handle.as_str()) {
            failures.push(format!("identity after a bad one not applied: {did} has {got:?}, not {handle}"));
        }
    }
    let plyr_profiles: i64 =
        sqlx::query_scalar("SELECT count(*) FROM plyr_profiles WHERE did = $1 AND bio IS NOT NULL")
            .bind(did("invalidprofile"))
            .fetch_one(&db.pool)
            .await
            .expect("profiles");
    if plyr_profiles > 0 {
        failures.push("an invalid profile (bio over maxLength) was stored".into());
    }

    // Drops are counted with their reasons.
    let rendered = metrics.map(|m| m.render()).unwrap_or_default();
    let counted = counters(&rendered);
    let must_drop = stream
        .records
        .iter()
        .filter(|r| r.2 == Fate::Dropped && (table(&r.0).is_some() || r.0 == "fm.plyr.actor.profile"))
        .count();
    let record_drops: f64 =
        counted.iter().filter(|(k, _)| k.starts_with("indexer_dropped_total")).map(|(_, v)| v).sum();
    eprintln!("replay: {summary:?}\ndrop counters: {counted:#?}");
    if summary.bad_lines < stream.malformed as u64 {
        failures.push(format!("{} malformed lines, {} counted as bad", stream.malformed, summary.bad_lines));
    }
    // Each must-drop record is counted either by the write path or, for one dropped before it is
    // parsed (over-size), by the decoder as a bad line.
    let decoder_drops = summary.bad_lines.saturating_sub(stream.malformed as u64) as f64;
    if record_drops + decoder_drops < must_drop as f64 {
        failures.push(format!(
            "{must_drop} records must be dropped; counted: {record_drops} by the write path, {decoder_drops} by the decoder"
        ));
    }

    // Every read answers JSON below 500.
    let reads = reads(&db, &stream).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut options = AppviewOptions::defaults("127.0.0.1:0".parse().expect("addr"));
    options.public_url = Some(base.clone());
    let state = AppState::new(db.pool.clone(), options);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        let app = plyr_appview::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        async move { axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await }
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for path in &reads {
        let (status, _) = get(&client, &base, path).await;
        *statuses.entry(status).or_default() += 1;
        if status >= 500 {
            failures.push(format!("GET {path}: {status} (598: not JSON, 599: no response)"));
        }
    }
    // Pages of the feeds that sort by time, followed to the end.
    for (first, cursor_field, next) in [
        (
            "/xrpc/fm.plyr.feed.getLatestTracks?limit=7",
            "cursor",
            "/xrpc/fm.plyr.feed.getLatestTracks?limit=7&cursor=",
        ),
        ("/tracks/?limit=7", "next_cursor", "/tracks/?limit=7&cursor="),
        ("/activity/?limit=7", "next_cursor", "/activity/?limit=7&cursor="),
    ] {
        let mut path = first.to_owned();
        for _ in 0..100 {
            let (status, body) = get(&client, &base, &path).await;
            if status >= 500 {
                failures.push(format!("GET {path}: {status}"));
            }
            match body.as_ref().and_then(|b| b[cursor_field].as_str()) {
                Some(cursor) if status == 200 => path = format!("{next}{}", enc(cursor)),
                _ => break,
            }
        }
    }
    eprintln!("{} reads by status: {statuses:?}", reads.len());
    shutdown.cancel();
    let _ = server.await;
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every XRPC query and REST route that shows the stream's records, actors and lists.
async fn reads(db: &TestDb, stream: &Stream) -> Vec<String> {
    // What the identity worker would do with network access: verify the announced handles.
    sqlx::query("UPDATE actors SET handle_verified = TRUE, pds_endpoint = 'https://pds.example.com' WHERE handle IS NOT NULL")
        .execute(&db.pool)
        .await
        .expect("verify handles");
    let rows = |sql: &'static str| async move {
        sqlx::query_as::<_, (String, String)>(sql)
            .fetch_all(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let tracks = rows("SELECT uri, id::TEXT FROM tracks").await;
    let lists = rows("SELECT uri, id::TEXT FROM lists").await;
    let albums = rows(
        "SELECT coalesce(a.handle, a.did), coalesce(l.name, '') FROM lists l JOIN actors a ON a.did = l.did",
    )
    .await;
    let actors = rows("SELECT did, coalesce(handle, did) FROM actors").await;
    let mut uris: Vec<String> = tracks.iter().map(|(u, _)| u.clone()).collect();
    // Subjects of every like, comment and list in the stream, stored or not.
    uris.extend(stream.good_tracks.iter().cloned());
    uris.extend(stream.records.iter().filter(|r| r.0 == "fm.plyr.track").map(|r| r.1.clone()));
    uris.sort();
    uris.dedup();
    let mut paths: Vec<String> = [
        "/xrpc/fm.plyr.feed.getLatestTracks",
        "/xrpc/fm.plyr.feed.getTopTracks",
        "/xrpc/fm.plyr.feed.getTopTracks?period=week",
        "/xrpc/fm.plyr.feed.getForYou",
        "/xrpc/fm.plyr.unspecced.getStats",
        "/tracks/",
        "/tracks/top",
        "/tracks/top?period=week",
        "/tracks/tags",
        "/activity/",
        "/stats",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for q in ["track", "dated", "good", "Ada", "nul", "eve", "9999", "a"] {
        paths.push(format!("/xrpc/fm.plyr.feed.searchTracks?q={q}"));
        paths.push(format!("/xrpc/fm.plyr.actor.searchActors?q={q}"));
        paths.push(format!("/xrpc/fm.plyr.unspecced.search?q={q}"));
        paths.push(format!("/search/?q={q}"));
    }
    for chunk in uris.chunks(25) {
        let q: Vec<String> = chunk.iter().map(|u| format!("uris={}", enc(u))).collect();
        paths.push(format!("/xrpc/fm.plyr.feed.getTracks?{}", q.join("&")));
    }
    for uri in &uris {
        let u = enc(uri);
        paths.push(format!("/xrpc/fm.plyr.feed.getLikes?uri={u}"));
        paths.push(format!("/xrpc/fm.plyr.feed.getComments?uri={u}"));
        paths.push(format!("/tracks/by-uri?uri={u}"));
    }
    for (_, id) in &tracks {
        for suffix in ["", "/likes", "/comments"] {
            paths.push(format!("/tracks/{id}{suffix}"));
        }
        paths.push(format!("/audio/{id}"));
        paths.push(format!("/oembed?url={}", enc(&format!("https://plyr.fm/track/{id}"))));
    }
    for (uri, id) in &lists {
        let u = enc(uri);
        paths.push(format!("/xrpc/fm.plyr.graph.getList?list={u}"));
        paths.push(format!("/lists/by-uri?uri={u}"));
        paths.push(format!("/lists/playlists/by-uri?uri={u}"));
        paths.push(format!("/lists/playlists/{id}"));
        paths.push(format!("/oembed?url={}", enc(&format!("https://plyr.fm/playlist/{id}"))));
    }
    for (handle, name) in &albums {
        let slug = plyr_appview::rest::slug::slugify(name);
        paths.push(format!("/albums/{}/{}", enc(handle), enc(&slug)));
    }
    let mut all_actors = Vec::new();
    for (did, handle) in &actors {
        all_actors.push(format!("actors={}", enc(did)));
        for actor in [did, handle] {
            let a = enc(actor);
            paths.push(format!("/xrpc/fm.plyr.actor.getProfile?actor={a}"));
            paths.push(format!("/xrpc/fm.plyr.feed.getActorTracks?actor={a}"));
            paths.push(format!("/xrpc/fm.plyr.feed.getActorLikes?actor={a}"));
            paths.push(format!("/xrpc/fm.plyr.graph.getActorLists?actor={a}"));
        }
        paths.push(format!("/artists/{}", enc(did)));
        paths.push(format!("/artists/by-handle/{}", enc(handle)));
        paths.push(format!("/users/{}/likes", enc(handle)));
        paths.push(format!("/albums/{}", enc(handle)));
        paths.push(format!("/lists/playlists/by-artist/{}", enc(did)));
        paths.push(format!("/tracks/?artist_did={}", enc(did)));
    }
    for chunk in all_actors.chunks(25) {
        paths.push(format!("/xrpc/fm.plyr.actor.getProfiles?{}", chunk.join("&")));
    }
    paths
}
