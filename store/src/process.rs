//! Process setup every binary of this workspace shares (`indexer`, `appview`, `plyr`): the TLS
//! crypto provider, logging, and shutdown on SIGINT or SIGTERM.

use tokio_util::sync::CancellationToken;

/// Installs the process-wide TLS crypto provider (wss:// streams, https identity lookups and PDS
/// calls all use rustls) and the log subscriber: `RUST_LOG` if set and valid, else `info`;
/// coloured only on a terminal (and without `NO_COLOR`), so files and log collectors get
/// plain text.
pub fn init() {
    // Fails only if a provider is already installed, which is then the one in use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
    // A closed stdout (a pipe whose reader left) must not stop the process: reporting a failed
    // write goes to stderr with `eprintln!`, which panics the logging task when that is closed
    // too (a task that never then cancels the shutdown token, say).
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).log_internal_errors(false).init();
}

/// Cancels `token` on SIGINT or SIGTERM (on SIGINT only where SIGTERM cannot be watched).
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
    tracing::info!("shutdown requested");
}
