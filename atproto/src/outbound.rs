//! Outbound network policy: which URLs this service may fetch from, or send a client to, when
//! the URL comes from the network (a `did:web` host, a DID document's PDS endpoint).
//!
//! By default ([`NetworkPolicy::public`]) a URL must be `https`, on the default port, without
//! credentials, and name a public host: a domain name (never an IP literal) with at least two
//! labels whose top-level domain is not a special-use one (`localhost`, `local`, `internal`,
//! `test`, ...). A name can still resolve to a private address, so clients that connect to such
//! hosts also use [`PublicDns`], which drops every non-public address at connect time (DNS
//! rebinding cannot get around a check made earlier). [`NetworkPolicy::test_network`] lifts all
//! of this except the `http(s)` scheme, for end-to-end runs on loopback; operators enable it
//! explicitly (`--allow-test-network`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Top-level domains that never name a public host (RFC 6761, 6762, 7686, 9476, ICANN's
/// `.internal`).
const SPECIAL_TLDS: [&str; 9] =
    ["alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion", "test"];

/// Why a URL is not allowed. The message is for logs; callers answer one generic error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a URL.
    #[error("not a URL")]
    Unparsable,
    /// A scheme other than `https` (`http` only on a test network).
    #[error("scheme {0:?} is not allowed")]
    Scheme(String),
    /// No host, or an IP literal instead of a name.
    #[error("host {0:?} is not a domain name")]
    NotDomain(String),
    /// A name that cannot be public (one label, or a special-use TLD).
    #[error("host {0:?} is not a public name")]
    NotPublic(String),
    /// An explicit port other than the scheme's default.
    #[error("port {0} is not allowed")]
    Port(u16),
    /// User name or password in the URL.
    #[error("credentials in URL")]
    Credentials,
    /// A query or fragment where a base URL is expected.
    #[error("a service endpoint may not have a query or fragment")]
    NotBase,
}

/// Which hosts outbound requests and redirects may go to. `Copy`: pass it by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkPolicy {
    allow_test_network: bool,
}

impl NetworkPolicy {
    /// Public hosts over https only (the default).
    pub const fn public() -> Self {
        NetworkPolicy { allow_test_network: false }
    }

    /// Any `http(s)` host, address and port: loopback test networks (a local PDS and PLC).
    pub const fn test_network() -> Self {
        NetworkPolicy { allow_test_network: true }
    }

    /// [`Self::test_network`] when `allow` is set, else [`Self::public`].
    pub const fn new(allow_test_network: bool) -> Self {
        NetworkPolicy { allow_test_network }
    }

    /// Whether non-public hosts are allowed.
    pub const fn allows_test_network(self) -> bool {
        self.allow_test_network
    }

    /// Checks `url` against the policy.
    pub fn check_url(self, url: &Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_test_network => {}
            other => return Err(Refusal::Scheme(crate::clip(other))),
        }
        if !url.has_host() {
            return Err(Refusal::NotDomain(String::new()));
        }
        if self.allow_test_network {
            return Ok(());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        if let Some(port) = url.port() {
            return Err(Refusal::Port(port));
        }
        match url.host() {
            Some(url::Host::Domain(name)) if is_public_name(name) => Ok(()),
            Some(url::Host::Domain(name)) => Err(Refusal::NotPublic(crate::clip(name))),
            other => Err(Refusal::NotDomain(other.map(|h| h.to_string()).unwrap_or_default())),
        }
    }

    /// Parses and checks a URL given as text (a redirect target).
    pub fn check(self, url: &str) -> Result<Url, Refusal> {
        let parsed = Url::parse(url).map_err(|_| Refusal::Unparsable)?;
        self.check_url(&parsed)?;
        Ok(parsed)
    }

    /// Checks a service base URL (a DID document's `#atproto_pds` endpoint): the policy, and no
    /// query or fragment (paths are appended to it).
    pub fn check_endpoint(self, endpoint: &str) -> Result<Url, Refusal> {
        let url = self.check(endpoint)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Refusal::NotBase);
        }
        Ok(url)
    }

    /// Whether a connection to `ip` is allowed.
    pub fn allows_ip(self, ip: IpAddr) -> bool {
        self.allow_test_network || is_public_ip(ip)
    }
}

/// A domain name that can be public: at least two labels, and not under a special-use TLD.
fn is_public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match name.rsplit_once('.') {
        Some((rest, tld)) => {
            !rest.is_empty()
                && !tld.is_empty()
                && !SPECIAL_TLDS.contains(&tld)
                && !tld.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Whether `ip` is a globally routable unicast address: not loopback, private, link-local,
/// unique-local, CGNAT, multicast, unspecified, broadcast, documentation, benchmarking or
/// reserved. IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by it.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0                                  // "this network"
        || a == 10                                        // private
        || a == 127                                       // loopback
        || (a == 100 && (64..128).contains(&b))           // CGNAT 100.64/10
        || (a == 169 && b == 254)                         // link-local
        || (a == 172 && (16..32).contains(&b))            // private
        || (a == 192 && b == 0 && c == 0)                 // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                 // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)               // 6to4 relay anycast
        || (a == 192 && b == 168)                         // private
        || (a == 198 && (b == 18 || b == 19))             // benchmarking
        || (a == 198 && b == 51 && c == 100)              // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)               // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[0] == 0x0064 && s[1] == 0xff9b {
        // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48): the embedded IPv4 address.
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        // 6to4: the IPv4 address in the second and third segments.
        return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0; 6]                               // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00                       // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80                       // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0                       // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00                       // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)              // documentation
        || (s[0] == 0x0100 && s[1..4] == [0; 3])           // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] < 0x0200); // IETF protocol assignments (Teredo, ORCHID, ...)
    !special
}

/// A DNS resolver for reqwest that answers only public addresses: a name that resolves to
/// nothing else fails to connect. Install it with `ClientBuilder::dns_resolver` on every client
/// that connects to hosts named by the network. (IP literals never reach a resolver; refuse
/// them with [`NetworkPolicy::check_url`] first.)
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicDns;

/// No public address for a name.
#[derive(Debug, thiserror::Error)]
#[error("{0} has no public address")]
struct NoPublicAddress(String);

impl Resolve for PublicDns {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|addr| is_public_ip(addr.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(NoPublicAddress(crate::clip(&host))) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// An error and its sources joined with `: ` (reqwest's own message hides the root cause).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_policy() {
        let cases = [
            ("https://pds.example.com", true),
            ("https://bsky.social/", true),
            ("https://PDS.Example.COM/path", true),
            ("https://pds.example.com:443", true), // the default port is normalised away
            ("http://evil.example", false),
            ("http://pds.example.com", false),
            ("https://127.0.0.1", false),
            ("https://10.0.0.1", false),
            ("https://[::1]", false),
            ("https://2130706433", false), // 127.0.0.1 in decimal
            ("https://0x7f.1", false),
            ("https://localhost", false),
            ("https://a.localhost", false),
            ("https://intranet", false),
            ("https://metadata.google.internal", false),
            ("https://pds.example.com:8443", false),
            ("https://user:pw@pds.example.com", false),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("ftp://pds.example.com", false),
            ("not a url", false),
        ];
        for (url, allowed) in cases {
            assert_eq!(NetworkPolicy::public().check(url).is_ok(), allowed, "{url}");
        }
        for url in ["http://localhost:2583", "http://127.0.0.1:9", "https://10.0.0.1"] {
            assert!(NetworkPolicy::test_network().check(url).is_ok(), "{url}");
        }
        for url in ["javascript:alert(1)", "file:///etc/passwd"] {
            assert!(NetworkPolicy::test_network().check(url).is_err(), "{url}");
        }
        assert_eq!(
            NetworkPolicy::public().check_endpoint("https://pds.example.com/?x=1"),
            Err(Refusal::NotBase)
        );
    }

    #[test]
    fn public_addresses() {
        let cases = [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("2606:4700:4700::1111", true),
            ("127.0.0.1", false),
            ("0.0.0.0", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.128.0.1", true),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("198.18.0.1", false),
            ("::", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::a00:1", false),
            ("2002:c0a8:0101::1", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
        ];
        for (ip, public) in cases {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(is_public_ip(ip), public, "{ip}");
        }
    }
}
