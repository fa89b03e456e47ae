//! The accept loop. `axum::serve` has neither a header-read timeout nor a connection cap, so a
//! client that opens connections and sends nothing (or half a request line) could hold file
//! descriptors and memory for ever. Here every connection holds one of `max_connections`
//! permits (with none free, new clients wait in the kernel's listen backlog: no descriptor is
//! taken for them), and hyper closes a connection whose request head does not arrive within
//! the header-read timeout, which also bounds an idle keep-alive connection (its next request
//! head is read under the same timer).
//!
//! HTTP/1.1 only: the cleartext HTTP/2 preface detection of hyper-util's auto builder reads
//! without a timeout, and a public AppView sits behind a TLS proxy that speaks HTTP/2 itself.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::Service;

use super::limits::MAX_HEAD_BYTES;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request head (and an idle keep-alive connection stays).
    pub header_read_timeout: Duration,
    /// Time in-flight requests get to finish after shutdown is asked.
    pub grace: Duration,
}

/// Serves `app` on `listener` until `shutdown`, then lets open requests finish for `grace`.
pub async fn run(listener: TcpListener, app: Router, limits: ConnLimits, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of descriptors (the cap is above the process limit) or a connection
                    // reset before it was accepted: wait a little rather than spin.
                    metrics::counter!("appview_accept_errors_total").increment(1);
                    tracing::debug!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            // A Router is always ready: no `poll_ready` needed.
            app.clone().call(req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        metrics::gauge!("appview_open_connections").increment(1.0);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                // Header-read timeouts, resets, malformed requests: the client's doing.
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
            metrics::gauge!("appview_open_connections").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown()).await.is_err() {
        tracing::info!("grace period over; closing the remaining connections");
    }
}
