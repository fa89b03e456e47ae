//! The CI fuzz smoke: every target runs on mutations of its committed corpus for a few seconds,
//! on plain stable and without libFuzzer's coverage guidance (the instrumented build alone takes
//! longer than the rest of CI here; `bench/fuzz.sh` runs the guided campaign).
//!
//! `FUZZ_SMOKE_SECS` (default 5) bounds each target's time; `FUZZ_SMOKE_SEED` replays one run
//! (each run prints its seed). An input that panics is written to `artifacts/<target>/smoke-*`
//! and the test fails naming it; move it to `regressions/<target>/` once fixed so `corpus.rs`
//! replays it for good.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible from one printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Bytes that reach the edges of JSON, CBOR, varints and text handling.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\\u0000",
    b"\xff",
    b"\x7f",
    b"\"",
    b"\\",
    b"}",
    b"]",
    b"9999-12-31T23:59:59Z",
    b"0000-01-01T00:00:00Z",
    b"-1",
    b"18446744073709551616",
    b"1e308",
    b"\xf0\x9f\x8e\xb5",
    b"\xed\xa0\x80",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xbf",
    b"\xa0",
    b"\xd8\x2a",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                let i = rng.below(len + 1);
                input.splice(i..i, token.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                input.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let piece: Vec<u8> = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(512));
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            6 if len > 0 => input.truncate(rng.below(len)),
            _ => {
                let i = rng.below(len + 1);
                let byte = INTERESTING[rng.below(INTERESTING.len())][0];
                let n = 1 + rng.below(4096);
                input.splice(i..i, std::iter::repeat_n(byte, n));
            }
        }
    }
    input.truncate(1 << 16);
}

fn smoke(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            seeds.push(std::fs::read(entry.path()).expect("read an input"));
        }
    }
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let secs: u64 = std::env::var("FUZZ_SMOKE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let seed: u64 = std::env::var("FUZZ_SMOKE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    }) | 1;
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut execs = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            let mut input = seeds[rng.below(seeds.len())].clone();
            mutate(&mut rng, &seeds, &mut input);
            execs += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
                let dir = root.join("artifacts").join(target);
                std::fs::create_dir_all(&dir).expect("create the artifacts directory");
                let path = dir.join(format!("smoke-{seed}-{execs}"));
                std::fs::write(&path, &input).expect("write the crashing input");
                panic!("{target}: input {} panicked (FUZZ_SMOKE_SEED={seed})", path.display());
            }
        }
    }
    eprintln!("{target}: {execs} executions in {secs} s, no panic (FUZZ_SMOKE_SEED={seed})");
    assert!(execs > 0, "{target} ran no input");
}

#[test]
fn jetstream_line() {
    smoke("jetstream_line", |d| drop(plyr_fuzz::jetstream::run(d)));
}

#[test]
fn firehose_frames() {
    smoke("firehose_frames", plyr_fuzz::firehose::run);
}

#[test]
fn car() {
    smoke("car", plyr_fuzz::car::run);
}

#[test]
fn record_views() {
    smoke("record_views", plyr_fuzz::views::run);
}
