//! Where a labeler is found and how its labels are checked: the `#atproto_labeler` endpoint and
//! the `#atproto_label` key of its DID document ([`LabelerKeys`]), from the identity resolver
//! in production and a fixed table in tests.

use std::collections::HashMap;
use std::future::Future;

use plyr_atproto::identity::{IdentityResolver, SigningKey};
use url::Url;

/// NSID of the label stream.
pub const SUBSCRIBE_LABELS: &str = "com.atproto.label.subscribeLabels";

/// What a labeler's DID document says about its labeling service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelerService {
    /// The `#atproto_labeler` endpoint (`http(s)`), as published.
    pub endpoint: Url,
    /// The `#atproto_label` key.
    pub key: SigningKey,
}

impl LabelerService {
    /// The `subscribeLabels` websocket URL (`https` → `wss`, `http` → `ws`) from `cursor`.
    pub fn subscribe_url(&self, cursor: i64) -> Url {
        let mut url = self.endpoint.clone();
        let scheme = if url.scheme() == "http" { "ws" } else { "wss" };
        // Both schemes are special, so the change cannot fail; keep the URL as it was if it did.
        let _ = url.set_scheme(scheme);
        let path = format!("{}/xrpc/{SUBSCRIBE_LABELS}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(Some(&format!("cursor={cursor}")));
        url
    }
}

/// Looks up a labeler's service.
pub trait LabelerKeys: Send + Sync {
    /// The service the DID document publishes, or why there is none. With `fresh`, caches are
    /// bypassed: a label failed to verify with the cached key (it may have been rotated).
    fn service(&self, did: &str, fresh: bool) -> impl Future<Output = Result<LabelerService, String>> + Send;
}

impl LabelerKeys for IdentityResolver {
    async fn service(&self, did: &str, fresh: bool) -> Result<LabelerService, String> {
        let doc = if fresh { self.resolve_did_fresh(did).await } else { self.resolve_did(did).await };
        let doc = doc.map_err(|e| e.to_string())?;
        let endpoint = doc
            .labeler_endpoint
            .as_deref()
            .ok_or("the DID document has no usable #atproto_labeler service")?;
        let endpoint = Url::parse(endpoint).map_err(|e| format!("labeler endpoint: {e}"))?;
        let key = doc.label_key.clone().ok_or("the DID document has no usable #atproto_label key")?;
        Ok(LabelerService { endpoint, key })
    }
}

/// Fixed services by DID (tests).
#[derive(Debug, Clone, Default)]
pub struct StaticLabelers(pub HashMap<String, LabelerService>);

impl LabelerKeys for StaticLabelers {
    async fn service(&self, did: &str, _fresh: bool) -> Result<LabelerService, String> {
        self.0.get(did).cloned().ok_or_else(|| format!("no labeler {did}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_urls() {
        let key = plyr_atproto::label::LabelSigner::from_hex(&"07".repeat(32)).expect("key");
        let service = |endpoint: &str| LabelerService {
            endpoint: Url::parse(endpoint).expect("url"),
            key: key.public_key().expect("key"),
        };
        assert_eq!(
            service("https://mod.example").subscribe_url(0).as_str(),
            "wss://mod.example/xrpc/com.atproto.label.subscribeLabels?cursor=0"
        );
        assert_eq!(
            service("http://127.0.0.1:8080/base/").subscribe_url(42).as_str(),
            "ws://127.0.0.1:8080/base/xrpc/com.atproto.label.subscribeLabels?cursor=42"
        );
    }
}
