//! The websocket handshake of every stream source: a time limit, the
//! message size limit, and an error that says what the server did when it did not upgrade (an
//! HTTP status instead of `101 Switching Protocols`, or no answer at all), naming the URL
//! without credentials or query.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::redact;

/// An open websocket to a stream.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a handshake did not give a websocket. Every variant is retried with backoff by the
/// clients; the message is what an operator needs to fix a wrong URL.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The server answered with an ordinary HTTP response (a 404 page, a redirect, ...).
    #[error(
        "{url} answered HTTP {status} instead of upgrading to a websocket: is this the right host, and a base URL or the full subscription URL?"
    )]
    NotUpgraded {
        url: String,
        status: StatusCode,
        /// The start of the response body (what the server said, e.g. an XRPC error).
        body: Option<Vec<u8>>,
    },
    /// The connection closed before a complete HTTP response (tungstenite's "Handshake not
    /// finished").
    #[error(
        "{url} closed the connection without answering the websocket upgrade: is this a websocket endpoint?"
    )]
    NoAnswer { url: String },
    /// TCP, TLS and the handshake took longer than allowed.
    #[error("connecting to {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// Refused, unreachable, a TLS failure or a malformed answer.
    #[error("cannot connect to {url}: {source}")]
    Failed {
        url: String,
        #[source]
        source: WsError,
    },
}

impl HandshakeError {
    /// Whether a server answered, but not as a websocket (a configuration problem more likely
    /// than a network one, so the clients log it as an error).
    pub fn is_answer(&self) -> bool {
        matches!(self, Self::NotUpgraded { .. } | Self::NoAnswer { .. })
    }

    /// The `outcome` label of the clients' connect counters.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::NotUpgraded { .. } => "rejected",
            Self::NoAnswer { .. } => "no_answer",
            Self::Timeout { .. } => "timeout",
            Self::Failed { source: WsError::Io(_), .. } => "refused",
            Self::Failed { .. } => "error",
        }
    }
}

/// Opens a websocket to `url` within `timeout`, accepting messages of up to `max_message`
/// bytes (tungstenite cannot skip a larger one, so the connection would have to go).
pub async fn connect(url: &Url, max_message: usize, timeout: Duration) -> Result<Socket, HandshakeError> {
    let config = WebSocketConfig {
        max_message_size: Some(max_message),
        max_frame_size: Some(max_message),
        ..WebSocketConfig::default()
    };
    let connect = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    let shown = redact(url);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(WsError::Http(response))) => {
            let (parts, body) = response.into_parts();
            Err(HandshakeError::NotUpgraded { url: shown, status: parts.status, body })
        }
        Ok(Err(WsError::Protocol(ProtocolError::HandshakeIncomplete))) => {
            Err(HandshakeError::NoAnswer { url: shown })
        }
        Ok(Err(source)) => Err(HandshakeError::Failed { url: shown, source }),
        Err(_elapsed) => Err(HandshakeError::Timeout { url: shown, timeout }),
    }
}
