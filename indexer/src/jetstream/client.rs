//! The Jetstream connection loop: connect (with a timeout) to one instance after another, resume
//! from the last cursor received, read frames (with a read timeout and keep-alive pings), decode
//! them and hand events to the processor through a bounded channel (awaiting when it is full).
//! Failures rotate to the next instance after an exponential, jittered backoff that resets once
//! a connection has been stable. Bad frames are counted drops, never fatal.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::JetstreamError;
use super::backoff::Backoff;
use super::config::{JetstreamConfig, Protocol, issuer, redact};
use super::message::{Frame, FrameDecoder};
use super::telemetry::Telemetry;
use super::zstd::FrameDecompressor;
use crate::event::{Cursor, SourceItem};
use crate::websocket::{self, HandshakeError, Socket};

/// Tails Jetstream until `shutdown` is cancelled, sending every event (and gap notice) to `tx`.
///
/// `resume` is the last position the pipeline applied (none: start live). Within the run the
/// client resumes from the last cursor it *received*: on the same v2 instance with the inclusive
/// `seq` (the event is delivered again), otherwise with the event time minus `config.rewind`.
/// The write path is idempotent, so duplicates at a reconnection seam are harmless.
///
/// Returns `Ok(())` on shutdown; errors only for a bad configuration or a closed channel.
pub async fn run(
    config: JetstreamConfig,
    resume: Option<Cursor>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
) -> Result<(), JetstreamError> {
    config.validate()?;
    let zstd = match (config.protocol, config.compress) {
        (Protocol::V1, true) => Some(
            FrameDecompressor::new(config.max_message_bytes)
                .map_err(|e| JetstreamError::Dictionary(e.to_string()))?,
        ),
        _ => None,
    };
    let mut client = Client {
        backoff: Backoff::new(config.backoff_base, config.backoff_max),
        telemetry: Telemetry::new(config.lag_warning),
        config,
        last: resume,
        tx,
        shutdown,
        zstd,
        url_index: 0,
    };
    client.run().await
}

/// The cursor a connection asks for.
#[derive(Debug, Clone, Copy)]
struct Requested {
    /// The `cursor` query parameter (a v2 seq, or a time in µs).
    param: i64,
    /// Its time in µs: where a gap starts if the instance cannot serve it.
    time_us: i64,
}

/// How a connection ended.
enum Ended {
    Shutdown,
    /// Never connected (refused, timed out, rejected).
    ConnectFailed,
    /// The cursor was below the instance's retention; a gap was recorded, next try is live.
    CursorTooOld,
    /// Connected, then lost after `lived`.
    Disconnected {
        lived: Duration,
    },
}

/// What handling one message led to.
enum Step {
    Continue,
    Close(String),
    Shutdown,
}

struct Client {
    config: JetstreamConfig,
    last: Option<Cursor>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
    zstd: Option<FrameDecompressor>,
    backoff: Backoff,
    telemetry: Telemetry,
    url_index: usize,
}

impl Client {
    async fn run(&mut self) -> Result<(), JetstreamError> {
        loop {
            let base = self.config.urls[self.url_index % self.config.urls.len()].clone();
            match self.connection(&base).await? {
                Ended::Shutdown => return Ok(()),
                Ended::CursorTooOld => continue,
                Ended::Disconnected { lived } if lived >= self.config.stable_after => self.backoff.reset(),
                Ended::ConnectFailed | Ended::Disconnected { .. } => {
                    self.url_index = (self.url_index + 1) % self.config.urls.len();
                }
            }
            self.telemetry.refresh_age();
            let delay = self.backoff.next_delay();
            let next = &self.config.urls[self.url_index];
            tracing::info!(url = %redact(next), delay_ms = delay.as_millis() as u64, "reconnecting to Jetstream after a backoff");
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The cursor to ask `issuer` for, from the last position received.
    fn requested(&self, issuer: &str) -> Option<Requested> {
        let last = self.last.as_ref()?;
        if self.config.protocol == Protocol::V2 && last.issuer.as_deref() == Some(issuer) {
            return Some(Requested { param: last.value, time_us: last.time_us });
        }
        let rewind = i64::try_from(self.config.rewind.as_micros()).unwrap_or(i64::MAX);
        let time_us = last.time_us.saturating_sub(rewind);
        Some(Requested { param: time_us, time_us })
    }

    /// One connection, from the handshake until it ends.
    async fn connection(&mut self, base: &Url) -> Result<Ended, JetstreamError> {
        let issuer = issuer(base);
        let shown = redact(base);
        let requested = self.requested(&issuer);
        let mut socket = match self.connect(base, &shown, requested).await? {
            Ok(socket) => socket,
            Err(ended) => return Ok(ended),
        };
        let decoder = FrameDecoder::new(self.config.protocol, issuer)
            .with_max_record_bytes(self.config.max_record_bytes);
        let connected_at = Instant::now();
        let mut ping =
            tokio::time::interval_at(connected_at + self.config.ping_interval, self.config.ping_interval);
        let mut deadline = connected_at + self.config.read_timeout;
        let shutdown = self.shutdown.clone();
        let reason = loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    tracing::info!(url = %shown, "Jetstream connection closed for shutdown");
                    return Ok(Ended::Shutdown);
                }
                () = tokio::time::sleep_until(deadline) => {
                    break format!("no frame for {:?}", self.config.read_timeout);
                }
                _ = ping.tick() => {
                    self.telemetry.refresh_age();
                    if let Err(e) = socket.send(Message::Ping(Vec::new())).await {
                        break format!("ping failed: {e}");
                    }
                }
                message = socket.next() => {
                    let message = match message {
                        None => break "closed".to_owned(),
                        Some(Err(e)) => break self.read_error(e, &shown),
                        Some(Ok(message)) => message,
                    };
                    match self.message(message, &decoder, requested, &shown).await? {
                        Step::Continue => {}
                        Step::Close(reason) => break reason,
                        Step::Shutdown => return Ok(Ended::Shutdown),
                    }
                    // Silence is measured while waiting on the socket, not while the processor
                    // applies backpressure.
                    deadline = Instant::now() + self.config.read_timeout;
                }
            }
        };
        let lived = connected_at.elapsed();
        tracing::warn!(url = %shown, reason, lived_s = lived.as_secs(), "Jetstream connection lost");
        Ok(Ended::Disconnected { lived })
    }

    /// The handshake: a socket, or how the attempt ended (a gap is recorded for CursorTooOld).
    async fn connect(
        &mut self,
        base: &Url,
        shown: &str,
        requested: Option<Requested>,
    ) -> Result<Result<Socket, Ended>, JetstreamError> {
        let url = self.config.subscribe_url(base, requested.map(|r| r.param));
        tracing::info!(url = %shown, cursor = ?requested.map(|r| r.param), protocol = ?self.config.protocol, "connecting to Jetstream");
        // Up to 4x the decode limit is read and dropped as one frame; past that tungstenite cannot
        // skip the frame and the connection has to go.
        let hard_limit = self.config.max_message_bytes.saturating_mul(4);
        let connect = websocket::connect(&url, hard_limit, self.config.connect_timeout);
        let error = tokio::select! {
            () = self.shutdown.cancelled() => return Ok(Err(Ended::Shutdown)),
            attempt = connect => match attempt {
                Ok(socket) => {
                    self.telemetry.connect("ok");
                    tracing::info!(url = %shown, "connected to Jetstream");
                    return Ok(Ok(socket));
                }
                Err(error) => error,
            },
        };
        if let (HandshakeError::NotUpgraded { status, body, .. }, Some(requested)) = (&error, requested) {
            let body: Option<serde_json::Value> =
                body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
            let name = body.as_ref().and_then(|b| b["error"].as_str());
            if *status == 400 && name == Some("CursorTooOld") {
                self.telemetry.connect("cursor_too_old");
                let message = body.as_ref().and_then(|b| b["message"].as_str()).unwrap_or("");
                tracing::warn!(url = %shown, cursor = requested.param, message, "Jetstream cursor too old: recording a gap and resuming live");
                let gap =
                    SourceItem::Gap { from: requested.time_us, reason: format!("CursorTooOld: {message}") };
                self.last = None;
                return Ok(Err(match self.deliver(gap).await? {
                    true => Ended::CursorTooOld,
                    false => Ended::Shutdown,
                }));
            }
        }
        self.telemetry.connect(error.outcome());
        if error.is_answer() {
            tracing::error!(error = %error, "Jetstream connect failed: not a websocket");
        } else {
            tracing::warn!(error = %error, "Jetstream connect failed");
        }
        Ok(Err(Ended::ConnectFailed))
    }

    /// Handles one websocket message.
    async fn message(
        &mut self,
        message: Message,
        decoder: &FrameDecoder,
        requested: Option<Requested>,
        shown: &str,
    ) -> Result<Step, JetstreamError> {
        let max = self.config.max_message_bytes;
        let frame = match message {
            Message::Text(text) if text.len() > max => {
                self.telemetry.dropped("too_large", &format_args!("{} bytes", text.len()), shown);
                return Ok(Step::Continue);
            }
            Message::Text(text) => decoder.decode(text.as_bytes()),
            Message::Binary(bytes) => match self.zstd.as_mut() {
                None => {
                    self.telemetry.dropped(
                        "unexpected_binary",
                        &"binary frame on an uncompressed stream",
                        shown,
                    );
                    return Ok(Step::Continue);
                }
                Some(zstd) => match zstd.decompress(&bytes) {
                    Ok(json) => decoder.decode(json),
                    Err(e) => {
                        let reason = match e {
                            super::zstd::ZstdError::TooLarge { .. } => "too_large",
                            _ => "bad_zstd",
                        };
                        self.telemetry.dropped(reason, &e, shown);
                        return Ok(Step::Continue);
                    }
                },
            },
            Message::Close(frame) => return Ok(Step::Close(format!("closed by the server ({frame:?})"))),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(Step::Continue),
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                self.telemetry.dropped(e.reason(), &e, shown);
                return Ok(Step::Continue);
            }
        };
        let item = match frame {
            Frame::Event { event, cursor } => {
                self.telemetry.event(&event.body, cursor.time_us, shown);
                self.last = Some(cursor.clone());
                SourceItem::Event { event, cursor }
            }
            Frame::OutdatedCursor { message } => {
                self.telemetry.notice();
                let from = requested.map_or(0, |r| r.time_us);
                tracing::warn!(url = %shown, from, message, "Jetstream clamped our cursor: recording a gap");
                SourceItem::Gap { from, reason: format!("OutdatedCursor: {}", message.unwrap_or_default()) }
            }
            Frame::Info { name, message } => {
                self.telemetry.notice();
                tracing::info!(url = %shown, name, message, "Jetstream notice");
                return Ok(Step::Continue);
            }
            Frame::Error { error, message } => {
                self.telemetry.notice();
                return Ok(Step::Close(format!("server error {error}: {}", message.unwrap_or_default())));
            }
        };
        Ok(if self.deliver(item).await? { Step::Continue } else { Step::Shutdown })
    }

    /// Describes a read error, counting oversized frames.
    fn read_error(&mut self, error: WsError, shown: &str) -> String {
        if let WsError::Capacity(e) = &error {
            self.telemetry.dropped("too_large", e, shown);
        }
        format!("read failed: {error}")
    }

    /// Sends to the processor, waiting while its channel is full; `false` on shutdown.
    async fn deliver(&self, item: SourceItem) -> Result<bool, JetstreamError> {
        tokio::select! {
            sent = self.tx.send(item) => sent.map(|()| true).map_err(|_| JetstreamError::ChannelClosed),
            () = self.shutdown.cancelled() => Ok(false),
        }
    }
}
