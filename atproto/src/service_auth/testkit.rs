//! Minting and forging service tokens, for tests only: compiled under `cfg(test)` or the
//! `testkit` feature (a dev-dependency feature), never into a production build.
//!
//! - [`TestSigner`]: a deterministic secp256k1 or P-256 private key that signs like a PDS.
//! - [`mint`], [`mint_with_header`], [`assemble`]: build tokens, well-formed or not.
//! - [`pds_claims`]: the claims a PDS sends when proxying (60-second lifetime, random `jti`).
//! - [`high_s`], [`der`]: re-encode a good signature into the forms atproto forbids.
//! - [`StaticKeys`]: an [`IssuerKeys`] with a stale cache that a key rotation can be staged in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::keys::{IssuerKeys, KeyFuture};
use crate::identity::{Curve, IdentityError, KeyError, SigningKey};

/// A private signing key on one of the atproto curves.
#[derive(Clone)]
pub enum TestSigner {
    /// secp256k1 (`ES256K`).
    K256(k256::ecdsa::SigningKey),
    /// NIST P-256 (`ES256`).
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestSigner({:?})", self.curve())
    }
}

impl TestSigner {
    /// The key derived from `seed` on `curve` (same seed, same key).
    pub fn from_seed(curve: Curve, seed: &str) -> Self {
        let mut counter = 0u32;
        loop {
            let bytes: [u8; 32] =
                Sha256::new().chain_update(seed).chain_update(counter.to_be_bytes()).finalize().into();
            if let Some(key) = Self::from_secret(curve, &bytes) {
                return key;
            }
            counter += 1;
        }
    }

    /// The key with secret scalar `bytes` (32 bytes, big-endian), if it is one.
    pub fn from_secret(curve: Curve, bytes: &[u8]) -> Option<Self> {
        match curve {
            Curve::K256 => k256::ecdsa::SigningKey::from_slice(bytes).ok().map(TestSigner::K256),
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(bytes).ok().map(TestSigner::P256),
        }
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        match self {
            TestSigner::K256(_) => Curve::K256,
            TestSigner::P256(_) => Curve::P256,
        }
    }

    /// The public key, as a DID document would publish it.
    pub fn public_key(&self) -> Result<SigningKey, KeyError> {
        match self {
            TestSigner::K256(k) => {
                SigningKey::from_sec1(Curve::K256, k.verifying_key().to_encoded_point(true).as_bytes())
            }
            TestSigner::P256(k) => {
                SigningKey::from_sec1(Curve::P256, k.verifying_key().to_encoded_point(true).as_bytes())
            }
        }
    }

    /// A compact low-S signature over SHA-256(`message`), as atproto requires.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            TestSigner::K256(k) => {
                let sig: k256::ecdsa::Signature = k.sign(message);
                sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
            }
            TestSigner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
            }
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A fresh nonce: 32 hex characters, unique within the process.
pub fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let digest = Sha256::new().chain_update(n.to_be_bytes()).chain_update(nanos.to_be_bytes()).finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The claims a PDS sends when proxying a call of `lxm` for `iss` to `aud`, issued now.
pub fn pds_claims(iss: &str, aud: &str, lxm: &str) -> Value {
    let iat = now();
    json!({ "iat": iat, "iss": iss, "aud": aud, "exp": iat + 60, "lxm": lxm, "jti": nonce() })
}

/// base64url (no padding) of a JSON value.
pub fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Joins header, payload and raw signature bytes into a compact token.
pub fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", encode_json(header), encode_json(claims), URL_SAFE_NO_PAD.encode(signature))
}

/// A token with `header` and `claims`, signed by `signer` over exactly those parts.
pub fn mint_with_header(signer: &TestSigner, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", encode_json(header), encode_json(claims));
    let signature = signer.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A service token as a PDS mints it: `{"typ":"JWT","alg":<the signer's>}` over `claims`.
pub fn mint(signer: &TestSigner, claims: &Value) -> String {
    mint_with_header(signer, &json!({ "typ": "JWT", "alg": signer.curve().jwt_alg() }), claims)
}

/// The same signature with `s` replaced by `n - s` (valid maths, malleable form).
pub fn high_s(curve: Curve, compact: &[u8]) -> Option<Vec<u8>> {
    Some(match curve {
        Curve::K256 => {
            let sig = k256::ecdsa::Signature::from_slice(compact).ok()?;
            let (r, s) = sig.split_scalars();
            k256::ecdsa::Signature::from_scalars(r, -s).ok()?.to_bytes().to_vec()
        }
        Curve::P256 => {
            let sig = p256::ecdsa::Signature::from_slice(compact).ok()?;
            let (r, s) = sig.split_scalars();
            p256::ecdsa::Signature::from_scalars(r, -s).ok()?.to_bytes().to_vec()
        }
    })
}

/// The same signature in ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`).
pub fn der(compact: &[u8]) -> Option<Vec<u8>> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed = match bytes.iter().position(|b| *b != 0) {
            Some(i) => &bytes[i..],
            None => &bytes[bytes.len().saturating_sub(1)..],
        };
        let mut out = vec![0x02];
        let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        out.push((trimmed.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        out
    }
    if compact.len() != 64 {
        return None;
    }
    let body = [integer(&compact[..32]), integer(&compact[32..])].concat();
    Some([vec![0x30, body.len() as u8], body].concat())
}

/// Keys by DID with a cache in front: a non-fresh lookup answers the cached key, a fresh one
/// the current key (and refreshes the cache). Counts lookups of each kind.
#[derive(Debug, Default)]
pub struct StaticKeys {
    state: Mutex<KeyState>,
}

#[derive(Debug, Default)]
struct KeyState {
    cached: HashMap<String, SigningKey>,
    current: HashMap<String, SigningKey>,
    lookups: HashMap<String, (usize, usize)>,
}

impl StaticKeys {
    /// No DIDs known.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut KeyState) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Publishes `key` for `did`, cached and current.
    pub fn insert(&self, did: &str, key: SigningKey) {
        self.with(|s| {
            s.cached.insert(did.to_owned(), key.clone());
            s.current.insert(did.to_owned(), key);
        });
    }

    /// Rotates `did` to `key`; the cache keeps the old key until a fresh lookup.
    pub fn rotate(&self, did: &str, key: SigningKey) {
        self.with(|s| s.current.insert(did.to_owned(), key));
    }

    /// `(cached, fresh)` lookups of `did` so far.
    pub fn lookups(&self, did: &str) -> (usize, usize) {
        self.with(|s| s.lookups.get(did).copied().unwrap_or_default())
    }
}

impl IssuerKeys for StaticKeys {
    fn signing_key<'a>(&'a self, did: &'a str, fresh: bool) -> KeyFuture<'a> {
        let answer = self.with(|s| {
            let counts = s.lookups.entry(did.to_owned()).or_default();
            if fresh {
                counts.1 += 1;
                let current = s.current.get(did).cloned();
                if let Some(key) = &current {
                    s.cached.insert(did.to_owned(), key.clone());
                }
                current
            } else {
                counts.0 += 1;
                s.cached.get(did).cloned()
            }
        });
        Box::pin(async move { answer.ok_or_else(|| IdentityError::NotFound(did.to_owned())).map(Some) })
    }
}
