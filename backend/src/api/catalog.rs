//! What a run can be made of, who is asking, and share links.

use axum::Json;
use axum::extract::State;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::{Me, ShareLink, ShareRequest, TargetInfo};
use lifeguard_shared::suite::Suite;

use super::access::{Caller, Scope};
use super::extract::ApiJson;
use super::{ApiError, AppState};
use crate::store::now_ms;

/// `GET /api/me`.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Json<Me> {
    Json(Me {
        role: caller.role_name().to_owned(),
        local_mode: state.access().local_mode(),
    })
}

/// `GET /api/targets`: names and where they are, never credentials.
pub async fn targets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TargetInfo>>, ApiError> {
    caller.viewer()?;
    Ok(Json(state.service().targets().infos()))
}

/// `GET /api/suites`.
pub async fn suites(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Suite>>, ApiError> {
    caller.viewer()?;
    Ok(Json(state.service().catalog().suites.clone()))
}

/// `GET /api/profiles`.
pub async fn profiles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PoolProfile>>, ApiError> {
    caller.viewer()?;
    Ok(Json(state.service().catalog().profiles.clone()))
}

/// `POST /api/share`: a signed, read-only link to one run or one comparison.
pub async fn share(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ShareRequest>,
) -> Result<Json<ShareLink>, ApiError> {
    caller.viewer()?;
    let store = state.service().store();
    let exists = |id: String| async move {
        match store.run(&id).await? {
            Some(_) => Ok(id),
            None => Err(ApiError::NotFound(format!("no run `{id}`"))),
        }
    };
    let (scope, path) = match (request.run, request.base, request.head) {
        (Some(run), None, None) => {
            let id = exists(run).await?;
            (Scope::Run { id: id.clone() }, format!("/runs/{id}"))
        }
        (None, Some(base), Some(head)) => {
            let base = exists(base).await?;
            let head = exists(head).await?;
            (
                Scope::Compare {
                    base: base.clone(),
                    head: head.clone(),
                },
                format!("/compare/{base}/{head}"),
            )
        }
        _ => {
            return Err(ApiError::Invalid(
                "`run` or both `base` and `head` must be given, not both".into(),
            ));
        }
    };
    let expires_at = request
        .expires_in_s
        .map(|s| now_ms().saturating_add(s.saturating_mul(1000)));
    let token = state.access().sign(scope, expires_at);
    Ok(Json(ShareLink {
        path: format!("{path}?share={token}"),
        token,
        expires_at,
    }))
}
