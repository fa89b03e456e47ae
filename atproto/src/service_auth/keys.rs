//! Where the verifier gets an issuer's `#atproto` key: the [`IssuerKeys`] trait, implemented
//! for the caching [`IdentityResolver`].
//!
//! A lookup answers `Ok(Some(key))`, `Ok(None)` when the DID resolves but its document has no
//! usable `#atproto` key, or the resolver's [`IdentityError`]. `fresh` asks for an answer that
//! bypasses caches: the verifier sets it once, after a signature fails with the cached key, so
//! that a rotated key is picked up.

use std::future::Future;
use std::pin::Pin;

use crate::identity::{IdentityError, IdentityResolver, SigningKey};

/// The future returned by [`IssuerKeys::signing_key`].
pub type KeyFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<SigningKey>, IdentityError>> + Send + 'a>>;

/// Looks up the `#atproto` signing key of a DID.
pub trait IssuerKeys: Send + Sync {
    /// The key of `did`; with `fresh`, not from a cache.
    fn signing_key<'a>(&'a self, did: &'a str, fresh: bool) -> KeyFuture<'a>;
}

impl IssuerKeys for IdentityResolver {
    fn signing_key<'a>(&'a self, did: &'a str, fresh: bool) -> KeyFuture<'a> {
        Box::pin(async move {
            let document =
                if fresh { self.resolve_did_fresh(did).await? } else { self.resolve_did(did).await? };
            Ok(document.signing_key.clone())
        })
    }
}

/// Whether a resolver error means the issuer does not exist (as opposed to "not right now").
pub(crate) fn is_permanent(error: &IdentityError) -> bool {
    match error {
        IdentityError::InvalidDid(_)
        | IdentityError::UnsupportedDid(_)
        | IdentityError::NotFound(_)
        | IdentityError::Malformed(_)
        | IdentityError::DocumentIdMismatch { .. }
        | IdentityError::BodyTooLarge { .. }
        | IdentityError::Refused { .. } => true,
        IdentityError::HttpStatus { status, .. } => (400..500).contains(status) && *status != 429,
        IdentityError::InvalidHandle(_)
        | IdentityError::Timeout { .. }
        | IdentityError::Transport { .. }
        | IdentityError::Dns { .. }
        | IdentityError::Busy { .. }
        | IdentityError::Config(_) => false,
    }
}
