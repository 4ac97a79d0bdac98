//! Monitors: each target watched between tests with its level, latest sample and alerts; a
//! monitor's samples over a time range (raw where kept, one-minute min/mean/max before); the
//! alert history; deployments marked and judged by their traffic.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use lifeguard_shared::monitor::{
    Alert, Deployment, DeploymentComparison, DeploymentRequest, MonitorHistory, MonitorStatus,
};
use serde::Deserialize;

use super::access::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::{ApiError, AppState};
use crate::monitor::{Monitors, deployments};
use crate::store::now_ms;

/// `GET /api/monitors`. The console adds its [`Monitors`] to the router; a router built without
/// them has none.
pub async fn list(
    caller: Caller,
    monitors: Option<Extension<Monitors>>,
) -> Result<Json<Vec<MonitorStatus>>, ApiError> {
    caller.viewer()?;
    match monitors {
        Some(Extension(monitors)) => Ok(Json(monitors.statuses().await?)),
        None => Ok(Json(Vec::new())),
    }
}

/// A time range, milliseconds since the Unix epoch; the last 15 minutes by default.
#[derive(Debug, Deserialize)]
pub struct Range {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

/// `GET /api/monitors/{target}/samples?from_ms=&to_ms=`.
pub async fn samples(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<MonitorHistory>, ApiError> {
    caller.viewer()?;
    let to_ms = range.to_ms.unwrap_or_else(|| now_ms() + 1);
    let from_ms = range.from_ms.unwrap_or(to_ms.saturating_sub(15 * 60_000));
    if from_ms >= to_ms {
        return Err(ApiError::Invalid(format!(
            "`from_ms` must be before `to_ms`, got {from_ms} ≥ {to_ms}"
        )));
    }
    let store = state.service().store();
    Ok(Json(MonitorHistory {
        samples: store.monitor_samples(&target, from_ms, to_ms).await?,
        minutes: store.monitor_minutes(&target, from_ms, to_ms).await?,
        target,
        from_ms,
        to_ms,
    }))
}

/// A list's `limit`: 100 by default, 1 to 1,000.
fn list_limit(asked: Option<u32>) -> u32 {
    asked.unwrap_or(100).clamp(1, 1000)
}

/// `?target=&open=true&limit=`.
#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    target: Option<String>,
    #[serde(default)]
    open: bool,
    limit: Option<u32>,
}

/// `GET /api/alerts`: the alert history, newest first.
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    caller.viewer()?;
    let limit = list_limit(query.limit);
    Ok(Json(
        state
            .service()
            .store()
            .alerts(query.target.as_deref(), query.open, limit)
            .await?,
    ))
}

/// `POST /api/deployments` (operator): marks a deployment; `201` with it.
pub async fn mark_deployment(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<DeploymentRequest>,
) -> Result<(axum::http::StatusCode, Json<Deployment>), ApiError> {
    caller.operator()?;
    let deployment = deployments::mark(state.service(), request).await?;
    Ok((axum::http::StatusCode::CREATED, Json(deployment)))
}

/// `?target=&limit=`.
#[derive(Debug, Deserialize)]
pub struct DeploymentQuery {
    target: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/deployments`: newest first.
pub async fn deployments_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DeploymentQuery>,
) -> Result<Json<Vec<Deployment>>, ApiError> {
    caller.viewer()?;
    let limit = list_limit(query.limit);
    Ok(Json(
        state
            .service()
            .store()
            .deployments(query.target.as_deref(), limit)
            .await?,
    ))
}

/// `?window_s=`.
#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    window_s: Option<f64>,
}

/// `GET /api/deployments/{id}/comparison?window_s=1800`: the traffic after against before.
pub async fn deployment_comparison(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> Result<Json<DeploymentComparison>, ApiError> {
    caller.viewer()?;
    let window = match query.window_s {
        None => deployments::DEFAULT_WINDOW,
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 1e9 => {
            std::time::Duration::from_secs_f64(seconds)
        }
        Some(seconds) => {
            return Err(ApiError::Invalid(format!(
                "`window_s` must be a positive number of seconds, got {seconds}"
            )));
        }
    };
    Ok(Json(
        deployments::compare(state.service(), &id, window).await?,
    ))
}

/// `GET /api/monitors/{target}/live`: Server-Sent Events — `sample` (each sample as it is taken,
/// its id the sample's time in ms) and `alert` (an alert fired, changed level or resolved). A
/// reader that reconnects with `Last-Event-ID`, or falls behind the live feed, first gets what it
/// missed from the store: every alert standing or changed since its last sample, and the samples
/// after it; `lagged` when that is over ten minutes ago (or it had none): load the range again.
pub async fn live(
    caller: Caller,
    State(state): State<AppState>,
    monitors: Option<Extension<Monitors>>,
    Path(target): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<
    axum::response::sse::Sse<
        impl tokio_stream::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    use tokio_stream::StreamExt as _;

    use crate::monitor::watch::Live;

    caller.viewer()?;
    // Followed before the store is read, so nothing falls between the two.
    let (mut feed, stopping) = monitors
        .and_then(|Extension(m)| m.subscribe(&target))
        .ok_or_else(|| ApiError::NotFound(format!("no monitor of target `{target}`")))?;
    // Held by the response stream: freed when the reader leaves.
    let permit = state.streams().open(&format!("monitor:{target}"))?;
    let mut sent = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let store = state.service().store().clone();
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut missed = sent.is_some();
        loop {
            if missed {
                let Ok(events) = catch_up(&store, &target, &mut sent).await else {
                    return;
                };
                for event in events {
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
                missed = false;
            }
            let next = tokio::select! {
                () = stopping.cancelled() => return,
                next = feed.recv() => next,
            };
            let event = match next {
                Ok(Live::Sample(sample)) => match sample_event(&sample, &mut sent) {
                    Some(event) => event,
                    None => continue,
                },
                Ok(Live::Alert(alert)) => alert_event(&alert),
                Err(RecvError::Lagged(_)) => {
                    missed = true;
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if sender.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver).map(move |event| {
        let _open = &permit;
        Ok(event)
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A `sample` event, unless the reader already has it (`sent` is the last sample's time).
fn sample_event(
    sample: &lifeguard_shared::monitor::MonitorSample,
    sent: &mut Option<u64>,
) -> Option<axum::response::sse::Event> {
    if sent.is_some_and(|last| sample.at_ms <= last) {
        return None;
    }
    *sent = Some(sample.at_ms);
    Some(
        axum::response::sse::Event::default()
            .event("sample")
            .id(sample.at_ms.to_string())
            .data(serde_json::to_string(sample).unwrap_or_default()),
    )
}

fn alert_event(alert: &lifeguard_shared::monitor::Alert) -> axum::response::sse::Event {
    axum::response::sse::Event::default()
        .event("alert")
        .data(serde_json::to_string(alert).unwrap_or_default())
}

/// Longest gap a reader is caught up over; past it, it is told to load its range again.
const MOST_REPLAYED_MS: u64 = 10 * 60 * 1000;

/// What a reader whose last sample was at `sent` missed: every alert standing, fired or resolved
/// since (a reader updates alerts it has), then the stored samples after it — or, when that was
/// long ago or unknown, `lagged`: load the range again.
async fn catch_up(
    store: &crate::store::Store,
    target: &str,
    sent: &mut Option<u64>,
) -> Result<Vec<axum::response::sse::Event>, crate::store::StoreError> {
    let now = crate::store::now_ms();
    let Some(after) = sent.filter(|&after| after.saturating_add(MOST_REPLAYED_MS) >= now) else {
        return Ok(vec![
            axum::response::sse::Event::default()
                .event("lagged")
                .data("{}"),
        ]);
    };
    let alerts = store.alerts(Some(target), false, 100).await?;
    let changed = alerts.iter().rev().filter(|a| {
        a.fired_at_ms > after || a.resolved_at_ms.is_none_or(|resolved| resolved > after)
    });
    let mut events: Vec<_> = changed.map(alert_event).collect();
    let samples = store
        .monitor_samples(target, after.saturating_add(1), now + 60_000)
        .await?;
    events.extend(samples.iter().filter_map(|s| sample_event(s, sent)));
    Ok(events)
}
