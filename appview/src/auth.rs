//! Who is asking: the optional `Authorization: Bearer <service JWT>` a PDS attaches when it
//! proxies a user's call (`atproto-proxy: <our DID>#plyr_appview`). A valid token names the
//! viewer; an invalid one is a 401 with the reason, never an anonymous answer.
//!
//! Verification itself (algorithms, low-S compact signatures, issuer key with one re-resolve on
//! rotation, audience, `lxm`, times, `jti` replay) is `plyr_atproto::service_auth`; this module
//! connects it to requests and to the identity resolver, and builds it once per process.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use plyr_atproto::Did;
use plyr_atproto::identity::{IdentityConfig, IdentityResolver};
use plyr_atproto::service_auth::{IssuerKeys, ServiceAuthConfig, ServiceAuthVerifier};

use crate::{AppState, AppviewOptions, XrpcError};

/// The service id in our DID document that PDSes proxy to.
pub const SERVICE_ID: &str = "plyr_appview";

/// Verifies service tokens for this service.
#[derive(Debug)]
pub struct Auth {
    service_did: String,
    verifier: Option<ServiceAuthVerifier>,
    /// Why there is no verifier (a bad service DID, say): every token is refused with this.
    unavailable: Option<String>,
}

impl Auth {
    /// Resolves token issuers through the PLC directory (and did:web) configured in `options`.
    pub fn new(options: &AppviewOptions) -> Self {
        let config = IdentityConfig {
            plc_url: options.plc_url.clone(),
            network: options.network(),
            ..IdentityConfig::default()
        };
        match IdentityResolver::new(config) {
            Ok(resolver) => Self::with_keys(options, Arc::new(resolver)),
            Err(e) => Self::broken(options, format!("identity resolver: {e}")),
        }
    }

    /// Resolves issuer keys through `keys` (tests supply their own).
    pub fn with_keys(options: &AppviewOptions, keys: Arc<dyn IssuerKeys>) -> Self {
        let service_did = options.service_did();
        match ServiceAuthVerifier::new(ServiceAuthConfig::new(service_did.clone(), SERVICE_ID), keys) {
            Ok(verifier) => Auth { service_did, verifier: Some(verifier), unavailable: None },
            Err(e) => Self::broken(options, format!("service auth: {e}")),
        }
    }

    fn broken(options: &AppviewOptions, why: String) -> Self {
        tracing::error!(error = %why, "service tokens cannot be verified; authenticated calls will be refused");
        Auth { service_did: options.service_did(), verifier: None, unavailable: Some(why) }
    }

    pub fn service_did(&self) -> &str {
        &self.service_did
    }

    /// The DID of the account whose PDS signed `token` for method `nsid`.
    pub async fn verify(&self, token: &str, nsid: &str) -> Result<Did, XrpcError> {
        let Some(verifier) = &self.verifier else {
            return Err(XrpcError::InvalidToken(format!(
                "this service cannot verify tokens: {}",
                self.unavailable.as_deref().unwrap_or("not configured")
            )));
        };
        match verifier.verify(token, nsid).await {
            // The verifier refuses an issuer that is not a DID (`BadIssuer`).
            Ok(t) => Ok(Did::from_trusted(t.iss)),
            Err(e) => {
                tracing::debug!(error = %e, "service token refused");
                metrics::counter!("appview_auth_refused_total", "reason" => e.error_name()).increment(1);
                Err(XrpcError::InvalidToken(e.message().into_owned()))
            }
        }
    }
}

/// The viewer's DID when the request carries a valid service token for `nsid`; `None` when it
/// carries none.
pub async fn viewer(state: &AppState, headers: &HeaderMap, nsid: &str) -> Result<Option<Did>, XrpcError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| XrpcError::InvalidToken("Authorization must be `Bearer <service token>`".into()))?;
    state.auth.verify(token, nsid).await.map(Some)
}
