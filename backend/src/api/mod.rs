//! The HTTP surface: the JSON API under `/api`, the built frontend everywhere else.
//!
//! Handlers are thin: check who calls ([`access`]), parse ([`extract`]), call one domain function,
//! map the result. [`ApiError`] alone decides status codes and the `{code, message}` body.

pub mod access;
mod baselines;
mod catalog;
mod compare;
pub mod embedded;
mod error;
mod extract;
mod health;
mod history;
mod monitors;
mod openapi;
mod runs;
mod schedules;
mod sizings;
mod streams;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::compression::Compression;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use access::Access;
pub use baselines::check_name as check_baseline_name;
pub use error::{ApiError, BODY_LIMIT, URI_LIMIT};
pub use streams::StreamLimits;

use crate::service::RunService;
use crate::sizings::Sizings;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: RunService,
    sizings: Sizings,
    access: Access,
    streams: StreamLimits,
}

impl AppState {
    #[must_use]
    pub fn new(service: RunService, access: Access) -> Self {
        let rails = service.guard_rails();
        let streams = StreamLimits::new(rails.max_live_streams, rails.max_live_streams_per_run);
        Self {
            inner: Arc::new(Inner {
                sizings: Sizings::new(service.clone()),
                service,
                access,
                streams,
            }),
        }
    }

    #[must_use]
    pub fn streams(&self) -> &StreamLimits {
        &self.inner.streams
    }

    #[must_use]
    pub fn service(&self) -> &RunService {
        &self.inner.service
    }

    #[must_use]
    pub fn sizings(&self) -> &Sizings {
        &self.inner.sizings
    }

    #[must_use]
    pub fn access(&self) -> &Access {
        &self.inner.access
    }
}

/// `202 Accepted` with `{id}`, and `Location` when `location` names where to read what started.
fn accepted(id: String, location: Option<String>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut response = (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(lifeguard_shared::run::RunCreated { id }),
    )
        .into_response();
    if let Some(value) = location.and_then(|l| axum::http::HeaderValue::from_str(&l).ok()) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    response
}

/// The API routes (also listed in the OpenAPI document, which a test keeps in step).
fn api() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/probe", get(health::probe))
        .route("/me", get(catalog::me))
        .route("/targets", get(catalog::targets))
        .route("/suites", get(catalog::suites))
        .route("/profiles", get(catalog::profiles))
        .route("/runs", post(runs::create).get(runs::list))
        .route("/runs/{id}", get(runs::detail))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/runs/{id}/series", get(runs::series))
        .route("/runs/{id}/histograms", get(runs::histograms))
        .route("/runs/{id}/events", get(runs::events))
        .route("/runs/{id}/export", get(runs::export))
        .route("/baselines", get(baselines::list))
        .route("/baselines/{name}", get(baselines::one).put(baselines::set))
        .route("/compare", get(compare::compare))
        .route("/history", get(history::history))
        .route("/schedules", get(schedules::list))
        .route("/monitors", get(monitors::list))
        .route("/monitors/{target}/samples", get(monitors::samples))
        .route("/monitors/{target}/live", get(monitors::live))
        .route("/alerts", get(monitors::alerts))
        .route(
            "/deployments",
            get(monitors::deployments_list).post(monitors::mark_deployment),
        )
        .route(
            "/deployments/{id}/comparison",
            get(monitors::deployment_comparison),
        )
        .route("/sizings", post(sizings::create))
        .route("/sizings/{id}", get(sizings::detail))
        .route("/sizings/{id}/cancel", post(sizings::cancel))
        .route("/share", post(catalog::share))
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::NotFound("no such API route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::NotFound("this API route does not take that method".into())
        })
}

/// The whole application: API routes, then the single-page frontend: the build in
/// `frontend_dir` when one is given, else the one this binary carries ([`embedded`]). Any other
/// path answers its `index.html`, so a pasted deep link opens the right view.
pub fn router(state: AppState, frontend_dir: Option<&Path>, bound: SocketAddr) -> Router {
    let app = Router::new()
        .nest("/api", api())
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let app = match frontend_dir {
        Some(dir) if dir.join("index.html").is_file() => {
            // The wasm and scripts go out as the gzip -9 copies the build puts beside them
            // (Trunk.toml), the rest gzipped on the fly, for browsers that ask; the API stays
            // plain so Server-Sent Events are never held in a compressor's buffer.
            app.fallback_service(Compression::new(
                ServeDir::new(dir)
                    .precompressed_gzip()
                    .fallback(ServeFile::new(dir.join("index.html"))),
            ))
        }
        None if embedded::available() => {
            tracing::info!(
                files = embedded::files(),
                "serving the console this binary carries"
            );
            app.fallback(embedded::serve)
        }
        _ => {
            tracing::warn!(
                dir = %frontend_dir.unwrap_or(Path::new("(none)")).display(),
                "the frontend is not built here; run `trunk build --release` (the README's run command does)"
            );
            app.fallback(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The lifeguard frontend is not built: run `trunk build --release` from the repository root.",
                )
            })
        }
    };
    // Request spans name the URI with tokens and share links masked: they travel in the query
    // where browsers cannot set headers (`EventSource`, pasted links).
    let traced = TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
        tracing::debug_span!(
            "request",
            method = %request.method(),
            uri = %access::redacted(request.uri()),
            version = ?request.version(),
        )
    });
    let hosts = access::HostRule::new(state.access().local_mode(), bound);
    app.layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn_with_state(hosts, access::check_host))
        .layer(middleware::from_fn(error::limit_uri))
        .layer(traced)
        .with_state(state)
}
