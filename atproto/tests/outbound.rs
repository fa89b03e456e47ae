//! Outbound identity lookups against hostile issuers, on real sockets: `did:web` issuers on
//! loopback, private addresses, other ports or plain http are refused without a connection; the
//! caller gets one message whether the issuer was refused, not found or unreachable; and tokens
//! naming hosts that accept connections and never answer do not delay a real issuer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use plyr_atproto::identity::{Curve, IdentityConfig, IdentityError, IdentityResolver};
use plyr_atproto::outbound::{NetworkPolicy, PublicDns};
use plyr_atproto::service_auth::testkit::{TestSigner, mint, pds_claims};
use plyr_atproto::service_auth::{ServiceAuthConfig, ServiceAuthError, ServiceAuthVerifier};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SERVICE_DID: &str = "did:web:appview.example.com";
const LXM: &str = "fm.plyr.feed.getLatestTracks";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const NOBODY: &str = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz";

/// A listener that accepts connections, counts them, and never answers (the sockets are held
/// open until the test ends).
async fn black_hole() -> (u16, Arc<AtomicUsize>) {
    let (port, accepted, _) = black_hole_timed().await;
    (port, accepted)
}

/// [`black_hole`], also noting when each connection was accepted.
async fn black_hole_timed() -> (u16, Arc<AtomicUsize>, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::new()));
    let (count, when) = (accepted.clone(), times.clone());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            when.lock().expect("lock").push(Instant::now());
            held.push(socket);
        }
    });
    (port, accepted, times)
}

/// A DID document with `signer`'s key as `#atproto`.
fn document(did: &str, signer: &TestSigner) -> Value {
    let key = signer.public_key().expect("key");
    json!({
        "id": did,
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
    })
}

/// A fake PLC directory (`/<did>`) that is also a `did:web` host (`/.well-known/did.json`).
async fn directory(documents: HashMap<String, Value>, web: Option<Value>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve(listener, documents, web)
}

fn serve(listener: TcpListener, documents: HashMap<String, Value>, web: Option<Value>) -> u16 {
    type Docs = Arc<(HashMap<String, Value>, Option<Value>)>;
    async fn plc(State(docs): State<Docs>, UrlPath(did): UrlPath<String>) -> Response {
        match docs.0.get(&did) {
            Some(doc) => axum::Json(doc.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    async fn did_json(State(docs): State<Docs>) -> Response {
        match &docs.1 {
            Some(doc) => axum::Json(doc.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = Router::new()
        .route("/.well-known/did.json", get(did_json))
        .route("/{did}", get(plc))
        .with_state(Arc::new((documents, web)));
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn verifier(config: IdentityConfig) -> ServiceAuthVerifier {
    let resolver = IdentityResolver::new(config).expect("resolver");
    ServiceAuthVerifier::new(ServiceAuthConfig::new(SERVICE_DID, "plyr_appview"), Arc::new(resolver))
        .expect("verifier")
}

#[tokio::test]
async fn non_public_did_web_issuers_are_refused_without_a_connection() {
    let (port, accepted) = black_hole().await;
    let plc = directory(HashMap::new(), None).await;
    let resolver = IdentityResolver::new(IdentityConfig {
        plc_url: format!("http://127.0.0.1:{plc}"),
        ..IdentityConfig::default()
    })
    .expect("resolver");
    let dids = [
        format!("did:web:localhost%3A{port}"), // loopback name, a port, and the old plain-http rule
        format!("did:web:127.0.0.1%3A{port}"),
        "did:web:127.0.0.1".to_owned(),
        "did:web:localhost".to_owned(),
        "did:web:10.0.0.1".to_owned(),
        "did:web:192.168.1.20".to_owned(),
        "did:web:169.254.169.254".to_owned(),
        "did:web:metadata.google.internal".to_owned(),
        "did:web:intranet".to_owned(),
        format!("did:web:pds.example.com%3A{port}"),
    ];
    for did in &dids {
        let error = resolver.resolve_did(did).await.expect_err(did);
        assert!(matches!(error, IdentityError::Refused { .. }), "{did}: {error:?}");
    }
    // A name that resolves only to loopback is refused at connect time, whatever the URL
    // check said (DNS rebinding): the connection is never made.
    let name: reqwest::dns::Name = "localhost".parse().expect("name");
    assert!(reqwest::dns::Resolve::resolve(&PublicDns, name).await.is_err());
    let client = reqwest::Client::builder().dns_resolver(Arc::new(PublicDns)).build().expect("client");
    assert!(client.get(format!("http://localhost:{port}/")).send().await.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
}

#[tokio::test]
async fn refused_not_found_and_unreachable_issuers_get_one_message() {
    let (hole, accepted) = black_hole().await;
    let plc = directory(HashMap::new(), None).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let signer = TestSigner::from_seed(Curve::K256, "outbound");
    let public = IdentityConfig { plc_url: format!("http://127.0.0.1:{plc}"), ..IdentityConfig::default() };
    let test_network = |plc_url: String| IdentityConfig {
        plc_url,
        request_timeout: Duration::from_millis(300),
        network: NetworkPolicy::test_network(),
        ..IdentityConfig::default()
    };
    let cases = [
        ("refused", verifier(public.clone()), format!("did:web:127.0.0.1%3A{hole}")),
        ("not found", verifier(public), NOBODY.to_owned()),
        ("port closed", verifier(test_network(format!("http://127.0.0.1:{closed}"))), NOBODY.to_owned()),
        ("no answer", verifier(test_network(format!("http://127.0.0.1:{hole}"))), NOBODY.to_owned()),
        (
            "did:web port closed",
            verifier(test_network("http://127.0.0.1:9".into())),
            format!("did:web:127.0.0.1%3A{closed}"),
        ),
    ];
    let mut answers = Vec::new();
    for (name, verifier, iss) in cases {
        let token = mint(&signer, &pds_claims(&iss, SERVICE_DID, LXM));
        let error = verifier.verify(&token, LXM).await.expect_err(name);
        assert!(
            matches!(
                error,
                ServiceAuthError::UnknownIssuer { .. } | ServiceAuthError::IssuerUnavailable { .. }
            ),
            "{name}: {error:?}"
        );
        answers.push((name, error.error_name(), error.message().into_owned()));
    }
    for (name, error_name, message) in &answers {
        assert_eq!((*error_name, message), (answers[0].1, &answers[0].2), "{name} differs: {answers:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "only the 'no answer' directory was contacted");
}

#[tokio::test]
async fn black_hole_issuers_do_not_delay_a_real_one() {
    // A real did:plc issuer behind a fake PLC directory, and a real did:web issuer on loopback.
    let alice = TestSigner::from_seed(Curve::K256, "alice");
    let plc = directory(HashMap::from([(ALICE.to_owned(), document(ALICE, &alice))]), None).await;
    let web_signer = TestSigner::from_seed(Curve::P256, "web issuer");
    let web_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let web_did = format!("did:web:127.0.0.1%3A{}", web_listener.local_addr().expect("addr").port());
    serve(web_listener, HashMap::new(), Some(document(&web_did, &web_signer)));
    let verifier = verifier(IdentityConfig {
        plc_url: format!("http://127.0.0.1:{plc}"),
        network: NetworkPolicy::test_network(),
        ..IdentityConfig::default()
    });

    // 60 forged tokens, each naming a different host that accepts and never answers.
    let mut holes = Vec::new();
    for _ in 0..60 {
        holes.push(black_hole_timed().await);
    }
    let forger = TestSigner::from_seed(Curve::K256, "forger");
    let flood_started = Instant::now();
    let flood: Vec<_> = holes
        .iter()
        .map(|(port, _, _)| {
            let token = mint(&forger, &pds_claims(&format!("did:web:localhost%3A{port}"), SERVICE_DID, LXM));
            let verifier = verifier.clone();
            tokio::spawn(async move { verifier.verify(&token, LXM).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    for (issuer, signer) in [(ALICE, &alice), (web_did.as_str(), &web_signer)] {
        let started = Instant::now();
        let verified = verifier.verify(&mint(signer, &pds_claims(issuer, SERVICE_DID, LXM)), LXM).await;
        let took = started.elapsed();
        assert!(verified.is_ok(), "{issuer}: {verified:?}");
        assert!(took < Duration::from_secs(1), "{issuer} took {took:?}");
    }

    for task in flood {
        assert!(task.await.expect("task").is_err());
    }
    let flood_took = flood_started.elapsed();
    assert!(flood_took < Duration::from_secs(4), "every lookup ends within its time limit: {flood_took:?}");
    // While the first lookups hang (until their 3 s limit), no third connection to the host is
    // opened; the lookups still queued then end at their own limit.
    let early: usize = holes
        .iter()
        .map(|(_, _, times)| {
            let times = times.lock().expect("lock");
            times.iter().filter(|t| t.duration_since(flood_started) < Duration::from_millis(2500)).count()
        })
        .sum();
    assert!(early <= 2, "at most 2 lookups at once to one host; saw {early} connections");
}
