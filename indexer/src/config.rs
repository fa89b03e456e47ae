//! Indexer configuration: parsed once at startup from flags and environment variables; every
//! URL and origin is checked as it is parsed (`plyr_atproto::settings`).

use std::net::SocketAddr;

use clap::Args;

use crate::jetstream::Protocol;

/// Public Jetstream instances tried in order (failover on disconnect).
pub const DEFAULT_JETSTREAMS: &[&str] = &[
    "wss://jetstream1.us-east.bsky.network",
    "wss://jetstream2.us-east.bsky.network",
    "wss://jetstream1.us-west.bsky.network",
    "wss://jetstream2.us-west.bsky.network",
];

/// Origins whose `audioUrl` is trusted by default: plyr.fm's CDN (public tracks) and its API,
/// whose `/audio/<file_id>` a supporter-gated track points to (it checks the listener first).
pub const DEFAULT_TRUSTED_AUDIO_ORIGINS: &[&str] = &["https://audio.plyr.fm", "https://api.plyr.fm"];

/// How the indexer ingests (flags; each also reads the environment variable shown in `--help`).
#[derive(Debug, Clone, Args)]
pub struct IndexerOptions {
    /// Jetstream URLs (ws:// or wss://), tried in order: base URLs or full subscription URLs
    /// (`.../subscribe`, `.../xrpc/network.bsky.jetstream.subscribeEvents`; the protocol flag
    /// decides the endpoint); repeat the flag or separate with commas.
    #[arg(long = "jetstream", env = "PLYR_JETSTREAM", value_delimiter = ',',
          default_values_t = DEFAULT_JETSTREAMS.iter().map(|s| s.to_string()), value_parser = plyr_atproto::settings::websocket_url)]
    pub jetstreams: Vec<String>,

    /// Jetstream wire protocol: v2 (subscribeEvents, seq cursors) or v1 (/subscribe, time_us cursors).
    #[arg(long = "jetstream-protocol", env = "PLYR_JETSTREAM_PROTOCOL", default_value = "v2")]
    pub protocol: Protocol,

    /// Follow the raw firehose (com.atproto.sync.subscribeRepos) of these relays or PDSes instead
    /// of Jetstream: base URLs (ws:// or wss://) or the full `.../xrpc/com.atproto.sync.subscribeRepos`
    /// URLs, each followed on its own; repeat the flag or separate with commas. Commits are verified (signature, rev order, MST proof against
    /// prevData) and each host's seq is stored as the cursor `firehose:<host>`.
    #[arg(long = "firehose", env = "PLYR_FIREHOSE", value_delimiter = ',', value_parser = plyr_atproto::settings::websocket_url)]
    pub firehose: Vec<String>,

    /// Accept firehose commits without prevData (PDSes older than sync 1.1) once their signature
    /// verifies; with false they are dropped and counted.
    #[arg(long, env = "PLYR_FIREHOSE_LEGACY_COMMITS", default_value_t = true, action = clap::ArgAction::Set)]
    pub firehose_legacy_commits: bool,

    /// Origins whose `audioUrl` is trusted (scheme://host[:port]); any other audioUrl is dropped.
    #[arg(
        long = "trusted-audio-origin",
        env = "PLYR_TRUSTED_AUDIO_ORIGINS",
        value_delimiter = ',',
        default_values_t = DEFAULT_TRUSTED_AUDIO_ORIGINS.iter().map(|s| s.to_string()),
        value_parser = plyr_atproto::settings::origin
    )]
    pub trusted_audio_origins: Vec<String>,

    /// Largest record accepted, in bytes of its encoding (the JSON text from Jetstream and
    /// listRecords, the DAG-CBOR block from the firehose and getRepo). A larger record is dropped
    /// before it is parsed (counted as `indexer_dropped_total{reason="too_large"}`); parsing and
    /// validating an accepted one takes a small multiple of this in memory.
    #[arg(long, env = "PLYR_MAX_RECORD_BYTES", default_value_t = plyr_atproto::MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,

    /// Maximum database connections the indexer opens.
    #[arg(
        id = "indexer_db_connections",
        long = "indexer-db-connections",
        env = "PLYR_INDEXER_DB_CONNECTIONS",
        default_value_t = 6
    )]
    pub db_connections: u32,

    /// Most events in one batch. A live stream's batches are cut by time long before they fill;
    /// this bounds catching up (replays, backfill, a stream far behind), where larger batches
    /// collapse more counter and actor updates into one row write each (4,000 instead of 2,000:
    /// 23 % less PostgreSQL CPU per replayed event; 8,000 instead of 4,000: 5 % less). Up to
    /// three batches are in memory at once (docs/BENCHMARKS.md).
    #[arg(long, env = "PLYR_BATCH_SIZE", default_value_t = 8000)]
    pub batch_size: usize,

    /// Write lanes: each batch's events are split by DID into this many parts (one DID's events
    /// stay in order in one part), and each lane applies its parts in order, one transaction
    /// each, concurrently with the other lanes; each part stores the cursor under its lane's
    /// number, and the stream resumes from the oldest. 1 applies a batch in one transaction.
    /// Backfill applies this many transactions at once too (each a group of repos).
    #[arg(long, env = "PLYR_WRITE_PARTITIONS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub write_partitions: u16,

    /// PLC directory used to resolve did:plc identities.
    #[arg(long, env = "PLYR_PLC_URL", default_value = "https://plc.directory", value_parser = plyr_atproto::settings::http_url)]
    pub plc_url: String,

    /// Allow a test network: `did:web` DIDs and PDS endpoints on loopback or private addresses,
    /// other ports and plain http are resolved and stored. Off by default: only public host
    /// names over https. For end-to-end runs against a local PDS and PLC.
    #[arg(long, env = "PLYR_ALLOW_TEST_NETWORK")]
    pub allow_test_network: bool,

    /// Resolve and verify actors' identities (handle, PDS, signing key) in the background.
    #[arg(long, env = "PLYR_RESOLVE_IDENTITIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub resolve_identities: bool,

    /// Resolve handles by asking this PDS (com.atproto.identity.resolveHandle) instead of DNS and
    /// HTTPS: for test networks whose handles resolve nowhere else.
    #[arg(long, env = "PLYR_HANDLE_PDS", value_parser = plyr_atproto::settings::http_url)]
    pub handle_pds: Option<String>,

    /// With `replay`: once the file is applied, an account whose identity does not resolve gets
    /// the handle the file's newest `#identity` event for it announced, unverified but shown as
    /// verified (a sample's DIDs resolve nowhere, so without this every artist reads
    /// `handle.invalid`). Whoever wrote the file chose those handles: for local replays only;
    /// `plyr --replay` turns it on, `run` never reads it.
    #[arg(long, env = "PLYR_TRUST_STREAM_HANDLES")]
    pub trust_stream_handles: bool,

    /// Where the indexer serves /metrics, /health (alive) and /ready (database reachable and
    /// caught up, or a hot standby); an empty value turns them off.
    #[arg(long, env = "PLYR_INDEXER_METRICS_LISTEN", default_value = "127.0.0.1:9091")]
    pub metrics_listen: Listen,

    /// With `run`: how often (milliseconds) a standby asks for the writer lock. Several `run`
    /// processes may share one database: one holds the lock and writes, the others wait hot and
    /// take over within this long of the writer's session ending.
    #[arg(long, env = "PLYR_LEADER_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..))]
    pub leader_poll_ms: u64,

    /// With `run`: `/ready` answers 503 while the newest committed event is older than this
    /// many seconds and events are still arriving (a quiet stream is caught up, however old its
    /// last event).
    #[arg(long, env = "PLYR_READY_MAX_LAG_SECS", default_value_t = 60)]
    pub ready_max_lag_secs: u64,

    /// With `run`: time (milliseconds) between two ticks of the ranker, each moving the day,
    /// week and month windows to now and replacing the top-track rankings that changed. A tick
    /// that took long waits four times its duration before the next, whatever this says.
    #[arg(long, env = "PLYR_RANKING_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..))]
    pub ranking_interval_ms: u64,

    /// With `run`: longest time (seconds) a ranking is kept unreplaced when nothing changed it.
    #[arg(long, env = "PLYR_RANKING_MAX_AGE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub ranking_max_age_secs: u64,

    /// Labelers to follow (their DIDs): each one's DID document gives its subscribeLabels
    /// endpoint and label key; every label's signature is checked, and the labeler's position is
    /// stored as the cursor `labeler:<did>`. Repeat the flag or separate with commas.
    #[arg(long = "labeler", env = "PLYR_LABELERS", value_delimiter = ',', value_parser = plyr_atproto::settings::did)]
    pub labelers: Vec<String>,

    #[command(flatten)]
    pub backfill: BackfillOptions,
}

/// How repos are backfilled (by `indexer backfill`, and in the background by `indexer run`).
#[derive(Debug, Clone, Args)]
pub struct BackfillOptions {
    /// With `run`: backfill in the background every repo that needs it (first seen live,
    /// desynchronized, or behind a stream gap), working through the `repos` pending queue.
    #[arg(long, env = "PLYR_AUTO_BACKFILL", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_backfill: bool,

    /// How a repo is fetched: auto (listRecords of the indexed collections, getRepo past
    /// --backfill-list-max records), car (always getRepo, signature verified) or list.
    #[arg(long, env = "PLYR_BACKFILL_MODE", value_enum, default_value = "auto")]
    pub backfill_mode: crate::backfill::Mode,

    /// Repos fetched at once, over all hosts.
    #[arg(long, env = "PLYR_BACKFILL_CONCURRENCY", default_value_t = 8)]
    pub backfill_concurrency: usize,

    /// Requests in flight at once per PDS or relay host.
    #[arg(long, env = "PLYR_BACKFILL_PER_HOST", default_value_t = 4)]
    pub backfill_per_host: usize,

    /// Attempts per repo before it is marked failed (waiting out HTTP 429 does not count).
    #[arg(long, env = "PLYR_BACKFILL_ATTEMPTS", default_value_t = 3)]
    pub backfill_attempts: u32,

    /// In auto mode, indexed records past which a repo is fetched with getRepo instead.
    #[arg(long, env = "PLYR_BACKFILL_LIST_MAX", default_value_t = 1000)]
    pub backfill_list_max: usize,

    /// Largest getRepo CAR accepted, in MiB.
    #[arg(long, env = "PLYR_BACKFILL_MAX_CAR_MIB", default_value_t = 512)]
    pub backfill_max_car_mib: usize,

    /// With `run` and --auto-backfill: while no discovery has completed (a fresh database), ask
    /// --discovery-relay for every repo with fm.plyr records and backfill them in the
    /// background. `indexer backfill --all` does the same by hand.
    #[arg(long, env = "PLYR_DISCOVER", default_value_t = true, action = clap::ArgAction::Set)]
    pub discover: bool,

    /// The relay asked by discovery (com.atproto.sync.listReposByCollection).
    #[arg(long, env = "PLYR_DISCOVERY_RELAY", default_value = crate::backfill::command::DEFAULT_RELAY,
          value_parser = plyr_atproto::settings::http_url)]
    pub discovery_relay: String,
}

impl Default for BackfillOptions {
    /// The command line's defaults (checked against clap's in a test).
    fn default() -> Self {
        Self {
            auto_backfill: true,
            backfill_mode: crate::backfill::Mode::Auto,
            backfill_concurrency: 8,
            backfill_per_host: 4,
            backfill_attempts: 3,
            backfill_list_max: 1000,
            backfill_max_car_mib: 512,
            discover: true,
            discovery_relay: crate::backfill::command::DEFAULT_RELAY.to_owned(),
        }
    }
}

impl IndexerOptions {
    /// The writer these options describe: `--trusted-audio-origins`, `--max-record-bytes`,
    /// `--trust-stream-handles`.
    pub fn writer(&self, pool: sqlx::PgPool) -> Result<crate::write::Writer, crate::write::WriteError> {
        let trusted = crate::write::rules::TrustedOrigins::new(&self.trusted_audio_origins);
        let writer = crate::write::Writer::new(pool, trusted)?.with_max_record_bytes(self.max_record_bytes);
        if !self.trust_stream_handles {
            return Ok(writer);
        }
        Ok(writer.trusting_stream_handles(self.identity_config()))
    }

    /// How DIDs and handles are resolved: `--plc-url`, `--handle-pds`, `--allow-test-network`.
    pub fn identity_config(&self) -> plyr_atproto::identity::IdentityConfig {
        plyr_atproto::identity::IdentityConfig {
            plc_url: self.plc_url.clone(),
            handle_pds: self.handle_pds.clone(),
            network: plyr_atproto::outbound::NetworkPolicy::new(self.allow_test_network),
            ..Default::default()
        }
    }

    /// When the ranker refreshes: `--ranking-interval-ms`, `--ranking-max-age-secs`.
    pub fn ranker_config(&self) -> crate::ranking::RankerConfig {
        crate::ranking::RankerConfig {
            interval: std::time::Duration::from_millis(self.ranking_interval_ms),
            max_age: std::time::Duration::from_secs(self.ranking_max_age_secs),
        }
    }

    /// The backfill settings: `--batch-size` events per transaction, `--write-partitions`
    /// transactions at once, records over `--max-record-bytes` dropped undecoded, PDS hosts as
    /// `--allow-test-network` allows.
    pub fn backfill_config(&self) -> crate::backfill::BackfillConfig {
        let b = &self.backfill;
        crate::backfill::BackfillConfig {
            max_record_bytes: self.max_record_bytes,
            mode: b.backfill_mode,
            concurrency: b.backfill_concurrency.max(1),
            per_host: b.backfill_per_host.max(1),
            attempts: b.backfill_attempts.max(1),
            list_max_records: b.backfill_list_max,
            max_car_bytes: b.backfill_max_car_mib.saturating_mul(1 << 20),
            batch_size: self.batch_size.max(1),
            writers: usize::from(self.write_partitions.max(1)),
            network: plyr_atproto::outbound::NetworkPolicy::new(self.allow_test_network),
            ..Default::default()
        }
    }
}

/// A listen address, or none (an empty string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Ok(Self(None));
        }
        s.trim()
            .parse()
            .map(|a| Self(Some(a)))
            .map_err(|e| format!("{s:?} is not an address like 127.0.0.1:9091: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::BackfillOptions;

    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        options: BackfillOptions,
    }

    #[test]
    fn backfill_defaults_match_the_command_line() {
        let parsed = Only::try_parse_from(["indexer"]).expect("defaults parse").options;
        let default = BackfillOptions::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }
}
