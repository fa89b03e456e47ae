//! The per-client rate limit: a token bucket per client IP (`tower_governor`), answering 429
//! with `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `Retry-After`. The JSON
//! body (XRPC `RateLimitExceeded` or `{"detail"}`) is written by [`super::limits`].
//!
//! The client is the peer address of the connection; when that peer is one of the operator's
//! trusted proxies, it is the last `X-Forwarded-For` entry that is not a trusted proxy (entries
//! before it can be written by anyone, so they are never used).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::AppviewOptions;

/// The layer type [`layer`] builds.
pub type RateLimitLayer = GovernorLayer<ClientIp, NoOpMiddleware, Body>;

/// Keys requests by client IP (see the module doc).
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: Arc<[IpAddr]>,
}

impl ClientIp {
    pub fn new(trusted: &[IpAddr]) -> Self {
        Self { trusted: trusted.iter().map(|ip| canonical(*ip)).collect() }
    }

    /// The client of a request from `peer` with these `X-Forwarded-For` values.
    fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a HeaderValue>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted.contains(&peer) {
            return peer;
        }
        let hops: Vec<&str> =
            forwarded.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.trusted.contains(&client) {
                        break;
                    }
                }
                // Not an address: the chain is broken; the last trusted hop is the client.
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses count as the IPv4 address, and each IPv6 client is its /64 (one
/// host gets a whole /64, so single addresses would give it unlimited buckets).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        // Without a socket (the router called in-process) every caller shares one bucket.
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        Ok(self.client(peer, req.headers().get_all("x-forwarded-for").iter()))
    }
}

/// The configured limiter, or `None` when `--rate-limit-per-sec` or `--rate-limit-burst` is 0.
pub fn config(options: &AppviewOptions) -> Option<Arc<GovernorConfig<ClientIp, NoOpMiddleware>>> {
    if options.rate_limit_per_sec == 0 || options.rate_limit_burst == 0 {
        return None;
    }
    let period = Duration::from_nanos(1_000_000_000 / u64::from(options.rate_limit_per_sec))
        .max(Duration::from_nanos(1));
    GovernorConfigBuilder::default()
        .key_extractor(ClientIp::new(&options.trusted_proxies))
        .period(period)
        .burst_size(options.rate_limit_burst)
        .finish()
        .map(Arc::new)
}

/// The layer for `config`, answering 429 with the `RateLimit-*` headers.
pub fn layer(config: Arc<GovernorConfig<ClientIp, NoOpMiddleware>>, burst: u32) -> RateLimitLayer {
    GovernorLayer::new(config).error_handler(move |err| too_many(err, burst))
}

fn too_many(err: GovernorError, burst: u32) -> Response<Body> {
    let wait = match err {
        GovernorError::TooManyRequests { wait_time, .. } => wait_time.max(1),
        // Our key extractor never fails; anything else is answered as a limit too.
        _ => 1,
    };
    metrics::counter!("appview_rate_limited_total").increment(1);
    let mut res = Response::new(Body::from(format!("rate limit exceeded: retry in {wait} s")));
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert("ratelimit-limit", HeaderValue::from(burst));
    h.insert("ratelimit-remaining", HeaderValue::from(0));
    h.insert("ratelimit-reset", HeaderValue::from(wait));
    h.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let keys = ClientIp::new(&[proxy]);
        let xff = |s: &'static str| vec![HeaderValue::from_static(s)];
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let h = xff("6.6.6.6, 1.2.3.4");
        // An untrusted peer's header is ignored.
        assert_eq!(keys.client(ip("9.9.9.9"), h.iter()), ip("9.9.9.9"));
        // Through the proxy: the last hop it saw, never the forgeable first one.
        assert_eq!(keys.client(proxy, h.iter()), ip("1.2.3.4"));
        let h = xff("1.2.3.4, 10.0.0.1");
        assert_eq!(keys.client(proxy, h.iter()), ip("1.2.3.4"));
        let h = xff("junk");
        assert_eq!(keys.client(proxy, h.iter()), proxy);
        assert_eq!(keys.client(proxy, std::iter::empty()), proxy);
        assert_eq!(canonical(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(canonical(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }
}
