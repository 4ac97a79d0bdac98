//! Talking to the lifeguard API: the only module that knows URLs.
//!
//! Each request carries an abort signal; dropping the request's future (its view went away, or a
//! newer request replaced it) aborts the fetch instead of letting it finish unseen.

use std::fmt;

use gloo_net::http::Request;
use lifeguard_shared::error::ErrorBody;
use lifeguard_shared::health::ProbeReport;
use serde::de::DeserializeOwned;

/// Why an API call gave no data, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// No answer at all: the console is down or the network is.
    Unreachable(String),
    /// The API answered with an error body.
    Api { status: u16, body: ErrorBody },
    /// The API answered something this page does not understand (version mismatch?).
    Unexpected(String),
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(detail) => write!(
                f,
                "The lifeguard console does not answer — is it running? ({detail})"
            ),
            Self::Api { body, .. } => write!(f, "{}", body.message),
            Self::Unexpected(detail) => {
                write!(
                    f,
                    "The console sent an answer this page cannot read: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for ApiFailure {}

/// Measures the target now (`GET /api/probe`).
pub async fn probe() -> Result<ProbeReport, ApiFailure> {
    get_json("/api/probe").await
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiFailure> {
    let abort = AbortOnDrop::new();
    let response = Request::get(url)
        .abort_signal(abort.signal().as_ref())
        .send()
        .await
        .map_err(|e| ApiFailure::Unreachable(e.to_string()))?;
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|e| ApiFailure::Unexpected(e.to_string()));
    }
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiFailure::Api { status, body }),
        Err(_) => Err(ApiFailure::Unexpected(format!(
            "HTTP {status} {}",
            response.status_text()
        ))),
    }
}

/// Aborts its fetch when dropped before the fetch completed.
struct AbortOnDrop(Option<web_sys::AbortController>);

impl AbortOnDrop {
    fn new() -> Self {
        Self(web_sys::AbortController::new().ok())
    }

    fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.0.as_ref().map(web_sys::AbortController::signal)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.0 {
            controller.abort();
        }
    }
}
