//! A deterministic, plausible plyr.fm network written as a Jetstream v1 JSON-lines stream, for
//! `indexer replay`, tests and benchmarks.
//!
//! Artists join over a year, publish a power-law number of tracks and set up profiles;
//! listeners like tracks (Zipf over tracks, power law over likers), leave timed comments and
//! make playlists; a few percent of operations are edits and deletions, with occasional
//! handle changes, deactivations and a rare account deletion. Every record is valid against
//! the `fm.plyr.*` lexicons and carries its real CID.
//!
//! For AppView benchmarks at scale, [`load`] writes a large network straight into PostgreSQL as
//! the rows the indexer would have written for it (`plyr-gen load`). For the firehose and
//! backfill benchmarks, [`firehose`] renders the network as signed sync 1.1 `#commit` messages
//! mixed into other apps' traffic (`plyr-gen firehose`) and [`repos`] as one repository CAR per
//! account (`plyr-gen repos`), both built by [`signing`], the one place that signs repos (the
//! indexer's tests use it too). [`bench`] is the `plyr-bench` binary that drives the indexer's
//! code with them.
//!
//! Same [`NetworkParams`], same bytes, on any machine: the only randomness is the seeded
//! [`rng::Rng`] and the period ends at a fixed instant, never the current time.
//!
//! ```no_run
//! let params = plyr_gen::NetworkParams::new(42, 1_000);
//! let mut out = Vec::new();
//! let summary = plyr_gen::write_jetstream(&params, &mut out)?;
//! assert_eq!(summary.events, 1_000);
//! # Ok::<(), plyr_gen::GenError>(())
//! ```

mod accounts;
pub mod bench;
mod bsky;
pub mod cli;
mod content;
pub mod firehose;
pub mod frames;
pub mod ids;
pub mod keys;
mod lists;
pub mod load;
mod network;
mod params;
pub mod records;
pub mod repos;
pub mod rng;
pub mod signing;
mod sim;
mod social;
mod summary;
mod wire;
mod words;
mod world;

use std::io::Write;

pub use network::Network;
pub use params::{DEFAULT_END_US, NetworkParams, YEAR_US};
pub use summary::{OpCounts, Summary};
pub use wire::Operation;

/// Why a stream could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The parameters cannot be honoured.
    #[error("invalid parameters: {0}")]
    Params(&'static str),
    /// A bug: the simulation reached a state it should not.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A record could not be turned into atproto data or hashed.
    #[error("record data model: {0}")]
    DataModel(#[from] plyr_atproto::DataModelError),
    /// A record or event could not be serialized.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A generated value is not valid for its lexicon type (DID, handle, AT-URI, URI, datetime).
    #[error("lexicon value {0}")]
    Lexicon(String),
    /// Writing the stream failed.
    #[error("writing the stream: {0}")]
    Io(#[from] std::io::Error),
    /// Building a signed repo (MST, CAR, commit) failed.
    #[error("signed repo: {0}")]
    Repo(String),
    /// A frames file is not a sequence of length-prefixed messages.
    #[error("frames file: {0}")]
    Frames(&'static str),
    /// A keys file is not a JSON object of DIDs to `did:key`s.
    #[error("keys file: {0}")]
    Keys(String),
}

/// The Jetstream lines of the network described by `params`, oldest first, without trailing
/// newlines. Call [`Network::summary`] once the iterator is exhausted for the counts.
pub fn jetstream_lines(params: &NetworkParams) -> Result<Network, GenError> {
    Network::new(params.clone())
}

/// Writes the network's Jetstream lines to `out`, one per line, and returns their summary.
pub fn write_jetstream(params: &NetworkParams, mut out: impl Write) -> Result<Summary, GenError> {
    let mut network = jetstream_lines(params)?;
    for line in network.by_ref() {
        let line = line?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(network.summary().clone())
}
