//! Why a service token was refused: [`ServiceAuthError`].
//!
//! Every variant is an HTTP 401 at the XRPC edge. [`ServiceAuthError::error_name`] gives the
//! XRPC `error` field (the names the reference `@atproto/xrpc-server` uses where it has one),
//! [`ServiceAuthError::message`] a sentence safe to send back to the caller: it describes the
//! token the caller sent and never the resolver's URLs or network errors. `Display` is the
//! fuller form for logs.

use std::borrow::Cow;

use crate::identity::IdentityError;

/// The one message for every issuer that could not be resolved to a key.
const ISSUER_UNRESOLVED: &str = "could not resolve the token issuer's DID to a signing key";

/// A refused service token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAuthError {
    /// Not a compact JWS of base64url JSON parts, or a claim of the wrong type or size.
    #[error("malformed service token: {0}")]
    Malformed(String),
    /// `typ` names another kind of token (a PDS access or refresh token, a DPoP proof, ...).
    #[error("token type {typ:?} is not a service token")]
    WrongTokenType {
        /// The header's `typ`.
        typ: String,
    },
    /// `alg` is not `ES256K` or `ES256` (`none`, `HS256`, `RS256`, ...).
    #[error("unsupported signature algorithm {alg:?}")]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// The header lists `crit` extensions, none of which this verifier understands.
    #[error("critical header extensions are not supported")]
    UnsupportedCritical,
    /// `iss` is not a bare DID (a `#fragment` names a service, not an account).
    #[error("issuer {iss:?} is not a DID")]
    BadIssuer {
        /// The `iss` claim (clipped).
        iss: String,
    },
    /// `aud` is neither this service's DID nor `<DID>#<service id>`.
    #[error("token audience {got:?} is not this service")]
    WrongAudience {
        /// The `aud` claim (clipped).
        got: String,
    },
    /// No `lxm` claim: the token is not bound to a method.
    #[error("token has no lexicon method (lxm); expected {want}")]
    MissingMethod {
        /// The NSID of the method called.
        want: String,
    },
    /// `lxm` names another method.
    #[error("token lexicon method (lxm) {got:?} does not match {want}")]
    WrongMethod {
        /// The `lxm` claim (clipped).
        got: String,
        /// The NSID of the method called.
        want: String,
    },
    /// `exp` has passed (beyond the clock-skew allowance).
    #[error("token expired")]
    Expired,
    /// `iat` is in the future (beyond the clock-skew allowance).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `nbf` is in the future (beyond the clock-skew allowance).
    #[error("token not yet valid (nbf)")]
    NotYetValid,
    /// `exp` is further from `iat` (or from now) than the longest lifetime accepted.
    #[error("token lifetime exceeds {max_secs} seconds")]
    LifetimeTooLong {
        /// The longest lifetime accepted, in seconds.
        max_secs: u64,
    },
    /// No `jti` claim, and the verifier requires one.
    #[error("token has no jti (nonce)")]
    MissingJti,
    /// The `(iss, jti)` pair was already accepted within the token's lifetime.
    #[error("token already used (jti replayed)")]
    Replayed,
    /// The signature is not 64 bytes of compact `r || s` with both in range (DER, truncated, ...).
    #[error("signature is not a 64-byte compact (r || s) ECDSA signature")]
    SignatureEncoding,
    /// The signature's `s` is in the upper half of the curve order (malleable form).
    #[error("signature is not in low-S form")]
    HighS,
    /// The signature does not verify with the issuer's current `#atproto` key.
    #[error("signature does not match the issuer's signing key")]
    BadSignature,
    /// The issuer's DID does not resolve to a document with an `#atproto` key.
    #[error("issuer {did} could not be resolved to a signing key: {reason}")]
    UnknownIssuer {
        /// The issuer DID.
        did: String,
        /// Why (for logs only).
        reason: String,
    },
    /// The issuer's DID document could not be fetched right now (timeout, network, 5xx).
    #[error("issuer {did} could not be resolved: {source}")]
    IssuerUnavailable {
        /// The issuer DID.
        did: String,
        /// The resolver's error (for logs only).
        source: IdentityError,
    },
}

impl ServiceAuthError {
    /// The XRPC `error` name for a 401 answer.
    pub fn error_name(&self) -> &'static str {
        use ServiceAuthError::*;
        match self {
            Malformed(_)
            | UnsupportedAlgorithm { .. }
            | UnsupportedCritical
            | LifetimeTooLong { .. }
            | MissingJti => "BadJwt",
            WrongTokenType { .. } => "BadJwtType",
            BadIssuer { .. } | UnknownIssuer { .. } | IssuerUnavailable { .. } => "BadJwtIss",
            WrongAudience { .. } => "BadJwtAudience",
            MissingMethod { .. } | WrongMethod { .. } => "BadJwtLexiconMethod",
            Expired => "JwtExpired",
            IssuedInFuture | NotYetValid => "JwtNotYetValid",
            Replayed => "JwtReplayed",
            SignatureEncoding | HighS | BadSignature => "BadJwtSignature",
        }
    }

    /// A message for the caller: what is wrong with its token, without server internals. An
    /// issuer that does not exist, is refused by the network policy, or did not answer gets one
    /// message, so that a forged `iss` cannot probe which hosts and ports answer.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            ServiceAuthError::UnknownIssuer { .. } | ServiceAuthError::IssuerUnavailable { .. } => {
                Cow::Borrowed(ISSUER_UNRESOLVED)
            }
            other => Cow::Owned(other.to_string()),
        }
    }

    /// Whether the failure is on the resolving side and may pass on retry (log it louder).
    pub fn is_transient(&self) -> bool {
        matches!(self, ServiceAuthError::IssuerUnavailable { .. })
    }
}
