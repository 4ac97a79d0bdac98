//! The API's one error type: the only place that maps failures to HTTP statuses.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lifeguard_shared::error::ErrorBody;
use lifeguard_shared::invalid::Invalid;

use crate::probe::ProbeError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// Every way an API call can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that breaks a rule: 422, naming the field and the rule.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is larger than the {0} bytes allowed")]
    TooLarge(usize),
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    TargetUnreachable(#[from] ProbeError),
    #[error("the results store failed: {0}")]
    Store(#[from] StoreError),
}

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(invalid) => invalid.into(),
            ServiceError::NotFound(message) => Self::NotFound(message),
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::QueueFull(_) => Self::Busy(error.to_string()),
            ServiceError::Store(store) => store.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => Self::Invalid(error.body_text()),
            JsonRejection::JsonSyntaxError(error) => Self::BadRequest(error.body_text()),
            JsonRejection::MissingJsonContentType(error) => Self::BadRequest(error.body_text()),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge(BODY_LIMIT),
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Invalid(rejection.body_text())
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            Self::TargetUnreachable(_) => (StatusCode::BAD_GATEWAY, "target_unreachable"),
            Self::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = error_chain(&self);
        if status.is_server_error() {
            tracing::warn!(code, %message, "API error");
        }
        let body = ErrorBody {
            code: code.to_owned(),
            message,
        };
        (status, Json(body)).into_response()
    }
}

/// The error and its causes, joined: "connecting to target `sandbox`: error connecting to server: …".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
