//! AppView configuration: parsed once at startup from flags and environment variables; every
//! URL, origin and DID is checked as it is parsed (`plyr_atproto::settings`).

use std::net::SocketAddr;

use clap::{Args, Parser};

/// How the AppView serves (flags; each also reads the environment variable shown in `--help`).
#[derive(Debug, Clone, Args)]
pub struct AppviewOptions {
    /// Address the HTTP server listens on.
    #[arg(long = "listen", env = "PLYR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Public base URL of this AppView (used in did.json and in links it hands out).
    /// Defaults to http://<listen address>.
    #[arg(long, env = "PLYR_PUBLIC_URL", value_parser = plyr_atproto::settings::http_url)]
    pub public_url: Option<String>,

    /// The service's DID (the `aud` of service tokens, the `id` of /.well-known/did.json).
    /// Defaults to did:web of the public URL's host (a port is written %3A<port>).
    #[arg(long, env = "PLYR_SERVICE_DID", value_parser = plyr_atproto::settings::did)]
    pub service_did: Option<String>,

    /// PLC directory used to resolve the issuers of service tokens.
    #[arg(
        id = "appview_plc_url",
        long = "appview-plc-url",
        env = "PLYR_PLC_URL",
        default_value = "https://plc.directory",
        value_parser = plyr_atproto::settings::http_url
    )]
    pub plc_url: String,

    /// Allow a test network: `did:web` issuers and PDS endpoints on loopback or private
    /// addresses, other ports and plain http, fetched and redirected to. Off by default: only
    /// public host names over https. For end-to-end runs against a local PDS and PLC.
    #[arg(
        id = "appview_allow_test_network",
        long = "appview-allow-test-network",
        env = "PLYR_ALLOW_TEST_NETWORK"
    )]
    pub allow_test_network: bool,

    /// Labelers whose labels apply (their DIDs; the indexer follows the same list with
    /// `--labeler`), besides the service's own DID, whose labels (operator takedowns) always
    /// apply. A request's `atproto-accept-labelers` header may narrow them. Comma-separated.
    #[arg(id = "appview_labelers", long = "labelers", env = "PLYR_LABELERS", value_delimiter = ',', value_parser = plyr_atproto::settings::did)]
    pub labelers: Vec<String>,

    /// Label values that hide a record or an account from every read (self-labels on records
    /// and labels from applied labelers); the author, as the viewer, still sees their own.
    /// Comma-separated.
    #[arg(
        long,
        env = "PLYR_HIDDEN_LABELS",
        value_delimiter = ',',
        default_value = "!hide,!takedown,copyright-violation"
    )]
    pub hidden_labels: Vec<String>,

    /// Label values that keep a track out of list contexts (latest, top, search, for-you,
    /// activity) while view contexts (a track by URI, an artist's tracks, a list's items) show
    /// it with its labels, so clients can gate playback. Comma-separated.
    #[arg(long, env = "PLYR_LIST_HIDDEN_LABELS", value_delimiter = ',', default_value = "sexual,porn")]
    pub list_hidden_labels: Vec<String>,

    /// Label values whose records' and accounts' images `/moderation/sensitive-images` lists
    /// (clients blur them). Comma-separated.
    #[arg(
        long,
        env = "PLYR_SENSITIVE_LABELS",
        value_delimiter = ',',
        default_value = "sexual,porn,nudity,graphic-media"
    )]
    pub sensitive_labels: Vec<String>,

    /// Base URL of avatar images (`<base>/<did>/<cid>@jpeg`); empty serves avatars from the
    /// account's PDS (`getBlob`).
    #[arg(long, env = "PLYR_AVATAR_CDN", default_value = "https://cdn.bsky.app/img/avatar/plain", value_parser = plyr_atproto::settings::http_url_or_empty)]
    pub avatar_cdn: String,

    /// Browser origins allowed to call with credentials (the plyr.fm web frontend), comma-separated.
    /// Any origin may call without credentials.
    #[arg(long, env = "PLYR_CORS_ORIGINS", value_delimiter = ',', value_parser = plyr_atproto::settings::origin)]
    pub cors_origins: Vec<String>,

    /// Base URL of the plyr.fm web frontend that links handed out by the REST surface, oEmbed
    /// and `parts.page.mention.search` point to (`<base>/track/<id>`, `<base>/u/<handle>`, ...).
    #[arg(long, env = "PLYR_FRONTEND_URL", default_value = "https://plyr.fm", value_parser = plyr_atproto::settings::http_url)]
    pub frontend_url: String,

    /// Memory (MiB, by estimate) the in-process row caches hold in all: tracks, actors, authors'
    /// albums, lists and built track views (about half of it).
    #[arg(long, env = "PLYR_CACHE_MIB", default_value_t = 256)]
    pub cache_mib: u64,

    /// Seconds a cached track or actor may live even without a change notification.
    #[arg(long, env = "PLYR_CACHE_TTL_SECS", default_value_t = 300)]
    pub cache_ttl_secs: u64,

    /// Seconds an anonymous answer may be served again from memory (every index change empties
    /// the cache at once; 0 turns it off).
    #[arg(long, env = "PLYR_RESPONSE_CACHE_SECS", default_value_t = 30)]
    pub response_cache_secs: u64,

    /// Most memory (MiB) the anonymous-answer cache holds.
    #[arg(long, env = "PLYR_RESPONSE_CACHE_MIB", default_value_t = 64)]
    pub response_cache_mib: u64,

    /// PostgreSQL URL to read from: a streaming read replica of `DATABASE_URL`. Every query
    /// goes here; `DATABASE_URL` (the primary) then only carries the change notifications (which
    /// a replica never delivers) and the WAL position each one is waited for: the caches are
    /// dropped once the replica has replayed the change, so no answer goes back to an older row.
    #[arg(long, env = "PLYR_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,

    /// Maximum database connections this process opens for reads.
    #[arg(
        id = "appview_db_connections",
        long = "appview-db-connections",
        env = "PLYR_APPVIEW_DB_CONNECTIONS",
        default_value_t = 16
    )]
    pub db_connections: u32,

    /// Seconds a request may take before it is answered with 503.
    #[arg(long, env = "PLYR_REQUEST_TIMEOUT_SECS", default_value_t = 10)]
    pub request_timeout_secs: u64,

    /// Milliseconds a request waits for a free database connection before it is answered with
    /// 503 (well under the request timeout, so an unreachable database is a fast 503).
    #[arg(long, env = "PLYR_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2_000)]
    pub db_acquire_timeout_ms: u64,

    /// Milliseconds one SQL statement may run (PostgreSQL's `statement_timeout` on every read
    /// connection): below the request timeout, so no query outlives the answer it was for.
    #[arg(long, env = "PLYR_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_statement_timeout_ms: u64,

    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open waiting for its next request.
    #[arg(long, env = "PLYR_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Most client connections open at once; further clients wait in the listen backlog until
    /// one closes.
    #[arg(long, env = "PLYR_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Requests per second each client IP may make on average (a token bucket); 0 turns the
    /// rate limit off.
    #[arg(long, env = "PLYR_RATE_LIMIT_PER_SEC", default_value_t = 50)]
    pub rate_limit_per_sec: u32,

    /// Requests a client IP may make at once before the per-second rate applies (the bucket's
    /// size); 0 turns the rate limit off.
    #[arg(long, env = "PLYR_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// Reverse proxies whose `X-Forwarded-For` names the client: addresses or networks
    /// (`10.0.0.1`, `10.42.0.0/16`), comma-separated. Empty: the rate limit keys on the peer
    /// address only and the header is ignored.
    #[arg(long, env = "PLYR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::server::ratelimit::ProxyNet>,

    /// A password every Subsonic client (`/rest/*`) must send, in any of the protocol's forms
    /// (`p`, `enc:`, `t`+`s`, `apiKey`). Unset: every credential is accepted and `u` only names
    /// the listener whose playlists and likes are shown (docs/API.md, "Subsonic").
    #[arg(long, env = "PLYR_SUBSONIC_PASSWORD", value_parser = secret)]
    pub subsonic_password: Option<Secret>,

    #[command(flatten)]
    pub site: SiteOptions,
}

/// A value kept out of logs: its `Debug` is `"<redacted>"`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

fn secret(value: &str) -> Result<Secret, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Secret(value.to_owned()))
}

/// What `GET /config` tells the web frontend about the operator (its terms, privacy and DMCA
/// pages show them). The defaults are plyr.fm's, whose frontend and terms these pages are.
#[derive(Debug, Clone, Args)]
pub struct SiteOptions {
    /// Contact address on the legal pages.
    #[arg(long, env = "PLYR_CONTACT_EMAIL", default_value = "help@plyr.fm")]
    pub contact_email: String,

    /// Privacy contact (defaults to the contact address).
    #[arg(long, env = "PLYR_PRIVACY_EMAIL")]
    pub privacy_email: Option<String>,

    /// DMCA agent's address.
    #[arg(long, env = "PLYR_DMCA_EMAIL", default_value = "dmca@plyr.fm")]
    pub dmca_email: String,

    /// DMCA agent registration number.
    #[arg(long, env = "PLYR_DMCA_REGISTRATION_NUMBER", default_value = "DMCA-1069186")]
    pub dmca_registration_number: String,

    /// When the terms last changed (ISO date-time, as the frontend shows it).
    #[arg(long, env = "PLYR_TERMS_LAST_UPDATED", default_value = "2026-08-04T00:00:00", value_parser = terms_date)]
    pub terms_last_updated: String,
}

fn terms_date(value: &str) -> Result<String, String> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .map(|_| value.to_owned())
        .map_err(|_| "expected YYYY-MM-DDTHH:MM:SS".to_owned())
}

#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    options: AppviewOptions,
}

impl AppviewOptions {
    /// Every option at its default (environment variables still apply), listening on `listen`.
    pub fn defaults(listen: SocketAddr) -> Self {
        let mut o = Defaults::parse_from(["appview"]).options;
        o.listen = listen;
        o
    }

    /// Refuses combinations that defeat their purpose: a database wait or a statement that may
    /// outlast the request it serves.
    pub fn check(&self) -> Result<(), String> {
        let request_ms = self.request_timeout_secs.saturating_mul(1000);
        if self.db_acquire_timeout_ms == 0 || self.db_acquire_timeout_ms >= request_ms {
            return Err(format!(
                "--db-acquire-timeout-ms ({}) must be above 0 and below the request timeout ({request_ms} ms)",
                self.db_acquire_timeout_ms
            ));
        }
        if self.db_statement_timeout_ms == 0 || self.db_statement_timeout_ms >= request_ms {
            return Err(format!(
                "--db-statement-timeout-ms ({}) must be above 0 and below the request timeout ({request_ms} ms)",
                self.db_statement_timeout_ms
            ));
        }
        Ok(())
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Which hosts outbound lookups and redirects may name.
    pub fn network(&self) -> plyr_atproto::outbound::NetworkPolicy {
        plyr_atproto::outbound::NetworkPolicy::new(self.allow_test_network)
    }

    /// The service DID: configured, else `did:web:` of the public URL's host and port.
    pub fn service_did(&self) -> String {
        if let Some(did) = &self.service_did {
            return did.clone();
        }
        let url = self.public_url();
        let host = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let host = host.split('/').next().unwrap_or(host);
        format!("did:web:{}", host.replace(':', "%3A"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_did_defaults_to_did_web_of_the_public_url() {
        let mut o = AppviewOptions::defaults("127.0.0.1:8080".parse().expect("addr"));
        o.public_url = Some("http://localhost:4321/".into());
        assert_eq!(o.service_did(), "did:web:localhost%3A4321");
        o.public_url = Some("https://api.example.com".into());
        assert_eq!(o.service_did(), "did:web:api.example.com");
        o.service_did = Some("did:web:x.test".into());
        assert_eq!(o.service_did(), "did:web:x.test");
    }

    #[test]
    fn database_waits_must_fit_in_the_request_timeout() {
        let mut o = AppviewOptions::defaults("127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(o.check(), Ok(()));
        o.db_statement_timeout_ms = 10_000;
        assert!(o.check().is_err());
        o.db_statement_timeout_ms = 5_000;
        o.db_acquire_timeout_ms = 0;
        assert!(o.check().is_err());
    }
}
