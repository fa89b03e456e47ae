//! Helpers shared by the end-to-end tests: paths, and the npm tooling they run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `tests/js`, the npm package holding the reference implementations the tests run.
pub fn js_dir() -> PathBuf {
    repo_root().join("tests").join("js")
}

static NPM: Mutex<()> = Mutex::new(());

/// Installs `tests/js`'s locked npm dependencies unless they are already there.
pub fn ensure_npm_packages() -> anyhow::Result<()> {
    let _guard = NPM.lock().unwrap_or_else(|p| p.into_inner());
    let dir = js_dir();
    let stamp = dir.join("node_modules").join(".package-lock.json");
    let lock = std::fs::read(dir.join("package-lock.json"))?;
    if std::fs::read(&stamp).is_ok_and(|installed| installed_matches(&installed, &lock)) {
        return Ok(());
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .map_err(|e| anyhow::anyhow!("running npm ci in {}: {e}", dir.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "npm ci failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// npm writes a hidden lockfile into node_modules after an install; if every package the lock
/// names is recorded there, the install is current.
fn installed_matches(installed: &[u8], lock: &[u8]) -> bool {
    let (Ok(installed), Ok(lock)) = (
        serde_json::from_slice::<serde_json::Value>(installed),
        serde_json::from_slice::<serde_json::Value>(lock),
    ) else {
        return false;
    };
    let (Some(have), Some(want)) = (installed["packages"].as_object(), lock["packages"].as_object()) else {
        return false;
    };
    want.iter()
        .filter(|(k, _)| !k.is_empty())
        .all(|(k, v)| have.get(k).is_some_and(|h| h["version"] == v["version"]))
}

pub mod jetstream_server;
