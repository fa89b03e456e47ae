//! `plyr-bench`: the Rust side of the firehose and backfill benchmarks (`bench/firehose.sh`,
//! `bench/backfill.sh`), driving the indexer's own code with what `plyr-gen` generated:
//!
//! - [`firehose`]: a frames file through `FrameProcessor`, timed on one thread;
//! - [`pds`]: a loopback PDS + PLC directory serving generated repo CARs to `indexer backfill`;
//! - [`snapshots`]: fetch + verify + decode of every repo without writing;
//! - [`soak`]: the AppView soak (`bench/soak.sh`): long load, idle connections, backends killed;
//! - [`signed`]: signed-in AppView traffic (`bench/appview.sh --signed`): viewers' PLC directory
//!   and a load client minting a service token per request.

pub mod cli;
pub mod firehose;
pub mod idle;
pub mod pds;
pub mod signed;
pub mod snapshots;
pub mod soak;
