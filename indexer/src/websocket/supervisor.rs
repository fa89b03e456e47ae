//! The one connection loop of every stream source: connect (with a timeout) to the target the
//! source names, read messages (with a read timeout and keep-alive pings) and hand each to the
//! source, until the connection ends; then reconnect after an exponential, jittered backoff that
//! resets once a connection has been stable. Shutdown is honoured at every wait.
//!
//! A source ([`StreamSource`]) says where to connect (resuming from its own cursor), what a
//! message means ([`Step`]) and what a refused handshake means ([`Refused`]); it counts its own
//! metrics. Nothing a server does ends [`supervise`]: only the source's own errors (a closed
//! channel) do.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::handshake::{self, HandshakeError};
use crate::backoff::Backoff;

/// How patiently a source's connections are made and kept.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Limit on TCP + TLS + websocket handshake.
    pub connect_timeout: Duration,
    /// A connection that delivers nothing (not even a pong) for this long is dropped.
    pub read_timeout: Duration,
    /// How often the client pings, so a quiet stream still shows signs of life.
    pub ping_interval: Duration,
    /// A connection that lived this long resets the backoff.
    pub stable_after: Duration,
    /// First reconnect delay; doubles per consecutive failure (with jitter).
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl Default for Timing {
    /// 10 s to connect, 60 s of silence, a ping every 20 s, stable after 60 s, backoff 1 s to 60 s.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(20),
            stable_after: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Where the next connection goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full subscription URL, resume cursor included.
    pub url: Url,
    /// The URL as logs show it ([`super::redact`] of the base).
    pub shown: String,
    /// The cursor asked for, for the log line.
    pub cursor: Option<i64>,
    /// Largest message the websocket layer reads (and hands on, for the source to drop); a
    /// larger one cannot be skipped and ends the connection.
    pub max_message: usize,
}

/// What handling one message led to.
#[derive(Debug)]
pub enum Step {
    /// Handled; the message counts as a sign of life for the read timeout.
    Continue,
    /// Dropped without counting as a sign of life (a text frame on a binary stream).
    Ignored,
    /// The connection must end, for this reason (a server error frame, a close).
    Close(String),
    /// Shutdown was asked for while the source waited (on its channel).
    Shutdown,
}

/// What a refused handshake leads to.
#[derive(Debug)]
pub enum Refused {
    /// Back off, then try again (counted as a failed attempt: [`StreamSource::failed`]).
    Backoff,
    /// Try again at once: the source changed what it asks for (a cursor the server cannot
    /// serve, now dropped).
    RetryNow,
    /// Shutdown was asked for while the source handled the refusal.
    Shutdown,
}

/// A stream source as the supervisor drives it.
pub trait StreamSource: Send {
    /// Why the source must stop (only its own failures: a closed channel).
    type Error: Send;

    /// The source's name in logs ("Jetstream", "the firehose").
    fn name(&self) -> &'static str;

    /// Where the next connection goes, resuming from what the source has received so far.
    fn target(&mut self) -> Target;

    /// The next target as logs show it, for the "reconnecting" line.
    fn next_shown(&self) -> String;

    /// Counts a connection attempt by `outcome` (`ok`, or [`HandshakeError::outcome`]).
    fn connect_outcome(&mut self, outcome: &'static str);

    /// A handshake failed. [`report_refusal`] is the usual answer; a source overrides this for
    /// an answer it understands (Jetstream's `CursorTooOld`).
    fn refused(
        &mut self,
        error: HandshakeError,
    ) -> impl Future<Output = Result<Refused, Self::Error>> + Send {
        report_refusal(self, &error);
        async { Ok(Refused::Backoff) }
    }

    /// Handles one message (binary, text, ping, pong; a close has already ended the loop).
    fn message(&mut self, message: Message) -> impl Future<Output = Result<Step, Self::Error>> + Send;

    /// A read failed (the connection ends after this); e.g. to count an oversized message.
    fn read_error(&mut self, _error: &WsError) {}

    /// Called at each ping and before each backoff, for gauges that age with time.
    fn tick(&mut self) {}

    /// An attempt failed, or a connection ended before it was stable (e.g. to fail over).
    fn failed(&mut self) {}
}

/// The bytes of a binary message; for anything else, what the source answers: a text message
/// on a binary stream is counted under `dropped` (`reason="unexpected_text"`) and ignored, a
/// ping or pong is a sign of life.
pub fn binary(message: Message, dropped: &'static str) -> Result<Vec<u8>, Step> {
    match message {
        Message::Binary(bytes) => Ok(bytes),
        Message::Text(_) => {
            metrics::counter!(dropped, "reason" => "unexpected_text").increment(1);
            Err(Step::Ignored)
        }
        _ => Err(Step::Continue),
    }
}

/// Counts a refused handshake and logs it: as an error when a server answered but not as a
/// websocket (a wrong URL), as a warning otherwise (the network).
pub fn report_refusal<S: StreamSource + ?Sized>(source: &mut S, error: &HandshakeError) {
    source.connect_outcome(error.outcome());
    if error.is_answer() {
        tracing::error!(error = %error, "{} connect failed: not a websocket", source.name());
    } else {
        tracing::warn!(error = %error, "{} connect failed", source.name());
    }
}

/// How a connection ended.
enum Ended {
    Shutdown,
    ConnectFailed,
    RetryNow,
    Disconnected { lived: Duration },
}

/// Follows `source` until `shutdown`; returns `Ok(())` then, or the source's own error.
pub async fn supervise<S: StreamSource>(
    source: &mut S,
    timing: Timing,
    shutdown: &CancellationToken,
) -> Result<(), S::Error> {
    let mut backoff = Backoff::new(timing.backoff_base, timing.backoff_max);
    loop {
        match connection(source, timing, shutdown).await? {
            Ended::Shutdown => return Ok(()),
            Ended::RetryNow => continue,
            Ended::Disconnected { lived } if lived >= timing.stable_after => backoff.reset(),
            Ended::ConnectFailed | Ended::Disconnected { .. } => source.failed(),
        }
        source.tick();
        let delay = backoff.next_delay();
        tracing::info!(url = %source.next_shown(), delay_ms = delay.as_millis() as u64, "reconnecting to {} after a backoff", source.name());
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// One connection, from the handshake until it ends.
async fn connection<S: StreamSource>(
    source: &mut S,
    timing: Timing,
    shutdown: &CancellationToken,
) -> Result<Ended, S::Error> {
    let target = source.target();
    let name = source.name();
    tracing::info!(url = %target.shown, cursor = ?target.cursor, "connecting to {name}");
    let connect = handshake::connect(&target.url, target.max_message, timing.connect_timeout);
    let attempt = tokio::select! {
        () = shutdown.cancelled() => return Ok(Ended::Shutdown),
        attempt = connect => attempt,
    };
    let mut socket = match attempt {
        Ok(socket) => socket,
        Err(error) => {
            return Ok(match source.refused(error).await? {
                Refused::Backoff => Ended::ConnectFailed,
                Refused::RetryNow => Ended::RetryNow,
                Refused::Shutdown => Ended::Shutdown,
            });
        }
    };
    source.connect_outcome("ok");
    tracing::info!(url = %target.shown, "connected to {name}");
    let connected_at = Instant::now();
    let mut ping = tokio::time::interval_at(connected_at + timing.ping_interval, timing.ping_interval);
    let mut deadline = connected_at + timing.read_timeout;
    let reason = loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                tracing::info!(url = %target.shown, "{name} connection closed for shutdown");
                return Ok(Ended::Shutdown);
            }
            () = tokio::time::sleep_until(deadline) => {
                break format!("nothing received for {:?}", timing.read_timeout);
            }
            _ = ping.tick() => {
                source.tick();
                if let Err(e) = socket.send(Message::Ping(Vec::new())).await {
                    break format!("ping failed: {e}");
                }
            }
            message = socket.next() => {
                let message = match message {
                    None => break "closed".to_owned(),
                    Some(Err(e)) => {
                        source.read_error(&e);
                        break format!("read failed: {e}");
                    }
                    Some(Ok(Message::Close(frame))) => break format!("closed by the server ({frame:?})"),
                    Some(Ok(message)) => message,
                };
                match source.message(message).await? {
                    // Silence is measured while waiting on the socket, not while the source
                    // waits on its channel (backpressure).
                    Step::Continue => deadline = Instant::now() + timing.read_timeout,
                    Step::Ignored => {}
                    Step::Close(reason) => break reason,
                    Step::Shutdown => return Ok(Ended::Shutdown),
                }
            }
        }
    };
    let lived = connected_at.elapsed();
    tracing::warn!(url = %target.shown, reason, lived_s = lived.as_secs(), "{name} connection lost");
    Ok(Ended::Disconnected { lived })
}
