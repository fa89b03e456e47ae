//! `appview`: see `plyr_appview::cli`.

use clap::Parser;

/// jemalloc with its background thread gives freed memory back to the system on a timer, however
/// quiet the threads that freed it are: with glibc's allocator the buffers of 10,000 closed
/// connections stayed resident, and mimalloc returned them only from threads that allocated again.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    plyr_store::process::init();
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("jemalloc background purging is off: {err}");
    }
    plyr_appview::cli::run(plyr_appview::cli::Cli::parse()).await
}
