//! Where a repo lives and which key signs it: the identity resolver in production, a fixed
//! table in tests.

use std::collections::HashMap;
use std::future::Future;

use plyr_atproto::identity::{IdentityResolver, SigningKey};
use url::Url;

use super::BackfillError;

/// An account's PDS and current signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoHost {
    /// The PDS base URL (`#atproto_pds` service endpoint).
    pub pds: Url,
    /// The `#atproto` key; `None` when the document has none (a CAR then cannot be verified).
    pub key: Option<SigningKey>,
}

/// Finds an account's PDS and key.
pub trait RepoLocator: Send + Sync {
    /// The DID's PDS and key. With `fresh`, caches are bypassed (a signature failed with the
    /// cached key: it may have rotated).
    fn locate(&self, did: &str, fresh: bool) -> impl Future<Output = Result<RepoHost, BackfillError>> + Send;
}

impl RepoLocator for IdentityResolver {
    async fn locate(&self, did: &str, fresh: bool) -> Result<RepoHost, BackfillError> {
        let doc = if fresh { self.resolve_did_fresh(did).await } else { self.resolve_did(did).await }
            .map_err(|e| BackfillError::Identity(e.to_string()))?;
        let endpoint = doc
            .pds_endpoint
            .as_deref()
            .ok_or_else(|| BackfillError::Identity(format!("{did} names no PDS")))?;
        let pds = Url::parse(endpoint).map_err(|_| BackfillError::Url(clip(endpoint)))?;
        Ok(RepoHost { pds, key: doc.signing_key.clone() })
    }
}

/// Fixed hosts by DID (tests, benchmarks).
#[derive(Debug, Clone, Default)]
pub struct StaticLocator(pub HashMap<String, RepoHost>);

impl RepoLocator for StaticLocator {
    async fn locate(&self, did: &str, _fresh: bool) -> Result<RepoHost, BackfillError> {
        self.0.get(did).cloned().ok_or_else(|| BackfillError::Identity(format!("{} is unknown", clip(did))))
    }
}

/// At most 128 characters of untrusted text, for errors.
pub(crate) fn clip(text: &str) -> String {
    text.chars().take(128).collect()
}
