//! A hostile labeler on a local websocket: `#info`, undecodable messages, labels that are
//! malformed, unsigned, signed by someone else or claiming another labeler, an error message
//! (`FutureCursor`) and a reset sequence. Good labels around them are stored; bad ones never
//! are; the client resumes from its stored cursor and starts again from 0 after a reset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::SinkExt;
use ipld_core::ipld::Ipld;
use plyr_atproto::label::{self, Label, LabelSigner, NewLabel};
use plyr_indexer::labeler::{LabelerService, StaticLabelers};
use plyr_indexer::websocket::Timing;
use plyr_store::testkit::TestDb;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use url::Url;

const LABELER: &str = "did:plc:labeler2222222222222222";
const KEY: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";
const OTHER_KEY: &str = "3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b";

fn new_label(src: &str, uri: &str, val: &str) -> NewLabel {
    NewLabel {
        src: src.into(),
        uri: uri.into(),
        cid: None,
        val: val.into(),
        neg: false,
        cts: Utc::now(),
        exp: None,
    }
}

fn ipld(label: &Label) -> Ipld {
    serde_ipld_dagcbor::from_slice(&label.to_cbor().expect("encodes")).expect("decodes")
}

fn signed(uri: &str, val: &str) -> Ipld {
    ipld(&LabelSigner::from_hex(KEY).expect("key").sign(new_label(LABELER, uri, val)).expect("signs"))
}

fn frame(header: serde_json::Value, body: &Ipld) -> Vec<u8> {
    let mut bytes = serde_ipld_dagcbor::to_vec(&header).expect("header");
    bytes.extend(serde_ipld_dagcbor::to_vec(body).expect("body"));
    bytes
}

fn labels(seq: i64, labels: Vec<Ipld>) -> Vec<u8> {
    let body =
        Ipld::Map([("seq".into(), Ipld::Integer(seq.into())), ("labels".into(), Ipld::List(labels))].into());
    frame(json!({"op": 1, "t": "#labels"}), &body)
}

fn text(fields: &[(&str, &str)]) -> Ipld {
    Ipld::Map(fields.iter().map(|(k, v)| ((*k).to_owned(), Ipld::String((*v).to_owned()))).collect())
}

/// Serves `scripts[i]` on the i-th connection, then closes it (the last one stays open).
/// Reports each connection's request URI.
async fn server(scripts: Vec<Vec<Vec<u8>>>) -> (Url, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
    let (uris, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let last = scripts.len() - 1;
        for (i, frames) in scripts.into_iter().enumerate() {
            let Ok((stream, _)) = listener.accept().await else { return };
            let uris = uris.clone();
            #[expect(
                clippy::result_large_err,
                reason = "the signature tungstenite's handshake callback requires"
            )]
            let callback = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                let _ = uris.send(req.uri().to_string());
                Ok(resp)
            };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
            for frame in frames {
                if socket.send(Message::Binary(frame)).await.is_err() {
                    return;
                }
            }
            if i == last {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(socket);
                });
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = socket.close(None).await;
            }
        }
    });
    (url, seen)
}

async fn stored(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT val FROM labels ORDER BY val").fetch_all(&db.pool).await.expect("labels")
}

#[tokio::test]
async fn bad_labels_and_messages_are_dropped_and_the_stream_goes_on() {
    let db = TestDb::new().await.expect("db");
    plyr_indexer::telemetry::install_recorder().expect("recorder");
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let metrics_stop = CancellationToken::new();
    let metrics = tokio::spawn(plyr_indexer::telemetry::serve(
        metrics_addr,
        db.pool.clone(),
        Default::default(),
        metrics_stop.clone(),
    ));
    let subject = "at://did:plc:artist22222222222222222/fm.plyr.track/3kabc";
    let forged = ipld(
        &LabelSigner::from_hex(OTHER_KEY)
            .expect("key")
            .sign(new_label(LABELER, subject, "forged"))
            .expect("signs"),
    );
    let foreign = ipld(
        &LabelSigner::from_hex(KEY)
            .expect("key")
            .sign(new_label("did:plc:someoneelse", subject, "foreign"))
            .expect("signs"),
    );
    let unsigned = ipld(&label::unsigned(new_label(LABELER, subject, "unsigned")).expect("label"));
    let mut tampered = signed(subject, "tampered");
    if let Ipld::Map(m) = &mut tampered {
        m.insert("val".into(), Ipld::String("tampered-after".into()));
    }
    let first = vec![
        frame(json!({"op": 1, "t": "#info"}), &text(&[("name", "OutdatedCursor"), ("message", "old")])),
        b"\xff\x00 not cbor".to_vec(),
        frame(json!({"op": 1, "t": "#commit"}), &text(&[("x", "y")])),
        labels(
            1,
            vec![
                signed(subject, "good-1"),
                forged,
                foreign,
                unsigned,
                tampered,
                text(&[("src", LABELER), ("uri", subject), ("val", ""), ("cts", "2026-01-01T00:00:00Z")]),
                Ipld::String("not a label".into()),
            ],
        ),
        labels(2, vec![signed(subject, "good-2")]),
    ];
    let second = vec![frame(json!({"op": -1}), &text(&[("error", "FutureCursor"), ("message", "reset")]))];
    let third = vec![labels(1, vec![signed("did:plc:troll2222222222222222222", "good-after-reset")])];
    let (url, mut seen) = server(vec![first, second, third]).await;

    let key = LabelSigner::from_hex(KEY).expect("key").public_key().expect("public key");
    let keys = StaticLabelers(HashMap::from([(LABELER.to_owned(), LabelerService { endpoint: url, key })]));
    let timing = Timing {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(100),
        ..Timing::default()
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(plyr_indexer::labeler::run(
        db.pool.clone(),
        Arc::new(keys),
        vec![LABELER.to_owned()],
        timing,
        shutdown.clone(),
    ));

    let want = ["good-1", "good-2", "good-after-reset"];
    for _ in 0..200 {
        if stored(&db).await == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(stored(&db).await, want);
    let mut uris = Vec::new();
    while let Ok(uri) = seen.try_recv() {
        uris.push(uri);
    }
    let path = "/xrpc/com.atproto.label.subscribeLabels";
    assert_eq!(uris, [format!("{path}?cursor=0"), format!("{path}?cursor=2"), format!("{path}?cursor=0")]);
    let cursor: i64 = sqlx::query_scalar("SELECT cursor FROM cursors WHERE source = $1")
        .bind(format!("labeler:{LABELER}"))
        .fetch_one(&db.pool)
        .await
        .expect("cursor");
    assert_eq!(cursor, 1, "the reset labeler's position");

    // Every drop is counted, by reason.
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    for (reason, n) in [
        ("bad_signature", 2),
        ("foreign_src", 1),
        ("unsigned_label", 1),
        ("malformed_label", 2),
        ("malformed_header", 1),
        ("unknown_type", 1),
    ] {
        let line = format!("indexer_labeler_dropped_total{{reason=\"{reason}\"}} {n}");
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
    assert!(text.contains("indexer_labels_total{outcome=\"stored\"} 3"), "{text}");
    shutdown.cancel();
    task.await.expect("labeler task");
    metrics_stop.cancel();
    metrics.await.expect("join").expect("serve");
}
