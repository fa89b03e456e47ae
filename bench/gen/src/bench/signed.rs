//! Signed-in traffic for the AppView benchmark: viewers with keys derived from their DIDs, a
//! PLC directory that publishes those keys, and a load client that sends every request with a
//! service token minted for it, as a viewer's PDS does when it proxies (a fresh `jti` each time:
//! the AppView refuses a token it has seen, so one token cannot be replayed like a URL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k256::ecdsa::signature::Signer as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::pds::{self, PdsServer};
use crate::GenError;
use crate::keys::KeyFile;
use crate::signing::Signer;

/// The key of benchmark viewer `did`: derived from the DID, so the PLC directory and the load
/// client agree without sharing a file.
pub fn viewer_key(did: &str) -> Signer {
    let mut counter = 0u32;
    loop {
        let digest = Sha256::digest(format!("plyr-bench viewer {counter} {did}").as_bytes());
        if let Some(signer) = Signer::from_seed_bytes(digest.into()) {
            return signer;
        }
        counter += 1;
    }
}

/// Serves the DID documents of `dids` (their derived keys) as a PLC directory on `listen`.
pub async fn serve_plc(dids: &[String], listen: SocketAddr) -> Result<PdsServer, GenError> {
    let keys = KeyFile(dids.iter().map(|d| (d.clone(), viewer_key(d).public())).collect());
    pds::serve_keys(keys, listen).await
}

/// What a load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub ok_ratio: f64,
}

/// The load: `concurrency` clients cycle over `paths` (XRPC paths on `base`) and `viewers` for
/// `warmup` (not measured) then `duration`, each request with a token for its viewer, `aud` and
/// the path's method.
pub async fn run(
    base: &str,
    paths: Vec<String>,
    viewers: &[String],
    aud: &str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Figures> {
    anyhow::ensure!(!paths.is_empty() && !viewers.is_empty(), "no paths or no viewers");
    let viewers: Arc<Vec<(String, Signer)>> =
        Arc::new(viewers.iter().map(|d| (d.clone(), viewer_key(d))).collect());
    let paths = Arc::new(paths);
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (measure_from, end) = (started + warmup, started + warmup + duration);
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, paths, viewers, next) = (client.clone(), paths.clone(), viewers.clone(), next.clone());
        let (base, aud) = (base.to_owned(), aud.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut ok, mut all) = (Vec::new(), 0u64, 0u64);
            loop {
                let at = Instant::now();
                if at >= end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let path = &paths[i % paths.len()];
                let (did, key) = &viewers[i % viewers.len()];
                let token = mint(key, did, &aud, method_of(path));
                let sent = client.get(format!("{base}{path}")).bearer_auth(token).send().await;
                let good = match sent {
                    Ok(response) => {
                        let status = response.status();
                        // The body is read, as a client would.
                        response.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if at >= measure_from {
                    latencies.push(at.elapsed());
                    all += 1;
                    ok += u64::from(good);
                }
            }
            (latencies, ok, all)
        }));
    }
    let (mut latencies, mut ok, mut all) = (Vec::new(), 0u64, 0u64);
    for task in tasks {
        let (l, o, a) = task.await?;
        latencies.extend(l);
        ok += o;
        all += a;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Figures {
        requests_per_sec: all as f64 / duration.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        ok_ratio: if all > 0 { ok as f64 / all as f64 } else { 0.0 },
    })
}

/// The XRPC method of a path (`/xrpc/<nsid>?...`).
fn method_of(path: &str) -> &str {
    let rest = path.strip_prefix("/xrpc/").unwrap_or(path);
    rest.split(['?', '/']).next().unwrap_or(rest)
}

/// A service token as a PDS mints one when proxying: ES256K, 60-second lifetime, fresh `jti`.
fn mint(key: &Signer, iss: &str, aud: &str, lxm: &str) -> String {
    static JTI: AtomicUsize = AtomicUsize::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let jti = format!("{:x}-{:x}", std::process::id(), JTI.fetch_add(1, Ordering::Relaxed));
    let header = json!({ "alg": "ES256K", "typ": "JWT" });
    let claims = json!({ "iss": iss, "aud": aud, "lxm": lxm, "iat": now, "exp": now + 60, "jti": jti });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig: k256::ecdsa::Signature = key.secret().sign(signing_input.as_bytes());
    let sig = sig.normalize_s().unwrap_or(sig);
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_from_the_did_and_methods_from_the_path() {
        let a = viewer_key("did:plc:aaaa").public().did_key();
        assert_eq!(a, viewer_key("did:plc:aaaa").public().did_key());
        assert_ne!(a, viewer_key("did:plc:bbbb").public().did_key());
        assert_eq!(method_of("/xrpc/fm.plyr.feed.getTracks?uris=x"), "fm.plyr.feed.getTracks");
        assert_eq!(method_of("/xrpc/fm.plyr.unspecced.getStats"), "fm.plyr.unspecced.getStats");
    }

    #[test]
    fn a_minted_token_verifies_with_the_published_key() {
        let key = viewer_key("did:plc:aaaa");
        let token = mint(&key, "did:plc:aaaa", "did:web:x.test", "fm.plyr.feed.getLatestTracks");
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let sig = URL_SAFE_NO_PAD.decode(sig).expect("base64url");
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(input.split('.').nth(1).expect("claims")).expect("base64url"),
        )
        .expect("json");
        assert_eq!(claims["lxm"], "fm.plyr.feed.getLatestTracks");
        plyr_atproto::service_auth::verify_compact_signature(&key.public(), input.as_bytes(), &sig)
            .expect("the signature verifies");
    }
}
