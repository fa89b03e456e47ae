//! The raw firehose source: `com.atproto.sync.subscribeRepos` on one or more relays or PDSes,
//! verified with sync 1.1 and filtered to the collections we index, producing
//! [`SourceItem`](crate::event::SourceItem)s for the same pipeline and write path as Jetstream.
//!
//! - [`frame`]: one websocket message in, one [`Frame`] (or a typed [`FrameError`]) out.
//! - [`verify`]: sync 1.1 per repo: signature, rev order, MST inversion against `prevData`,
//!   chain breaks and `#sync` as resync requests ([`SyncVerifier`]).
//! - [`keys`]: where signing keys come from ([`KeySource`]: the identity resolver, or fixed keys).
//! - [`filter`]: which collections pass ([`CollectionFilter`]).
//! - [`process`]: frame → verdict → items, the per-host `seq` check and drop counting.
//! - [`client`]: the websocket loops ([`run`]): resume, backoff, timeouts.
//!
//! Metrics: `indexer_firehose_frames_total{kind}`, `indexer_firehose_dropped_total{reason}`,
//! `indexer_firehose_connects_total{outcome}`, `indexer_firehose_key_refreshes_total`.

pub mod client;
pub mod config;
pub mod filter;
pub mod frame;
pub mod keys;
pub mod process;
pub mod verify;

pub use client::run;
pub use config::FirehoseConfig;
pub use filter::CollectionFilter;
pub use frame::{Frame, FrameError};
pub use keys::{KeySource, StaticKeys};
pub use process::FrameProcessor;
pub use verify::{SyncVerifier, Verdict, VerifierConfig};

/// Why the firehose client stopped. Everything the network does is retried or counted instead.
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    /// The configuration names no host.
    #[error("no firehose URL configured")]
    NoUrls,
    /// A base URL that is not `ws://` or `wss://` with a host (shown without credentials).
    #[error("unsupported firehose URL {0}: the scheme must be ws or wss")]
    UnsupportedUrl(String),
    /// The pipeline dropped its receiver.
    #[error("the event channel is closed")]
    ChannelClosed,
}
