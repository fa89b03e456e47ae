//! Where the verifier gets an account's current signing key: the identity resolver in
//! production, a fixed table in tests.

use std::collections::HashMap;
use std::future::Future;

use plyr_atproto::identity::{IdentityResolver, SigningKey};

/// Looks up the `#atproto` signing key of a repo.
pub trait KeySource: Send + Sync {
    /// The key the DID document currently publishes (`None`: the document has none). With
    /// `fresh`, caches are bypassed: the caller saw a signature fail with the cached key.
    fn signing_key(
        &self,
        did: &str,
        fresh: bool,
    ) -> impl Future<Output = Result<Option<SigningKey>, String>> + Send;

    /// Forgets what is cached for `did` (its identity changed).
    fn forget(&self, did: &str) -> impl Future<Output = ()> + Send;
}

impl KeySource for IdentityResolver {
    async fn signing_key(&self, did: &str, fresh: bool) -> Result<Option<SigningKey>, String> {
        let doc = if fresh { self.resolve_did_fresh(did).await } else { self.resolve_did(did).await };
        doc.map(|d| d.signing_key.clone()).map_err(|e| e.to_string())
    }

    async fn forget(&self, did: &str) {
        self.invalidate(did).await;
    }
}

/// Fixed keys by DID (tests, benchmarks, replaying recorded scenarios).
#[derive(Debug, Clone, Default)]
pub struct StaticKeys(pub HashMap<String, SigningKey>);

impl KeySource for StaticKeys {
    async fn signing_key(&self, did: &str, _fresh: bool) -> Result<Option<SigningKey>, String> {
        Ok(self.0.get(did).cloned())
    }

    async fn forget(&self, _did: &str) {}
}
