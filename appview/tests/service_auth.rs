//! Service auth at the HTTP edge: a token minted as a PDS does sets the viewer (viewer state,
//! `Atproto-Repo-Rev`); every forged or misused token is a 401 `InvalidToken` with a reason,
//! never an anonymous answer.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use plyr_appview::AppState;
use plyr_appview::auth::Auth;
use plyr_atproto::identity::Curve;
use plyr_atproto::service_auth::testkit::{
    StaticKeys, TestSigner, assemble, der, high_s, mint, mint_with_header, nonce, now, pds_claims,
};
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::*;

const LATEST: &str = "fm.plyr.feed.getLatestTracks";

struct World {
    _db: TestDb,
    state: AppState,
    alice: TestSigner,
    aud: String,
    liked: String,
    like: String,
}

async fn world() -> World {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    let liked = n.create(BOB, "fm.plyr.track", track("Liked One", "Bob", &at(2, 0)));
    n.create(BOB, "fm.plyr.track", track("Other One", "Bob", &at(3, 0)));
    let like = n.create(ALICE, "fm.plyr.like", like(&liked, &at(4, 0)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let alice = TestSigner::from_seed(Curve::K256, "alice");
    let keys = Arc::new(StaticKeys::new());
    keys.insert(ALICE, alice.public_key().expect("key"));
    let options = options();
    let auth = Auth::with_keys(&options, keys);
    let aud = options.service_did();
    let state = AppState::with_auth(db.pool.clone(), options, auth);
    World { _db: db, state, alice, aud, liked, like }
}

async fn with_token(w: &World, nsid: &str, token: &str) -> (StatusCode, Value, Option<String>) {
    call_raw(&w.state, &format!("/xrpc/{nsid}"), &[("authorization", &format!("Bearer {token}"))]).await
}

#[tokio::test]
async fn a_pds_minted_token_sets_the_viewer() {
    let w = world().await;
    for aud in [w.aud.clone(), format!("{}#plyr_appview", w.aud)] {
        let token = mint(&w.alice, &pds_claims(ALICE, &aud, LATEST));
        let (status, body, rev) = with_token(&w, LATEST, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_valid_output(LATEST, &body);
        let tracks = body["tracks"].as_array().expect("tracks");
        let liked = tracks.iter().find(|t| t["uri"] == w.liked).expect("liked track");
        assert_eq!(liked["viewer"]["like"], w.like, "the viewer's like");
        let other = tracks.iter().find(|t| t["uri"] != w.liked).expect("other track");
        assert_eq!(other["viewer"], json!({}), "viewer state present, no like");
        assert!(rev.is_some_and(|r| r.len() == 13), "Atproto-Repo-Rev is the viewer's latest rev");
    }
    let (status, body) = call(
        &w.state,
        "/xrpc/fm.plyr.feed.getForYou",
        &[(
            "authorization",
            &format!("Bearer {}", mint(&w.alice, &pds_claims(ALICE, &w.aud, "fm.plyr.feed.getForYou"))),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "getForYou with a viewer: {body}");
    assert_eq!(body["coldStart"], true, "alice's only like has no co-engagers");
}

#[tokio::test]
async fn forged_and_misused_tokens_are_401() {
    let w = world().await;
    let good = pds_claims(ALICE, &w.aud, LATEST);
    let mallory = TestSigner::from_seed(Curve::K256, "mallory");
    let h = |alg: &str| json!({ "typ": "JWT", "alg": alg });
    let signed = mint(&w.alice, &good);
    let parts: Vec<&str> = signed.split('.').collect();
    let sig = base64_decode(parts[2]);
    let with_claims = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        mint(&w.alice, &c)
    };
    let mut forged: Vec<(&str, String)> = vec![
        ("wrong signature", format!("{}.{}.{}", parts[0], parts[1], b64(&[7u8; 64]))),
        ("signed by another key", mint(&mallory, &good)),
        ("high-S", assemble(&h("ES256K"), &good, &high_s(Curve::K256, &sig).expect("high-s"))),
        ("DER signature", assemble(&h("ES256K"), &good, &der(&sig).expect("der"))),
        ("alg none", assemble(&h("none"), &good, &[])),
        ("HS256", mint_with_header(&w.alice, &h("HS256"), &good)),
        ("wrong aud", with_claims(&|c| c["aud"] = json!("did:web:elsewhere.example"))),
        ("wrong lxm", with_claims(&|c| c["lxm"] = json!("fm.plyr.feed.getTopTracks"))),
        (
            "missing lxm",
            with_claims(&|c| {
                c.as_object_mut().map(|o| o.remove("lxm"));
            }),
        ),
        (
            "expired",
            with_claims(&|c| {
                c["iat"] = json!(now() - 600);
                c["exp"] = json!(now() - 300);
            }),
        ),
        (
            "iat in the future",
            with_claims(&|c| {
                c["iat"] = json!(now() + 600);
                c["exp"] = json!(now() + 660);
            }),
        ),
        ("unknown DID", mint(&mallory, &pds_claims("did:plc:mallorymmmmmmmmmmmmmmmmm", &w.aud, LATEST))),
        ("malformed base64", "e30.!!!.???".to_owned()),
        ("not a JWT", "hello".to_owned()),
        (
            "a PDS access token",
            assemble(
                &json!({ "typ": "at+jwt", "alg": "HS256" }),
                &json!({ "scope": "com.atproto.access", "sub": ALICE, "aud": "did:web:pds.test", "iat": now(), "exp": now() + 60 }),
                &[1u8; 32],
            ),
        ),
        (
            "missing jti",
            with_claims(&|c| {
                c.as_object_mut().map(|o| o.remove("jti"));
            }),
        ),
    ];
    // A replayed jti: the first use is fine, the second is refused.
    let once = with_claims(&|c| c["jti"] = json!(nonce()));
    let (status, _, _) = with_token(&w, LATEST, &once).await;
    assert_eq!(status, StatusCode::OK);
    forged.push(("replayed jti", once));
    assert!(forged.len() >= 15);
    for (what, token) in &forged {
        let (status, body, _) = with_token(&w, LATEST, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "InvalidToken", "{what}");
        assert!(body["message"].as_str().is_some_and(|m| m.len() > 5), "{what} has a reason: {body}");
    }
    let (status, body) = call(&w.state, &format!("/xrpc/{LATEST}"), &[("authorization", "Basic abc")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("InvalidToken")));
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).expect("base64")
}

#[tokio::test]
async fn for_you_recommends_what_co_engagers_liked() {
    let mut n = Net::default();
    n.actor(ALICE, "alice.test");
    n.actor(BOB, "bob.test");
    n.actor(CAROL, "carol.test");
    n.actor(DAVE, "dave.test");
    let seed = n.create(BOB, "fm.plyr.track", track("Seed", "Bob", &at(2, 0)));
    let pick = n.create(DAVE, "fm.plyr.track", track("Pick", "Dave", &at(3, 0)));
    let own = n.create(ALICE, "fm.plyr.track", track("Own", "Alice", &at(3, 1)));
    let unrelated = n.create(DAVE, "fm.plyr.track", track("Unrelated", "Dave", &at(3, 2)));
    // Alice likes the seed; Carol liked it too (within a day of Alice), and also liked the pick
    // and Alice's own track. Nobody who shares Alice's taste liked the unrelated track.
    n.create(ALICE, "fm.plyr.like", like(&seed, &at(10, 0)));
    n.create(CAROL, "fm.plyr.like", like(&seed, &at(10, 5)));
    n.create(CAROL, "fm.plyr.like", like(&pick, &at(10, 6)));
    n.create(CAROL, "fm.plyr.like", like(&own, &at(10, 7)));
    n.create(BOB, "fm.plyr.like", like(&unrelated, &at(10, 8)));
    let db = TestDb::new().await.expect("db");
    n.apply(&db).await;
    let alice = TestSigner::from_seed(Curve::K256, "alice");
    let keys = Arc::new(StaticKeys::new());
    keys.insert(ALICE, alice.public_key().expect("key"));
    let options = options();
    let aud = options.service_did();
    let state = AppState::with_auth(db.pool.clone(), options.clone(), Auth::with_keys(&options, keys));
    let nsid = "fm.plyr.feed.getForYou";
    let token = mint(&alice, &pds_claims(ALICE, &aud, nsid));
    let (status, body, _) =
        call_raw(&state, &format!("/xrpc/{nsid}"), &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_valid_output(nsid, &body);
    assert_eq!(body["coldStart"], false);
    assert_eq!(uris(&body, "tracks"), vec![pick], "not the seed, not her own track, not the unrelated one");
}
