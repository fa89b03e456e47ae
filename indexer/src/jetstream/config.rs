//! What the Jetstream client connects to and how patiently: instance URLs, wire protocol,
//! collection filters, resume rewind, backoff, timeouts and size limits. Also builds the
//! subscription URL for one instance and the log-safe form of a URL.

use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::JetstreamError;
use crate::websocket::{Timing, redact};

/// The collections the indexer asks for when none are configured.
pub const DEFAULT_COLLECTIONS: &[&str] = &[
    "fm.plyr.*",
    "app.bsky.actor.profile",
    "fm.teal.feed.play",
    "fm.teal.alpha.feed.play",
    "fm.teal.actor.status",
];

/// Path of the v1 endpoint under a base URL.
pub const V1_PATH: &str = "subscribe";
/// Path of the v2 endpoint under a base URL.
pub const V2_PATH: &str = "xrpc/network.bsky.jetstream.subscribeEvents";

/// The wire protocol every configured instance speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Legacy `/subscribe`: JSON events, `time_us` cursors, optional dictionary-zstd frames.
    V1,
    /// `/xrpc/network.bsky.jetstream.subscribeEvents`: lexicon framing, inclusive `seq` cursors.
    #[default]
    V2,
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" => Ok(Self::V1),
            "v2" | "2" => Ok(Self::V2),
            other => Err(format!("unknown Jetstream protocol {other:?} (expected v1 or v2)")),
        }
    }
}

/// How the Jetstream client connects; [`JetstreamConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct JetstreamConfig {
    /// Base URLs (`ws://` or `wss://`, e.g. `wss://jetstream1.us-east.bsky.network`), tried in
    /// order; the client moves to the next one after a failure.
    pub urls: Vec<Url>,
    /// The wire protocol of every URL.
    pub protocol: Protocol,
    /// Collection filters sent to the server (NSIDs, or prefixes such as `fm.plyr.*`).
    pub collections: Vec<String>,
    /// v1 only: ask for dictionary-zstd binary frames (`compress=true`).
    pub compress: bool,
    /// How far to rewind a timestamp cursor (v1, or another v2 instance) when resuming.
    pub rewind: Duration,
    /// Timeouts, pings and backoff of the connections.
    pub timing: Timing,
    /// Warn when delivered events are older than this (the stream is lagging or replaying).
    pub lag_warning: Duration,
    /// Largest message (after decompression) the client decodes; larger ones are dropped and
    /// counted. The websocket layer itself accepts up to four times this before it has to drop
    /// the connection, so a single oversized event never stalls the stream.
    pub max_message_bytes: usize,
    /// Largest record JSON decoded; a larger record is handed on undecoded, to be dropped as
    /// `too_large` by the write path.
    pub max_record_bytes: usize,
}

impl JetstreamConfig {
    /// A configuration with the default filters, timeouts and limits; each URL may be a base
    /// URL or a full subscription URL ([`base_url`]).
    pub fn new(urls: Vec<Url>, protocol: Protocol) -> Self {
        Self {
            urls: urls.into_iter().map(base_url).collect(),
            protocol,
            collections: DEFAULT_COLLECTIONS.iter().map(|c| (*c).to_owned()).collect(),
            compress: true,
            rewind: Duration::from_secs(5),
            timing: Timing::default(),
            lag_warning: Duration::from_secs(600),
            max_message_bytes: 4 * 1024 * 1024,
            max_record_bytes: plyr_atproto::MAX_RECORD_BYTES,
        }
    }

    /// Checks what cannot be retried away: at least one URL, each ws:// or wss://.
    pub fn validate(&self) -> Result<(), JetstreamError> {
        if self.urls.is_empty() {
            return Err(JetstreamError::NoUrls);
        }
        match self.urls.iter().find(|u| !matches!(u.scheme(), "ws" | "wss")) {
            Some(bad) => Err(JetstreamError::UnsupportedUrl(redact(bad))),
            None => Ok(()),
        }
    }

    /// The subscription URL on `base`, asking for events from `cursor` on (live when `None`). A
    /// query already on `base` (e.g. an access token) is kept.
    pub fn subscribe_url(&self, base: &Url, cursor: Option<i64>) -> Url {
        let mut url = base.clone();
        let (path, filter) = match self.protocol {
            Protocol::V1 => (V1_PATH, "wantedCollections"),
            Protocol::V2 => (V2_PATH, "collections"),
        };
        url.set_path(&format!("{}/{path}", base.path().trim_end_matches('/')));
        {
            let mut query = url.query_pairs_mut();
            for collection in &self.collections {
                query.append_pair(filter, collection);
            }
            if let Some(cursor) = cursor {
                query.append_pair("cursor", &cursor.to_string());
            }
            if self.protocol == Protocol::V1 && self.compress {
                query.append_pair("compress", "true");
            }
        }
        url
    }
}

/// The base URL of an instance from what an operator wrote: the base itself
/// (`wss://jetstream1.us-east.bsky.network`) or a full subscription URL, v1 (`.../subscribe`)
/// or v2 (`.../xrpc/network.bsky.jetstream.subscribeEvents`); the configured protocol decides
/// which endpoint is used. A query is kept.
pub fn base_url(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/');
    let base = [V1_PATH, V2_PATH]
        .iter()
        .find_map(|p| path.strip_suffix(&format!("/{p}")))
        .unwrap_or(path)
        .to_owned();
    url.set_path(&base);
    url
}

/// The issuer name of a base URL: what v2 cursors from it are tagged with.
pub fn issuer(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn subscribe_urls() {
        let v1 = JetstreamConfig::new(vec![], Protocol::V1);
        let v2 = JetstreamConfig::new(vec![], Protocol::V2);
        let cases = [
            (
                &v1,
                "wss://js.example.com",
                Some(1_700_000_000_000_000),
                "wss://js.example.com/subscribe?wantedCollections=fm.plyr.*&wantedCollections=app.bsky.actor.profile&wantedCollections=fm.teal.feed.play&wantedCollections=fm.teal.alpha.feed.play&wantedCollections=fm.teal.actor.status&cursor=1700000000000000&compress=true",
            ),
            (
                &v2,
                "ws://127.0.0.1:9/prefix/",
                Some(42),
                "ws://127.0.0.1:9/prefix/xrpc/network.bsky.jetstream.subscribeEvents?collections=fm.plyr.*&collections=app.bsky.actor.profile&collections=fm.teal.feed.play&collections=fm.teal.alpha.feed.play&collections=fm.teal.actor.status&cursor=42",
            ),
            (
                &v2,
                "wss://js.example.com/?token=x",
                None,
                "wss://js.example.com/xrpc/network.bsky.jetstream.subscribeEvents?token=x&collections=fm.plyr.*&collections=app.bsky.actor.profile&collections=fm.teal.feed.play&collections=fm.teal.alpha.feed.play&collections=fm.teal.actor.status",
            ),
        ];
        for (config, base, cursor, expected) in cases {
            assert_eq!(config.subscribe_url(&url(base), cursor).as_str(), expected, "{base}");
        }
    }

    #[test]
    fn validation_and_redaction() {
        assert!(matches!(JetstreamConfig::new(vec![], Protocol::V2).validate(), Err(JetstreamError::NoUrls)));
        let bad = JetstreamConfig::new(vec![url("https://user:pw@example.com/x?k=v")], Protocol::V2);
        match bad.validate() {
            Err(JetstreamError::UnsupportedUrl(shown)) => assert_eq!(shown, "https://example.com/x"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(redact(&url("wss://a:b@h.example:8443/p?cursor=1")), "wss://h.example:8443/p");
        assert_eq!(issuer(&url("ws://127.0.0.1:5")), "ws://127.0.0.1:5");
        assert_eq!("V1".parse::<Protocol>(), Ok(Protocol::V1));
    }

    #[test]
    fn a_base_url_or_a_full_subscription_url() {
        let v2 = "/xrpc/network.bsky.jetstream.subscribeEvents";
        let cases = [
            (Protocol::V1, "wss://js.example/subscribe", "/subscribe"),
            (Protocol::V1, "wss://js.example/", "/subscribe"),
            (Protocol::V1, "wss://js.example/p/subscribe/?token=t", "/p/subscribe"),
            (Protocol::V2, "wss://js.example/xrpc/network.bsky.jetstream.subscribeEvents", v2),
            (Protocol::V2, "wss://js.example/subscribe", v2),
        ];
        for (protocol, given, path) in cases {
            let config = JetstreamConfig::new(vec![url(given)], protocol);
            assert!(config.validate().is_ok(), "{given}");
            let subscribe = config.subscribe_url(&config.urls[0], None);
            assert_eq!(subscribe.path(), path, "{given}");
            assert_eq!(
                subscribe.query().unwrap_or("").contains("token=t"),
                given.contains("token=t"),
                "{given}"
            );
        }
        for bad in ["https://js.example/subscribe", "http://js.example", "file:///subscribe"] {
            let config = JetstreamConfig::new(vec![url(bad)], Protocol::V1);
            assert!(matches!(config.validate(), Err(JetstreamError::UnsupportedUrl(_))), "{bad}");
        }
    }
}
