//! `indexer`: see `plyr_indexer::cli`.

use clap::Parser;

/// jemalloc instead of glibc's malloc: a quarter less CPU for a replay and a third less for a
/// backfill, where glibc spent a third of the indexer's time in malloc/free (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    plyr_store::process::init();
    plyr_indexer::cli::run(plyr_indexer::cli::Cli::parse()).await
}
