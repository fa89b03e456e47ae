//! Debian packages a test needs and installs itself on first use (`promtool`, Chromium):
//! `apt-get install` as root, else through `sudo -n`; the package lists are fetched only when
//! the first attempt fails.

use std::process::Command;

/// Installs `package` (no recommends).
pub fn install(package: &str) -> anyhow::Result<()> {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            cmd.args(["-n", "apt-get"]);
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        crate::python::run(&mut cmd, &format!("apt-get {}", args.join(" ")))
    };
    let install = ["install", "-y", "--no-install-recommends", package];
    if apt(&install).is_err() {
        apt(&["update"])?;
        apt(&install)?;
    }
    Ok(())
}
