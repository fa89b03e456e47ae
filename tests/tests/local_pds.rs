//! Smoke test of the local reference PDS harness (`plyr_e2e::pds`): accounts, fm.plyr records
//! with a blob, every write method, the sync reads and the firehose an indexer consumes, handle
//! and account-status changes, service auth and PDS service proxying, and that both servers
//! listen on 127.0.0.1 only. One PDS serves the whole file.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use futures_util::StreamExt as _;
use plyr_e2e::pds::{LocalPds, PdsClient, Write};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const TRACK: &str = "fm.plyr.track";
const LIKE: &str = "fm.plyr.like";

#[tokio::test]
async fn accounts_records_sync_and_firehose() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let client = pds.client();
    let mut alice = client.create_account("alice.test", "alice@example.com", "alice-pw").await?;
    let bob = client.create_account("bob.test", "bob@example.com", "bob-pw").await?;
    assert!(alice.did.starts_with("did:plc:"), "{}", alice.did);
    assert_eq!(alice.handle, "alice.test");
    assert_ne!(alice.did, bob.did);

    // A track with an uploaded audio blob, then an edit of it. (Not an `ID3` header: the PDS sniffs
    // the content and answers 500 "End-Of-Stream" for a truncated MP3.)
    let audio = b"plyr e2e stand-in audio bytes ".repeat(100);
    let audio_len = audio.len();
    let blob = client.upload_blob(&alice, audio, "audio/mpeg").await?;
    assert_eq!(blob["$type"], "blob");
    assert_eq!(blob["mimeType"], "audio/mpeg");
    assert_eq!(blob["size"], json!(audio_len));
    let blob_cid = blob["ref"]["$link"].as_str().context("blob ref")?.to_owned();
    let track = client.create_record(&alice, TRACK, track_record("First light", &blob), None).await?;
    assert!(track.uri.starts_with(&format!("at://{}/{TRACK}/", alice.did)), "{}", track.uri);
    assert!(track.cid.starts_with("bafyrei"), "{}", track.cid);
    let edited =
        client.put_record(&alice, TRACK, track.rkey(), track_record("First light (remaster)", &blob)).await?;
    assert_eq!(edited.uri, track.uri);
    assert_ne!(edited.cid, track.cid);

    // Bob likes it three times over: createRecord, then applyWrites, then deletes one.
    let like = client.create_record(&bob, LIKE, like_record(&edited.strong_ref()), None).await?;
    let out = client
        .apply_writes(
            &bob,
            &[
                Write::Create {
                    collection: LIKE.into(),
                    rkey: Some("3kaaaaaaaaa22".into()),
                    value: like_record(&edited.strong_ref()),
                },
                Write::Create {
                    collection: LIKE.into(),
                    rkey: Some("3kaaaaaaaaa23".into()),
                    value: like_record(&edited.strong_ref()),
                },
            ],
        )
        .await?;
    assert_eq!(out["results"].as_array().map(Vec::len), Some(2), "{out}");
    client.delete_record(&bob, LIKE, "3kaaaaaaaaa23").await?;

    // Read back.
    let tracks = client.list_records(&alice.did, TRACK).await?;
    assert_eq!(tracks.len(), 1, "{tracks:?}");
    assert_eq!(tracks[0]["uri"], json!(track.uri));
    assert_eq!(tracks[0]["cid"], json!(edited.cid));
    assert_eq!(tracks[0]["value"]["title"], "First light (remaster)");
    assert_eq!(tracks[0]["value"]["audioBlob"]["ref"]["$link"], json!(blob_cid));
    let likes = client.list_records(&bob.did, LIKE).await?;
    let mut like_uris: Vec<&str> = likes.iter().filter_map(|r| r["uri"].as_str()).collect();
    like_uris.sort_unstable();
    let mut expected = vec![like.uri.clone(), format!("at://{}/{LIKE}/3kaaaaaaaaa22", bob.did)];
    expected.sort_unstable();
    assert_eq!(like_uris, expected);
    assert!(likes.iter().all(|r| r["value"]["subject"]["uri"] == json!(track.uri)));

    // The whole repo as a CAR v1: a varint-prefixed DAG-CBOR header {roots: [cid], version: 1}.
    let car = client.get_repo(&alice.did).await?;
    let (header_len, offset) = read_varint(&car).context("CAR header length")?;
    let header = car.get(offset..offset + header_len).context("CAR header")?;
    assert_eq!(header.first(), Some(&0xa2), "the CAR header is a two-entry CBOR map");
    assert!(header.starts_with(b"\xa2\x65roots"), "{header:02x?}");
    assert!(header.ends_with(b"\x67version\x01"), "{header:02x?}");
    assert!(car.len() > offset + header_len + 100, "the CAR holds blocks after its header");

    // Handle change, visible through resolveHandle.
    client.update_handle(&mut alice, "alice2.test").await?;
    assert_eq!(alice.handle, "alice2.test");
    assert_eq!(client.resolve_handle("alice2.test").await?, alice.did);

    // Deactivate and reactivate.
    client.deactivate_account(&bob).await?;
    let status = repo_status(&client, &bob.did).await?;
    assert_eq!(status["active"], false, "{status}");
    assert_eq!(status["status"], "deactivated", "{status}");
    client.activate_account(&bob).await?;
    assert_eq!(repo_status(&client, &bob.did).await?["active"], true);

    // The firehose replays everything from seq 1: per account #identity, #account, an empty
    // #commit and #sync; then one #commit per write call (5; a blob upload makes none), one more
    // #identity for the handle and two #account for the status changes. Other tests in this file
    // share the PDS, hence "at least".
    let frames =
        firehose_frame_types(pds, &[("#commit", 7), ("#identity", 3), ("#account", 4), ("#sync", 2)]).await?;
    println!("firehose frames by type: {frames:?}");
    assert!(frames.get("#commit").copied().unwrap_or(0) >= 7, "{frames:?}");
    assert!(frames.get("#identity").copied().unwrap_or(0) >= 3, "{frames:?}");
    assert!(frames.get("#account").copied().unwrap_or(0) >= 4, "{frames:?}");

    // Deleting an account removes its repo.
    client.delete_account(&bob.did).await?;
    let gone = repo_status(&client, &bob.did).await;
    assert!(gone.as_ref().is_err_and(|e| e.to_string().contains("RepoNotFound")), "{gone:?}");
    assert!(client.get_repo(&bob.did).await.is_err());
    Ok(())
}

#[tokio::test]
async fn service_auth_and_proxying() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let client = pds.client();
    let carol = client.create_account("carol.test", "carol@example.com", "carol-pw").await?;

    let aud = "did:web:localhost%3A1";
    let token = client.get_service_auth(&carol, aud, "fm.plyr.feed.getLatestTracks").await?;
    let (header, payload) = decode_jwt(&token)?;
    assert_eq!(header["alg"], "ES256K", "{header}");
    assert_eq!(payload["iss"], json!(carol.did));
    assert_eq!(payload["aud"], aud);
    assert_eq!(payload["lxm"], "fm.plyr.feed.getLatestTracks");

    // A stand-in AppView: did:web:localhost%3APORT with a #plyr_appview service that echoes the
    // Authorization header the PDS forwards.
    let appview = EchoAppView::start().await?;
    let proxy = format!("{}#plyr_appview", appview.did);
    let resp = client.proxied_get(&carol, "fm.plyr.test.echo", &[("limit", "3")], &proxy).await?;
    let status = resp.status();
    let body: Value = resp.json().await.context("proxied answer")?;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body["path"], "/xrpc/fm.plyr.test.echo?limit=3");
    let bearer = body["authorization"].as_str().context("forwarded Authorization")?;
    let (_, forwarded) = decode_jwt(bearer.strip_prefix("Bearer ").context("a bearer token")?)?;
    assert_eq!(forwarded["iss"], json!(carol.did));
    assert_eq!(forwarded["aud"], json!(appview.did));
    assert_eq!(forwarded["lxm"], "fm.plyr.test.echo");

    // Without a matching service entry the PDS refuses.
    let unknown = format!("{}#nope", appview.did);
    let resp = client.proxied_get(&carol, "fm.plyr.test.echo", &[], &unknown).await?;
    assert_eq!(resp.status(), 400);
    Ok(())
}

#[tokio::test]
async fn listens_on_loopback_only() -> anyhow::Result<()> {
    let pds = LocalPds::shared().await?;
    let (Ok(tcp), Ok(tcp6)) =
        (std::fs::read_to_string("/proc/net/tcp"), std::fs::read_to_string("/proc/net/tcp6"))
    else {
        println!("note: /proc/net/tcp{{,6}} not readable here; not checking the bound addresses");
        return Ok(());
    };
    for port in [pds.port(), pds.plc_port()] {
        let v4 = listening(&tcp, port);
        let v6 = listening(&tcp6, port);
        assert_eq!(v4, vec!["0100007F".to_owned()], "port {port}: IPv4 listeners {v4:?}");
        assert!(v6.is_empty(), "port {port}: IPv6 listeners {v6:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_dropped_pds_stops() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let pds = LocalPds::start().await?;
    println!("local PDS ready in {:?}", started.elapsed());
    let (pid, port) = (pds.pid(), pds.port());
    pds.client().create_account("dave.test", "dave@example.com", "dave-pw").await?;
    let stopping = std::time::Instant::now();
    drop(pds);
    println!("local PDS stopped in {:?}", stopping.elapsed());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "node {pid} still running");
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(refused.is_err(), "port {port} still accepts connections");
    Ok(())
}

fn track_record(title: &str, blob: &Value) -> Value {
    json!({
        "$type": TRACK,
        "title": title,
        "artist": "Alice",
        "fileType": "mp3",
        "audioBlob": blob,
        "createdAt": "2025-01-02T03:04:05.000Z",
    })
}

fn like_record(subject: &Value) -> Value {
    json!({ "$type": LIKE, "subject": subject, "createdAt": "2025-01-02T03:05:00.000Z" })
}

async fn repo_status(client: &PdsClient, did: &str) -> anyhow::Result<Value> {
    client.query("com.atproto.sync.getRepoStatus", &[("did", did)]).await
}

/// Reads the firehose from cursor 0 until every `(type, n)` in `want` has been seen n times (or
/// 20 s pass) and counts frames by their header's `t`. Every frame must be binary and start with
/// a CBOR map; the header `{t, op}` sorts `t` first in DAG-CBOR.
async fn firehose_frame_types(
    pds: &LocalPds,
    want: &[(&str, usize)],
) -> anyhow::Result<BTreeMap<String, usize>> {
    let url = format!("{}?cursor=0", pds.firehose_url());
    let (mut socket, _) =
        tokio_tungstenite::connect_async(url.as_str()).await.context("connecting to the firehose")?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let done =
        |seen: &BTreeMap<String, usize>| want.iter().all(|(t, n)| seen.get(*t).copied().unwrap_or(0) >= *n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&seen) {
        let Ok(next) = tokio::time::timeout_at(deadline, socket.next()).await else {
            break;
        };
        let frame = match next.context("the firehose closed")?? {
            Message::Binary(bytes) => bytes,
            Message::Ping(_) | Message::Pong(_) => continue,
            other => anyhow::bail!("unexpected firehose message {other:?}"),
        };
        let first = frame.first().copied().context("empty frame")?;
        anyhow::ensure!(
            first >> 5 == 5,
            "frame does not start with a CBOR map: {:02x?}",
            &frame[..frame.len().min(16)]
        );
        *seen.entry(header_type(&frame).unwrap_or("?").to_owned()).or_default() += 1;
    }
    Ok(seen)
}

/// The `t` of a `{t: "#...", op: 1}` header: `a2 61 74 <text(len)> ...`.
fn header_type(frame: &[u8]) -> Option<&str> {
    let rest = frame.strip_prefix(b"\xa2\x61t")?;
    let (&head, rest) = rest.split_first()?;
    let len = usize::from(head.checked_sub(0x60).filter(|l| *l < 24)?);
    std::str::from_utf8(rest.get(..len)?).ok()
}

fn read_varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(9).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A JWT's header and payload; checks it has three non-empty base64url parts.
fn decode_jwt(token: &str) -> anyhow::Result<(Value, Value)> {
    let parts: Vec<&str> = token.split('.').collect();
    anyhow::ensure!(parts.len() == 3 && parts.iter().all(|p| !p.is_empty()), "not a three-part JWT: {token}");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signature = b64.decode(parts[2]).context("signature is not base64url")?;
    anyhow::ensure!(signature.len() == 64, "a compact r||s signature, got {} bytes", signature.len());
    let header = serde_json::from_slice(&b64.decode(parts[0]).context("header base64url")?)?;
    let payload = serde_json::from_slice(&b64.decode(parts[1]).context("payload base64url")?)?;
    Ok((header, payload))
}

/// The bound addresses (hex, as in /proc/net/tcp) of sockets listening on `port`.
fn listening(table: &str, port: u16) -> Vec<String> {
    let port = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (addr, p) = fields.get(1)?.split_once(':')?;
            (p == port && fields.get(3) == Some(&"0A")).then(|| addr.to_owned())
        })
        .collect()
}

/// A minimal HTTP/1.1 server on 127.0.0.1 standing in for the AppView: serves its `did:web`
/// document and answers any `/xrpc/` GET with the path and the Authorization header it got.
struct EchoAppView {
    did: String,
    task: tokio::task::JoinHandle<()>,
}

impl EchoAppView {
    async fn start() -> anyhow::Result<EchoAppView> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let did = format!("did:web:localhost%3A{port}");
        let doc = json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "service": [{
                "id": "#plyr_appview",
                "type": "PlyrAppView",
                "serviceEndpoint": format!("http://localhost:{port}"),
            }],
        });
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let doc = doc.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buf);
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let authorization = request
                        .lines()
                        .find_map(|l| {
                            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        })
                        .map(|(_, v)| v.trim().to_owned());
                    let (status, body) = if path == "/.well-known/did.json" {
                        ("200 OK", doc)
                    } else if path.starts_with("/xrpc/") {
                        ("200 OK", json!({ "path": path, "authorization": authorization }))
                    } else {
                        ("404 Not Found", json!({ "error": "NotFound", "message": path }))
                    };
                    let body = body.to_string();
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(EchoAppView { did, task })
    }
}

impl Drop for EchoAppView {
    fn drop(&mut self) {
        self.task.abort();
    }
}
