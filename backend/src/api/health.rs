//! `GET /api/health` and `GET /api/probe`.

use axum::Json;
use axum::extract::State;
use lifeguard_shared::health::{Health, ProbeReport};

use super::{ApiError, AppState};

/// The console is up.
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Measures the target now.
pub async fn probe(State(state): State<AppState>) -> Result<Json<ProbeReport>, ApiError> {
    let inner = &state.inner;
    Ok(Json(
        crate::probe::probe(&inner.target_name, &inner.target).await?,
    ))
}
