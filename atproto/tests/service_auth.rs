//! Service-auth verification: valid ES256K and ES256 tokens (both `aud` forms), a matrix of
//! forged tokens each refused with its specific error, replay, clock skew, key rotation with
//! one fresh lookup, the interop signature vectors, and the real `IdentityResolver` behind a
//! fake PLC directory. Signers are the W3C private-key vectors (`fixtures/identity/`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use plyr_atproto::identity::{Curve, IdentityConfig, IdentityError, IdentityResolver, SigningKey};
use plyr_atproto::service_auth::testkit::{
    StaticKeys, TestSigner, assemble, der, high_s, mint, mint_with_header, nonce, now, pds_claims,
};
use plyr_atproto::service_auth::{
    IssuerKeys, ServiceAuthConfig, ServiceAuthError, ServiceAuthVerifier, verify_compact_signature,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SERVICE_DID: &str = "did:web:localhost%3A1234";
const SERVICE_AUD: &str = "did:web:localhost%3A1234#plyr_appview";
const LXM: &str = "fm.plyr.feed.getLatestTracks";
const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const BOB: &str = "did:plc:abcdefghijklmnopqrstuvwx";
const NOBODY: &str = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz";

fn fixture(path: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The W3C secp256k1 vectors as signers, each checked against its published `did:key`.
fn k256_signers() -> Vec<TestSigner> {
    let vectors = fixture("identity/w3c_didkey_K256.json");
    let vectors = vectors.as_array().expect("array");
    vectors
        .iter()
        .map(|v| {
            let hex = v["privateKeyBytesHex"].as_str().expect("hex");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
                .collect();
            let signer = TestSigner::from_secret(Curve::K256, &bytes).expect("valid secret");
            assert_eq!(signer.public_key().expect("key").did_key(), v["publicDidKey"].as_str().expect("did"));
            signer
        })
        .collect()
}

/// The W3C P-256 vector as a signer, checked against its published `did:key`.
fn p256_signer() -> TestSigner {
    let vectors = fixture("identity/w3c_didkey_P256.json");
    let v = &vectors[0];
    let base58 = v["privateKeyBytesBase58"].as_str().expect("base58");
    let (_, bytes) = multibase::decode(format!("z{base58}")).expect("base58btc");
    let signer = TestSigner::from_secret(Curve::P256, &bytes).expect("valid secret");
    assert_eq!(signer.public_key().expect("key").did_key(), v["publicDidKey"].as_str().expect("did"));
    signer
}

struct World {
    verifier: ServiceAuthVerifier,
    keys: Arc<StaticKeys>,
    alice: TestSigner,
    bob: TestSigner,
    other: TestSigner,
}

/// Alice signs with secp256k1, Bob with P-256; `other` is a key nobody published.
fn world() -> World {
    let k256 = k256_signers();
    let (alice, other) = (k256[0].clone(), k256[1].clone());
    let bob = p256_signer();
    let keys = Arc::new(StaticKeys::new());
    keys.insert(ALICE, alice.public_key().expect("key"));
    keys.insert(BOB, bob.public_key().expect("key"));
    let config = ServiceAuthConfig::new(SERVICE_DID, "plyr_appview");
    let verifier = ServiceAuthVerifier::new(config, keys.clone()).expect("valid config");
    World { verifier, keys, alice, bob, other }
}

fn with(mut claims: Value, edits: &[(&str, Value)]) -> Value {
    for (name, value) in edits {
        match value {
            Value::Null => claims.as_object_mut().expect("object").remove(*name),
            v => claims.as_object_mut().expect("object").insert((*name).to_owned(), v.clone()),
        };
    }
    claims
}

fn split(token: &str) -> (String, String, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature part");
    (parts[0].to_owned(), parts[1].to_owned(), signature)
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (header, payload, _) = split(token);
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn accepts_es256k_and_es256_tokens_with_both_audience_forms() {
    let w = world();
    assert_eq!(w.verifier.audiences(), &[SERVICE_DID.to_owned(), SERVICE_AUD.to_owned()]);
    for (signer, iss) in [(&w.alice, ALICE), (&w.bob, BOB)] {
        for aud in [SERVICE_DID, SERVICE_AUD] {
            let claims = pds_claims(iss, aud, LXM);
            let token = mint(signer, &claims);
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(split(&token).0).expect("b64")).expect("json");
            assert_eq!(header["alg"], signer.curve().jwt_alg());
            let verified = w.verifier.verify(&token, LXM).await;
            let verified = verified.unwrap_or_else(|e| panic!("{iss} {aud}: {e}"));
            assert_eq!(verified.iss, iss);
            assert_eq!(verified.aud, aud);
            assert_eq!(verified.lxm, LXM);
            assert_eq!(Some(verified.exp), claims["exp"].as_i64());
            assert_eq!(verified.iat, claims["iat"].as_i64());
            assert_eq!(verified.jti.as_deref(), claims["jti"].as_str());
        }
    }
    // Exactly one cached lookup per token, and no fresh ones: nothing failed.
    assert_eq!(w.keys.lookups(ALICE), (2, 0));
    assert_eq!(w.keys.lookups(BOB), (2, 0));
}

#[tokio::test]
async fn forged_tokens_are_refused_with_the_specific_error() {
    let w = world();
    let t = now();
    let good = || pds_claims(ALICE, SERVICE_DID, LXM);
    let good_token = mint(&w.alice, &good());
    let (_, _, good_sig) = split(&good_token);
    let bob_token = mint(&w.bob, &pds_claims(BOB, SERVICE_AUD, LXM));
    let (_, _, bob_sig) = split(&bob_token);

    // Alice's signature moved onto different claims.
    let tampered = {
        let (header, _, sig) = split(&good_token);
        let payload = URL_SAFE_NO_PAD.encode(good().to_string());
        format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let mut flipped = good_sig.clone();
    flipped[10] ^= 1;
    let access_token = assemble(
        &json!({ "typ": "at+jwt", "alg": "HS256" }),
        &json!({ "scope": "com.atproto.access", "sub": ALICE, "aud": "did:web:pds.example",
                 "iat": t, "exp": t + 7200 }),
        &[7u8; 32],
    );
    let unsupported = |alg: &str| ServiceAuthError::UnsupportedAlgorithm { alg: alg.to_owned() };
    let malformed = |why: &str| ServiceAuthError::Malformed(why.to_owned());

    let cases: Vec<(&str, String, ServiceAuthError)> = vec![
        ("signature over other claims", tampered, ServiceAuthError::BadSignature),
        (
            "one bit of the signature flipped",
            with_signature(&good_token, &flipped),
            ServiceAuthError::BadSignature,
        ),
        ("signed by another key", mint(&w.other, &good()), ServiceAuthError::BadSignature),
        (
            "ES256 header on a secp256k1 signature",
            mint_with_header(&w.alice, &json!({ "typ": "JWT", "alg": "ES256" }), &good()),
            ServiceAuthError::BadSignature,
        ),
        (
            "high-S secp256k1",
            with_signature(&good_token, &high_s(Curve::K256, &good_sig).expect("flip")),
            ServiceAuthError::HighS,
        ),
        (
            "high-S P-256",
            with_signature(&bob_token, &high_s(Curve::P256, &bob_sig).expect("flip")),
            ServiceAuthError::HighS,
        ),
        (
            "DER secp256k1",
            with_signature(&good_token, &der(&good_sig).expect("der")),
            ServiceAuthError::SignatureEncoding,
        ),
        (
            "DER P-256",
            with_signature(&bob_token, &der(&bob_sig).expect("der")),
            ServiceAuthError::SignatureEncoding,
        ),
        (
            "63-byte signature",
            with_signature(&good_token, &good_sig[..63]),
            ServiceAuthError::SignatureEncoding,
        ),
        ("alg none", assemble(&json!({ "alg": "none" }), &good(), &[]), unsupported("none")),
        (
            "HS256",
            assemble(&json!({ "typ": "JWT", "alg": "HS256" }), &good(), &[9u8; 32]),
            unsupported("HS256"),
        ),
        ("RS256", mint_with_header(&w.alice, &json!({ "alg": "RS256" }), &good()), unsupported("RS256")),
        ("PDS access token", access_token, ServiceAuthError::WrongTokenType { typ: "at+jwt".into() }),
        (
            "refresh token type",
            mint_with_header(&w.alice, &json!({ "typ": "refresh+jwt", "alg": "ES256K" }), &good()),
            ServiceAuthError::WrongTokenType { typ: "refresh+jwt".into() },
        ),
        (
            "DPoP proof type",
            mint_with_header(&w.alice, &json!({ "typ": "dpop+jwt", "alg": "ES256K" }), &good()),
            ServiceAuthError::WrongTokenType { typ: "dpop+jwt".into() },
        ),
        (
            "wrong aud",
            mint(&w.alice, &pds_claims(ALICE, "did:web:api.bsky.app", LXM)),
            ServiceAuthError::WrongAudience { got: "did:web:api.bsky.app".into() },
        ),
        (
            "our DID, another service",
            mint(&w.alice, &pds_claims(ALICE, "did:web:localhost%3A1234#bsky_appview", LXM)),
            ServiceAuthError::WrongAudience { got: "did:web:localhost%3A1234#bsky_appview".into() },
        ),
        (
            "wrong lxm",
            mint(&w.alice, &pds_claims(ALICE, SERVICE_DID, "com.atproto.repo.deleteRecord")),
            ServiceAuthError::WrongMethod { got: "com.atproto.repo.deleteRecord".into(), want: LXM.into() },
        ),
        (
            "missing lxm",
            mint(&w.alice, &with(good(), &[("lxm", Value::Null)])),
            ServiceAuthError::MissingMethod { want: LXM.into() },
        ),
        (
            "expired",
            mint(&w.alice, &with(good(), &[("iat", json!(t - 180)), ("exp", json!(t - 120))])),
            ServiceAuthError::Expired,
        ),
        (
            "iat in the future",
            mint(&w.alice, &with(good(), &[("iat", json!(t + 300)), ("exp", json!(t + 360))])),
            ServiceAuthError::IssuedInFuture,
        ),
        (
            "nbf in the future",
            mint(&w.alice, &with(good(), &[("nbf", json!(t + 300))])),
            ServiceAuthError::NotYetValid,
        ),
        (
            "a two-hour lifetime",
            mint(&w.alice, &with(good(), &[("exp", json!(t + 7200))])),
            ServiceAuthError::LifetimeTooLong { max_secs: 3600 },
        ),
        ("missing jti", mint(&w.alice, &with(good(), &[("jti", Value::Null)])), ServiceAuthError::MissingJti),
        (
            "unknown DID",
            mint(&w.alice, &pds_claims(NOBODY, SERVICE_DID, LXM)),
            ServiceAuthError::UnknownIssuer {
                did: NOBODY.into(),
                reason: IdentityError::NotFound(NOBODY.into()).to_string(),
            },
        ),
        (
            "iss with a service fragment",
            mint(&w.alice, &with(good(), &[("iss", json!(format!("{ALICE}#atproto_labeler")))])),
            ServiceAuthError::BadIssuer { iss: format!("{ALICE}#atproto_labeler") },
        ),
        (
            "iss not a DID",
            mint(&w.alice, &with(good(), &[("iss", json!("alice.test"))])),
            ServiceAuthError::BadIssuer { iss: "alice.test".into() },
        ),
        (
            "malformed base64",
            format!("e30!.{}", &good_token[good_token.find('.').expect("dot")..][1..]),
            malformed("header is not base64url"),
        ),
        ("padded base64", format!("{good_token}="), malformed("signature is not base64url")),
        (
            "two parts",
            good_token.rsplit_once('.').expect("dot").0.to_owned(),
            malformed("expected three dot-separated parts"),
        ),
    ];
    assert!(cases.len() >= 15);
    for (name, token, want) in cases {
        let got = w.verifier.verify(&token, LXM).await;
        assert_eq!(got.as_ref().err(), Some(&want), "{name}: {got:?}");
        // Every refusal has a name and a message the AppView can send back.
        assert!(want.error_name().starts_with("BadJwt") || want.error_name().starts_with("Jwt"), "{name}");
        assert!(!want.message().is_empty());
    }
    // A claim of the wrong JSON type is malformed, with serde's description.
    let aud_array = mint(&w.alice, &with(good(), &[("aud", json!([SERVICE_DID]))]));
    let got = w.verifier.verify(&aud_array, LXM).await;
    assert!(
        matches!(&got, Err(ServiceAuthError::Malformed(why)) if why.starts_with("payload: invalid type: sequence")),
        "{got:?}"
    );
    // Forged tokens never reach the replay cache: the genuine token is still accepted once.
    assert!(w.verifier.verify(&good_token, LXM).await.is_ok());
    assert_eq!(w.verifier.verify(&good_token, LXM).await.err(), Some(ServiceAuthError::Replayed));
}

#[tokio::test]
async fn a_replayed_jti_is_refused_even_under_concurrency() {
    let w = world();
    let alice_claims = pds_claims(ALICE, SERVICE_DID, LXM);
    let token = mint(&w.alice, &alice_claims);
    let attempts = (0..16).map(|_| {
        let verifier = w.verifier.clone();
        let token = token.clone();
        tokio::spawn(async move { verifier.verify(&token, LXM).await })
    });
    let mut accepted = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(_) => accepted += 1,
            Err(e) => assert_eq!(e, ServiceAuthError::Replayed),
        }
    }
    assert_eq!(accepted, 1);
    // The same jti from another issuer is another token.
    let claims = with(pds_claims(BOB, SERVICE_DID, LXM), &[("jti", alice_claims["jti"].clone())]);
    assert!(w.verifier.verify(&mint(&w.bob, &claims), LXM).await.is_ok());
}

#[tokio::test]
async fn clock_skew_allowance_is_thirty_seconds() {
    let w = world();
    let t = 1_800_000_000;
    let token = |iat: i64, exp: i64| {
        mint(
            &w.alice,
            &json!({ "iss": ALICE, "aud": SERVICE_DID, "lxm": LXM, "iat": iat, "exp": exp, "jti": nonce() }),
        )
    };
    let cases = [
        ("expired 30 s ago", t - 90, t - 30, None),
        ("expired 31 s ago", t - 91, t - 31, Some(ServiceAuthError::Expired)),
        ("issued 30 s ahead", t + 30, t + 90, None),
        ("issued 31 s ahead", t + 31, t + 91, Some(ServiceAuthError::IssuedInFuture)),
        ("one hour exactly", t, t + 3600, None),
        ("one hour and a second", t, t + 3601, Some(ServiceAuthError::LifetimeTooLong { max_secs: 3600 })),
    ];
    for (name, iat, exp, want) in cases {
        let got = w.verifier.verify_at(&token(iat, exp), LXM, t).await;
        assert_eq!(got.err(), want, "{name}");
    }
    // Without iat, the lifetime is measured from now.
    let no_iat = mint(
        &w.alice,
        &json!({ "iss": ALICE, "aud": SERVICE_DID, "lxm": LXM, "exp": t + 4000, "jti": nonce() }),
    );
    assert_eq!(
        w.verifier.verify_at(&no_iat, LXM, t).await.err(),
        Some(ServiceAuthError::LifetimeTooLong { max_secs: 3600 })
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_one_fresh_lookup() {
    let w = world();
    let new_key = TestSigner::from_seed(Curve::P256, "alice rotated");
    w.keys.rotate(ALICE, new_key.public_key().expect("key"));

    // The cached (old) key fails, the fresh lookup finds the new one: accepted.
    let verified = w.verifier.verify(&mint(&new_key, &pds_claims(ALICE, SERVICE_AUD, LXM)), LXM).await;
    assert_eq!(verified.map(|v| v.iss).ok().as_deref(), Some(ALICE));
    assert_eq!(w.keys.lookups(ALICE), (1, 1));

    // The next token uses the refreshed cache directly.
    assert!(w.verifier.verify(&mint(&new_key, &pds_claims(ALICE, SERVICE_AUD, LXM)), LXM).await.is_ok());
    assert_eq!(w.keys.lookups(ALICE), (2, 1));

    // The old key is now refused, and within the cooldown no further fresh lookup is made.
    let old = w.verifier.verify(&mint(&w.alice, &pds_claims(ALICE, SERVICE_AUD, LXM)), LXM).await;
    assert_eq!(old.err(), Some(ServiceAuthError::BadSignature));
    assert_eq!(w.keys.lookups(ALICE), (3, 1));
}

#[tokio::test]
async fn forged_signatures_cause_at_most_one_fresh_lookup_per_cooldown() {
    let w = world();
    for _ in 0..5 {
        let forged = mint(&w.other, &pds_claims(BOB, SERVICE_DID, LXM));
        assert_eq!(w.verifier.verify(&forged, LXM).await.err(), Some(ServiceAuthError::BadSignature));
    }
    assert_eq!(w.keys.lookups(BOB), (5, 1));
}

#[tokio::test]
async fn messages_for_callers_do_not_leak_resolver_details() {
    let source = IdentityError::Timeout { url: "https://plc.internal:2582/did:plc:x".into() };
    let error = ServiceAuthError::IssuerUnavailable { did: ALICE.into(), source };
    assert!(error.is_transient());
    assert!(error.to_string().contains("plc.internal"), "the log form keeps the detail");
    assert!(!error.message().contains("plc.internal"));
    assert_eq!(error.error_name(), "BadJwtIss");
    let cases = [
        (ServiceAuthError::Expired, "JwtExpired"),
        (ServiceAuthError::WrongAudience { got: "x".into() }, "BadJwtAudience"),
        (ServiceAuthError::MissingMethod { want: LXM.into() }, "BadJwtLexiconMethod"),
        (ServiceAuthError::WrongTokenType { typ: "at+jwt".into() }, "BadJwtType"),
        (ServiceAuthError::HighS, "BadJwtSignature"),
        (ServiceAuthError::Replayed, "JwtReplayed"),
        (ServiceAuthError::Malformed("x".into()), "BadJwt"),
    ];
    for (error, name) in cases {
        assert_eq!(error.error_name(), name, "{error:?}");
        assert!(!error.is_transient());
    }
    assert_eq!(
        ServiceAuthError::WrongMethod { got: "a.b.c".into(), want: LXM.into() }.message(),
        format!("token lexicon method (lxm) \"a.b.c\" does not match {LXM}")
    );
}

#[tokio::test]
async fn config_is_validated_and_jti_can_be_optional() {
    let keys: Arc<dyn IssuerKeys> = Arc::new(StaticKeys::new());
    for (did, id) in [
        ("did:web:x#y", "plyr_appview"),
        ("not a did", "plyr_appview"),
        (SERVICE_DID, ""),
        (SERVICE_DID, "#a"),
    ] {
        let config = ServiceAuthConfig::new(did, id);
        assert!(ServiceAuthVerifier::new(config, keys.clone()).is_err(), "{did} {id}");
    }
    let w = world();
    let mut config = ServiceAuthConfig::new(SERVICE_DID, "plyr_appview");
    config.require_jti = false;
    let lenient = ServiceAuthVerifier::new(config, w.keys.clone()).expect("valid config");
    let token = mint(&w.alice, &with(pds_claims(ALICE, SERVICE_DID, LXM), &[("jti", Value::Null)]));
    assert_eq!(lenient.verify(&token, LXM).await.map(|v| v.jti).ok(), Some(None));
    assert_eq!(w.verifier.verify(&token, LXM).await.err(), Some(ServiceAuthError::MissingJti));
}

#[test]
fn interop_signature_vectors() {
    let vectors = fixture("crypto/signature-fixtures.json");
    let vectors = vectors.as_array().expect("array");
    assert_eq!(vectors.len(), 6);
    for v in vectors {
        let comment = v["comment"].as_str().expect("comment");
        let key = SigningKey::from_did_key(v["publicKeyDid"].as_str().expect("did:key")).expect("key");
        let curve = if v["algorithm"] == "ES256K" { Curve::K256 } else { Curve::P256 };
        assert_eq!(key.curve(), curve, "{comment}");
        let message = URL_SAFE_NO_PAD.decode(v["messageBase64"].as_str().expect("message")).expect("b64");
        let signature = STANDARD_NO_PAD.decode(v["signatureBase64"].as_str().expect("sig")).expect("b64");
        let tags: Vec<&str> = v["tags"].as_array().expect("tags").iter().filter_map(Value::as_str).collect();
        let want = match (v["validSignature"].as_bool(), tags.as_slice()) {
            (Some(true), []) => None,
            (Some(false), ["high-s"]) => Some(ServiceAuthError::HighS),
            (Some(false), ["der-encoded"]) => Some(ServiceAuthError::SignatureEncoding),
            other => panic!("unexpected vector {other:?}"),
        };
        assert_eq!(verify_compact_signature(&key, &message, &signature).err(), want, "{comment}");
    }
}

/// A fake PLC directory serving one document per DID, counting requests.
#[derive(Default)]
struct Plc {
    documents: Mutex<HashMap<String, Value>>,
    hits: Mutex<HashMap<String, usize>>,
}

fn plc_document(did: &str, key: &SigningKey) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                      "serviceEndpoint": "http://localhost:2583" }],
    })
}

#[tokio::test]
async fn identity_resolver_supplies_keys_and_rotations() {
    async fn serve(State(plc): State<Arc<Plc>>, UrlPath(did): UrlPath<String>) -> Response {
        *plc.hits.lock().expect("lock").entry(did.clone()).or_default() += 1;
        match plc.documents.lock().expect("lock").get(&did) {
            Some(doc) => axum::Json(doc.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let plc = Arc::new(Plc::default());
    let app = Router::new().route("/{did}", get(serve)).with_state(plc.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let old = TestSigner::from_seed(Curve::K256, "resolver old");
    let new = TestSigner::from_seed(Curve::K256, "resolver new");
    let set_key = |signer: &TestSigner| {
        let doc = plc_document(ALICE, &signer.public_key().expect("key"));
        plc.documents.lock().expect("lock").insert(ALICE.to_owned(), doc);
    };
    let hits = |did: &str| plc.hits.lock().expect("lock").get(did).copied().unwrap_or(0);
    set_key(&old);

    let config = IdentityConfig { plc_url: format!("http://127.0.0.1:{port}"), ..IdentityConfig::default() };
    let resolver = IdentityResolver::new(config).expect("resolver");
    let verifier =
        ServiceAuthVerifier::new(ServiceAuthConfig::new(SERVICE_DID, "plyr_appview"), Arc::new(resolver))
            .expect("verifier");

    assert!(verifier.verify(&mint(&old, &pds_claims(ALICE, SERVICE_DID, LXM)), LXM).await.is_ok());
    assert!(verifier.verify(&mint(&old, &pds_claims(ALICE, SERVICE_DID, LXM)), LXM).await.is_ok());
    assert_eq!(hits(ALICE), 1, "the document is cached");

    set_key(&new);
    assert!(verifier.verify(&mint(&new, &pds_claims(ALICE, SERVICE_DID, LXM)), LXM).await.is_ok());
    assert_eq!(hits(ALICE), 2, "one fresh fetch after the signature failed with the cached key");

    let unknown = verifier.verify(&mint(&old, &pds_claims(NOBODY, SERVICE_DID, LXM)), LXM).await;
    assert!(
        matches!(unknown, Err(ServiceAuthError::UnknownIssuer { ref did, .. }) if did == NOBODY),
        "{unknown:?}"
    );
}
