//! Handle -> DID resolution behind the [`HandleResolver`] trait.
//!
//! - [`DnsHttpsHandleResolver`]: the atproto rule, DNS TXT `_atproto.<handle>` (`did=<did>`)
//!   and `https://<handle>/.well-known/atproto-did`, run together; the first DID found wins.
//! - [`PdsHandleResolver`]: asks one PDS's `com.atproto.identity.resolveHandle`. The reference
//!   PDS in end-to-end tests hands out handles such as `alice.test` that resolve nowhere else.
//! - [`StaticHandles`]: a fixed map, for tests.
//!
//! Implementations answer `Ok(None)` when the handle does not resolve; timeouts and the
//! concurrency limit are applied by the caller (`IdentityResolver`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use reqwest::{Client, Url};
use serde::Deserialize;

use super::IdentityError;
use super::http::{Fetched, error_chain, get_limited};
use crate::clip;
use crate::syntax::is_valid_did;

/// Largest `/.well-known/atproto-did` or `resolveHandle` body read (a DID is at most 2 KiB).
const HANDLE_BODY_LIMIT: usize = 4 * 1024;
/// TLDs that atproto handles may not use, so never looked up on the network.
const DISALLOWED_TLDS: [&str; 8] =
    ["alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"];

/// The future returned by [`HandleResolver::resolve`].
pub type HandleFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, IdentityError>> + Send + 'a>>;

/// Resolves a (valid, lowercase) handle to the DID it claims, without verifying it.
pub trait HandleResolver: Send + Sync {
    /// `Ok(Some(did))` when the handle points at a DID, `Ok(None)` when it points nowhere.
    fn resolve<'a>(&'a self, handle: &'a str) -> HandleFuture<'a>;
}

/// DNS TXT plus HTTPS well-known, as the atproto handle spec prescribes.
pub struct DnsHttpsHandleResolver {
    dns: TokioResolver,
    http: Client,
}

impl DnsHttpsHandleResolver {
    /// Uses the system DNS configuration (`/etc/resolv.conf`) with `timeout` per DNS query.
    pub fn new(http: Client, timeout: Duration) -> Result<Self, IdentityError> {
        let config_error =
            |e: &dyn std::error::Error| IdentityError::Config(format!("DNS: {}", error_chain(e)));
        let mut builder = TokioResolver::builder_tokio().map_err(|e| config_error(&e))?;
        builder.options_mut().timeout = timeout;
        builder.options_mut().attempts = 1;
        let dns = builder.build().map_err(|e| config_error(&e))?;
        Ok(DnsHttpsHandleResolver { dns, http })
    }

    async fn dns(&self, handle: &str) -> Result<Option<String>, IdentityError> {
        let name = format!("_atproto.{handle}.");
        let lookup = match self.dns.txt_lookup(name.as_str()).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() => return Ok(None),
            Err(e) => return Err(IdentityError::Dns { name, message: error_chain(&e) }),
        };
        let values = lookup.answers().iter().filter_map(|record| match &record.data {
            RData::TXT(txt) => {
                Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
            }
            _ => None,
        });
        Ok(did_from_txt(values))
    }

    async fn https(&self, handle: &str) -> Result<Option<String>, IdentityError> {
        let url = Url::parse(&format!("https://{handle}/.well-known/atproto-did"))
            .map_err(|_| IdentityError::InvalidHandle(clip(handle)))?;
        match get_limited(&self.http, &url, HANDLE_BODY_LIMIT).await? {
            Fetched::Body(body) => Ok(did_from_well_known(&body)),
            Fetched::NotFound => Ok(None),
        }
    }
}

impl HandleResolver for DnsHttpsHandleResolver {
    fn resolve<'a>(&'a self, handle: &'a str) -> HandleFuture<'a> {
        Box::pin(async move {
            let tld = handle.rsplit('.').next().unwrap_or_default();
            if DISALLOWED_TLDS.contains(&tld) {
                return Ok(None);
            }
            let (dns, https) = (self.dns(handle), self.https(handle));
            tokio::pin!(dns, https);
            let (mut dns_result, mut https_result) = (None, None);
            while dns_result.is_none() || https_result.is_none() {
                let slot = tokio::select! {
                    result = &mut dns, if dns_result.is_none() => dns_result.insert(result),
                    result = &mut https, if https_result.is_none() => https_result.insert(result),
                };
                if let Ok(Some(did)) = slot {
                    return Ok(Some(did.clone()));
                }
            }
            match (dns_result, https_result) {
                (Some(Err(dns_error)), Some(Err(_))) => Err(dns_error),
                _ => Ok(None),
            }
        })
    }
}

/// Asks one PDS: `GET <pds>/xrpc/com.atproto.identity.resolveHandle?handle=<handle>`.
pub struct PdsHandleResolver {
    endpoint: Url,
    http: Client,
}

impl PdsHandleResolver {
    /// Resolves handles through the PDS at `pds` (for example `http://localhost:2583`).
    pub fn new(http: Client, pds: &Url) -> Result<Self, IdentityError> {
        let base = pds.as_str().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/xrpc/com.atproto.identity.resolveHandle"))
            .map_err(|e| IdentityError::Config(format!("PDS handle resolver URL: {e}")))?;
        Ok(PdsHandleResolver { endpoint, http })
    }
}

impl HandleResolver for PdsHandleResolver {
    fn resolve<'a>(&'a self, handle: &'a str) -> HandleFuture<'a> {
        #[derive(Deserialize)]
        struct Output {
            did: String,
        }
        Box::pin(async move {
            let mut url = self.endpoint.clone();
            url.query_pairs_mut().append_pair("handle", handle);
            let body = match get_limited(&self.http, &url, HANDLE_BODY_LIMIT).await {
                Ok(Fetched::Body(body)) => body,
                // The PDS answers 400 (`InvalidRequest` / `HandleNotFound`) for unknown handles.
                Ok(Fetched::NotFound) | Err(IdentityError::HttpStatus { status: 400, .. }) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let output: Output = serde_json::from_slice(&body)
                .map_err(|e| IdentityError::Malformed(format!("resolveHandle output: {e}")))?;
            Ok(is_valid_did(&output.did).then_some(output.did))
        })
    }
}

/// A fixed handle -> DID map (handles are matched lowercased).
#[derive(Debug, Clone, Default)]
pub struct StaticHandles {
    map: HashMap<String, String>,
}

impl StaticHandles {
    /// Builds the map from `(handle, did)` pairs.
    pub fn new<H: Into<String>, D: Into<String>>(pairs: impl IntoIterator<Item = (H, D)>) -> Self {
        let map = pairs.into_iter().map(|(h, d)| (h.into().to_ascii_lowercase(), d.into())).collect();
        StaticHandles { map }
    }
}

impl HandleResolver for StaticHandles {
    fn resolve<'a>(&'a self, handle: &'a str) -> HandleFuture<'a> {
        let did = self.map.get(&handle.to_ascii_lowercase()).cloned();
        Box::pin(async move { Ok(did) })
    }
}

/// The DID of the single `did=` TXT value; several (ambiguous) or none give `None`.
fn did_from_txt(values: impl Iterator<Item = String>) -> Option<String> {
    let mut dids = values.filter_map(|v| v.strip_prefix("did=").map(str::to_owned));
    match (dids.next(), dids.next()) {
        (Some(did), None) if is_valid_did(&did) => Some(did),
        _ => None,
    }
}

/// The DID in a `/.well-known/atproto-did` body (surrounding whitespace allowed).
fn did_from_well_known(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    is_valid_did(text).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_values() {
        let cases: [(&[&str], Option<&str>); 6] = [
            (&["did=did:plc:ewvi7nxzyoun6zhxrhs64oiz"], Some("did:plc:ewvi7nxzyoun6zhxrhs64oiz")),
            (&["v=spf1 -all", "did=did:web:example.com"], Some("did:web:example.com")),
            (&["did=did:plc:a", "did=did:plc:b"], None),
            (&["did=not-a-did"], None),
            (&["did:plc:ewvi7nxzyoun6zhxrhs64oiz"], None),
            (&[], None),
        ];
        for (values, expected) in cases {
            let got = did_from_txt(values.iter().map(|v| v.to_string()));
            assert_eq!(got.as_deref(), expected, "{values:?}");
        }
    }

    #[test]
    fn well_known_bodies() {
        let cases: [(&[u8], Option<&str>); 5] = [
            (b"did:plc:ewvi7nxzyoun6zhxrhs64oiz", Some("did:plc:ewvi7nxzyoun6zhxrhs64oiz")),
            (b"  did:web:example.com\n", Some("did:web:example.com")),
            (b"<html>not found</html>", None),
            (b"did:plc:a did:plc:b", None),
            (b"\xff\xfe", None),
        ];
        for (body, expected) in cases {
            assert_eq!(did_from_well_known(body).as_deref(), expected, "{body:?}");
        }
    }
}
