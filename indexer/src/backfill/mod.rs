//! Backfill: fetching whole repos from their PDSes and applying them through the one write path,
//! so records written before the indexer was listening (or lost in a stream gap) are indexed.
//!
//! - [`discover`]: which repos to fetch: `com.atproto.sync.listReposByCollection` on a relay for
//!   every `fm.plyr.*` collection, or `com.atproto.sync.listRepos` on a PDS (the reference PDS
//!   serves no `listReposByCollection`), plus explicit DIDs and the `repos` pending queue.
//! - [`http`]: the HTTP side: size-limited bodies, a concurrency limit per host, and HTTP 429
//!   (`RateLimit-Reset` / `Retry-After`) as backpressure that pauses the whole host.
//! - [`fetch`] and [`snapshot`]: one repo as a [`Snapshot`] at one rev, either from
//!   `com.atproto.sync.getRepo` (a CAR: commit signature checked with the account's key, MST
//!   walked, only indexed collections kept) or from `com.atproto.repo.listRecords` per indexed
//!   collection (rev from `getLatestCommit`, taken *before* listing).
//! - [`plan`]: snapshot vs. the `records` guard → the [`SourceItem`](crate::event::SourceItem)s to
//!   apply: creates at the snapshot rev, deletes at the snapshot rev for records the database
//!   holds but the repo no longer has, and a final [`SourceItem::Backfilled`] that marks the repo
//!   done in the transaction of its last batch.
//! - [`worker`]: bounded concurrency, retries with backoff, failure bookkeeping, the command's
//!   run over a list of repos and the background worker over the pending queue.
//! - [`discovery`]: on a fresh database, `run` discovers the whole network on a relay once and
//!   queues it for the background worker.
//!
//! **Which path.** `auto` (the default) lists the indexed collections with `listRecords` and
//! switches to `getRepo` once the listing passes `list_max_records` (default 1,000, ten pages).
//! A plyr account is usually a Bluesky account with tens of thousands of other records and a few
//! dozen plyr ones: a handful of small JSON pages instead of a multi-megabyte CAR. Past the
//! threshold one CAR costs fewer requests (PDS rate limits count requests). `listRecords` answers
//! are not signed; they come from the PDS named in the account's DID document, which holds the
//! account's signing key anyway, so a signature over its own answer would prove little more.
//! `--backfill-mode car` verifies every repo.
//!
//! **Merge with live events.** Every record in the snapshot is written at the snapshot rev `R`
//! (unless the database already holds that exact CID), and every live record the repo no longer
//! has gets a tombstone at `R`, so the per-record guard in `records` ignores any later-arriving
//! live op at or below `R` on those records. The only records the guard knows nothing about are
//! ones absent from both the snapshot and the database; a live op ≤ `R` on one of them is either
//! a delete (a tombstone, nothing visible) or a create whose delete (also ≤ `R`, since the
//! snapshot lacks the record) follows it in the same stream, which delivers each repo in rev
//! order. No per-repo check is therefore needed for correctness; the cost is, at worst, a record
//! visible between those two live events while a lagging stream catches up.
//!
//! Metrics: `indexer_backfill_repos_total{outcome}`, `indexer_backfill_records_total{op}`,
//! `indexer_backfill_bytes_total`, `indexer_backfill_rate_limited_total`,
//! `indexer_backfill_retries_total`, `indexer_backfill_dropped_total{reason}`,
//! `indexer_backfill_seconds`, `indexer_backfill_pending`; discovery: `indexer_discovery_repos`,
//! `indexer_backfill_queue`.

pub mod command;
pub mod discover;
pub mod discovery;
pub mod fetch;
pub mod http;
pub mod locate;
pub mod plan;
pub mod progress;
pub mod snapshot;
pub mod worker;

use std::time::Duration;

pub use locate::{RepoHost, RepoLocator, StaticLocator};
pub use snapshot::Snapshot;
pub use worker::{Backfiller, RepoReport, Summary};

use crate::write::WriteError;
use plyr_atproto::repo::RepoError;

/// The collections a backfill applies: exactly those the write path indexes.
pub fn collections() -> impl Iterator<Item = &'static str> {
    crate::write::collections::ALL.iter().map(|c| c.nsid())
}

/// The `fm.plyr.*` collections, the ones discovery asks a relay about.
pub fn plyr_collections() -> impl Iterator<Item = &'static str> {
    collections().filter(|c| crate::write::collections::is_plyr(c))
}

/// How a repo is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// `listRecords` for small repos, `getRepo` past `list_max_records`.
    #[default]
    Auto,
    /// Always `getRepo` (signature verified).
    Car,
    /// Always `listRecords`.
    List,
}

/// How backfills run.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    pub mode: Mode,
    /// Repos fetched at once, over all hosts.
    pub concurrency: usize,
    /// Requests in flight at once per host.
    pub per_host: usize,
    /// Attempts per repo before it is marked failed (HTTP 429 waits do not count).
    pub attempts: u32,
    /// First wait between attempts (doubles each time).
    pub retry_base: Duration,
    /// Longest single wait a 429 can impose; longer announced resets are clamped to it.
    pub max_rate_limit_wait: Duration,
    /// Most 429 answers tolerated for one request before it fails.
    pub max_rate_limit_waits: u32,
    /// Largest `getRepo` CAR accepted.
    pub max_car_bytes: usize,
    /// Largest JSON answer accepted (one page).
    pub max_json_bytes: usize,
    /// Largest record decoded (CAR block or listed JSON); a larger one is applied as
    /// [`crate::event::Record::TooLarge`], which the write path drops as `too_large`.
    pub max_record_bytes: usize,
    /// Records past which `auto` switches from listing to the CAR.
    pub list_max_records: usize,
    /// Most events per write transaction.
    pub batch_size: usize,
    /// Write transactions applied at once (each a group of repos, or one large repo).
    pub writers: usize,
    /// Time limit of one HTTP request (a large CAR included).
    pub request_timeout: Duration,
    /// Which PDS hosts may be fetched from (public https hosts unless a test network is allowed).
    pub network: plyr_atproto::outbound::NetworkPolicy,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Auto,
            concurrency: 8,
            per_host: 4,
            attempts: 3,
            retry_base: Duration::from_secs(2),
            max_rate_limit_wait: Duration::from_secs(600),
            max_rate_limit_waits: 100,
            max_car_bytes: 512 << 20,
            max_json_bytes: 16 << 20,
            max_record_bytes: plyr_atproto::MAX_RECORD_BYTES,
            list_max_records: 1000,
            batch_size: 2000,
            writers: 2,
            request_timeout: Duration::from_secs(300),
            network: plyr_atproto::outbound::NetworkPolicy::public(),
        }
    }
}

/// Why a repo (or a discovery) could not be backfilled.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The DID does not resolve, or its document names no PDS.
    #[error("identity: {0}")]
    Identity(String),
    /// A URL we were given or built is unusable.
    #[error("bad URL {0}")]
    Url(String),
    /// The connection failed or timed out.
    #[error("network: {0}")]
    Network(String),
    /// A non-success answer other than 429 (`error` is the XRPC error name, if any).
    #[error("HTTP {status} from {what}: {error}")]
    Status { what: &'static str, status: u16, error: String },
    /// The host kept answering 429 past the configured number of waits.
    #[error("still rate limited by {0} after the allowed waits")]
    RateLimited(String),
    /// An answer larger than allowed.
    #[error("{what} larger than {max} bytes")]
    TooLarge { what: &'static str, max: usize },
    /// An answer that is not what the method returns.
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// The CAR, its commit, its MST or its signature is invalid.
    #[error("repo: {0}")]
    Repo(#[from] RepoError),
    /// The DID document has no usable signing key.
    #[error("no signing key for {0}")]
    NoKey(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("write: {0}")]
    Write(#[from] WriteError),
    /// Shutdown was requested.
    #[error("cancelled")]
    Cancelled,
}

impl BackfillError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Network(_) | Self::Database(_) | Self::Write(_) | Self::Identity(_) => true,
            Self::Status { status, error, .. } => {
                *status >= 500 || *status == 408 || (*status == 400 && !is_terminal_xrpc(error))
            }
            _ => false,
        }
    }

    /// The `outcome`/`reason` label of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Identity(_) => "identity",
            Self::Url(_) => "bad_url",
            Self::Network(_) => "network",
            Self::Status { .. } => "http_status",
            Self::RateLimited(_) => "rate_limited",
            Self::TooLarge { .. } => "too_large",
            Self::Malformed { .. } => "malformed",
            Self::Repo(e) => e.reason(),
            Self::NoKey(_) => "no_key",
            Self::Database(_) => "database",
            Self::Write(_) => "write",
            Self::Cancelled => "cancelled",
        }
    }
}

/// XRPC errors that say the repo is not there to fetch (retrying will not help).
fn is_terminal_xrpc(error: &str) -> bool {
    matches!(error, "RepoNotFound" | "RepoDeactivated" | "RepoTakendown" | "RepoSuspended" | "InvalidRequest")
}
