//! Indexer configuration: parsed once at startup from flags and environment variables.

use clap::Args;

/// Public Jetstream instances tried in order (failover on disconnect).
pub const DEFAULT_JETSTREAMS: &[&str] = &[
    "wss://jetstream1.us-east.bsky.network",
    "wss://jetstream2.us-east.bsky.network",
    "wss://jetstream1.us-west.bsky.network",
    "wss://jetstream2.us-west.bsky.network",
];

/// How the indexer ingests (flags; each also reads the environment variable shown in `--help`).
#[derive(Debug, Clone, Args)]
pub struct IndexerOptions {
    /// Jetstream base URLs (ws:// or wss://), tried in order; repeat the flag or separate with commas.
    #[arg(long = "jetstream", env = "PLYR_JETSTREAM", value_delimiter = ',', default_values_t = DEFAULT_JETSTREAMS.iter().map(|s| s.to_string()))]
    pub jetstreams: Vec<String>,

    /// Origins whose `audioUrl` is trusted (scheme://host[:port]); any other audioUrl is dropped.
    #[arg(
        long = "trusted-audio-origin",
        env = "PLYR_TRUSTED_AUDIO_ORIGINS",
        value_delimiter = ',',
        default_value = "https://audio.plyr.fm"
    )]
    pub trusted_audio_origins: Vec<String>,

    /// Maximum database connections the indexer opens.
    #[arg(
        id = "indexer_db_connections",
        long = "indexer-db-connections",
        env = "PLYR_INDEXER_DB_CONNECTIONS",
        default_value_t = 4
    )]
    pub db_connections: u32,
}
