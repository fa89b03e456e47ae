//! The one error type at the HTTP edge: XRPC's `{"error": "Name", "message": "..."}` with the
//! matching status. Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::failure::Failure;

/// An XRPC error response.
#[derive(Debug, thiserror::Error)]
pub enum XrpcError {
    /// 400: the parameters do not satisfy the method's lexicon.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 with a method-specific error name from the lexicon (e.g. `ActorNotFound`).
    #[error("{name}: {message}")]
    Named { name: &'static str, message: String },
    /// 401: the method needs a viewer and no token was given.
    #[error("{0}")]
    AuthRequired(String),
    /// 401: a token was given and it is not valid.
    #[error("{0}")]
    InvalidToken(String),
    /// 404: the thing asked for does not exist (or is hidden).
    #[error("{0}")]
    NotFound(String),
    /// 501: no such method here.
    #[error("{0}")]
    MethodNotImplemented(String),
    /// 503: a dependency (the database) is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl XrpcError {
    /// The XRPC error name (`InvalidRequest`, `NotFound`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Named { name, .. } => name,
            other => other.parts().1,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "InvalidRequest"),
            Self::Named { name, .. } => (StatusCode::BAD_REQUEST, name),
            Self::AuthRequired(_) => (StatusCode::UNAUTHORIZED, "AuthRequired"),
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "InvalidToken"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            Self::MethodNotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "MethodNotImplemented"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        }
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let (status, name) = self.parts();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error while serving a request");
                "Internal Server Error".to_owned()
            }
            Self::Named { message, .. } => message.clone(),
            other => other.to_string(),
        };
        (status, Json(Body { error: name, message: &message })).into_response()
    }
}

impl From<sqlx::Error> for XrpcError {
    fn from(err: sqlx::Error) -> Self {
        Self::from_db(&err)
    }
}

impl XrpcError {
    /// What a database failure is at the edge: unavailable (503) while the database is away or
    /// a statement ran too long, a bad request for a value it cannot hold, else internal.
    pub fn from_db(err: &sqlx::Error) -> Self {
        match crate::db::failure::classify(err) {
            Failure::Unavailable => {
                tracing::debug!(error = %err, "database unavailable");
                metrics::counter!("appview_db_unavailable_total").increment(1);
                Self::Unavailable("database unavailable".into())
            }
            Failure::TooSlow => {
                metrics::counter!("appview_db_statement_timeouts_total").increment(1);
                Self::Unavailable("the query took too long".into())
            }
            Failure::Unstorable => {
                Self::InvalidRequest("a parameter holds characters that cannot be searched for".into())
            }
            Failure::Other => Self::Internal(err.to_string()),
        }
    }
}

impl From<crate::hydrate::HydrateError> for XrpcError {
    fn from(err: crate::hydrate::HydrateError) -> Self {
        err.0.into()
    }
}
