//! The caching identity resolver: DID -> document, handle -> DID, and both ways verification.
//!
//! Successes are cached for [`IdentityConfig::cache_ttl`]; failures (not found, timeouts,
//! refused or malformed documents, handles that resolve nowhere) for
//! [`IdentityConfig::failure_ttl`], so a dead identity is neither refetched on every event nor
//! stuck for an hour. Concurrent lookups of one key share a single request (moka's `get_with`).
//!
//! Bounds, so that lookups named by forged input cannot delay real ones: the PLC directory (a
//! host the operator configured) and hosts named by the network (`did:web`, handles) each have
//! their own pool of [`IdentityConfig::max_concurrent_requests`] lookups, and each host named by
//! the network at most [`IdentityConfig::per_host_concurrency`] at once. A lookup, waiting for
//! its permits included, ends within [`IdentityConfig::request_timeout`]; one that never got
//! its permits is not cached as a failure.
//!
//! DID methods: `did:plc:<id>` is fetched from `{plc_url}/<did>`; `did:web:<host>[%3A<port>]` from
//! `https://<host>[:<port>]/.well-known/did.json` if [`IdentityConfig::network`] allows that URL
//! (by default: a public host name, the default port; no redirects, and only public addresses
//! are connected to). On a test network the hosts `localhost` and `127.0.0.1` are fetched over
//! plain `http://` (the reference PDS serves its service DID from `http://localhost:<port>`).
//! `did:web` with a path is not an atproto DID. A document's PDS endpoint that the policy
//! refuses is dropped (the document resolves without a PDS).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use reqwest::{Client, Url};
use tokio::sync::Semaphore;

use super::handle::{DnsHttpsHandleResolver, HandleResolver, PdsHandleResolver};
use super::http::{self, Fetched, get_limited};
use super::{DidDocument, Identity, IdentityError};
use crate::clip;
use crate::outbound::NetworkPolicy;
use crate::syntax::{is_valid_did, is_valid_handle};

/// Largest DID document read.
const DOCUMENT_LIMIT: usize = 64 * 1024;
/// Hosts whose `did:web` documents are fetched over `http://` on a test network.
const PLAIN_HTTP_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];
/// Most hosts whose concurrency slots are remembered at once.
const HOST_SLOTS: u64 = 10_000;

/// Settings of an [`IdentityResolver`].
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// PLC directory base URL.
    pub plc_url: String,
    /// Bound on each lookup: waiting for a permit, connecting and reading the body.
    pub request_timeout: Duration,
    /// How long a resolved document or handle is kept.
    pub cache_ttl: Duration,
    /// How long a failed lookup is remembered before it is retried.
    pub failure_ttl: Duration,
    /// Most entries kept in each of the DID and handle caches.
    pub cache_capacity: u64,
    /// Most lookups on the network at the same time, in each of the two pools (the PLC
    /// directory; hosts named by the network).
    pub max_concurrent_requests: usize,
    /// Most lookups at the same time to one host named by the network (`did:web`, handles).
    pub per_host_concurrency: usize,
    /// Which hosts `did:web` DIDs and PDS endpoints may name (public hosts over https unless a
    /// test network is allowed).
    pub network: NetworkPolicy,
    /// When set, handles are resolved only by asking this PDS (`resolveHandle`) instead of DNS
    /// and HTTPS: for end-to-end runs against the reference PDS, whose `.test` handles resolve
    /// nowhere else.
    pub handle_pds: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            plc_url: "https://plc.directory".to_owned(),
            request_timeout: Duration::from_secs(3),
            cache_ttl: Duration::from_secs(60 * 60),
            failure_ttl: Duration::from_secs(60),
            cache_capacity: 100_000,
            max_concurrent_requests: 16,
            per_host_concurrency: 2,
            network: NetworkPolicy::public(),
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

/// Which concurrency limits a lookup runs under.
enum Route {
    /// The configured PLC directory or handle PDS.
    Directory,
    /// A host named by the network (lowercase, without port).
    Host(String),
}

/// Resolves and caches DID documents and handles. Cheap to clone (shared caches).
#[derive(Clone)]
pub struct IdentityResolver {
    plc_url: String,
    timeout: Duration,
    network: NetworkPolicy,
    http: Client,
    public_http: Client,
    handle_resolver: Arc<dyn HandleResolver>,
    handles_via_directory: bool,
    directory_permits: Arc<Semaphore>,
    host_permits: Arc<Semaphore>,
    per_host: usize,
    hosts: Cache<String, Arc<Semaphore>>,
    dids: Cache<String, Outcome<Arc<DidDocument>>>,
    handles: Cache<String, Outcome<Option<String>>>,
}

impl IdentityResolver {
    /// A resolver whose handles go through DNS + HTTPS, or through `config.handle_pds` if set.
    pub fn new(config: IdentityConfig) -> Result<Self, IdentityError> {
        let http = http::client(config.request_timeout)?;
        let public_http = http::public_client(config.request_timeout, config.network)?;
        let handle_resolver: Arc<dyn HandleResolver> = match &config.handle_pds {
            Some(pds) => Arc::new(PdsHandleResolver::new(http.clone(), &parse_http_url(pds)?)?),
            None => Arc::new(DnsHttpsHandleResolver::new(public_http.clone(), config.request_timeout)?),
        };
        let via_directory = config.handle_pds.is_some();
        Self::build(config, http, public_http, handle_resolver, via_directory)
    }

    /// A resolver with a caller-supplied handle resolver (tests, end-to-end runs).
    pub fn with_handle_resolver(
        config: IdentityConfig,
        handle_resolver: Arc<dyn HandleResolver>,
    ) -> Result<Self, IdentityError> {
        let http = http::client(config.request_timeout)?;
        let public_http = http::public_client(config.request_timeout, config.network)?;
        Self::build(config, http, public_http, handle_resolver, false)
    }

    fn build(
        config: IdentityConfig,
        http: Client,
        public_http: Client,
        handle_resolver: Arc<dyn HandleResolver>,
        handles_via_directory: bool,
    ) -> Outcome<Self> {
        let plc_url = parse_http_url(&config.plc_url)?.as_str().trim_end_matches('/').to_owned();
        if config.max_concurrent_requests == 0
            || config.per_host_concurrency == 0
            || config.request_timeout.is_zero()
        {
            return Err(IdentityError::Config(
                "max_concurrent_requests, per_host_concurrency and request_timeout must be > 0".into(),
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
            network: config.network,
            http,
            public_http,
            handle_resolver,
            handles_via_directory,
            directory_permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            host_permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            per_host: config.per_host_concurrency,
            hosts: Cache::builder().max_capacity(HOST_SLOTS).time_to_idle(Duration::from_secs(300)).build(),
            dids,
            handles,
        })
    }

    /// The DID document of `did`, from the cache or the network.
    pub async fn resolve_did(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        let (url, route) = self.document_url(did)?;
        let outcome = self.dids.get_with(did.to_owned(), self.fetch_document(did, url, route)).await;
        if matches!(outcome, Err(IdentityError::Busy { .. })) {
            self.dids.invalidate(did).await;
        }
        outcome
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
        let outcome = self.handles.get_with(handle.clone(), self.lookup_handle(handle.clone())).await;
        if matches!(outcome, Err(IdentityError::Busy { .. })) {
            self.handles.invalidate(&handle).await;
        }
        outcome
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

    /// Where the document of `did` lives (see the module docs for the `did:web` rules).
    fn document_url(&self, did: &str) -> Outcome<(Url, Route)> {
        if !is_valid_did(did) {
            return Err(IdentityError::InvalidDid(clip(did)));
        }
        let unsupported = || IdentityError::UnsupportedDid(clip(did));
        if let Some(id) = did.strip_prefix("did:plc:") {
            let base32 = |b: u8| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b);
            if id.len() != 24 || !id.bytes().all(base32) {
                return Err(IdentityError::InvalidDid(clip(did)));
            }
            let url = format!("{}/{did}", self.plc_url);
            return Ok((Url::parse(&url).map_err(|_| unsupported())?, Route::Directory));
        }
        if let Some(authority) = did.strip_prefix("did:web:") {
            let (host, port) = match authority.split_once("%3A").or_else(|| authority.split_once("%3a")) {
                Some((host, port)) if port.parse::<u16>().is_ok() => (host, format!(":{port}")),
                Some(_) => return Err(unsupported()),
                None => (authority, String::new()),
            };
            if host.is_empty() || host.contains([':', '%']) {
                return Err(unsupported());
            }
            let plain = self.network.allows_test_network() && PLAIN_HTTP_HOSTS.contains(&host);
            let scheme = if plain { "http" } else { "https" };
            let url = Url::parse(&format!("{scheme}://{host}{port}/.well-known/did.json"))
                .map_err(|_| unsupported())?;
            self.network
                .check_url(&url)
                .map_err(|reason| IdentityError::Refused { target: clip(did), reason })?;
            return Ok((url, Route::Host(host.to_ascii_lowercase())));
        }
        Err(unsupported())
    }

    async fn fetch_document(&self, did: &str, url: Url, route: Route) -> Outcome<Arc<DidDocument>> {
        tracing::debug!(did, %url, "fetching DID document");
        let client = match route {
            Route::Directory => &self.http,
            Route::Host(_) => &self.public_http,
        };
        let fetched = self.bounded(&route, url.as_str(), get_limited(client, &url, DOCUMENT_LIMIT)).await?;
        let mut doc = match fetched {
            Fetched::Body(body) => DidDocument::parse(did, &body)?,
            Fetched::NotFound => return Err(IdentityError::NotFound(clip(did))),
        };
        if let Some(endpoint) = &doc.pds_endpoint
            && let Err(reason) = self.network.check_endpoint(endpoint)
        {
            tracing::debug!(did, endpoint = %clip(endpoint), %reason, "ignoring a PDS endpoint the network policy refuses");
            doc.pds_endpoint = None;
        }
        if let Some(endpoint) = &doc.labeler_endpoint
            && let Err(reason) = self.network.check_endpoint(endpoint)
        {
            tracing::debug!(did, endpoint = %clip(endpoint), %reason, "ignoring a labeler endpoint the network policy refuses");
            doc.labeler_endpoint = None;
        }
        Ok(Arc::new(doc))
    }

    async fn lookup_handle(&self, handle: String) -> Outcome<Option<String>> {
        tracing::debug!(handle, "resolving handle");
        let route = if self.handles_via_directory { Route::Directory } else { Route::Host(handle.clone()) };
        self.bounded(&route, &handle, self.handle_resolver.resolve(&handle)).await
    }

    /// Runs one network lookup under its concurrency permits (the host's, then the pool's),
    /// all within the request timeout.
    async fn bounded<T>(
        &self,
        route: &Route,
        target: &str,
        lookup: impl Future<Output = Outcome<T>>,
    ) -> Outcome<T> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let closed = |_| IdentityError::Config("identity request semaphore closed".into());
        let permits = async {
            let (host, pool) = match route {
                Route::Directory => (None, &self.directory_permits),
                Route::Host(host) => {
                    let per_host = self.per_host;
                    let slots =
                        self.hosts.get_with_by_ref(host, async move { Arc::new(Semaphore::new(per_host)) });
                    (Some(slots.await.acquire_owned().await.map_err(closed)?), &self.host_permits)
                }
            };
            Ok::<_, IdentityError>((host, pool.acquire().await.map_err(closed)?))
        };
        let _permits = match tokio::time::timeout_at(deadline, permits).await {
            Ok(permits) => permits?,
            Err(_) => return Err(IdentityError::Busy { target: clip(target) }),
        };
        tokio::time::timeout_at(deadline, lookup)
            .await
            .unwrap_or_else(|_| Err(IdentityError::Timeout { url: clip(target) }))
    }
}

/// Parses an `http(s)` base URL from configuration.
fn parse_http_url(value: &str) -> Outcome<Url> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(IdentityError::Config(format!("not an http(s) URL: {value:?}"))),
    }
}
