//! Scheduled regression runs: each schedule, when it fires next and how its recent firings
//! compared with its baseline.

use axum::{Extension, Json};
use lifeguard_shared::schedule::ScheduleStatus;

use super::ApiError;
use super::access::Caller;
use crate::schedule::Scheduler;
use crate::store::now_ms;

/// `GET /api/schedules`. The console adds its [`Scheduler`] to the router; a router built
/// without one (no console) has no schedules.
pub async fn list(
    caller: Caller,
    scheduler: Option<Extension<Scheduler>>,
) -> Result<Json<Vec<ScheduleStatus>>, ApiError> {
    caller.viewer()?;
    match scheduler {
        Some(Extension(scheduler)) => Ok(Json(scheduler.statuses(now_ms()).await?)),
        None => Ok(Json(Vec::new())),
    }
}
