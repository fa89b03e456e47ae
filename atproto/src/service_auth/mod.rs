//! Inter-service authentication: verifying the service JWT a PDS attaches when it proxies a
//! user's request (`Authorization: Bearer <jwt>`), and naming that user as the viewer.
//!
//! [`ServiceAuthVerifier::verify`] accepts a token only if all of these hold, checked in this
//! order (cheap and local first, the key lookup last, the replay cache only for a token that
//! is otherwise valid, so forged tokens cannot fill it):
//!
//! 1. structure ([`token`]): three canonical base64url parts of JSON objects, at most 8 KiB;
//!    `typ` absent or `JWT` (so `at+jwt` access tokens, `refresh+jwt` and `dpop+jwt` fail);
//!    `alg` exactly `ES256K` or `ES256`; no `crit`;
//! 2. `iss` is a bare DID. The reference also accepts `did#fragment` (a labeler's
//!    `#atproto_labeler`), but this service serves accounts, so a fragment is refused;
//! 3. `aud` is the service DID or `<service DID>#<service id>` (both forms, as PDSes move to
//!    the second; proposal 0014);
//! 4. `lxm` is present and equal to the NSID of the method called;
//! 5. time, with a clock-skew allowance `s` ([`ServiceAuthConfig::clock_skew`], 30 s): `exp`
//!    not before now - `s`; `iat` and `nbf` (when present) not after now + `s`; and the
//!    lifetime, `exp - iat` and `exp - now`, at most [`ServiceAuthConfig::max_lifetime`]
//!    (1 hour: the longest token `com.atproto.server.getServiceAuth` issues; it also bounds
//!    how long the replay cache must remember a token). The reference checks only `exp`, with
//!    no allowance; its newer `lex-server` verifier caps the age as here;
//! 6. `jti` present (unless [`ServiceAuthConfig::require_jti`] is off: the spec makes it
//!    optional, but every PDS implementation sends one, and jacquard requires it too);
//! 7. the signature ([`crate::signature`], the same check as repo commits): 64-byte compact, low-S, SHA-256, by the issuer's
//!    `#atproto` key from [`IssuerKeys`]. If it fails with the cached key, the key is looked
//!    up once more, fresh, and the token checked again only if the key changed (rotation);
//!    fresh lookups for one DID happen at most once per
//!    [`ServiceAuthConfig::refresh_cooldown`], so forged tokens cannot make this service
//!    hammer a PLC directory or a `did:web` host;
//! 8. `(iss, jti)` not accepted before within the token's lifetime ([`replay`]).
//!
//! Every failure is a [`ServiceAuthError`], answered as an XRPC 401.

mod error;
mod keys;
mod replay;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::future::Cache;

pub use error::ServiceAuthError;
pub use keys::{IssuerKeys, KeyFuture};

use crate::clip;
use crate::identity::SigningKey;
use crate::signature::{CompactSignature, SignatureError};
use crate::syntax::is_valid_did;
use replay::ReplayCache;
pub use token::MAX_TOKEN_LEN;

/// Most DIDs whose last fresh key lookup is remembered for the cooldown.
const REFRESH_MEMORY: u64 = 100_000;

/// Settings of a [`ServiceAuthVerifier`].
#[derive(Debug, Clone)]
pub struct ServiceAuthConfig {
    /// This service's DID, e.g. `did:web:api.plyr.fm`.
    pub service_did: String,
    /// The id of this service's entry in its DID document, without `#`, e.g. `plyr_appview`.
    pub service_id: String,
    /// How far the caller's clock may be from ours. Default 30 s.
    pub clock_skew: Duration,
    /// Longest token lifetime accepted (`exp - iat`, and `exp - now`). Default 1 hour.
    pub max_lifetime: Duration,
    /// Refuse tokens without `jti`. Default true.
    pub require_jti: bool,
    /// Most live tokens the replay cache remembers. Default 200,000 (a few tens of MiB at most).
    pub replay_capacity: u64,
    /// Least time between two fresh key lookups of one DID after a signature failure. Default
    /// 10 s.
    pub refresh_cooldown: Duration,
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid service auth configuration: {0}")]
pub struct ServiceAuthConfigError(String);

impl ServiceAuthConfig {
    /// The defaults for a service `service_did` whose DID document entry is `#service_id`.
    pub fn new(service_did: impl Into<String>, service_id: impl Into<String>) -> Self {
        ServiceAuthConfig {
            service_did: service_did.into(),
            service_id: service_id.into(),
            clock_skew: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(60 * 60),
            require_jti: true,
            replay_capacity: 200_000,
            refresh_cooldown: Duration::from_secs(10),
        }
    }
}

/// The claims of a token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedServiceToken {
    /// The caller: the account the PDS acts for (a DID).
    pub iss: String,
    /// The audience it named (one of the two accepted forms).
    pub aud: String,
    /// The method it is bound to (equal to the method called).
    pub lxm: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch, when given.
    pub iat: Option<i64>,
    /// The nonce, when given.
    pub jti: Option<String>,
}

/// Verifies service tokens for one service. Cheap to clone (shared caches).
#[derive(Clone)]
pub struct ServiceAuthVerifier {
    config: Arc<ServiceAuthConfig>,
    audiences: Arc<[String; 2]>,
    keys: Arc<dyn IssuerKeys>,
    replay: ReplayCache,
    recently_refreshed: Cache<String, ()>,
}

impl std::fmt::Debug for ServiceAuthVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAuthVerifier").field("audiences", &self.audiences).finish_non_exhaustive()
    }
}

impl ServiceAuthVerifier {
    /// A verifier for `config`, looking keys up in `keys` (an `IdentityResolver` in production).
    pub fn new(config: ServiceAuthConfig, keys: Arc<dyn IssuerKeys>) -> Result<Self, ServiceAuthConfigError> {
        if !is_valid_did(&config.service_did) || config.service_did.contains('#') {
            return Err(ServiceAuthConfigError(format!("service DID {:?} is not a DID", config.service_did)));
        }
        let id = &config.service_id;
        if id.is_empty() || id.contains(['#', '/', '?']) || id.chars().any(char::is_whitespace) {
            return Err(ServiceAuthConfigError(format!("service id {id:?} is not a fragment")));
        }
        if config.max_lifetime.is_zero() || config.replay_capacity == 0 {
            return Err(ServiceAuthConfigError("max_lifetime and replay_capacity must be > 0".into()));
        }
        let audiences = [config.service_did.clone(), format!("{}#{id}", config.service_did)];
        let recently_refreshed = Cache::builder()
            .max_capacity(REFRESH_MEMORY)
            .time_to_live(config.refresh_cooldown.max(Duration::from_millis(1)))
            .build();
        Ok(ServiceAuthVerifier {
            replay: ReplayCache::new(config.replay_capacity),
            config: Arc::new(config),
            audiences: Arc::new(audiences),
            keys,
            recently_refreshed,
        })
    }

    /// The two `aud` values accepted: the service DID, and `<DID>#<service id>`.
    pub fn audiences(&self) -> &[String; 2] {
        &self.audiences
    }

    /// Verifies `token` (the bearer value, without `Bearer `) for a call of method `lxm`.
    pub async fn verify(&self, token: &str, lxm: &str) -> Result<VerifiedServiceToken, ServiceAuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.verify_at(token, lxm, i64::try_from(now).unwrap_or(i64::MAX)).await
    }

    /// [`Self::verify`] with the current time given, in seconds since the epoch.
    pub async fn verify_at(
        &self,
        token: &str,
        lxm: &str,
        now: i64,
    ) -> Result<VerifiedServiceToken, ServiceAuthError> {
        let parsed = token::parse(token)?;
        let claims = parsed.claims;
        if !is_valid_did(&claims.iss) {
            return Err(ServiceAuthError::BadIssuer { iss: clip(&claims.iss) });
        }
        if !self.audiences.contains(&claims.aud) {
            return Err(ServiceAuthError::WrongAudience { got: clip(&claims.aud) });
        }
        match claims.lxm.as_deref() {
            None => return Err(ServiceAuthError::MissingMethod { want: lxm.to_owned() }),
            Some(got) if got != lxm => {
                return Err(ServiceAuthError::WrongMethod { got: clip(got), want: lxm.to_owned() });
            }
            Some(_) => {}
        }
        let replay_ttl =
            self.check_times(now, claims.exp.0, claims.iat.map(|d| d.0), claims.nbf.map(|d| d.0))?;
        if self.config.require_jti && claims.jti.is_none() {
            return Err(ServiceAuthError::MissingJti);
        }
        let signature = CompactSignature::parse(parsed.curve, &parsed.signature).map_err(refused)?;
        self.check_signature(&claims.iss, &signature, parsed.signing_input).await?;
        if let Some(jti) = &claims.jti
            && !self.replay.first_use(&claims.iss, jti, replay_ttl).await
        {
            return Err(ServiceAuthError::Replayed);
        }
        Ok(VerifiedServiceToken {
            iss: claims.iss,
            aud: claims.aud,
            lxm: lxm.to_owned(),
            exp: claims.exp.0,
            iat: claims.iat.map(|d| d.0),
            jti: claims.jti,
        })
    }

    /// Checks `exp`, `iat`, `nbf` and the lifetime; returns how long the replay cache must
    /// remember the token (until it is expired even for a clock `clock_skew` behind).
    fn check_times(
        &self,
        now: i64,
        exp: i64,
        iat: Option<i64>,
        nbf: Option<i64>,
    ) -> Result<Duration, ServiceAuthError> {
        let skew = secs(self.config.clock_skew);
        let max_lifetime = secs(self.config.max_lifetime);
        // Claims are within ±2^40 (NumericDate); `now` is the caller's, so saturate.
        if now.saturating_sub(skew) > exp {
            return Err(ServiceAuthError::Expired);
        }
        if iat.is_some_and(|iat| iat > now.saturating_add(skew)) {
            return Err(ServiceAuthError::IssuedInFuture);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
            return Err(ServiceAuthError::NotYetValid);
        }
        let too_long =
            exp.saturating_sub(now) > max_lifetime + skew || iat.is_some_and(|iat| exp - iat > max_lifetime);
        if too_long {
            return Err(ServiceAuthError::LifetimeTooLong { max_secs: self.config.max_lifetime.as_secs() });
        }
        let remaining = u64::try_from((exp + skew).saturating_sub(now)).unwrap_or(0);
        Ok(Duration::from_secs(remaining.max(1)))
    }

    /// Verifies the signature with the issuer's key, refreshing the key once if it fails.
    async fn check_signature(
        &self,
        iss: &str,
        signature: &CompactSignature,
        message: &[u8],
    ) -> Result<(), ServiceAuthError> {
        let cached = self.lookup(iss, false).await?;
        if verifies(signature, &cached, message) {
            return Ok(());
        }
        if self.recently_refreshed.contains_key(iss) {
            return Err(ServiceAuthError::BadSignature);
        }
        self.recently_refreshed.insert(iss.to_owned(), ()).await;
        let fresh = self.lookup(iss, true).await?;
        if fresh != cached && verifies(signature, &fresh, message) {
            tracing::debug!(did = iss, "service token verified after refreshing the signing key");
            return Ok(());
        }
        Err(ServiceAuthError::BadSignature)
    }

    async fn lookup(&self, iss: &str, fresh: bool) -> Result<SigningKey, ServiceAuthError> {
        match self.keys.signing_key(iss, fresh).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(ServiceAuthError::UnknownIssuer {
                did: iss.to_owned(),
                reason: "DID document has no usable #atproto key".into(),
            }),
            Err(error) if keys::is_permanent(&error) => {
                Err(ServiceAuthError::UnknownIssuer { did: iss.to_owned(), reason: error.to_string() })
            }
            Err(source) => Err(ServiceAuthError::IssuerUnavailable { did: iss.to_owned(), source }),
        }
    }
}

/// Whole seconds of `d`, saturated into the NumericDate range.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).min(1 << 40)
}

/// Verifies an atproto signature (compact, low-S, SHA-256) over `message` with `key`, on the
/// key's curve, answering as a service token check would.
pub fn verify_compact_signature(
    key: &SigningKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), ServiceAuthError> {
    let signature = CompactSignature::parse(key.curve(), signature).map_err(refused)?;
    if verifies(&signature, key, message) { Ok(()) } else { Err(ServiceAuthError::BadSignature) }
}

/// Whether `signature` over `message` verifies with `key` (false for an unusable key or one on
/// the other curve).
fn verifies(signature: &CompactSignature, key: &SigningKey, message: &[u8]) -> bool {
    key.verifying_key().is_ok_and(|key| signature.verify(&key, message).is_ok())
}

/// The token error for a signature refused by its shape.
fn refused(error: SignatureError) -> ServiceAuthError {
    match error {
        SignatureError::HighS => ServiceAuthError::HighS,
        SignatureError::NotCompact(_) | SignatureError::Malformed => ServiceAuthError::SignatureEncoding,
        SignatureError::Invalid | SignatureError::Key(_) => ServiceAuthError::BadSignature,
    }
}
