//! Helpers shared by the end-to-end tests: paths, the npm packages they run (installed from their
//! lockfiles on first use), the local reference PDS ([`pds`]) and a real labeler ([`labeler`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Every `.rs` file under `dir`, appended to `out`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `tests/js`, the npm package holding the reference implementations the tests run.
pub fn js_dir() -> PathBuf {
    repo_root().join("tests").join("js")
}

/// `tests/pds`, the npm package that runs a reference PDS and PLC directory on loopback.
pub fn pds_dir() -> PathBuf {
    repo_root().join("tests").join("pds")
}

static NPM: Mutex<()> = Mutex::new(());

/// Installs `tests/js`'s locked npm dependencies unless they are already there.
pub fn ensure_npm_packages() -> anyhow::Result<()> {
    ensure_npm_packages_in(&js_dir())
}

/// Installs the locked npm dependencies of the package in `dir` (`npm ci`) unless the installed
/// tree already matches its `package-lock.json`. Blocking; the first install of `tests/pds`
/// compiles better-sqlite3 and takes a minute or two. Test processes running at once (nextest)
/// wait for each other on an advisory lock of the lockfile.
pub fn ensure_npm_packages_in(dir: &Path) -> anyhow::Result<()> {
    let _guard = NPM.lock().unwrap_or_else(|p| p.into_inner());
    let lock_path = dir.join("package-lock.json");
    let lock_file = std::fs::File::open(&lock_path)
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", lock_path.display()))?;
    lock_file.lock().map_err(|e| anyhow::anyhow!("locking {}: {e}", lock_path.display()))?;
    let stamp = dir.join("node_modules").join(".package-lock.json");
    let lock =
        std::fs::read(&lock_path).map_err(|e| anyhow::anyhow!("reading {}: {e}", lock_path.display()))?;
    if std::fs::read(&stamp).is_ok_and(|installed| installed_matches(&installed, &lock)) {
        return Ok(());
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
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
/// names is recorded there (optional ones may be missing: npm skips other platforms' builds),
/// the install is current.
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
    // Optional packages for other platforms (native builds, e.g. libsql's) are never installed.
    want.iter().filter(|(k, _)| !k.is_empty()).all(|(k, v)| match have.get(k) {
        Some(h) => h["version"] == v["version"],
        None => v["optional"] == true,
    })
}

/// Applies Jetstream v1 `lines` to the database through the indexer's replay (the write path
/// every source shares, trusting `https://audio.plyr.fm` audio), then computes the rankings.
pub async fn replay_lines(db: &sqlx::PgPool, lines: &[String]) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static FILES: AtomicU64 = AtomicU64::new(0);
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("plyr-e2e-{}-{n}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n")?;
    let trusted = plyr_indexer::write::rules::TrustedOrigins::new(["https://audio.plyr.fm"]);
    let writer = std::sync::Arc::new(plyr_indexer::write::Writer::new(db.clone(), trusted)?);
    let batches = plyr_indexer::pipeline::BatchConfig::default();
    let replayed = plyr_indexer::replay::replay(
        writer,
        &path,
        true,
        batches,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    let _ = std::fs::remove_file(&path);
    replayed?;
    plyr_indexer::ranking::refresh(db).await?;
    Ok(())
}

/// A generated network (`plyr-gen`) indexed through [`replay_lines`], then what the identity
/// worker would find with network access: every handle the stream announced, verified, and a PDS
/// (`https://pds.example.com`) for every account. Returns the lines.
pub async fn seed_generated(
    db: &sqlx::PgPool,
    params: &plyr_gen::NetworkParams,
) -> anyhow::Result<Vec<String>> {
    let lines: Vec<String> = plyr_gen::jetstream_lines(params)?.collect::<Result<_, _>>()?;
    replay_lines(db, &lines).await?;
    let mut handles: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if v["kind"] == "identity"
            && let (Some(did), Some(handle)) = (v["did"].as_str(), v["identity"]["handle"].as_str())
        {
            handles.insert(did.to_owned(), handle.to_owned());
        }
    }
    for (did, handle) in &handles {
        sqlx::query("UPDATE actors SET handle = $2, handle_verified = TRUE WHERE did = $1")
            .bind(did)
            .bind(handle)
            .execute(db)
            .await?;
    }
    sqlx::query("UPDATE actors SET pds_endpoint = 'https://pds.example.com'").execute(db).await?;
    Ok(lines)
}

pub mod debian;
pub mod jetstream_server;
pub mod labeler;
pub mod pds;
pub mod python;

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// An install matches its lock when every package is there at its version, optional
    /// packages for other platforms excepted (npm skips them, so without this every test
    /// would reinstall under the others' feet).
    #[test]
    fn installs_match_their_lock_except_for_skipped_optional_packages() {
        let lock = json!({"packages": {
            "": {"name": "x"},
            "node_modules/a": {"version": "1.0.0"},
            "node_modules/@libsql/darwin-arm64": {"version": "0.4.7", "optional": true},
        }})
        .to_string();
        let installed = |packages: serde_json::Value| json!({ "packages": packages }).to_string();
        let matches = |i: String| super::installed_matches(i.as_bytes(), lock.as_bytes());
        assert!(matches(installed(json!({"node_modules/a": {"version": "1.0.0"}}))));
        assert!(!matches(installed(json!({"node_modules/a": {"version": "1.0.1"}}))));
        assert!(!matches(installed(json!({}))));
    }
}
