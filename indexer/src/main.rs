//! `indexer`: see `plyr_indexer::cli`.

use clap::Parser;

/// jemalloc instead of glibc's malloc: a quarter less CPU for a replay and a third less for a
/// backfill, where glibc spent a third of the indexer's time in malloc/free (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // One TLS crypto provider for the whole process (wss:// Jetstream, https identity lookups).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    plyr_indexer::cli::run(plyr_indexer::cli::Cli::parse()).await
}
