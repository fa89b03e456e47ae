//! Websockets to stream sources, defined once for every source (Jetstream, the firehose, and
//! whatever stream comes next):
//!
//! - [`envelope`]: the framing of XRPC event streams (header `{op, t}`, `#info`, errors).
//! - [`handshake`]: opening a socket within a time limit, with the message size limit, and an
//!   error that says what a server did when it did not upgrade.
//! - [`supervisor`]: the connection loop around it: resume, read timeout, keep-alive pings,
//!   exponential jittered backoff reset by a stable connection, shutdown. A source implements
//!   [`StreamSource`] (where to connect, what a message means) and never writes that loop.

pub mod envelope;
pub mod handshake;
pub mod supervisor;

pub use handshake::{HandshakeError, Socket, connect};
pub use supervisor::{Refused, Step, StreamSource, Target, Timing, binary, report_refusal, supervise};

use url::Url;

/// A URL as it may appear in logs: scheme, host, port and path; no credentials, no query.
pub fn redact(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}
