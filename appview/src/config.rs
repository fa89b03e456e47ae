//! AppView configuration: parsed once at startup from flags and environment variables.

use std::net::SocketAddr;

use clap::Args;

/// How the AppView serves (flags; each also reads the environment variable shown in `--help`).
#[derive(Debug, Clone, Args)]
pub struct AppviewOptions {
    /// Address the HTTP server listens on.
    #[arg(long = "listen", env = "PLYR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Public base URL of this AppView (used in did.json and in links it hands out).
    /// Defaults to http://<listen address>.
    #[arg(long, env = "PLYR_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Maximum database connections this process opens for reads.
    #[arg(
        id = "appview_db_connections",
        long = "appview-db-connections",
        env = "PLYR_APPVIEW_DB_CONNECTIONS",
        default_value_t = 16
    )]
    pub db_connections: u32,

    /// Seconds a request may take before it is answered with 503.
    #[arg(long, env = "PLYR_REQUEST_TIMEOUT_SECS", default_value_t = 10)]
    pub request_timeout_secs: u64,
}

impl AppviewOptions {
    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}
