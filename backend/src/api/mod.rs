//! The HTTP surface: the JSON API under `/api`, the built frontend everywhere else.
//!
//! Handlers are thin: parse, call one domain function, map the result. [`ApiError`] alone decides
//! status codes and the `{code, message}` body.

mod error;
mod health;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The target's name as the API shows it.
    target_name: String,
    /// How to reach the target. Holds the password: never serialise it.
    target: tokio_postgres::Config,
}

impl AppState {
    /// State for a console validating one target.
    #[must_use]
    pub fn new(target_name: impl Into<String>, target: tokio_postgres::Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                target_name: target_name.into(),
                target,
            }),
        }
    }
}

/// The whole application: API routes, then the single-page frontend from `frontend_dir` (any other
/// path answers its `index.html`, so a pasted deep link opens the right view).
pub fn router(state: AppState, frontend_dir: &Path) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/probe", get(health::probe))
        .fallback(|| async { ApiError::NotFound("no such API route".into()) });
    let app = Router::new().nest("/api", api);
    let index = frontend_dir.join("index.html");
    let app = if index.is_file() {
        app.fallback_service(ServeDir::new(frontend_dir).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(
            dir = %frontend_dir.display(),
            "the frontend is not built here; run `trunk build --release` (the README's run command does)"
        );
        app.fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The lifeguard frontend is not built: run `trunk build --release` from the repository root.",
            )
        })
    };
    app.layer(TraceLayer::new_for_http()).with_state(state)
}
