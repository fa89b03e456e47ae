//! The Jetstream source, a [`StreamSource`] under the shared [`websocket::supervise`] loop
//! (timeouts, pings, backoff): it connects to one instance after another (a failed attempt or an
//! unstable connection fails over to the next), resumes from the last cursor received, decodes
//! frames and hands events to the processor through a bounded channel (awaiting when it is
//! full). Bad frames are counted drops, never fatal.

use tokio::sync::mpsc::Sender;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_util::sync::CancellationToken;

use super::JetstreamError;
use super::config::{JetstreamConfig, Protocol, issuer};
use super::message::{Frame, FrameDecoder};
use super::telemetry::Telemetry;
use super::zstd::FrameDecompressor;
use crate::event::{Cursor, SourceItem};
use crate::websocket::{self, HandshakeError, Refused, Step, StreamSource, Target, redact, report_refusal};

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
    let timing = config.timing;
    let mut client = Client {
        telemetry: Telemetry::new(config.lag_warning),
        config,
        last: resume,
        tx,
        shutdown: shutdown.clone(),
        zstd,
        url_index: 0,
        connection: None,
    };
    websocket::supervise(&mut client, timing, &shutdown).await
}

/// The cursor a connection asks for.
#[derive(Debug, Clone, Copy)]
struct Requested {
    /// The `cursor` query parameter (a v2 seq, or a time in µs).
    param: i64,
    /// Its time in µs: where a gap starts if the instance cannot serve it.
    time_us: i64,
}

/// What one connection asked for and decodes with.
struct Connection {
    shown: String,
    requested: Option<Requested>,
    decoder: FrameDecoder,
}

struct Client {
    config: JetstreamConfig,
    last: Option<Cursor>,
    tx: Sender<SourceItem>,
    shutdown: CancellationToken,
    zstd: Option<FrameDecompressor>,
    telemetry: Telemetry,
    url_index: usize,
    /// Set by each [`StreamSource::target`].
    connection: Option<Connection>,
}

impl Client {
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

    /// Handles one websocket message on `connection`.
    async fn handle(&mut self, message: Message, connection: &Connection) -> Result<Step, JetstreamError> {
        let Connection { shown, requested, decoder } = connection;
        let requested = *requested;
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

    /// Sends to the processor, waiting while its channel is full; `false` on shutdown.
    async fn deliver(&self, item: SourceItem) -> Result<bool, JetstreamError> {
        tokio::select! {
            sent = self.tx.send(item) => sent.map(|()| true).map_err(|_| JetstreamError::ChannelClosed),
            () = self.shutdown.cancelled() => Ok(false),
        }
    }
}

impl StreamSource for Client {
    type Error = JetstreamError;

    fn name(&self) -> &'static str {
        "Jetstream"
    }

    fn target(&mut self) -> Target {
        let base = self.config.urls[self.url_index % self.config.urls.len()].clone();
        let issuer = issuer(&base);
        let requested = self.requested(&issuer);
        let shown = redact(&base);
        let decoder = FrameDecoder::new(self.config.protocol, issuer)
            .with_max_record_bytes(self.config.max_record_bytes);
        self.connection = Some(Connection { shown: shown.clone(), requested, decoder });
        // Up to 4x the decode limit is read and dropped as one frame; past that tungstenite cannot
        // skip the frame and the connection has to go.
        Target {
            url: self.config.subscribe_url(&base, requested.map(|r| r.param)),
            shown,
            cursor: requested.map(|r| r.param),
            max_message: self.config.max_message_bytes.saturating_mul(4),
        }
    }

    fn next_shown(&self) -> String {
        redact(&self.config.urls[self.url_index % self.config.urls.len()])
    }

    fn connect_outcome(&mut self, outcome: &'static str) {
        self.telemetry.connect(outcome);
    }

    /// A `400 CursorTooOld` answer: the instance cannot serve our cursor. A gap is recorded and
    /// the next attempt, at once, is live.
    async fn refused(&mut self, error: HandshakeError) -> Result<Refused, JetstreamError> {
        let requested = self.connection.as_ref().and_then(|c| Some((c.requested?, c.shown.clone())));
        if let (HandshakeError::NotUpgraded { status, body, .. }, Some((requested, url))) =
            (&error, requested)
        {
            let body: Option<serde_json::Value> =
                body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
            let name = body.as_ref().and_then(|b| b["error"].as_str());
            if *status == 400 && name == Some("CursorTooOld") {
                self.telemetry.connect("cursor_too_old");
                let message = body.as_ref().and_then(|b| b["message"].as_str()).unwrap_or("");
                tracing::warn!(url = %url, cursor = requested.param, message, "Jetstream cursor too old: recording a gap and resuming live");
                let gap =
                    SourceItem::Gap { from: requested.time_us, reason: format!("CursorTooOld: {message}") };
                self.last = None;
                return Ok(if self.deliver(gap).await? { Refused::RetryNow } else { Refused::Shutdown });
            }
        }
        report_refusal(self, &error);
        Ok(Refused::Backoff)
    }

    async fn message(&mut self, message: Message) -> Result<Step, JetstreamError> {
        let Some(connection) = self.connection.take() else { return Ok(Step::Continue) };
        let step = self.handle(message, &connection).await;
        self.connection = Some(connection);
        step
    }

    /// Counts an oversized frame (tungstenite's capacity error) as a drop.
    fn read_error(&mut self, error: &WsError) {
        if let WsError::Capacity(e) = error {
            let shown = self.connection.as_ref().map_or_else(String::new, |c| c.shown.clone());
            self.telemetry.dropped("too_large", e, &shown);
        }
    }

    fn tick(&mut self) {
        self.telemetry.refresh_age();
    }

    fn failed(&mut self) {
        self.url_index = (self.url_index + 1) % self.config.urls.len();
    }
}
