//! Baselines: list, read, and point one at a run (operators).

use axum::Json;
use axum::extract::{Path, State};
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::run::{Baseline, SetBaseline};

use super::access::Caller;
use super::extract::ApiJson;
use super::{ApiError, AppState};

/// `GET /api/baselines`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Baseline>>, ApiError> {
    caller.viewer()?;
    Ok(Json(state.service().store().baselines().await?))
}

/// `GET /api/baselines/{name}`.
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Baseline>, ApiError> {
    caller.viewer()?;
    state
        .service()
        .store()
        .baseline(&name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no baseline `{name}`")))
}

/// A baseline name: 1 to 100 letters, digits, `.`, `_` or `-`.
pub fn check_name(name: &str) -> Result<(), Invalid> {
    let ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "name",
            format!("must be 1 to 100 letters, digits, `.`, `_` or `-`, got `{name}`"),
        ))
    }
}

/// `PUT /api/baselines/{name}` with `{run_id}`: the run must have finished with a report.
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SetBaseline>,
) -> Result<Json<Baseline>, ApiError> {
    caller.operator()?;
    check_name(&name)?;
    let store = state.service().store();
    let run = store
        .run(&body.run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run `{}`", body.run_id)))?;
    if run.report.is_none() {
        return Err(ApiError::Conflict(format!(
            "run `{}` has no report (it is {:?}); only a finished run can be a baseline",
            body.run_id, run.summary.state
        )));
    }
    Ok(Json(
        store.set_baseline(&name, &body.run_id, "operator").await?,
    ))
}
