//! Backfilling generated repos the way `indexer backfill` does, for the tests that serve them
//! from `plyr-bench`'s loopback PDS + PLC directory.

use clap::Parser;
use plyr_indexer::backfill::Summary;
use plyr_indexer::backfill::command::BackfillArgs;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Command {
    #[command(flatten)]
    args: BackfillArgs,
}

/// Backfills every repo the loopback PDS at `url` lists into `pool` (CARs verified, no identity
/// resolution: the handles resolve nowhere).
pub async fn backfill_all(pool: &PgPool, url: &str) -> Summary {
    let args = Command::try_parse_from([
        "backfill",
        "--pds",
        url,
        "--plc-url",
        url,
        "--resolve-identities",
        "false",
        "--backfill-mode",
        "car",
        "--allow-test-network", // the PDS is on loopback, over http
    ])
    .expect("flags")
    .args;
    plyr_indexer::backfill::command::run(pool.clone(), &args, CancellationToken::new())
        .await
        .expect("backfills")
}
