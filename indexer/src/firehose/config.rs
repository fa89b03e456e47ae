//! Where the firehose client connects and how patiently: host URLs and [`Timing`]. Also the
//! subscription URL of a host and the cursor source name its `seq` is stored under.

use url::Url;

use super::FirehoseError;
use crate::websocket::{Timing, redact};

/// Path of the subscription under a host's base URL.
pub const SUBSCRIBE_PATH: &str = "xrpc/com.atproto.sync.subscribeRepos";

/// How the firehose client connects; [`FirehoseConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// Base URLs (`ws://` or `wss://`) of relays or PDSes ([`base_url`]); each is followed by
    /// its own task.
    pub urls: Vec<Url>,
    /// Timeouts, pings and backoff of each host's connections.
    pub timing: Timing,
}

impl FirehoseConfig {
    /// A configuration with the default timeouts; each URL may be a base URL or the full
    /// subscription URL ([`base_url`]).
    pub fn new(urls: Vec<Url>) -> Self {
        Self { urls: urls.into_iter().map(base_url).collect(), timing: Timing::default() }
    }

    /// Checks what cannot be retried away: at least one URL, each ws:// or wss:// with a host.
    pub fn validate(&self) -> Result<(), FirehoseError> {
        if self.urls.is_empty() {
            return Err(FirehoseError::NoUrls);
        }
        match self.urls.iter().find(|u| !matches!(u.scheme(), "ws" | "wss") || u.host_str().is_none()) {
            Some(bad) => Err(FirehoseError::UnsupportedUrl(redact(bad))),
            None => Ok(()),
        }
    }
}

/// The base URL of a host from what an operator wrote: the base itself (`wss://bsky.network`)
/// or the full subscription URL most relays document
/// (`wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos`). A query is kept.
pub fn base_url(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/');
    let base = path.strip_suffix(&format!("/{SUBSCRIBE_PATH}")).unwrap_or(path).to_owned();
    url.set_path(&base);
    url
}

/// The subscription URL on `base`, resuming after `cursor` (live when `None`). A query already
/// on `base` is kept.
pub fn subscribe_url(base: &Url, cursor: Option<i64>) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}/{SUBSCRIBE_PATH}", base.path().trim_end_matches('/')));
    if let Some(cursor) = cursor {
        url.query_pairs_mut().append_pair("cursor", &cursor.to_string());
    }
    url
}

/// The `cursors` row of a host: `firehose:<host>[:<port>]`.
pub fn source_name(base: &Url) -> String {
    let host = base.host_str().unwrap_or("");
    match base.port() {
        Some(port) => format!("firehose:{host}:{port}"),
        None => format!("firehose:{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn urls_and_sources() {
        let cases = [
            (
                "wss://bsky.network",
                Some(42),
                "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos?cursor=42",
                "firehose:bsky.network",
            ),
            (
                "ws://localhost:2583/",
                None,
                "ws://localhost:2583/xrpc/com.atproto.sync.subscribeRepos",
                "firehose:localhost:2583",
            ),
        ];
        for (base, cursor, expected, source) in cases {
            assert_eq!(subscribe_url(&url(base), cursor).as_str(), expected);
            assert_eq!(source_name(&url(base)), source);
        }
        assert!(matches!(FirehoseConfig::new(vec![]).validate(), Err(FirehoseError::NoUrls)));
        let bad = FirehoseConfig::new(vec![url("https://relay.example")]);
        assert!(matches!(bad.validate(), Err(FirehoseError::UnsupportedUrl(_))));
    }

    #[test]
    fn a_base_url_or_the_full_subscription_url() {
        let cases = [
            ("wss://bsky.network", "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"),
            ("wss://bsky.network/", "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"),
            (
                "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos",
                "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos",
            ),
            (
                "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos/",
                "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos",
            ),
            (
                "ws://127.0.0.1:2583/relay/xrpc/com.atproto.sync.subscribeRepos?token=t",
                "ws://127.0.0.1:2583/relay/xrpc/com.atproto.sync.subscribeRepos?token=t",
            ),
        ];
        for (given, expected) in cases {
            let config = FirehoseConfig::new(vec![url(given)]);
            assert!(config.validate().is_ok(), "{given}");
            assert_eq!(subscribe_url(&config.urls[0], None).as_str(), expected, "{given}");
            assert_eq!(source_name(&config.urls[0]), source_name(&url(given)), "same cursor row");
        }
        for bad in ["https://bsky.network/xrpc/com.atproto.sync.subscribeRepos", "http://h", "file:///x"] {
            let config = FirehoseConfig::new(vec![url(bad)]);
            assert!(matches!(config.validate(), Err(FirehoseError::UnsupportedUrl(_))), "{bad}");
        }
    }
}
