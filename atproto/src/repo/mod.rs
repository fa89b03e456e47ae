//! Repository primitives shared by the firehose and backfill: CAR reading with every block
//! checked against its CID ([`car`]), the signed commit object ([`commit`], checked with
//! [`crate::signature`]), and the Merkle Search Tree: key heights, node checks
//! and the sync 1.1 "inversion" proof against `prevData` ([`mst`]).
//!
//! Why these building blocks (issue 4):
//! - **CAR: `iroh-car`** (also what jacquard-repo uses). It parses the framing with a 4 MB
//!   per-block cap; it does not check that a block hashes to its CID, so [`car::read_car`] does.
//! - **MST: `jacquard-repo`'s `Mst`** (add / delete / `invert_op` / root recomputation), which
//!   passes the interop commit-proof fixtures. We do *not* call its `validate_v1_1`: it ignores
//!   errors from `invert_op` and verifies with `p256`'s permissive verifier. Its node decoder
//!   also slices keys with an unchecked prefix length (a hostile node would panic), so every node
//!   reachable in a CAR slice is checked by [`mst::check_tree`] before jacquard sees it, and the
//!   inversion runs under `catch_unwind` as a second line of defence.
//! - **Commit: our own decoder** over the generic IPLD value, so the signed bytes are exactly
//!   the commit map minus `sig` (unknown future fields included), and signatures go through
//!   [`crate::signature::verify`]: 64-byte compact only (DER rejected), low-S only (high-S rejected),
//!   with this crate's keys. jacquard's `Commit::verify` accepts high-S P-256 signatures.

pub mod car;
pub mod commit;
pub mod mst;

pub use crate::signature::SignatureError;
pub use car::{CarSlice, read_car};
pub use commit::SignedCommit;

/// Why a CAR, commit or proof was rejected. Every variant is a property of the (hostile) input.
/// CIDs are kept as text: these errors are only logged and counted, and stay small.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// Not a CAR v1 stream (bad header, varints, CIDs, truncated).
    #[error("malformed CAR: {0}")]
    Car(String),
    /// A block whose bytes do not hash to its CID, or a CID we cannot check.
    #[error("block {0} does not match its CID")]
    BlockHash(String),
    /// More data than allowed.
    #[error("{what} too large ({size} > {max})")]
    TooLarge { what: &'static str, size: usize, max: usize },
    /// A block the message refers to is not in it.
    #[error("{what} block {cid} missing")]
    MissingBlock { what: &'static str, cid: String },
    /// The commit block is not a commit object.
    #[error("malformed commit: {0}")]
    Commit(String),
    /// The commit belongs to another repo, or its rev differs from the message's.
    #[error("commit {field} {got:?} does not match the message's {expected:?}")]
    CommitMismatch { field: &'static str, expected: String, got: String },
    /// The signature does not verify.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// An MST node that is not a valid node (bad prefix, unsorted keys, too deep, ...).
    #[error("malformed MST node {cid}: {detail}")]
    Mst { cid: String, detail: String },
    /// An operation could not be inverted (missing proof blocks, wrong prev CID, ...).
    #[error("proof failed: {0}")]
    Proof(String),
    /// Inverting every op does not lead back to `prevData`.
    #[error("inverted root {got} is not prevData {expected}")]
    ProofMismatch { expected: String, got: String },
}

impl RepoError {
    /// The `reason` label of a dropped frame.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Car(_) => "bad_car",
            Self::BlockHash(_) => "bad_block_hash",
            Self::TooLarge { .. } => "too_large",
            Self::MissingBlock { .. } => "missing_block",
            Self::Commit(_) | Self::CommitMismatch { .. } => "bad_commit",
            Self::Signature(_) => "bad_signature",
            Self::Mst { .. } => "bad_mst",
            Self::Proof(_) | Self::ProofMismatch { .. } => "bad_proof",
        }
    }
}
