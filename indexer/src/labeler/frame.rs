//! Decoding one `com.atproto.label.subscribeLabels` message: `#labels` (`{seq, labels}`),
//! `#info` or an error, framed as every event stream is ([`envelope`]). Each label stays an
//! [`Ipld`] map until [`plyr_atproto::label::Label::from_ipld`] reads it, so one malformed label
//! is a counted drop, not a lost frame.

use ipld_core::ipld::Ipld;
use serde::Deserialize;

use crate::websocket::envelope::{self, Envelope, EnvelopeError};

/// Largest message decoded; a larger one is a counted drop.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// Most labels one message may carry.
pub const MAX_LABELS: usize = 1000;

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFrame {
    Labels {
        seq: i64,
        labels: Vec<Ipld>,
    },
    /// `#info` (e.g. `OutdatedCursor`).
    Info {
        name: String,
        message: Option<String>,
    },
    /// An error (e.g. `FutureCursor`); the labeler closes next.
    Error {
        error: String,
        message: Option<String>,
    },
}

/// Why a message could not be decoded; counted by [`LabelFrameError::reason`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelFrameError {
    #[error("message of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("{0} labels in one message (at most {MAX_LABELS})")]
    TooMany(usize),
}

impl LabelFrameError {
    /// The `reason` label of `indexer_labeler_dropped_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Envelope(EnvelopeError::Header(_)) => "malformed_header",
            Self::Envelope(EnvelopeError::Body { .. }) => "malformed_body",
            Self::Envelope(_) | Self::UnknownType(_) => "unknown_type",
            Self::TooMany(_) => "too_many_labels",
        }
    }
}

#[derive(Deserialize)]
struct LabelsBody {
    seq: i64,
    labels: Vec<Ipld>,
}

/// Decodes one binary websocket message.
pub fn decode(bytes: &[u8]) -> Result<LabelFrame, LabelFrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(LabelFrameError::TooLarge(bytes.len()));
    }
    match envelope::open(bytes)? {
        Envelope::Error { error, message } => Ok(LabelFrame::Error { error, message }),
        Envelope::Info { name, message } => Ok(LabelFrame::Info { name, message }),
        Envelope::Message { t, body } if t == "#labels" => {
            let LabelsBody { seq, labels } = envelope::body_of("#labels", body)?;
            if labels.len() > MAX_LABELS {
                return Err(LabelFrameError::TooMany(labels.len()));
            }
            Ok(LabelFrame::Labels { seq, labels })
        }
        Envelope::Message { t, .. } => Err(LabelFrameError::UnknownType(t.chars().take(64).collect())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(header: serde_json::Value, body: serde_json::Value) -> Vec<u8> {
        let mut bytes = serde_ipld_dagcbor::to_vec(&header).expect("header");
        bytes.extend(serde_ipld_dagcbor::to_vec(&body).expect("body"));
        bytes
    }

    #[test]
    fn labels_info_and_errors() {
        let labels = message(json!({"op": 1, "t": "#labels"}), json!({"seq": 7, "labels": [{"val": "x"}]}));
        assert!(matches!(decode(&labels), Ok(LabelFrame::Labels { seq: 7, labels }) if labels.len() == 1));
        let info =
            message(json!({"op": 1, "t": "#info"}), json!({"name": "OutdatedCursor", "message": "old"}));
        assert_eq!(
            decode(&info),
            Ok(LabelFrame::Info { name: "OutdatedCursor".into(), message: Some("old".into()) })
        );
        let error = message(json!({"op": -1}), json!({"error": "FutureCursor"}));
        assert_eq!(decode(&error), Ok(LabelFrame::Error { error: "FutureCursor".into(), message: None }));
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let reason = |bytes: &[u8]| decode(bytes).expect_err("refused").reason();
        assert_eq!(reason(&vec![0; MAX_FRAME_BYTES + 1]), "too_large");
        assert_eq!(reason(b"\xff\x00"), "malformed_header");
        assert_eq!(reason(&message(json!({"op": 1, "t": "#labels"}), json!({"seq": "7"}))), "malformed_body");
        assert_eq!(reason(&message(json!({"op": 1, "t": "#commit"}), json!({}))), "unknown_type");
        let many: Vec<_> = (0..=MAX_LABELS).map(|_| json!({})).collect();
        assert_eq!(
            reason(&message(json!({"op": 1, "t": "#labels"}), json!({"seq": 1, "labels": many}))),
            "too_many_labels"
        );
    }
}
