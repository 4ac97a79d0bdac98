//! The API's one error type: the only place that maps failures to HTTP statuses.

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
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
    /// Too many runs waiting: 429, try again later.
    #[error("{0}")]
    Busy(String),
    /// Too many live streams: 503, try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// A request addressed to a name this console does not answer to (local mode): 421.
    #[error("{0}")]
    Misdirected(String),
    #[error("the request's address is longer than the {0} bytes allowed")]
    UriTooLong(usize),
    #[error(transparent)]
    TargetUnreachable(ProbeError),
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

impl From<ProbeError> for ApiError {
    fn from(error: ProbeError) -> Self {
        match error {
            ProbeError::NotPostgres { .. } => Self::Invalid(error.to_string()),
            unreachable => Self::TargetUnreachable(unreachable),
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
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Misdirected(_) => (StatusCode::MISDIRECTED_REQUEST, "misdirected"),
            Self::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long"),
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
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl ApiError {
    /// When a refused caller may try again, for the `Retry-After` header.
    fn retry_after_s(&self) -> Option<u32> {
        match self {
            Self::Busy(_) => Some(RETRY_BUSY_S),
            Self::Unavailable(_) => Some(RETRY_UNAVAILABLE_S),
            _ => None,
        }
    }
}

/// A full run queue drains as runs finish: a run of the built-in suites takes tens of seconds.
const RETRY_BUSY_S: u32 = 30;
/// Live streams end with their runs or when their readers leave.
const RETRY_UNAVAILABLE_S: u32 = 5;

/// The longest request address answered; longer ones are refused before routing (no view or API
/// call needs more: share links are about 200 bytes).
pub const URI_LIMIT: usize = 8 * 1024;

/// Middleware: refuses addresses over [`URI_LIMIT`] with `{code, message}`.
pub async fn limit_uri(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > URI_LIMIT {
        return ApiError::UriTooLong(URI_LIMIT).into_response();
    }
    next.run(request).await
}

/// Middleware: every error answer is `{code, message}`, also those axum, tower-http or the static
/// files produce in plain text (a malformed path, a wrong method on a file): their text becomes the
/// message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, URI_LIMIT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned()
    } else {
        text
    };
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    let mut response = (status, Json(ErrorBody { code, message })).into_response();
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
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
