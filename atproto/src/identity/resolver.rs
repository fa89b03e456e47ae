//! The caching identity resolver: DID -> document, handle -> DID, and both ways verification.
//!
//! Successes are cached for [`IdentityConfig::cache_ttl`]; failures (not found, timeouts,
//! malformed documents, handles that resolve nowhere) for [`IdentityConfig::failure_ttl`], so a
//! dead identity is neither refetched on every event nor stuck for an hour. Concurrent lookups of
//! one key share a single request (moka's `get_with`), and at most
//! [`IdentityConfig::max_concurrent_requests`] lookups are on the network at once; each is bounded
//! by [`IdentityConfig::request_timeout`] (time spent waiting for a permit is not counted).
//!
//! DID methods: `did:plc:<id>` is fetched from `{plc_url}/<did>`; `did:web:<host>[%3A<port>]` from
//! `https://<host>[:<port>]/.well-known/did.json`, except that the hosts `localhost` and
//! `127.0.0.1` are fetched over plain `http://` (the reference PDS serves its service DID from
//! `http://localhost:<port>` in tests). `did:web` with a path is not an atproto DID.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use reqwest::{Client, Url};
use tokio::sync::Semaphore;

use super::handle::{DnsHttpsHandleResolver, HandleResolver, PdsHandleResolver};
use super::http::{self, Fetched, get_limited};
use super::{DidDocument, Identity, IdentityError, clip};
use crate::syntax::{is_valid_did, is_valid_handle};

/// Largest DID document read.
const DOCUMENT_LIMIT: usize = 64 * 1024;
/// Hosts whose `did:web` documents are fetched over `http://`.
const PLAIN_HTTP_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Settings of an [`IdentityResolver`].
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// PLC directory base URL.
    pub plc_url: String,
    /// Bound on each network lookup, body included.
    pub request_timeout: Duration,
    /// How long a resolved document or handle is kept.
    pub cache_ttl: Duration,
    /// How long a failed lookup is remembered before it is retried.
    pub failure_ttl: Duration,
    /// Most entries kept in each of the DID and handle caches.
    pub cache_capacity: u64,
    /// Most lookups on the network at the same time.
    pub max_concurrent_requests: usize,
    /// When set, handles are resolved only by asking this PDS (`resolveHandle`) instead of DNS
    /// and HTTPS: for end-to-end runs against the reference PDS, whose `.test` handles resolve
    /// nowhere else.
    pub handle_pds: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            plc_url: "https://plc.directory".to_owned(),
            request_timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(60 * 60),
            failure_ttl: Duration::from_secs(60),
            cache_capacity: 100_000,
            max_concurrent_requests: 16,
            handle_pds: None,
        }
    }
}

type Outcome<T> = Result<T, IdentityError>;

/// Gives each cache entry the success or the failure TTL, by its value.
struct OutcomeExpiry<V> {
    success: Duration,
    failure: Duration,
    is_success: fn(&V) -> bool,
}

impl<V> OutcomeExpiry<V> {
    fn ttl(&self, value: &V) -> Option<Duration> {
        Some(if (self.is_success)(value) { self.success } else { self.failure })
    }
}

impl<K, V> Expiry<K, V> for OutcomeExpiry<V> {
    fn expire_after_create(&self, _: &K, value: &V, _: Instant) -> Option<Duration> {
        self.ttl(value)
    }

    fn expire_after_update(&self, _: &K, value: &V, _: Instant, _: Option<Duration>) -> Option<Duration> {
        self.ttl(value)
    }
}

/// Resolves and caches DID documents and handles. Cheap to clone (shared caches).
#[derive(Clone)]
pub struct IdentityResolver {
    plc_url: String,
    timeout: Duration,
    http: Client,
    handle_resolver: Arc<dyn HandleResolver>,
    permits: Arc<Semaphore>,
    dids: Cache<String, Outcome<Arc<DidDocument>>>,
    handles: Cache<String, Outcome<Option<String>>>,
}

impl IdentityResolver {
    /// A resolver whose handles go through DNS + HTTPS, or through `config.handle_pds` if set.
    pub fn new(config: IdentityConfig) -> Result<Self, IdentityError> {
        let http = http::client(config.request_timeout)?;
        let handle_resolver: Arc<dyn HandleResolver> = match &config.handle_pds {
            Some(pds) => Arc::new(PdsHandleResolver::new(http.clone(), &parse_http_url(pds)?)?),
            None => Arc::new(DnsHttpsHandleResolver::new(http.clone(), config.request_timeout)?),
        };
        Self::build(config, http, handle_resolver)
    }

    /// A resolver with a caller-supplied handle resolver (tests, end-to-end runs).
    pub fn with_handle_resolver(
        config: IdentityConfig,
        handle_resolver: Arc<dyn HandleResolver>,
    ) -> Result<Self, IdentityError> {
        let http = http::client(config.request_timeout)?;
        Self::build(config, http, handle_resolver)
    }

    fn build(
        config: IdentityConfig,
        http: Client,
        handle_resolver: Arc<dyn HandleResolver>,
    ) -> Outcome<Self> {
        let plc_url = parse_http_url(&config.plc_url)?.as_str().trim_end_matches('/').to_owned();
        if config.max_concurrent_requests == 0 || config.request_timeout.is_zero() {
            return Err(IdentityError::Config(
                "max_concurrent_requests and request_timeout must be > 0".into(),
            ));
        }
        let (success, failure) = (config.cache_ttl, config.failure_ttl);
        let dids = Cache::builder()
            .max_capacity(config.cache_capacity)
            .expire_after(OutcomeExpiry { success, failure, is_success: |v: &Outcome<_>| v.is_ok() })
            .build();
        let handles = Cache::builder()
            .max_capacity(config.cache_capacity)
            .expire_after(OutcomeExpiry {
                success,
                failure,
                is_success: |v: &Outcome<Option<_>>| matches!(v, Ok(Some(_))),
            })
            .build();
        Ok(IdentityResolver {
            plc_url,
            timeout: config.request_timeout,
            http,
            handle_resolver,
            permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            dids,
            handles,
        })
    }

    /// The DID document of `did`, from the cache or the network.
    pub async fn resolve_did(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        let url = self.document_url(did)?;
        self.dids.get_with(did.to_owned(), self.fetch_document(did, url)).await
    }

    /// Like [`Self::resolve_did`] but refetches, for a signature that fails with the cached key.
    pub async fn resolve_did_fresh(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        self.dids.invalidate(did).await;
        self.resolve_did(did).await
    }

    /// The DID a handle points at (unverified), `None` when it points nowhere.
    pub async fn resolve_handle(&self, handle: &str) -> Result<Option<String>, IdentityError> {
        let handle = handle.to_ascii_lowercase();
        if !is_valid_handle(&handle) {
            return Err(IdentityError::InvalidHandle(clip(&handle)));
        }
        self.handles.get_with(handle.clone(), self.lookup_handle(handle)).await
    }

    /// Resolves `did` and checks that its claimed handle resolves back to it.
    pub async fn verify(&self, did: &str) -> Result<Identity, IdentityError> {
        let doc = self.resolve_did(did).await?;
        let handle_verified = match &doc.handle {
            None => false,
            Some(handle) => match self.resolve_handle(handle).await {
                Ok(resolved) => resolved.as_deref() == Some(doc.id.as_str()),
                Err(error) => {
                    tracing::debug!(did, handle, %error, "handle did not resolve; treating it as unverified");
                    false
                }
            },
        };
        Ok(Identity {
            did: doc.id.clone(),
            handle: doc.handle.clone(),
            handle_verified,
            pds_endpoint: doc.pds_endpoint.clone(),
            signing_key: doc.signing_key.clone(),
        })
    }

    /// Drops the cached document of `did` and the cached lookup of the handle it claimed.
    /// Call on every `#identity` event (with [`Self::invalidate_handle`] for the new handle).
    pub async fn invalidate(&self, did: &str) {
        if let Some(Ok(doc)) = self.dids.get(did).await
            && let Some(handle) = &doc.handle
        {
            self.handles.invalidate(handle).await;
        }
        self.dids.invalidate(did).await;
    }

    /// Drops the cached lookup of `handle`.
    pub async fn invalidate_handle(&self, handle: &str) {
        self.handles.invalidate(&handle.to_ascii_lowercase()).await;
    }

    /// Where the document of `did` lives (see the module docs for the `did:web` scheme rule).
    fn document_url(&self, did: &str) -> Outcome<Url> {
        if !is_valid_did(did) {
            return Err(IdentityError::InvalidDid(clip(did)));
        }
        let unsupported = || IdentityError::UnsupportedDid(clip(did));
        let url = if let Some(id) = did.strip_prefix("did:plc:") {
            let base32 = |b: u8| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b);
            if id.len() != 24 || !id.bytes().all(base32) {
                return Err(IdentityError::InvalidDid(clip(did)));
            }
            format!("{}/{did}", self.plc_url)
        } else if let Some(authority) = did.strip_prefix("did:web:") {
            let (host, port) = match authority.split_once("%3A").or_else(|| authority.split_once("%3a")) {
                Some((host, port)) if port.parse::<u16>().is_ok() => (host, format!(":{port}")),
                Some(_) => return Err(unsupported()),
                None => (authority, String::new()),
            };
            if host.is_empty() || host.contains([':', '%']) {
                return Err(unsupported());
            }
            let scheme = if PLAIN_HTTP_HOSTS.contains(&host) { "http" } else { "https" };
            format!("{scheme}://{host}{port}/.well-known/did.json")
        } else {
            return Err(unsupported());
        };
        Url::parse(&url).map_err(|_| unsupported())
    }

    async fn fetch_document(&self, did: &str, url: Url) -> Outcome<Arc<DidDocument>> {
        tracing::debug!(did, %url, "fetching DID document");
        let fetched = self.bounded(&url, get_limited(&self.http, &url, DOCUMENT_LIMIT)).await?;
        match fetched {
            Fetched::Body(body) => DidDocument::parse(did, &body).map(Arc::new),
            Fetched::NotFound => Err(IdentityError::NotFound(clip(did))),
        }
    }

    async fn lookup_handle(&self, handle: String) -> Outcome<Option<String>> {
        tracing::debug!(handle, "resolving handle");
        self.bounded(&handle, self.handle_resolver.resolve(&handle)).await
    }

    /// Runs one network lookup under a concurrency permit and the request timeout.
    async fn bounded<T>(
        &self,
        target: &impl ToString,
        lookup: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| IdentityError::Config("identity request semaphore closed".into()))?;
        tokio::time::timeout(self.timeout, lookup)
            .await
            .unwrap_or_else(|_| Err(IdentityError::Timeout { url: target.to_string() }))
    }
}

/// Parses an `http(s)` base URL from configuration.
fn parse_http_url(value: &str) -> Outcome<Url> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(IdentityError::Config(format!("not an http(s) URL: {value:?}"))),
    }
}
