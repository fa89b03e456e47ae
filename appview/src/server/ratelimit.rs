//! The per-client rate limit: a token bucket per client IP (`tower_governor`), answering 429
//! with `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `Retry-After`. The JSON
//! body (XRPC `RateLimitExceeded` or `{"detail"}`) is written by [`super::limits`].
//!
//! The client is the peer address of the connection; when that peer is one of the operator's
//! trusted proxies (addresses or networks, [`ProxyNet`]), it is the last `X-Forwarded-For` entry
//! that is not a trusted proxy (entries before it can be written by anyone, so they are never
//! used).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// A trusted proxy: one address (`10.0.0.1`) or a network (`10.0.0.0/8`, `fd00::/8`), as a
/// Kubernetes ingress's pods move within their cluster's range. IPv4-mapped IPv6 counts as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    net: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, unmapped(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u32::from(ip).into(), 32, self.prefix) == u32::from(net).into()
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask(u128::from(ip), 128, self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let ip =
            unmapped(addr.parse::<IpAddr>().map_err(|e| format!("{s:?} is not an address or network: {e}"))?);
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{s:?}: the prefix length must be a number from 0 to {bits}"))?,
        };
        let net = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(mask(u32::from(v4).into(), 32, prefix) as u32)),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask(u128::from(v6), 128, prefix))),
        };
        Ok(ProxyNet { net, prefix })
    }
}

/// The top `prefix` bits of a `bits`-bit address.
fn mask(addr: u128, bits: u8, prefix: u8) -> u128 {
    let keep =
        if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) >> (128 - u32::from(bits)) };
    addr & keep
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Keys requests by client IP (see the module doc).
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: Arc<[ProxyNet]>,
}

impl ClientIp {
    pub fn new(trusted: &[ProxyNet]) -> Self {
        Self { trusted: trusted.into() }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client of a request from `peer` with these `X-Forwarded-For` values.
    fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a HeaderValue>) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let hops: Vec<&str> =
            forwarded.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(client) {
                        break;
                    }
                }
                // Not an address: the chain is broken; the last trusted hop is the client.
                Err(_) => break,
            }
        }
        canonical(client)
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
        let keys = ClientIp::new(&["10.0.0.1".parse().expect("net")]);
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

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let net = |s: &str| s.parse::<ProxyNet>();
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let pods = net("10.42.0.0/16").expect("net");
        assert!(pods.contains(ip("10.42.7.9")) && pods.contains(ip("::ffff:10.42.0.1")));
        assert!(!pods.contains(ip("10.43.0.1")) && !pods.contains(ip("fd00::1")));
        assert_eq!(net("10.42.99.99/16"), Ok(pods), "host bits are dropped");
        let one = net("192.0.2.7").expect("address");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = net("fd00:1::/32").expect("v6 net");
        assert!(v6.contains(ip("fd00:1:ffff::1")) && !v6.contains(ip("fd00:2::1")));
        assert!(net("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "proxy.example", ""] {
            assert!(net(bad).is_err(), "{bad:?}");
        }
        // Through any proxy of the ingress's range, the client is the hop before them.
        let keys = ClientIp::new(&[pods]);
        let h = [HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.42.3.3")];
        assert_eq!(keys.client(ip("10.42.0.5"), h.iter()), ip("1.2.3.4"));
    }
}
