//! The framing of every XRPC event stream (`subscribeRepos`, `subscribeLabels`): each binary
//! message is a DAG-CBOR header `{op, t}` immediately followed by a DAG-CBOR body. `op: 1` is a
//! message of type `t`; `op: -1` an error (`{error, message?}`), after which the server
//! closes. `#info` (`{name, message?}`, e.g. `OutdatedCursor`) is common to every stream.

use std::io::Cursor as ByteCursor;

use serde::Deserialize;

/// One message, its header read and its body not yet decoded (except the common kinds).
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope<'a> {
    /// `op: 1` with type `t` (`#commit`, `#labels`, ...): the body, undecoded.
    Message { t: String, body: &'a [u8] },
    /// `#info`.
    Info { name: String, message: Option<String> },
    /// `op: -1` (e.g. `FutureCursor`, `ConsumerTooSlow`).
    Error { error: String, message: Option<String> },
}

/// Why a message's framing could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed header: {0}")]
    Header(String),
    #[error("malformed {t} body: {error}")]
    Body { t: String, error: String },
    #[error("message without a type")]
    Untyped,
    #[error("unknown header op {0}")]
    UnknownOp(i64),
}

#[derive(Deserialize)]
struct Header {
    op: i64,
    #[serde(default)]
    t: Option<String>,
}

#[derive(Deserialize)]
struct InfoBody {
    name: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    message: Option<String>,
}

/// Reads the header of one binary message (the caller has checked its size).
pub fn open(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let mut cursor = ByteCursor::new(bytes);
    let header: Header = serde_ipld_dagcbor::de::from_reader_once(&mut cursor)
        .map_err(|e| EnvelopeError::Header(e.to_string()))?;
    let body = bytes.get(cursor.position() as usize..).unwrap_or_default();
    match (header.op, header.t) {
        (-1, _) => body_of::<ErrorBody>("error", body)
            .map(|b| Envelope::Error { error: b.error, message: b.message }),
        (1, Some(t)) if t == "#info" => {
            body_of::<InfoBody>("#info", body).map(|b| Envelope::Info { name: b.name, message: b.message })
        }
        (1, Some(t)) => Ok(Envelope::Message { t, body }),
        (1, None) => Err(EnvelopeError::Untyped),
        (op, _) => Err(EnvelopeError::UnknownOp(op)),
    }
}

/// Decodes a message body of type `t`.
pub fn body_of<'a, T: Deserialize<'a>>(t: &str, body: &'a [u8]) -> Result<T, EnvelopeError> {
    serde_ipld_dagcbor::from_slice(body)
        .map_err(|e| EnvelopeError::Body { t: t.to_owned(), error: e.to_string() })
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    fn frame<H: Serialize, B: Serialize>(header: H, body: B) -> Vec<u8> {
        let mut bytes = serde_ipld_dagcbor::to_vec(&header).expect("header");
        bytes.extend(serde_ipld_dagcbor::to_vec(&body).expect("body"));
        bytes
    }

    #[derive(Serialize)]
    struct H<'a> {
        op: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        t: Option<&'a str>,
    }

    #[test]
    fn kinds_of_envelope() {
        let info = frame(H { op: 1, t: Some("#info") }, serde_json::json!({"name": "OutdatedCursor"}));
        assert_eq!(open(&info), Ok(Envelope::Info { name: "OutdatedCursor".into(), message: None }));
        let error =
            frame(H { op: -1, t: None }, serde_json::json!({"error": "FutureCursor", "message": "m"}));
        assert_eq!(
            open(&error),
            Ok(Envelope::Error { error: "FutureCursor".into(), message: Some("m".into()) })
        );
        let labels = frame(H { op: 1, t: Some("#labels") }, serde_json::json!({"seq": 1}));
        assert!(
            matches!(open(&labels), Ok(Envelope::Message { t, body }) if t == "#labels" && !body.is_empty())
        );
        assert_eq!(open(&frame(H { op: 1, t: None }, 0)), Err(EnvelopeError::Untyped));
        assert_eq!(open(&frame(H { op: 2, t: Some("#x") }, 0)), Err(EnvelopeError::UnknownOp(2)));
        assert!(matches!(open(b"\xff"), Err(EnvelopeError::Header(_))));
        assert!(matches!(open(&frame(H { op: -1, t: None }, 5)), Err(EnvelopeError::Body { .. })));
    }
}
