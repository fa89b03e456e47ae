//! The Jetstream client against a real local Jetstream (`plyr_e2e::jetstream_server`): both wire
//! formats, v1 dictionary-zstd, reconnect-and-resume with nothing missing, CursorTooOld gaps,
//! counted drops of bad frames, failover, and prompt shutdown.

use std::time::Duration;

use plyr_e2e::jetstream_server::{
    Item, JetstreamServer, ServerConfig, TestBody, TestEvent, V1_PATH, V2_PATH,
};
use plyr_indexer::event::{Action, Cursor, EventBody, SourceItem};
use plyr_indexer::jetstream::{self, JetstreamConfig, JetstreamError, Protocol};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const FILTERS: &str = "wantedCollections=fm.plyr.*&wantedCollections=app.bsky.actor.profile\
&wantedCollections=fm.teal.feed.play&wantedCollections=fm.teal.alpha.feed.play&wantedCollections=fm.teal.actor.status";
const V2_FILTERS: &str = "collections=fm.plyr.*&collections=app.bsky.actor.profile\
&collections=fm.teal.feed.play&collections=fm.teal.alpha.feed.play&collections=fm.teal.actor.status";

fn fixture() -> Vec<TestEvent> {
    let path = plyr_e2e::repo_root().join("tests/fixtures/jetstream/events.json");
    let text = std::fs::read_to_string(&path).expect("read the Jetstream fixture");
    serde_json::from_str(&text).expect("parse the Jetstream fixture")
}

fn items(events: &[TestEvent]) -> Vec<Item> {
    events.iter().cloned().map(Item::event).collect()
}

fn config(urls: &[String], protocol: Protocol) -> JetstreamConfig {
    let urls = urls.iter().map(|u| url::Url::parse(u).expect("test URL")).collect();
    let mut config = JetstreamConfig::new(urls, protocol);
    config.compress = false;
    config.timing.backoff_base = Duration::from_millis(20);
    config.timing.backoff_max = Duration::from_millis(200);
    config.timing.connect_timeout = Duration::from_secs(2);
    config.timing.read_timeout = Duration::from_secs(10);
    config
}

/// A client running in the background.
struct Client {
    rx: mpsc::Receiver<SourceItem>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), JetstreamError>>,
}

fn start(config: JetstreamConfig, resume: Option<Cursor>) -> Client {
    let (tx, rx) = mpsc::channel(4);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(jetstream::run(config, resume, tx, shutdown.clone()));
    Client { rx, shutdown, task }
}

impl Client {
    /// The next `n` items (fails after 10 s).
    async fn take(&mut self, n: usize) -> Vec<SourceItem> {
        let mut got = Vec::new();
        while got.len() < n {
            match tokio::time::timeout(Duration::from_secs(10), self.rx.recv()).await {
                Ok(Some(item)) => got.push(item),
                _ => panic!("expected {n} items, got {}: {got:#?}", got.len()),
            }
        }
        got
    }

    /// Asserts nothing more arrives for a while.
    async fn assert_quiet(&mut self) {
        if let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(300), self.rx.recv()).await {
            panic!("unexpected extra item: {item:#?}");
        }
    }

    /// Cancels and checks the loop stops promptly and cleanly.
    async fn stop(self) {
        self.shutdown.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(2), self.task).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "client did not stop cleanly: {ended:?}");
    }
}

/// One line per event, the same for what was sent and what was decoded.
fn sent_summary(e: &TestEvent) -> String {
    let what = match &e.body {
        TestBody::Commit { operation, collection, rkey, .. } => format!("{operation} {collection}/{rkey}"),
        TestBody::Identity { handle } => format!("identity {handle:?}"),
        TestBody::Account { active, status } => format!("account {active} {status:?}"),
        TestBody::Sync { rev } => format!("sync {rev}"),
    };
    format!("{} {} {what}", e.time_us, e.did)
}

fn received_summary(item: &SourceItem) -> String {
    let SourceItem::Event { event, .. } = item else {
        return format!("{item:?}");
    };
    let what = match &event.body {
        EventBody::Commit(op) => {
            let action = match op.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            };
            assert_eq!(op.record.is_some(), op.action != Action::Delete, "record presence: {op:?}");
            format!("{action} {}/{}", op.collection.as_str(), op.rkey.as_str())
        }
        EventBody::Identity { handle } => format!("identity {handle:?}"),
        EventBody::Account { active, status } => format!("account {active} {status:?}"),
        EventBody::Sync { rev } => format!("sync {}", rev.as_str()),
    };
    format!("{} {} {what}", event.time_us, event.did.as_str())
}

fn summaries(items: &[SourceItem]) -> Vec<String> {
    items.iter().map(received_summary).collect()
}

fn expected(events: &[TestEvent]) -> Vec<String> {
    events.iter().map(sent_summary).collect()
}

fn cursor_of(item: &SourceItem) -> &Cursor {
    match item {
        SourceItem::Event { cursor, .. } => cursor,
        other => panic!("not an event: {other:?}"),
    }
}

/// A base URL nothing listens on.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("ws://127.0.0.1:{port}")
}

async fn server(config: ServerConfig) -> JetstreamServer {
    JetstreamServer::start(config).await.expect("start the test Jetstream")
}

#[tokio::test]
async fn v1_plain_delivers_every_event_in_order() {
    let events = fixture();
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V1), None);
    let got = client.take(events.len()).await;
    assert_eq!(summaries(&got), expected(&events));
    for (item, sent) in got.iter().zip(&events) {
        let cursor = cursor_of(item);
        assert_eq!(
            (cursor.source.as_str(), cursor.value, cursor.time_us),
            ("jetstream", sent.time_us, sent.time_us)
        );
        assert_eq!(cursor.issuer, None);
    }
    client.assert_quiet().await;
    client.stop().await;
    assert_eq!(server.requests(), [format!("{V1_PATH}?{FILTERS}")]);
}

#[tokio::test]
async fn v1_compressed_delivers_every_event_in_order() {
    let events = fixture();
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let mut config = config(&[server.url()], Protocol::V1);
    config.compress = true;
    let mut client = start(config, None);
    assert_eq!(summaries(&client.take(events.len()).await), expected(&events));
    client.stop().await;
    assert_eq!(server.requests(), [format!("{V1_PATH}?{FILTERS}&compress=true")]);
}

#[tokio::test]
async fn v2_delivers_every_event_with_seq_cursors() {
    let mut events = fixture();
    let last = events.last().cloned().expect("fixture is not empty");
    events.push(TestEvent {
        seq: last.seq + 1,
        time_us: last.time_us + 1_000_000,
        did: last.did,
        body: TestBody::Sync { rev: "3lrqaaaaaah22".into() },
    });
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V2), None);
    let got = client.take(events.len()).await;
    assert_eq!(summaries(&got), expected(&events));
    for (item, sent) in got.iter().zip(&events) {
        let cursor = cursor_of(item);
        assert_eq!((cursor.value, cursor.time_us), (sent.seq, sent.time_us));
        assert_eq!(cursor.issuer.as_deref(), Some(server.url().as_str()));
    }
    client.stop().await;
    assert_eq!(server.requests(), [format!("{V2_PATH}?{V2_FILTERS}")]);
}

/// Checks a stream cut after `first` events: the second connection re-delivers from `resumed_at`
/// (duplicates only at the seam) and nothing is missing.
fn assert_resumed(got: &[SourceItem], events: &[TestEvent], first: usize, resumed_at: usize) {
    let want: Vec<String> =
        expected(&events[..first]).into_iter().chain(expected(&events[resumed_at..])).collect();
    assert_eq!(summaries(got), want);
    let mut unique = summaries(got);
    unique.sort();
    unique.dedup();
    let mut all = expected(events);
    all.sort();
    assert_eq!(unique, all, "the set of events received is the set sent");
}

#[tokio::test]
async fn v1_reconnects_after_a_drop_and_resumes_rewound() {
    let events = fixture();
    let server =
        server(ServerConfig { items: items(&events), drop_after: vec![6], ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V1), None);
    // The last event received before the drop is at T0 + 5 s; resuming 5 s earlier re-delivers
    // from the first event.
    let got = client.take(6 + events.len()).await;
    assert_resumed(&got, &events, 6, 0);
    client.assert_quiet().await;
    client.stop().await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1], format!("{V1_PATH}?{FILTERS}&cursor={}", events[5].time_us - 5_000_000));
}

#[tokio::test]
async fn v2_reconnects_after_a_drop_and_resumes_inclusively() {
    let events = fixture();
    let server =
        server(ServerConfig { items: items(&events), drop_after: vec![6], ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V2), None);
    let got = client.take(6 + events.len() - 5).await;
    assert_resumed(&got, &events, 6, 5);
    client.assert_quiet().await;
    client.stop().await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1], format!("{V2_PATH}?{V2_FILTERS}&cursor={}", events[5].seq));
}

#[tokio::test]
async fn v2_resume_on_another_instance_uses_a_rewound_timestamp() {
    let events = fixture();
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let resume = Cursor {
        source: "jetstream".into(),
        value: events[7].seq,
        time_us: events[7].time_us,
        issuer: Some("wss://another.example.com".into()),
    };
    let mut client = start(config(&[server.url()], Protocol::V2), Some(resume));
    // 5 s before event 7 is event 2.
    assert_eq!(summaries(&client.take(events.len() - 2).await), expected(&events[2..]));
    client.stop().await;
    assert_eq!(
        server.requests(),
        [format!("{V2_PATH}?{V2_FILTERS}&cursor={}", events[7].time_us - 5_000_000)]
    );
}

#[tokio::test]
async fn cursor_too_old_records_a_gap_then_goes_live() {
    let events = fixture();
    let server = server(ServerConfig {
        items: items(&events),
        cursor_floor: Some(events[4].seq),
        live_from: 7,
        ..ServerConfig::default()
    })
    .await;
    let resume = Cursor {
        source: "jetstream".into(),
        value: events[1].seq,
        time_us: events[1].time_us,
        issuer: Some(server.url()),
    };
    let mut client = start(config(&[server.url()], Protocol::V2), Some(resume));
    let got = client.take(1 + 3).await;
    match &got[0] {
        SourceItem::Gap { from, reason } => {
            assert_eq!(*from, events[1].time_us);
            assert!(reason.starts_with("CursorTooOld"), "{reason}");
        }
        other => panic!("expected a gap first, got {other:?}"),
    }
    assert_eq!(summaries(&got[1..]), expected(&events[7..]));
    client.assert_quiet().await;
    client.stop().await;
    assert_eq!(
        server.requests(),
        [format!("{V2_PATH}?{V2_FILTERS}&cursor={}", events[1].seq), format!("{V2_PATH}?{V2_FILTERS}")]
    );
}

/// `events[i]` with another DID or record, for malformed frames at the same position.
fn altered(e: &TestEvent, did: Option<&str>, record: Option<serde_json::Value>) -> Item {
    let mut e = e.clone();
    if let Some(did) = did {
        e.did = did.into();
    }
    if let (TestBody::Commit { record: slot, .. }, Some(record)) = (&mut e.body, record) {
        *slot = Some(record);
    }
    Item::event(e)
}

#[tokio::test]
async fn v1_bad_frames_are_dropped_and_the_stream_goes_on() {
    let events = fixture();
    let (e0, e1) = (&events[0], &events[1]);
    let oversized = format!(
        r#"{{"did":"{}","time_us":{},"kind":"commit","pad":"{}"}}"#,
        e0.did,
        e0.time_us,
        "x".repeat(5 << 20)
    );
    let stream = vec![
        Item::event(e0.clone()),
        Item::text(e0.seq, e0.time_us, "{not json"),
        altered(e0, Some("did:bad"), None),
        altered(e0, None, Some(serde_json::json!({"$type": "fm.plyr.track", "duration": 1.5}))),
        Item::text(e0.seq, e0.time_us, oversized),
        Item::text(
            e0.seq,
            e0.time_us,
            format!(r#"{{"did":"{}","time_us":{},"kind":"labels"}}"#, e0.did, e0.time_us),
        ),
        Item::binary(e0.seq, e0.time_us, b"binary on a plain stream".to_vec()),
        Item::event(e1.clone()),
        Item::event(events[2].clone()),
    ];
    let server = server(ServerConfig { items: stream, ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V1), None);
    assert_eq!(summaries(&client.take(3).await), expected(&events[..3]));
    client.assert_quiet().await;
    client.stop().await;
    assert_eq!(server.requests().len(), 1, "bad frames never cost the connection");
}

#[tokio::test]
async fn v1_bad_compressed_frames_are_dropped_and_the_stream_goes_on() {
    let events = fixture();
    let e0 = &events[0];
    let bomb = format!(r#"{{"kind":"commit","pad":"{}"}}"#, " ".repeat(5 << 20));
    let stream = vec![
        Item::event(e0.clone()),
        Item::binary(e0.seq, e0.time_us, b"\x28\xb5\x2f\xfdgarbage that is not zstd".to_vec()),
        Item::text(e0.seq, e0.time_us, bomb),
        Item::text(e0.seq, e0.time_us, "{not json"),
        Item::event(events[1].clone()),
    ];
    let server = server(ServerConfig { items: stream, ..ServerConfig::default() }).await;
    let mut config = config(&[server.url()], Protocol::V1);
    config.compress = true;
    let mut client = start(config, None);
    assert_eq!(summaries(&client.take(2).await), expected(&events[..2]));
    client.assert_quiet().await;
    client.stop().await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn v2_bad_frames_are_dropped_and_the_stream_goes_on() {
    let events = fixture();
    let e0 = &events[0];
    let stream = vec![
        Item::event(e0.clone()),
        Item::text(e0.seq, e0.time_us, "{}"),
        Item::text(e0.seq, e0.time_us, r##"{"$type":"message","payload":{"$type":"#commit","seq":1}}"##),
        altered(e0, Some("did:plc:"), None),
        Item::binary(e0.seq, e0.time_us, vec![0, 1, 2]),
        Item::event(events[1].clone()),
    ];
    let server = server(ServerConfig { items: stream, ..ServerConfig::default() }).await;
    let mut client = start(config(&[server.url()], Protocol::V2), None);
    assert_eq!(summaries(&client.take(2).await), expected(&events[..2]));
    client.assert_quiet().await;
    client.stop().await;
}

#[tokio::test]
async fn fails_over_to_the_next_url() {
    let events = fixture();
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let mut client = start(config(&[dead_url().await, server.url()], Protocol::V2), None);
    assert_eq!(summaries(&client.take(events.len()).await), expected(&events));
    client.stop().await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn shutdown_stops_promptly_when_idle_backing_off_or_blocked() {
    let idle = server(ServerConfig::default()).await;
    let client = start(config(&[idle.url()], Protocol::V2), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(idle.requests().len(), 1, "connected and idle");
    client.stop().await;

    let mut patient = config(&[dead_url().await], Protocol::V1);
    patient.timing.backoff_base = Duration::from_secs(30);
    patient.timing.backoff_max = Duration::from_secs(30);
    let client = start(patient, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.stop().await;

    // Blocked on a full channel (backpressure from a processor that does not read).
    let busy = server(ServerConfig { items: items(&fixture()), ..ServerConfig::default() }).await;
    let client = start(config(&[busy.url()], Protocol::V2), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.stop().await;
}

#[tokio::test]
async fn a_closed_channel_ends_the_run() {
    let events = fixture();
    let server = server(ServerConfig { items: items(&events), ..ServerConfig::default() }).await;
    let Client { rx, task, .. } = start(config(&[server.url()], Protocol::V2), None);
    drop(rx);
    let ended = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(matches!(ended, Ok(Ok(Err(JetstreamError::ChannelClosed)))), "{ended:?}");
}
