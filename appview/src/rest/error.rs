//! Errors in plyr.fm's (FastAPI's) shape: `{"detail": "..."}` with the status, and 422 with
//! FastAPI's list of validation errors for parameters that do not parse or are out of range.
//! Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::XrpcError;

/// One FastAPI validation error (`{"type", "loc", "msg", "input"}`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Invalid {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `["query", name]` or `["path", name]`.
    pub loc: [String; 2],
    pub msg: String,
    pub input: serde_json::Value,
}

/// An error answer of the REST surface.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// 400 with a message (e.g. `invalid cursor format`).
    #[error("{0}")]
    BadRequest(String),
    /// 401 (e.g. a supporter-gated track asked for anonymously).
    #[error("{0}")]
    Unauthorized(String),
    /// 403 (e.g. downloading a gated track).
    #[error("{0}")]
    Forbidden(String),
    /// 404 with plyr.fm's message (`track not found`, ...).
    #[error("{0}")]
    NotFound(String),
    /// 413: a request body over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 422: parameters that do not validate.
    #[error("invalid parameters")]
    Unprocessable(Vec<Invalid>),
    /// 501 (oEmbed formats other than json).
    #[error("{0}")]
    NotImplemented(String),
    /// 503: the database is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RestError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// A 422 for one parameter.
    pub fn invalid(
        place: &str,
        name: &str,
        kind: &'static str,
        msg: impl Into<String>,
        input: impl Into<serde_json::Value>,
    ) -> Self {
        Self::Unprocessable(vec![Invalid {
            kind,
            loc: [place.to_owned(), name.to_owned()],
            msg: msg.into(),
            input: input.into(),
        }])
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = match self {
            Self::Unprocessable(errors) => json!({ "detail": errors }),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error while serving a REST request");
                json!({ "detail": "Internal Server Error" })
            }
            other => json!({ "detail": other.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}

impl From<sqlx::Error> for RestError {
    fn from(err: sqlx::Error) -> Self {
        XrpcError::from(err).into()
    }
}

/// Hydration and the shared read path report `XrpcError`s; at this edge they keep their status
/// class (503 stays 503, 404 stays 404, a bad request stays 400, everything else is a 500).
impl From<XrpcError> for RestError {
    fn from(err: XrpcError) -> Self {
        match err {
            XrpcError::Unavailable(m) => Self::Unavailable(m),
            XrpcError::NotFound(m) => Self::NotFound(m),
            XrpcError::InvalidRequest(m) => Self::BadRequest(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::hydrate::HydrateError> for RestError {
    fn from(err: crate::hydrate::HydrateError) -> Self {
        err.0.into()
    }
}
