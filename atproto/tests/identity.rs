//! Identity resolution against real local HTTP servers: an axum app on 127.0.0.1 plays the PLC
//! directory, a `did:web` host and a PDS (`resolveHandle`), and counts the requests it gets; a
//! raw TCP server plays a hostile host (endless chunked body, trickled bytes). Also the DID
//! document and `did:key` fixtures (see `fixtures/identity/README.md`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use plyr_atproto::identity::{
    Curve, DidDocument, HandleResolver, IdentityConfig, IdentityError, IdentityResolver, PdsHandleResolver,
    SigningKey, StaticHandles, VerifyingKey,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const MULTIKEY: &str = "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/identity").join(name);
    std::fs::read_to_string(path).expect("fixture exists")
}

/// What the fake server answers for one key (a DID, `web`, or a handle).
#[derive(Clone)]
enum Answer {
    Json(String),
    Slow(Duration, String),
    Text(String),
    Huge,
}

#[derive(Default)]
struct Fake {
    answers: Mutex<HashMap<String, Answer>>,
    hits: Mutex<HashMap<String, usize>>,
}

impl Fake {
    fn set(&self, key: &str, answer: Answer) {
        self.answers.lock().expect("lock").insert(key.to_owned(), answer);
    }

    fn hits(&self, key: &str) -> usize {
        self.hits.lock().expect("lock").get(key).copied().unwrap_or(0)
    }

    async fn answer(&self, key: &str) -> Response {
        *self.hits.lock().expect("lock").entry(key.to_owned()).or_default() += 1;
        let answer = self.answers.lock().expect("lock").get(key).cloned();
        match answer {
            None => StatusCode::NOT_FOUND.into_response(),
            Some(Answer::Json(body)) => ([("content-type", "application/json")], body).into_response(),
            Some(Answer::Text(body)) => body.into_response(),
            Some(Answer::Huge) => vec![b' '; 100 * 1024].into_response(),
            Some(Answer::Slow(delay, body)) => {
                tokio::time::sleep(delay).await;
                body.into_response()
            }
        }
    }
}

/// Starts the fake PLC directory / did:web host / PDS; returns its state and port.
async fn fake_server() -> (Arc<Fake>, u16) {
    async fn plc(State(fake): State<Arc<Fake>>, UrlPath(did): UrlPath<String>) -> Response {
        fake.answer(&did).await
    }
    async fn web(State(fake): State<Arc<Fake>>) -> Response {
        fake.answer("web").await
    }
    async fn resolve_handle(
        State(fake): State<Arc<Fake>>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let handle = q.get("handle").cloned().unwrap_or_default();
        match fake.answer(&handle).await {
            r if r.status() == StatusCode::NOT_FOUND => (StatusCode::BAD_REQUEST, "{}").into_response(),
            r => r,
        }
    }
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/.well-known/did.json", get(web))
        .route("/xrpc/com.atproto.identity.resolveHandle", get(resolve_handle))
        .route("/{did}", get(plc))
        .with_state(fake.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, port)
}

/// A raw server that answers every connection with `head` and then `body_chunk` forever, one
/// chunk every `pause`.
async fn hostile_server(head: &'static str, body_chunk: Vec<u8>, pause: Duration) -> u16 {
    let body_chunk: Arc<[u8]> = body_chunk.into();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body_chunk = body_chunk.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(head.as_bytes()).await;
                while socket.write_all(&body_chunk).await.is_ok() {
                    tokio::time::sleep(pause).await;
                }
            });
        }
    });
    port
}

fn config(port: u16) -> IdentityConfig {
    IdentityConfig {
        plc_url: format!("http://127.0.0.1:{port}"),
        request_timeout: Duration::from_millis(500),
        cache_ttl: Duration::from_secs(60),
        failure_ttl: Duration::from_millis(300),
        ..IdentityConfig::default()
    }
}

fn resolver(config: IdentityConfig, handles: StaticHandles) -> IdentityResolver {
    IdentityResolver::with_handle_resolver(config, Arc::new(handles)).expect("resolver")
}

fn doc_with_handle(did: &str, handle: &str) -> String {
    fixture("did_plc_doc.json").replace(DID, did).replace("at://atproto.com", &format!("at://{handle}"))
}

#[test]
fn multikey_and_legacy_documents_give_the_same_key() {
    let current = DidDocument::parse(DID, fixture("did_plc_doc.json").as_bytes()).expect("current doc");
    let legacy = DidDocument::parse(DID, fixture("did_plc_doc_legacy.json").as_bytes()).expect("legacy doc");
    assert_eq!(current, legacy);
    let key = current.signing_key.expect("signing key");
    assert_eq!(key.curve(), Curve::K256);
    assert_eq!(key.to_multikey(), MULTIKEY);
    assert_eq!(key.did_key(), format!("did:key:{MULTIKEY}"));
    assert!(matches!(key.verifying_key(), Ok(VerifyingKey::K256(_))));
    assert_eq!(current.handle.as_deref(), Some("atproto.com"));
    assert_eq!(current.pds_endpoint.as_deref(), Some("https://bsky.social"));

    let web = DidDocument::parse("did:web:discover.bsky.social", fixture("did_web_doc.json").as_bytes())
        .expect("web");
    assert_eq!((web.handle, web.pds_endpoint, web.signing_key), (None, None, None));
}

#[test]
fn document_for_another_did_is_rejected() {
    let other = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    let result = DidDocument::parse(other, fixture("did_plc_doc.json").as_bytes());
    assert!(matches!(result, Err(IdentityError::DocumentIdMismatch { .. })), "{result:?}");
}

#[test]
fn w3c_did_key_vectors() {
    let vectors =
        |name: &str| -> Vec<serde_json::Value> { serde_json::from_str(&fixture(name)).expect("json") };
    for case in vectors("w3c_didkey_K256.json") {
        let hex = case["privateKeyBytesHex"].as_str().expect("hex");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
            .collect();
        let public = k256::SecretKey::from_slice(&bytes).expect("k256 secret").public_key();
        let key = SigningKey::from_sec1(Curve::K256, public.to_encoded_point(false).as_bytes()).expect("key");
        let expected = case["publicDidKey"].as_str().expect("did:key");
        assert_eq!(key.did_key(), expected);
        assert_eq!(SigningKey::from_did_key(expected), Ok(key));
    }
    for case in vectors("w3c_didkey_P256.json") {
        let base58 = format!("z{}", case["privateKeyBytesBase58"].as_str().expect("base58"));
        let (_, bytes) = multibase::decode(base58).expect("base58");
        let public = p256::SecretKey::from_slice(&bytes).expect("p256 secret").public_key();
        let uncompressed = public.to_encoded_point(false);
        let key = SigningKey::from_sec1(Curve::P256, uncompressed.as_bytes()).expect("key");
        let expected = case["publicDidKey"].as_str().expect("did:key");
        assert_eq!(key.did_key(), expected);
        assert!(matches!(key.verifying_key(), Ok(VerifyingKey::P256(_))));

        // The same key as a legacy EcdsaSecp256r1VerificationKey2019 (raw uncompressed point).
        let legacy = multibase::encode(multibase::Base::Base58Btc, uncompressed.as_bytes());
        let doc = fixture("did_plc_doc_legacy.json")
            .replace("EcdsaSecp256k1VerificationKey2019", "EcdsaSecp256r1VerificationKey2019")
            .replace(
                "zQYEBzXeuTM9UR3rfvNag6L3RNAs5pQZyYPsomTsgQhsxLdEgCrPTLgFna8yqCnxPpNT7DBk6Ym3dgPKNu86vt9GR",
                &legacy,
            );
        let parsed = DidDocument::parse(DID, doc.as_bytes()).expect("legacy P-256 doc");
        assert_eq!(parsed.signing_key, Some(key));
    }
}

#[tokio::test]
async fn resolves_plc_and_did_web_documents() {
    let (fake, port) = fake_server().await;
    fake.set(DID, Answer::Json(fixture("did_plc_doc_legacy.json")));
    let web_did = format!("did:web:localhost%3A{port}");
    fake.set(
        "web",
        Answer::Json(fixture("did_web_doc.json").replace("did:web:discover.bsky.social", &web_did)),
    );
    // did:web on localhost with a port is a test network (refused by default).
    let network = plyr_atproto::outbound::NetworkPolicy::test_network();
    let identity = resolver(IdentityConfig { network, ..config(port) }, StaticHandles::default());

    let doc = identity.resolve_did(DID).await.expect("plc doc");
    assert_eq!(doc.signing_key.as_ref().map(SigningKey::to_multikey).as_deref(), Some(MULTIKEY));
    let web = identity.resolve_did(&web_did).await.expect("did:web over http on localhost");
    assert_eq!(web.id, web_did);

    // Documents whose id is not the DID asked for are rejected, from either method.
    let other = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    fake.set(other, Answer::Json(fixture("did_plc_doc.json")));
    fake.set("web", Answer::Json(fixture("did_web_doc.json")));
    let fresh = resolver(IdentityConfig { network, ..config(port) }, StaticHandles::default());
    for did in [other, web_did.as_str()] {
        let mismatch = fresh.resolve_did(did).await;
        assert!(matches!(mismatch, Err(IdentityError::DocumentIdMismatch { .. })), "{mismatch:?}");
    }
}

#[tokio::test]
async fn invalid_and_unsupported_dids_make_no_request() {
    let (fake, port) = fake_server().await;
    let identity = resolver(config(port), StaticHandles::default());
    let cases = [
        ("did:plc:short", "InvalidDid"),
        ("did:plc:ewvi7nxzyoun6zhxrhs64oi1", "InvalidDid"),
        ("not a did", "InvalidDid"),
        ("did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF", "UnsupportedDid"),
        ("did:web:example.com:user:alice", "UnsupportedDid"),
        ("did:web:example.com%3Aport", "UnsupportedDid"),
    ];
    for (did, expected) in cases {
        let error = identity.resolve_did(did).await.expect_err(did);
        assert!(format!("{error:?}").starts_with(expected), "{did}: {error:?}");
    }
    assert_eq!(fake.hits.lock().expect("lock").len(), 0);
}

#[tokio::test]
async fn not_found_is_cached_only_for_the_failure_ttl() {
    let (fake, port) = fake_server().await;
    let identity = resolver(config(port), StaticHandles::default());
    for _ in 0..3 {
        assert!(matches!(identity.resolve_did(DID).await, Err(IdentityError::NotFound(_))));
    }
    assert_eq!(fake.hits(DID), 1);
    fake.set(DID, Answer::Json(fixture("did_plc_doc.json")));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(identity.resolve_did(DID).await.is_ok());
    assert!(identity.resolve_did(DID).await.is_ok());
    assert_eq!(fake.hits(DID), 2);
}

#[tokio::test]
async fn concurrent_resolves_of_one_did_make_one_request() {
    let (fake, port) = fake_server().await;
    fake.set(DID, Answer::Slow(Duration::from_millis(200), fixture("did_plc_doc.json")));
    let identity = resolver(config(port), StaticHandles::default());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let identity = identity.clone();
            tokio::spawn(async move { identity.resolve_did(DID).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task").is_ok());
    }
    assert_eq!(fake.hits(DID), 1);
}

#[tokio::test]
async fn invalidate_and_fresh_resolve_refetch() {
    let (fake, port) = fake_server().await;
    fake.set(DID, Answer::Json(fixture("did_plc_doc.json")));
    let identity = resolver(config(port), StaticHandles::default());
    identity.resolve_did(DID).await.expect("first");
    identity.resolve_did(DID).await.expect("cached");
    assert_eq!(fake.hits(DID), 1);
    identity.invalidate(DID).await;
    identity.resolve_did(DID).await.expect("after invalidate");
    assert_eq!(fake.hits(DID), 2);
    identity.resolve_did_fresh(DID).await.expect("fresh");
    assert_eq!(fake.hits(DID), 3);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_errors() {
    let (fake, port) = fake_server().await;
    let identity = resolver(config(port), StaticHandles::default());
    let cases = [
        ("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", Answer::Huge, "BodyTooLarge"),
        ("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", Answer::Text("<html>hello</html>".into()), "Malformed"),
        ("did:plc:cccccccccccccccccccccccc", Answer::Json(r#"{"id": ["x"]}"#.into()), "Malformed"),
        ("did:plc:dddddddddddddddddddddddd", Answer::Json("[".repeat(10_000)), "Malformed"),
    ];
    for (did, answer, expected) in cases {
        fake.set(did, answer);
        let error = identity.resolve_did(did).await.expect_err(did);
        assert!(format!("{error:?}").starts_with(expected), "{did}: {error:?}");
    }
}

#[tokio::test]
async fn hostile_hosts_cannot_hang_or_flood() {
    // An endless chunked body (no Content-Length) of 1 KiB chunks of spaces: stops at the limit.
    let mut chunk = b"400\r\n".to_vec();
    chunk.extend([b' '; 0x400]);
    chunk.extend(b"\r\n");
    let endless =
        hostile_server("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk, Duration::ZERO).await;
    let identity = resolver(config(endless), StaticHandles::default());
    let error = identity.resolve_did(DID).await.expect_err("endless body");
    assert!(matches!(error, IdentityError::BodyTooLarge { .. }), "{error:?}");

    let trickle = hostile_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
        b"{".to_vec(),
        Duration::from_millis(50),
    )
    .await;
    let identity = resolver(config(trickle), StaticHandles::default());
    let started = Instant::now();
    let error = identity.resolve_did(DID).await.expect_err("trickled body");
    assert!(matches!(error, IdentityError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn slow_directory_times_out_and_the_timeout_is_cached_briefly() {
    let (fake, port) = fake_server().await;
    fake.set(DID, Answer::Slow(Duration::from_secs(10), fixture("did_plc_doc.json")));
    let identity = resolver(config(port), StaticHandles::default());
    let started = Instant::now();
    assert!(matches!(identity.resolve_did(DID).await, Err(IdentityError::Timeout { .. })));
    assert!(matches!(identity.resolve_did(DID).await, Err(IdentityError::Timeout { .. })));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(fake.hits(DID), 1);
}

#[tokio::test]
async fn handles_are_verified_both_ways() {
    let (fake, port) = fake_server().await;
    let (alice, bob, carol) = (
        "did:plc:aliceaaaaaaaaaaaaaaaaaaa",
        "did:plc:bobbbbbbbbbbbbbbbbbbbbbb",
        "did:plc:carolccccccccccccccccccc",
    );
    fake.set(alice, Answer::Json(doc_with_handle(alice, "Alice.Test")));
    fake.set(bob, Answer::Json(doc_with_handle(bob, "alice.test")));
    fake.set(carol, Answer::Json(doc_with_handle(carol, "carol.test")));
    let handles = StaticHandles::new([("alice.test", alice)]);
    let identity = resolver(config(port), handles);

    let verified = identity.verify(alice).await.expect("alice");
    assert_eq!((verified.handle.as_deref(), verified.handle_verified), (Some("alice.test"), true));
    assert_eq!(verified.pds_endpoint.as_deref(), Some("https://bsky.social"));
    assert_eq!(verified.signing_key.map(|k| k.to_multikey()).as_deref(), Some(MULTIKEY));
    // bob claims alice's handle: the handle points back at alice, so bob's claim is unverified.
    let claimed = identity.verify(bob).await.expect("bob");
    assert_eq!((claimed.handle.as_deref(), claimed.handle_verified), (Some("alice.test"), false));
    // carol's handle resolves nowhere.
    let unresolved = identity.verify(carol).await.expect("carol");
    assert_eq!((unresolved.handle.as_deref(), unresolved.handle_verified), (Some("carol.test"), false));
    assert!(matches!(identity.resolve_handle("not a handle").await, Err(IdentityError::InvalidHandle(_))));
}

#[tokio::test]
async fn pds_handle_resolver_asks_the_configured_pds() {
    let (fake, port) = fake_server().await;
    fake.set(DID, Answer::Json(doc_with_handle(DID, "alice.test")));
    fake.set("alice.test", Answer::Json(format!(r#"{{"did":"{DID}"}}"#)));
    let identity = IdentityResolver::new(IdentityConfig {
        handle_pds: Some(format!("http://localhost:{port}/")),
        ..config(port)
    })
    .expect("resolver");
    assert_eq!(identity.resolve_handle("ALICE.test").await, Ok(Some(DID.to_owned())));
    assert_eq!(identity.resolve_handle("nobody.test").await, Ok(None));
    assert!(identity.verify(DID).await.expect("verify").handle_verified);
    assert_eq!(fake.hits("alice.test"), 1, "the handle lookup is cached");

    // Used directly, as a HandleResolver.
    let pds: reqwest::Url = format!("http://127.0.0.1:{port}").parse().expect("url");
    let direct = PdsHandleResolver::new(reqwest::Client::new(), &pds).expect("pds resolver");
    assert_eq!(direct.resolve("alice.test").await, Ok(Some(DID.to_owned())));
    assert_eq!(direct.resolve("nobody.test").await, Ok(None));
}

#[tokio::test]
async fn default_resolver_skips_disallowed_tlds() {
    let identity = IdentityResolver::new(IdentityConfig::default()).expect("system DNS configuration");
    for handle in ["alice.local", "alice.localhost", "metadata.google.internal", "x.onion"] {
        assert_eq!(identity.resolve_handle(handle).await, Ok(None), "{handle}");
    }
    let bad = IdentityResolver::new(IdentityConfig {
        plc_url: "plc.directory".into(),
        ..IdentityConfig::default()
    });
    assert!(matches!(bad, Err(IdentityError::Config(_))));
}
