//! Runs: trigger, list, read, cancel, follow live (Server-Sent Events), chart data, exports.

use std::convert::Infallible;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use lifeguard_shared::event::RunEvent;
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::report::RunState;
use lifeguard_shared::run::{
    DeployPhase, LatencyDistribution, RunDetail, RunPage, RunRequest, Series,
};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::access::{Caller, Scope};
use super::extract::{ApiJson, ApiQuery};
use super::{ApiError, AppState};
use crate::stats::{distribution, series};
use crate::store::{RunFilter, StoredEvent};

/// Most runs one page lists.
const MAX_PAGE: u64 = 500;

/// `POST /api/runs`: 202 with the queued run's id.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RunRequest>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let id = state.service().submit(request).await?;
    let location = format!("/api/runs/{id}");
    Ok(super::accepted(id, Some(location)))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    target: Option<String>,
    environment: Option<String>,
    phase: Option<String>,
    state: Option<String>,
    offset: Option<u64>,
    limit: Option<u64>,
}

fn parse_state(value: &str) -> Result<RunState, Invalid> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        Invalid::new(
            "state",
            format!(
                "must be queued, running, passed, failed, aborted or interrupted, got `{value}`"
            ),
        )
    })
}

/// `GET /api/runs?target=&environment=&phase=&state=&offset=&limit=`: newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RunPage>, ApiError> {
    caller.viewer()?;
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Invalid::new(
            "limit",
            format!("must be between 1 and {MAX_PAGE}, got {limit}"),
        )
        .into());
    }
    let filter = RunFilter {
        target: query.target,
        environment: query.environment,
        phase: query
            .phase
            .as_deref()
            .map(|p| DeployPhase::parse("phase", p))
            .transpose()?,
        state: query.state.as_deref().map(parse_state).transpose()?,
        offset: query.offset.unwrap_or(0),
        limit,
    };
    Ok(Json(state.service().store().list_runs(&filter).await?))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<RunDetail, ApiError> {
    caller.reader_of(&Scope::Run { id: id.to_owned() })?;
    state
        .service()
        .store()
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run `{id}`")))
}

/// `GET /api/runs/{id}`: labels, state and (once finished) the report without its series.
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(find(&state, &caller, &id).await?))
}

/// `POST /api/runs/{id}/cancel`: 202; the run ends `aborted` with what it measured.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    state.service().cancel(&id).await?;
    Ok(super::accepted(id, None))
}

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    max_points: Option<usize>,
}

/// `GET /api/runs/{id}/series?max_points=600`: per-second rows, downsampled for long runs.
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Json<Series>, ApiError> {
    find(&state, &caller, &id).await?;
    let max_points = query.max_points.unwrap_or(600);
    if !(10..=10_000).contains(&max_points) {
        return Err(Invalid::new(
            "max_points",
            format!("must be between 10 and 10000, got {max_points}"),
        )
        .into());
    }
    let store = state.service().store();
    // A short run's buckets show its sub-second scenarios; a long run is charted by its seconds.
    Ok(Json(match store.buckets(&id).await? {
        Some(buckets) => series::downsample(&buckets.points, buckets.resolution_ms, max_points),
        None => series::downsample(&store.series(&id).await?, 1000, max_points),
    }))
}

/// `GET /api/runs/{id}/histograms`: each phase's latency percentile curve.
pub async fn histograms(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LatencyDistribution>, ApiError> {
    find(&state, &caller, &id).await?;
    let seconds = state.service().store().histograms(&id).await?;
    Ok(Json(LatencyDistribution {
        phases: distribution::by_phase(&seconds),
    }))
}

fn sse_event(event: &StoredEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.clone())
        .data(event.data.clone())
}

/// The last event sent to a follower: replayed and live events are sent once each, in order.
struct Cursor {
    sent: Option<u64>,
}

impl Cursor {
    fn next(&mut self, event: &StoredEvent) -> Option<Event> {
        let fresh = self.sent.is_none_or(|s| event.seq > s);
        if fresh {
            self.sent = Some(event.seq);
        }
        fresh.then(|| sse_event(event))
    }
}

/// `GET /api/runs/{id}/events`: Server-Sent Events — `state`, `phase`, `progress` (each second),
/// `verdict` (last). Replays what was missed after `Last-Event-ID`, then follows live.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    find(&state, &caller, &id).await?;
    // Held by the response stream: freed when the reader leaves or the stream ends.
    let permit = state.streams().open(&id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Follow before reading the log, so nothing falls between the two (duplicates are skipped).
    let live = state.service().follow(&id);
    let store = state.service().store().clone();
    let replay = store.events_after(&id, after).await?;
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut cursor = Cursor { sent: after };
        for event in &replay {
            if let Some(message) = cursor.next(event)
                && sender.send(message).await.is_err()
            {
                return;
            }
        }
        let Some(mut live) = live else {
            return;
        };
        loop {
            match live.recv().await {
                Ok(event) => {
                    let last = RunEvent::is_last_kind(&event.kind);
                    if let Some(message) = cursor.next(&event)
                        && sender.send(message).await.is_err()
                    {
                        return;
                    }
                    if last {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow for the live feed: catch up from the log.
                    let Ok(missed) = store.events_after(&id, cursor.sent).await else {
                        return;
                    };
                    for event in &missed {
                        if let Some(message) = cursor.next(event)
                            && sender.send(message).await.is_err()
                        {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let stream = ReceiverStream::new(receiver).map(move |event| {
        let _open = &permit;
        Ok(event)
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

/// `GET /api/runs/{id}/export?format=json|csv`: the whole report with its series as JSON, or the
/// per-second series as CSV.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let mut detail = find(&state, &caller, &id).await?;
    let seconds = state.service().store().series(&id).await?;
    let buckets = state.service().store().buckets(&id).await?;
    let attachment =
        |extension: &str| format!("attachment; filename=\"lifeguard-run-{id}.{extension}\"");
    match query.format.as_deref().unwrap_or("json") {
        "json" => {
            if let Some(report) = detail.report.as_mut() {
                report.series = seconds;
                report.buckets = buckets;
            }
            let mut response = Json(&detail).into_response();
            if let Ok(value) = HeaderValue::from_str(&attachment("json")) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            Ok(response)
        }
        "csv" => {
            let mut csv = String::from(
                "t,phase,requests,errors,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,\
                 acquire_wait_p95_ms,checked_out,idle,overflow,waiters,connections_created,\
                 connections_closed,timeouts,exhaustion_events,server_backends,idle_in_transaction\n",
            );
            for s in &seconds {
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    s.t,
                    s.phase.replace(',', " "),
                    s.requests,
                    s.errors,
                    s.latency_p50_ms,
                    s.latency_p95_ms,
                    s.latency_p99_ms,
                    s.latency_max_ms,
                    s.acquire_wait_p95_ms,
                    s.checked_out,
                    s.idle,
                    s.overflow,
                    s.waiters,
                    s.connections_created,
                    s.connections_closed,
                    s.timeouts,
                    s.exhaustion_events,
                    s.server_backends,
                    s.idle_in_transaction
                );
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, attachment("csv")),
                ],
                csv,
            )
                .into_response())
        }
        other => Err(Invalid::new("format", format!("must be json or csv, got `{other}`")).into()),
    }
}
