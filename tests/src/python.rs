//! The Python virtualenv the client tests run in: plyr.fm's `plyrfm` SDK, CLI and MCP server and
//! the `py-sonic` Subsonic client, pinned in `tests/py/requirements.txt` and `constraints.txt`,
//! installed from PyPI on first use. It lives under the caller's scratch folder (the test's
//! `CARGO_TARGET_TMPDIR`), keyed by a hash of the pins: changing them makes a new one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

/// `tests/py`: the pins and the check scripts.
pub fn py_dir() -> PathBuf {
    crate::repo_root().join("tests").join("py")
}

/// Runs `cmd`, failing with its output when it fails.
pub fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The virtualenv under `root`, installed unless already there. Concurrent test processes wait
/// for each other on a lock file.
pub fn venv(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = py_dir();
    let mut pins = std::fs::read(dir.join("requirements.txt"))?;
    pins.extend(std::fs::read(dir.join("constraints.txt"))?);
    let key =
        pins.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    std::fs::create_dir_all(root)?;
    let venv = root.join(format!("plyr-clients-venv-{key:016x}"));
    let lock = std::fs::File::create(venv.with_extension("lock"))?;
    lock.lock().context("locking the virtualenv")?;
    let stamp = venv.join(".installed");
    if stamp.exists() {
        return Ok(venv);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)?;
    }
    let started = Instant::now();
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    run(
        Command::new(venv.join("bin").join("python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(dir.join("requirements.txt"))
            .arg("-c")
            .arg(dir.join("constraints.txt")),
        "pip install the pinned clients",
    )?;
    std::fs::write(&stamp, b"")?;
    println!("installed the Python clients in {:.1?}", started.elapsed());
    Ok(venv)
}
