//! A private PostgreSQL cluster run from the machine's `initdb`/`pg_ctl`, for machines with no
//! server. PostgreSQL refuses to run as root, so as root the commands run as the `postgres` user
//! (via `runuser`) and the data folder is handed to that user.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::postgres::PgConnectOptions;
use tokio::process::Command;

use crate::StoreError;

/// A cluster in `dir`, listening on 127.0.0.1 and a Unix socket inside `dir`.
#[derive(Debug)]
pub struct LocalCluster {
    dir: PathBuf,
    port: u16,
    run_as: Option<String>,
}

impl LocalCluster {
    /// Initialises `dir` on first use, then starts the server unless it is already running.
    pub async fn start(dir: &Path) -> Result<Self, StoreError> {
        let run_as = running_as_root().then(|| "postgres".to_owned());
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let port = match std::fs::read_to_string(dir.join("port")) {
            Ok(p) => p
                .trim()
                .parse()
                .map_err(|_| StoreError::Url(format!("bad port file in {}", dir.display())))?,
            Err(_) => {
                let port = free_port()?;
                std::fs::write(dir.join("port"), port.to_string())?;
                port
            }
        };
        let cluster = Self { dir, port, run_as };
        if let Some(user) = &cluster.run_as {
            chown_to(&cluster.dir, user).await?;
        }
        if !cluster.data().join("PG_VERSION").exists() {
            cluster
                .pg(
                    "initdb",
                    &[
                        "-D",
                        path_str(&cluster.data())?,
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--no-instructions",
                    ],
                )
                .await?;
        }
        if cluster.pg("pg_ctl", &["status", "-D", path_str(&cluster.data())?]).await.is_err() {
            let opts =
                format!("-c listen_addresses=127.0.0.1 -p {} -k {}", cluster.port, path_str(&cluster.dir)?);
            let log = cluster.dir.join("postgres.log");
            cluster
                .pg(
                    "pg_ctl",
                    &[
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        path_str(&cluster.data())?,
                        "-l",
                        path_str(&log)?,
                        "-o",
                        &opts,
                    ],
                )
                .await?;
        }
        Ok(cluster)
    }

    /// Stops the server (fast shutdown). The data stays for next time.
    pub async fn stop(&self) -> Result<(), StoreError> {
        self.pg("pg_ctl", &["stop", "-m", "fast", "-D", path_str(&self.data())?]).await
    }

    /// The folder holding the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Options for the `postgres` maintenance database.
    pub fn admin_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().host("127.0.0.1").port(self.port).username("postgres").database("postgres")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    async fn pg(&self, tool: &str, args: &[&str]) -> Result<(), StoreError> {
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", tool]);
                c
            }
            None => Command::new(tool),
        };
        let out = cmd.args(args).stdin(Stdio::null()).output().await.map_err(|e| StoreError::Command {
            command: tool.to_owned(),
            detail: format!("could not run it ({e}); is PostgreSQL installed?"),
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(StoreError::Command {
                command: format!("{tool} {}", args.first().copied().unwrap_or_default()),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Hands `dir` and the port file written in it to `user`, who creates everything else there
/// (`initdb`, the server's log). Not recursive: other processes start the same cluster while its
/// server creates and removes files under `data`, which a recursive `chown` trips over.
async fn chown_to(dir: &Path, user: &str) -> Result<(), StoreError> {
    let out = Command::new("chown").arg(user).arg(dir).arg(dir.join("port")).output().await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(StoreError::Command {
            command: "chown".into(),
            detail: String::from_utf8_lossy(&out.stderr).into(),
        })
    }
}

fn free_port() -> Result<u16, StoreError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_str(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::Url(format!("non-UTF-8 path {}", path.display())))
}
