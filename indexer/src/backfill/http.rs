//! HTTP for backfill: GETs with a size-limited body, a concurrency limit per host, and rate
//! limits as backpressure. Hosts named by the network (a PDS from a DID document) are reached
//! only over https on public addresses unless the policy allows a test network; the hosts the
//! operator configured (a relay, a PDS to list) are reached as given. A 429 pauses every request to that host until the time the answer
//! announces (`RateLimit-Reset`, `Retry-After`, else a doubling default), then the request is
//! sent again; it is not an error unless the host keeps refusing past the configured waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plyr_atproto::outbound::{NetworkPolicy, PublicDns, error_chain};
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::locate::clip;
use super::{BackfillConfig, BackfillError};

/// Wait after a 429 that announces nothing (doubled on each further 429 of one request).
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(5);

/// One host's request slots and its pause.
#[derive(Debug)]
struct Host {
    permits: Semaphore,
    paused_until: Mutex<Option<Instant>>,
}

/// The shared HTTP client of a backfill.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// For hosts the operator configured.
    http: reqwest::Client,
    /// For hosts named by the network: resolves to public addresses only (unless the policy
    /// allows a test network).
    public_http: reqwest::Client,
    network: NetworkPolicy,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    per_host: usize,
    timeout: Duration,
    max_wait: Duration,
    max_waits: u32,
}

impl Fetcher {
    pub fn new(config: &BackfillConfig) -> Result<Self, BackfillError> {
        let builder = || {
            reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).user_agent(concat!(
                "plyr-indexer/",
                env!("CARGO_PKG_VERSION"),
                " (backfill)"
            ))
        };
        let http = builder().build().map_err(|e| BackfillError::Network(e.to_string()))?;
        let mut public = builder().redirect(reqwest::redirect::Policy::none());
        if !config.network.allows_test_network() {
            public = public.dns_resolver(Arc::new(PublicDns));
        }
        let public_http = public.build().map_err(|e| BackfillError::Network(e.to_string()))?;
        Ok(Self {
            http,
            public_http,
            network: config.network,
            hosts: Arc::default(),
            per_host: config.per_host.max(1),
            timeout: config.request_timeout,
            max_wait: config.max_rate_limit_wait,
            max_waits: config.max_rate_limit_waits,
        })
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let key =
            format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(hosts.entry(key).or_insert_with(|| {
            Arc::new(Host { permits: Semaphore::new(self.per_host), paused_until: Mutex::new(None) })
        }))
    }

    /// GETs `url` on a host the operator configured and returns the body of a 2xx answer (at
    /// most `max` bytes). `what` names the method in errors.
    pub async fn get(&self, url: Url, what: &'static str, max: usize) -> Result<Vec<u8>, BackfillError> {
        self.fetch(&self.http, url, what, max).await
    }

    /// As [`Self::get`], on a host named by the network (an account's PDS): refused unless the
    /// network policy allows its scheme and address.
    pub async fn get_public(
        &self,
        url: Url,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<u8>, BackfillError> {
        self.network
            .check_url(&url)
            .map_err(|refusal| BackfillError::Url(format!("{}: {refusal}", clip(url.as_str()))))?;
        self.fetch(&self.public_http, url, what, max).await
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        url: Url,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<u8>, BackfillError> {
        let host = self.host(&url);
        let mut waits = 0u32;
        loop {
            let pause = *host.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = pause {
                tokio::time::sleep_until(until).await;
            }
            let permit = host.permits.acquire().await.map_err(|_| BackfillError::Cancelled)?;
            let sent = client.get(url.clone()).timeout(self.timeout).send().await;
            let resp = sent.map_err(|e| BackfillError::Network(clip(&error_chain(&e.without_url()))))?;
            let status = resp.status();
            if status.as_u16() == 429 {
                waits += 1;
                metrics::counter!("indexer_backfill_rate_limited_total").increment(1);
                if waits > self.max_waits {
                    return Err(BackfillError::RateLimited(clip(url.host_str().unwrap_or_default())));
                }
                let default = DEFAULT_RATE_LIMIT_WAIT.saturating_mul(1 << (waits - 1).min(6));
                let wait = rate_limit_wait(resp.headers(), chrono::Utc::now().timestamp())
                    .unwrap_or(default)
                    .min(self.max_wait);
                tracing::info!(
                    host = url.host_str().unwrap_or_default(),
                    wait_ms = wait.as_millis() as u64,
                    "rate limited; pausing the host"
                );
                let until = Instant::now() + wait;
                let mut paused = host.paused_until.lock().unwrap_or_else(|e| e.into_inner());
                *paused = Some(paused.map_or(until, |p| p.max(until)));
                drop(permit);
                continue;
            }
            let body = read_limited(resp, what, max).await;
            drop(permit);
            let body = body?;
            metrics::counter!("indexer_backfill_bytes_total").increment(body.len() as u64);
            if status.is_success() {
                return Ok(body);
            }
            return Err(BackfillError::Status { what, status: status.as_u16(), error: xrpc_error(&body) });
        }
    }
}

/// Reads a body, refusing more than `max` bytes (announced or actual).
async fn read_limited(
    mut resp: reqwest::Response,
    what: &'static str,
    max: usize,
) -> Result<Vec<u8>, BackfillError> {
    if resp.content_length().is_some_and(|len| len > max as u64) {
        return Err(BackfillError::TooLarge { what, max });
    }
    // Sized from the announced length (already checked against `max`), so a multi-megabyte CAR
    // is not copied again at every doubling.
    let announced = resp.content_length().and_then(|len| usize::try_from(len).ok()).unwrap_or(0);
    let mut body = Vec::with_capacity(announced.min(max));
    while let Some(chunk) =
        resp.chunk().await.map_err(|e| BackfillError::Network(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > max {
            return Err(BackfillError::TooLarge { what, max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `error` name of an XRPC error body, or a short excerpt of whatever it was.
fn xrpc_error(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct XrpcError {
        error: String,
    }
    match serde_json::from_slice::<XrpcError>(body) {
        Ok(e) => clip(&e.error),
        Err(_) => clip(&String::from_utf8_lossy(&body[..body.len().min(128)])),
    }
}

/// How long a 429 asks us to wait, from `RateLimit-Reset` (Unix seconds, as atproto PDSes send
/// it, or delta seconds when it is small) or `Retry-After` (delta seconds or an HTTP date);
/// `now` is the current Unix time in seconds.
pub fn rate_limit_wait(headers: &HeaderMap, now: i64) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let secs = |s: i64| Duration::from_secs(u64::try_from(s.max(0)).unwrap_or(0));
    if let Some(reset) = text("ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
        // An absolute time is a Unix timestamp (anything after 2001); else a delta.
        return Some(if reset >= 1_000_000_000 { secs(reset - now) } else { secs(reset) });
    }
    let retry = text("retry-after")?;
    if let Ok(delta) = retry.parse::<i64>() {
        return Some(secs(delta));
    }
    chrono::DateTime::parse_from_rfc2822(retry).ok().map(|at| secs(at.timestamp() - now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers() {
        let now = 1_767_225_600;
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Headers, Option<u64>)] = &[
            (&[("ratelimit-reset", "1767225630")], Some(30)),
            (&[("ratelimit-reset", "12")], Some(12)),
            (&[("ratelimit-reset", "1767225500")], Some(0)), // already past
            (&[("retry-after", "7")], Some(7)),
            (&[("retry-after", "Thu, 01 Jan 2026 00:01:00 GMT")], Some(60)),
            (&[("retry-after", "soon")], None),
            (&[("ratelimit-reset", "3"), ("retry-after", "9")], Some(3)),
            (&[], None),
        ];
        for (headers, expected) in cases {
            let mut map = HeaderMap::new();
            for (k, v) in *headers {
                map.insert(*k, v.parse().expect("header value"));
            }
            assert_eq!(rate_limit_wait(&map, now), expected.map(Duration::from_secs), "{headers:?}");
        }
    }

    #[test]
    fn xrpc_error_names() {
        assert_eq!(xrpc_error(br#"{"error":"RepoNotFound","message":"x"}"#), "RepoNotFound");
        assert_eq!(xrpc_error(b"gateway timeout"), "gateway timeout");
    }
}
