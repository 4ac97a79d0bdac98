//! Sizings: start a sweep, read it as far as it got, cancel it.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use lifeguard_shared::sizing::{SizingDetail, SizingRequest};

use super::access::Caller;
use super::extract::ApiJson;
use super::{ApiError, AppState};

/// `POST /api/sizings`: 202 with the sizing's id; 422 naming the rule or limit it breaks (a sweep
/// that could need more runs than `max_points` is refused before any run).
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<SizingRequest>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let id = state.sizings().start(request).await?;
    let location = format!("/api/sizings/{id}");
    Ok(super::accepted(id, Some(location)))
}

/// `GET /api/sizings/{id}`: the sizing as far as it got (every measured point), its state.
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SizingDetail>, ApiError> {
    caller.viewer()?;
    Ok(Json(state.sizings().detail(&id).await?))
}

/// `POST /api/sizings/{id}/cancel`: stops the sweep (the point running is cancelled); 202.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    state.sizings().cancel(&id).await?;
    Ok(super::accepted(id, None))
}
