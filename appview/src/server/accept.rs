//! The accept loop. `axum::serve` has neither a header-read timeout nor a connection cap, so a
//! client that opens connections and sends nothing (or half a request line) could hold file
//! descriptors and memory for ever. Here every connection holds one of `max_connections`
//! permits (with none free, new clients wait in the kernel's listen backlog: no descriptor is
//! taken for them), and a connection whose first byte does not arrive within the header-read
//! timeout is closed before hyper allocates anything for it; hyper then closes one whose request
//! head does not arrive within the same timeout, which also bounds an idle keep-alive connection
//! (its next request head is read under the same timer). A client that sends one byte just
//! before the first timer ends can so hold a connection for up to twice the timeout.
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
        let (http, watcher, shutdown) = (http.clone(), graceful.watcher(), shutdown.clone());
        let first_byte = limits.header_read_timeout;
        metrics::gauge!("appview_open_connections").increment(1.0);
        tokio::spawn(async move {
            // Until its first byte a connection is a socket and this task (about 1 KiB): hyper
            // allocates 16 KiB of buffers per connection as it starts, which 10,000 clients that
            // connect and send nothing would otherwise hold, touching more of them as they churn.
            // The same timeout as for the head applies to the wait.
            let mut first = [0u8; 1];
            let arrived = tokio::select! {
                // `peek`, not `readable`: readiness can be reported before any byte is there.
                peeked = tokio::time::timeout(first_byte, stream.peek(&mut first)) => matches!(peeked, Ok(Ok(n)) if n > 0),
                () = shutdown.cancelled() => false,
            };
            if arrived {
                // Boxed, so a waiting task does not reserve room for hyper's connection state.
                let conn = Box::pin(watcher.watch(http.serve_connection(TokioIo::new(stream), service)));
                if let Err(err) = conn.await {
                    // Header-read timeouts, resets, malformed requests: the client's doing.
                    tracing::debug!(%err, %peer, "connection ended with an error");
                }
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
