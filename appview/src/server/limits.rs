//! The edge of every request, before routing decides anything: size limits on the URL, the
//! headers and the body, NUL characters in the path or query (PostgreSQL cannot hold them in
//! text, so they are refused once here rather than failing deep in a handler), and a JSON body
//! for every error answer no handler wrote (unknown routes, 405, extractor rejections, 413,
//! 429, timeouts): XRPC's `{"error", "message"}` under `/xrpc`, plyr.fm's `{"detail"}` elsewhere.
//!
//! Client mistakes are counted in `appview_http_rejected_total{reason}` and logged at debug at
//! most, so no request can choose how much the service logs.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::XrpcError;
use crate::rest::RestError;

/// Longest request target (path and query) served; longer is a 414. Far above any real call
/// (25 AT-URIs in `getTracks` take about 3 KiB).
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// Most bytes of header names and values served; more is a 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's read buffer, which bounds a request head: a head larger than this is refused by
/// hyper itself (a 431 without a body), before any of the checks here.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body (`POST /artists/batch`); larger is a 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Which error shape a path answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/xrpc/...`: `{"error", "message"}`.
    Xrpc,
    /// Everything else: `{"detail"}`.
    Rest,
}

impl Surface {
    pub fn of(path: &str) -> Self {
        if path == "/xrpc" || path.starts_with("/xrpc/") { Self::Xrpc } else { Self::Rest }
    }
}

/// The middleware: refuses what breaks a limit, then gives a JSON body to any bare error.
pub async fn guard(req: Request, next: Next) -> Response {
    let surface = Surface::of(req.uri().path());
    if let Some(refused) = refuse(req.uri(), req.headers(), surface) {
        return refused;
    }
    json_errors(next.run(req).await, surface).await
}

fn refuse(uri: &Uri, headers: &HeaderMap, surface: Surface) -> Option<Response> {
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(rejected("uri_too_long", StatusCode::URI_TOO_LONG, surface, || {
            format!("the URL is longer than {MAX_URI_BYTES} bytes")
        }));
    }
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(rejected(
            "headers_too_large",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            surface,
            || format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        ));
    }
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(rejected("body_too_large", StatusCode::PAYLOAD_TOO_LARGE, surface, || {
            format!("the request body is larger than {MAX_BODY_BYTES} bytes")
        }));
    }
    if has_nul(uri.path()) {
        metrics::counter!("appview_http_rejected_total", "reason" => "nul").increment(1);
        tracing::debug!(path = uri.path(), "NUL in the request path");
        return Some(match surface {
            Surface::Xrpc => {
                XrpcError::InvalidRequest("the path contains a NUL character".into()).into_response()
            }
            Surface::Rest => RestError::NotFound("Not Found".into()).into_response(),
        });
    }
    let query = uri.query().unwrap_or_default();
    if has_nul(query) {
        let (name, value) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .unwrap_or_default();
        metrics::counter!("appview_http_rejected_total", "reason" => "nul").increment(1);
        tracing::debug!(parameter = %name.escape_debug(), "NUL in a query parameter");
        return Some(match surface {
            Surface::Xrpc => XrpcError::InvalidRequest(format!(
                "parameter {} contains a NUL character",
                name.escape_debug()
            ))
            .into_response(),
            Surface::Rest => RestError::invalid(
                "query",
                &name,
                "string_pattern_mismatch",
                "String should not contain NUL characters",
                value,
            )
            .into_response(),
        });
    }
    None
}

/// Whether a percent-encoded path or query decodes to a NUL (`%00`; a raw NUL cannot reach here,
/// the HTTP parser refuses it, and `%2500` decodes to the text `%00`, not a NUL).
fn has_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

fn rejected(
    reason: &'static str,
    status: StatusCode,
    surface: Surface,
    message: impl Fn() -> String,
) -> Response {
    metrics::counter!("appview_http_rejected_total", "reason" => reason).increment(1);
    tracing::debug!(reason, "request refused");
    error_response(status, surface, &message())
}

/// A JSON error answer in `surface`'s shape.
pub fn error_response(status: StatusCode, surface: Surface, message: &str) -> Response {
    let body = match surface {
        Surface::Xrpc => json!({ "error": xrpc_name(status), "message": message }),
        Surface::Rest => json!({ "detail": message }),
    };
    (status, axum::Json(body)).into_response()
}

/// The XRPC error name for a status no handler named.
fn xrpc_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "AuthRequired",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        StatusCode::TOO_MANY_REQUESTS => "RateLimitExceeded",
        StatusCode::NOT_IMPLEMENTED => "MethodNotImplemented",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        StatusCode::GATEWAY_TIMEOUT => "UpstreamTimeout",
        s if s.is_client_error() => "InvalidRequest",
        _ => "InternalServerError",
    }
}

fn rejection_reason(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "timeout",
        s if s.is_client_error() => "bad_request",
        _ => "server_error",
    }
}

/// Gives an error answer without a JSON body (written by axum, a tower layer or the rate
/// limiter) one in `surface`'s shape, keeping its status and headers (`Allow`, `Retry-After`,
/// CORS). A short plain-text body becomes the message.
async fn json_errors(res: Response, surface: Surface) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    metrics::counter!("appview_http_rejected_total", "reason" => rejection_reason(status)).increment(1);
    let (mut parts, body) = res.into_parts();
    let plain = parts.headers.get(header::CONTENT_ENCODING).is_none()
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
    let text = if plain {
        to_bytes(body, 1024).await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok())
    } else {
        None
    };
    let message = match text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ if status == StatusCode::SERVICE_UNAVAILABLE => "the request took too long".to_owned(),
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    tracing::debug!(status = status.as_u16(), %message, "error answer without a body");
    for h in [header::CONTENT_LENGTH, header::CONTENT_ENCODING, header::CONTENT_TYPE] {
        parts.headers.remove(h);
    }
    let body: Value = match surface {
        Surface::Xrpc => json!({ "error": xrpc_name(status), "message": message }),
        Surface::Rest => json!({ "detail": message }),
    };
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_only_where_it_decodes_to_one() {
        for (raw, nul) in
            [("/audio/%00", true), ("q=ab%00", true), ("q=%2500", false), ("q=a%0a", false), ("", false)]
        {
            assert_eq!(has_nul(raw), nul, "{raw}");
        }
    }

    #[test]
    fn surfaces_follow_the_path() {
        assert_eq!(Surface::of("/xrpc/"), Surface::Xrpc);
        assert_eq!(Surface::of("/xrpc"), Surface::Xrpc);
        assert_eq!(Surface::of("/xrpcx"), Surface::Rest);
        assert_eq!(Surface::of("/tracks/"), Surface::Rest);
    }
}
