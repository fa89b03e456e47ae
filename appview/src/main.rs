//! `appview`: see `plyr_appview::cli`.

use clap::Parser;

/// mimalloc gives memory back to the system once it is free: with glibc's allocator, the
/// buffers of 10,000 idle connections stayed resident after they closed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // One TLS crypto provider for the whole process (wss:// Jetstream, https identity lookups).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    plyr_appview::cli::run(plyr_appview::cli::Cli::parse()).await
}
