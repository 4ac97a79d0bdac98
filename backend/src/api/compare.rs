//! `GET /api/compare?base=ID&head=ID` or `?baseline=NAME&head=ID` (`&format=csv` for a table).

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lifeguard_shared::compare::{Comparison, RunRef};
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::run::RunDetail;
use serde::Deserialize;

use super::access::{Caller, Scope};
use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::stats::compare::{Side, compare as compare_runs};

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    base: Option<String>,
    baseline: Option<String>,
    head: Option<String>,
    format: Option<String>,
}

fn reference(run: &RunDetail) -> RunRef {
    RunRef {
        id: run.summary.id.clone(),
        suite: run.summary.suite.clone(),
        target: run.summary.target.clone(),
        profile: run.summary.profile.clone(),
        environment: run.summary.labels.environment.clone(),
        version: run.summary.labels.version.clone(),
    }
}

/// Resolves the query to two finished runs and compares them.
pub async fn comparison(
    state: &AppState,
    caller: &Caller,
    query: &CompareQuery,
) -> Result<Comparison, ApiError> {
    let store = state.service().store();
    let head = query
        .head
        .clone()
        .ok_or_else(|| Invalid::new("head", "is required (the run to judge)"))?;
    let (base, baseline) = match (&query.base, &query.baseline) {
        (Some(base), None) => (base.clone(), None),
        (None, Some(name)) => {
            let found = store
                .baseline(name)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no baseline `{name}`")))?;
            (found.run_id, Some(name.clone()))
        }
        _ => return Err(Invalid::new("base", "give exactly one of `base` and `baseline`").into()),
    };
    caller.reader_of(&Scope::Compare {
        base: base.clone(),
        head: head.clone(),
    })?;
    let load = |id: String| async move {
        let run = store
            .run(&id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no run `{id}`")))?;
        if run.report.is_none() {
            return Err(ApiError::Conflict(format!(
                "run `{id}` has no report to compare (it is {:?})",
                run.summary.state
            )));
        }
        let blocks = store.blocks(&id).await?;
        Ok((run, blocks))
    };
    let (base_run, base_blocks) = load(base).await?;
    let (head_run, head_blocks) = load(head).await?;
    let (Some(base_report), Some(head_report)) = (&base_run.report, &head_run.report) else {
        return Err(ApiError::Conflict("a run lost its report".into()));
    };
    Ok(compare_runs(
        &Side {
            reference: reference(&base_run),
            report: base_report,
            blocks: &base_blocks,
        },
        &Side {
            reference: reference(&head_run),
            report: head_report,
            blocks: &head_blocks,
        },
        baseline,
        state.compare_settings(),
    ))
}

/// `GET /api/compare`.
pub async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CompareQuery>,
) -> Result<Response, ApiError> {
    let comparison = comparison(&state, &caller, &query).await?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(comparison).into_response()),
        "csv" => {
            let mut csv =
                String::from("scenario,metric,base,head,delta,relative,p_value,verdict\n");
            let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let rows = comparison
                .scenarios
                .iter()
                .flat_map(|s| s.metrics.iter().map(move |m| (s.name.as_str(), m)))
                .chain(comparison.run.iter().map(|m| ("(run)", m)));
            for (scenario, m) in rows {
                let _ = writeln!(
                    csv,
                    "{scenario},{},{},{},{},{},{},{:?}",
                    m.metric,
                    number(m.base),
                    number(m.head),
                    number(m.delta),
                    number(m.relative),
                    number(m.p_value),
                    m.verdict
                );
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
        other => Err(Invalid::new("format", format!("must be json or csv, got `{other}`")).into()),
    }
}
