//! The Jetstream source: a resilient websocket client for Jetstream v1 (`/subscribe`, JSON, `time_us`
//! cursors, optional dictionary zstd) and v2 (`network.bsky.jetstream.subscribeEvents`, inclusive
//! `seq` cursors), producing [`SourceItem`](crate::event::SourceItem)s for the write path.
//!
//! - [`config`]: where to connect and how patiently ([`JetstreamConfig`], [`Protocol`]).
//! - [`message`]: one frame in, one [`Frame`](message::Frame) (or a typed [`DecodeError`]) out.
//! - [`zstd`]: the bundled dictionary, prepared once, and a bounded decompressor.
//! - [`client`]: the connection loop ([`run`]): failover, resume, backoff, timeouts, metrics.
//!
//! Metrics (all labels low-cardinality):
//! `indexer_jetstream_events_total{kind}`, `indexer_jetstream_dropped_total{reason}`,
//! `indexer_jetstream_connects_total{outcome}`, `indexer_jetstream_cursor_age_seconds`.

pub mod client;
pub mod config;
pub mod message;
mod telemetry;
pub mod zstd;

pub use client::run;
pub use config::{JetstreamConfig, Protocol};
pub use message::{DecodeError, Frame, FrameDecoder};

/// Why the Jetstream client stopped. Everything the network does (refusals, timeouts, bad frames,
/// closed sockets) is retried or counted instead; only these end [`run`].
#[derive(Debug, thiserror::Error)]
pub enum JetstreamError {
    /// The configuration names no instance.
    #[error("no Jetstream URL configured")]
    NoUrls,
    /// A base URL that is not `ws://` or `wss://` (shown without credentials or query).
    #[error("unsupported Jetstream URL {0}: the scheme must be ws or wss")]
    UnsupportedUrl(String),
    /// The bundled zstd dictionary could not be prepared.
    #[error("cannot prepare the Jetstream zstd dictionary: {0}")]
    Dictionary(String),
    /// The processor dropped its receiver: nobody consumes the events any more.
    #[error("the event channel is closed")]
    ChannelClosed,
}
