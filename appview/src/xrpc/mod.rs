//! XRPC handlers, one file per method (named after the NSID), and the fallback for unknown ones.

pub mod health;

use axum::extract::Path;

use crate::XrpcError;

/// Any `/xrpc/<nsid>` this server does not implement.
pub async fn not_implemented(Path(nsid): Path<String>) -> XrpcError {
    XrpcError::MethodNotImplemented(format!("method {nsid} is not implemented by this service"))
}
