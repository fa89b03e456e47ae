//! Decoding one `com.atproto.sync.subscribeRepos` websocket message (framed as every event
//! stream is: [`envelope`]). Bodies borrow from the message (the CAR
//! slice, DIDs, paths), so decoding allocates little; unknown fields are ignored (the lexicon
//! may grow), missing or mistyped required ones fail the frame.
//!
//! We decode into our own borrowed structs rather than jacquard-api's `SubscribeReposMessage`:
//! its `decode_framed` fails on `op: -1` error frames, rejects `blobs: null` (seen in recorded
//! relay traffic), and copies every string and the CAR slice into owned values.

use cid::Cid;
use serde::Deserialize;

use crate::websocket::envelope::{self, Envelope, EnvelopeError};

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

/// Decodes one binary websocket message.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let (t, body) = match envelope::open(bytes)? {
        Envelope::Error { error, message } => return Ok(Frame::Error { error, message }),
        Envelope::Info { name, message } => return Ok(Frame::Info { name, message }),
        Envelope::Message { t, body } => (t, body),
    };
    match t.as_str() {
        "#commit" => body_of("#commit", body).map(Frame::Commit),
        "#sync" => body_of("#sync", body).map(Frame::Sync),
        "#identity" => body_of("#identity", body).map(Frame::Identity),
        "#account" => body_of("#account", body).map(Frame::Account),
        t => Err(FrameError::UnknownType(t.chars().take(64).collect())),
    }
}

fn body_of<'a, T: Deserialize<'a>>(t: &str, body: &'a [u8]) -> Result<T, FrameError> {
    Ok(envelope::body_of(t, body)?)
}

impl From<EnvelopeError> for FrameError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::Header(e) => FrameError::Header(e),
            EnvelopeError::Body { t, error } => FrameError::Body { t, error },
            EnvelopeError::Untyped => FrameError::UnknownType(String::new()),
            EnvelopeError::UnknownOp(op) => FrameError::UnknownOp(op),
        }
    }
}

/// An RFC 3339 time in µs since the Unix epoch.
pub fn micros(time: &str) -> Result<i64, FrameError> {
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.timestamp_micros())
        .map_err(|_| FrameError::Time(time.chars().take(64).collect()))
}
