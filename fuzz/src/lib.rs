//! Fuzz harnesses for the indexer's and the AppView's hostile inputs. Each module owns one
//! target's body as a plain function (`fn(&[u8])`), so the libFuzzer binaries in `fuzz_targets/`
//! are one line each and `tests/corpus.rs` replays the committed corpora and reproducers on
//! stable without cargo-fuzz.
//!
//! The invariants checked besides "no panic" are the ones the issue asks the data model to hold
//! for every source: a record that passes validation yields a row PostgreSQL can store (no NUL
//! in any text) and views that can be presented and serialized.

pub mod car;
pub mod firehose;
pub mod jetstream;
pub mod record;
pub mod storable;
pub mod views;

use std::sync::LazyLock;

/// One current-thread runtime per process: the CAR reader and the verifier are `async` but never
/// wait on I/O, so `block_on` runs them to completion.
pub(crate) static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
});

/// Splits `data` into frames the way `plyr-gen firehose` writes them (a 4-byte big-endian length,
/// then the frame); a truncated last frame is dropped.
pub fn length_prefixed(mut data: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    while data.len() >= 4 {
        let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let rest = &data[4..];
        if len > rest.len() {
            break;
        }
        frames.push(&rest[..len]);
        data = &rest[len..];
    }
    frames
}
