//! Identity: DID and handle resolution, with caching, for the indexer and the AppView.
//!
//! - [`document`]: parsing a DID document into a [`DidDocument`] (handle, PDS, signing key).
//! - [`key`]: the account's [`SigningKey`], whatever encoding the document used.
//! - [`handle`]: handle -> DID behind the [`HandleResolver`] trait (DNS + HTTPS, a PDS, a map).
//! - [`resolver`]: the caching [`IdentityResolver`] and bidirectional handle verification.
//!
//! Every network answer is untrusted: bodies are size-limited, parsed into fixed shapes, and
//! every lookup is bounded by [`IdentityConfig::request_timeout`]. Hosts named by the network
//! must pass [`IdentityConfig::network`] (see [`crate::outbound`]).

pub mod document;
pub mod handle;
mod http;
pub mod key;
pub mod resolver;

pub use document::DidDocument;
pub use handle::{DnsHttpsHandleResolver, HandleFuture, HandleResolver, PdsHandleResolver, StaticHandles};
pub use key::{Curve, KeyError, SigningKey, VerifyingKey};
pub use resolver::{IdentityConfig, IdentityResolver};

/// A DID with its verified (or not) handle, PDS and signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The DID that was resolved.
    pub did: String,
    /// The handle the DID document claims (lowercased), verified or not.
    pub handle: Option<String>,
    /// Whether the handle resolves back to this DID; store an unverified handle as invalid.
    pub handle_verified: bool,
    /// The `#atproto_pds` service endpoint.
    pub pds_endpoint: Option<String>,
    /// The `#atproto` signing key.
    pub signing_key: Option<SigningKey>,
}

/// Why an identity could not be resolved. Cloneable so that failures can be cached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not a DID this resolver supports the syntax of.
    #[error("invalid DID {0:?}")]
    InvalidDid(String),
    /// A syntactically valid DID of a method other than `plc` and `web` (host only).
    #[error("unsupported DID method: {0:?}")]
    UnsupportedDid(String),
    /// Not a valid handle.
    #[error("invalid handle {0:?}")]
    InvalidHandle(String),
    /// The directory or host answered 404 or 410 for the DID.
    #[error("DID not found: {0}")]
    NotFound(String),
    /// A non-success HTTP status other than not found.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No complete answer within the request timeout.
    #[error("request to {url} timed out")]
    Timeout {
        /// The URL (or DNS name) requested.
        url: String,
    },
    /// Connection, TLS or protocol failure.
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The underlying error chain.
        message: String,
    },
    /// The response body exceeded the size limit.
    #[error("response from {url} exceeds {limit} bytes")]
    BodyTooLarge {
        /// The URL requested.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not JSON, or not JSON of the expected shape.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The DID document's `id` is not the DID that was asked for.
    #[error("DID document id {got:?} does not match the requested {expected:?}")]
    DocumentIdMismatch {
        /// The DID asked for.
        expected: String,
        /// The document's `id`.
        got: String,
    },
    /// A DNS failure other than "no such record".
    #[error("DNS lookup of {name} failed: {message}")]
    Dns {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        message: String,
    },
    /// The network policy refuses the host a DID names (`did:web` on a private address, a
    /// port, plain http, ...); nothing was fetched.
    #[error("{target} is not resolved: {reason}")]
    Refused {
        /// The DID.
        target: String,
        /// Which rule refused it.
        reason: crate::outbound::Refusal,
    },
    /// The lookup waited for a concurrency slot for the whole request timeout and never ran
    /// (too many lookups in flight, or to that host). Not cached.
    #[error("too many lookups in flight; {target} was not resolved")]
    Busy {
        /// The DID or handle.
        target: String,
    },
    /// The resolver could not be built from its configuration.
    #[error("invalid identity configuration: {0}")]
    Config(String),
}
