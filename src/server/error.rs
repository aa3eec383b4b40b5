//! API errors: each maps to one status and a JSON body `{"error": kind, "message": text}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use thiserror::Error;

/// What an API call can answer instead of its result.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No or unknown token (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The token's role is too low (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing by that name (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with what is going on (409).
    #[error("{0}")]
    Conflict(String),
    /// Something failed on our side (500); the message is logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Status and machine-readable kind.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The response (for middleware that returns early).
    pub fn into_response_now(self) -> Response {
        self.into_response()
    }

    /// A server-side failure: logged in full, answered with a short message.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "API request failed");
        ApiError::Internal("internal error; see the server log".to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status();
        let mut response = (
            status,
            Json(json!({"error": kind, "message": self.to_string()})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<crate::views::ViewError> for ApiError {
    fn from(e: crate::views::ViewError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::master::steward::StewardError> for ApiError {
    fn from(e: crate::master::steward::StewardError) -> Self {
        use crate::master::steward::StewardError as E;
        match e {
            E::NotFound(m) => ApiError::NotFound(m),
            E::Refused(m) => ApiError::Conflict(m),
            other => ApiError::internal(other),
        }
    }
}
