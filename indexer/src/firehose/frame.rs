//! Decoding one `com.atproto.sync.subscribeRepos` websocket message: a DAG-CBOR header
//! `{op, t}` immediately followed by a DAG-CBOR body. Bodies borrow from the message (the CAR
//! slice, DIDs, paths), so decoding allocates little; unknown fields are ignored (the lexicon
//! may grow), missing or mistyped required ones fail the frame.
//!
//! We decode into our own borrowed structs rather than jacquard-api's `SubscribeReposMessage`:
//! its `decode_framed` fails on `op: -1` error frames, rejects `blobs: null` (seen in recorded
//! relay traffic), and copies every string and the CAR slice into owned values.

use std::io::Cursor as ByteCursor;

use cid::Cid;
use serde::Deserialize;

/// Largest message decoded (sync 1.1 limit); larger ones are counted drops.
pub const MAX_FRAME_BYTES: usize = 5 * 1024 * 1024;
/// Largest `blocks` CAR slice accepted.
pub const MAX_BLOCKS_BYTES: usize = 2 * 1024 * 1024;
/// Most operations one commit may carry.
pub const MAX_OPS: usize = 200;

/// Why a message could not be decoded; counted by [`FrameError::reason`].
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("malformed header: {0}")]
    Header(String),
    #[error("malformed {t} body: {error}")]
    Body { t: String, error: String },
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("unknown header op {0}")]
    UnknownOp(i64),
    #[error("invalid time {0:?}")]
    Time(String),
}

impl FrameError {
    /// The `reason` label of `indexer_firehose_dropped_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Header(_) => "malformed_header",
            Self::Body { .. } | Self::Time(_) => "malformed_body",
            Self::UnknownType(_) | Self::UnknownOp(_) => "unknown_type",
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "commits are nearly every frame; boxing would only add an allocation"
)]
pub enum Frame<'a> {
    Commit(CommitFrame<'a>),
    Sync(SyncFrame<'a>),
    Identity(IdentityFrame<'a>),
    Account(AccountFrame<'a>),
    /// `#info` (e.g. `OutdatedCursor`).
    Info {
        name: String,
        message: Option<String>,
    },
    /// An error frame (`op: -1`, e.g. `FutureCursor`, `ConsumerTooSlow`); the server closes next.
    Error {
        error: String,
        message: Option<String>,
    },
}

impl Frame<'_> {
    /// The sequence number, on the four event kinds.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Self::Commit(f) => Some(f.seq),
            Self::Sync(f) => Some(f.seq),
            Self::Identity(f) => Some(f.seq),
            Self::Account(f) => Some(f.seq),
            Self::Info { .. } | Self::Error { .. } => None,
        }
    }

    /// The `kind` label of the frame.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Commit(_) => "commit",
            Self::Sync(_) => "sync",
            Self::Identity(_) => "identity",
            Self::Account(_) => "account",
            Self::Info { .. } => "info",
            Self::Error { .. } => "error",
        }
    }
}

/// `#commit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CommitFrame<'a> {
    pub seq: i64,
    pub repo: &'a str,
    pub rev: &'a str,
    #[serde(default)]
    pub since: Option<&'a str>,
    /// CID of the signed commit block in `blocks`.
    pub commit: Cid,
    /// CAR slice: the commit, the changed MST nodes (the proof) and new records.
    pub blocks: &'a [u8],
    pub ops: Vec<RepoOp<'a>>,
    /// MST root before this commit (sync 1.1); absent on legacy commits.
    #[serde(rename = "prevData", default)]
    pub prev_data: Option<Cid>,
    pub time: &'a str,
}

/// One operation of a `#commit`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RepoOp<'a> {
    pub action: &'a str,
    /// `collection/rkey`.
    pub path: &'a str,
    /// The new record's CID (null on delete).
    #[serde(default)]
    pub cid: Option<Cid>,
    /// The previous record's CID (sync 1.1: set on update and delete).
    #[serde(default)]
    pub prev: Option<Cid>,
}

/// `#sync`: the repo's current commit, declared without a diff.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SyncFrame<'a> {
    pub seq: i64,
    pub did: &'a str,
    /// CAR whose root is the signed commit.
    pub blocks: &'a [u8],
    pub rev: &'a str,
    pub time: &'a str,
}

/// `#identity`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IdentityFrame<'a> {
    pub seq: i64,
    pub did: &'a str,
    pub time: &'a str,
    #[serde(default)]
    pub handle: Option<&'a str>,
}

/// `#account`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccountFrame<'a> {
    pub seq: i64,
    pub did: &'a str,
    pub time: &'a str,
    pub active: bool,
    #[serde(default)]
    pub status: Option<&'a str>,
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

/// Decodes one binary websocket message.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let mut cursor = ByteCursor::new(bytes);
    let header: Header = serde_ipld_dagcbor::de::from_reader_once(&mut cursor)
        .map_err(|e| FrameError::Header(e.to_string()))?;
    let body = bytes.get(cursor.position() as usize..).unwrap_or_default();
    match (header.op, header.t.as_deref()) {
        (-1, _) => {
            body_of::<ErrorBody>("error", body).map(|b| Frame::Error { error: b.error, message: b.message })
        }
        (1, Some("#commit")) => body_of("#commit", body).map(Frame::Commit),
        (1, Some("#sync")) => body_of("#sync", body).map(Frame::Sync),
        (1, Some("#identity")) => body_of("#identity", body).map(Frame::Identity),
        (1, Some("#account")) => body_of("#account", body).map(Frame::Account),
        (1, Some("#info")) => {
            body_of::<InfoBody>("#info", body).map(|b| Frame::Info { name: b.name, message: b.message })
        }
        (1, t) => Err(FrameError::UnknownType(t.unwrap_or_default().chars().take(64).collect())),
        (op, _) => Err(FrameError::UnknownOp(op)),
    }
}

fn body_of<'a, T: Deserialize<'a>>(t: &str, body: &'a [u8]) -> Result<T, FrameError> {
    serde_ipld_dagcbor::from_slice(body)
        .map_err(|e| FrameError::Body { t: t.to_owned(), error: e.to_string() })
}

/// An RFC 3339 time in µs since the Unix epoch.
pub fn micros(time: &str) -> Result<i64, FrameError> {
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.timestamp_micros())
        .map_err(|_| FrameError::Time(time.chars().take(64).collect()))
}
