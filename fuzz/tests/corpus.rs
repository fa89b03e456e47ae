//! Replays every committed seed and every minimized reproducer (`regressions/<target>/`) through
//! its harness on plain stable, without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).expect("read an input");
            eprintln!("{target}: {}", entry.path().display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for {target}");
}

#[test]
fn jetstream_line() {
    replay("jetstream_line", |d| drop(plyr_fuzz::jetstream::run(d)));
}

#[test]
fn firehose_frames() {
    replay("firehose_frames", plyr_fuzz::firehose::run);
}

#[test]
fn car() {
    replay("car", plyr_fuzz::car::run);
}

#[test]
fn record_views() {
    replay("record_views", plyr_fuzz::views::run);
}
