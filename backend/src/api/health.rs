//! `GET /api/health` and `GET /api/probe`.

use axum::Json;
use axum::extract::State;
use lifeguard_shared::health::{Health, ProbeReport};
use serde::Deserialize;

use super::access::Caller;
use super::extract::ApiQuery;
use super::{ApiError, AppState};

/// The console is up.
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[derive(Debug, Deserialize)]
pub struct ProbeQuery {
    /// The target to measure; the sandbox (or the first target) when absent.
    target: Option<String>,
}

/// Measures a target now.
pub async fn probe(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ProbeQuery>,
) -> Result<Json<ProbeReport>, ApiError> {
    caller.viewer()?;
    let targets = state.service().targets();
    let name = query
        .target
        .or_else(|| targets.default_database().map(|t| t.name.clone()))
        .ok_or_else(|| ApiError::NotFound("no PostgreSQL target is configured".into()))?;
    let target = targets
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no target `{name}`")))?;
    Ok(Json(crate::probe::probe_target(target).await?))
}
