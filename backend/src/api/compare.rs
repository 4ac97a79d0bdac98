//! `GET /api/compare?base=ID&head=ID` or `?baseline=NAME&head=ID` (`&format=csv` for a table).

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lifeguard_shared::compare::Comparison;
use lifeguard_shared::invalid::Invalid;
use serde::Deserialize;

use super::access::{Caller, Scope};
use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::service::BaseRef;

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    base: Option<String>,
    baseline: Option<String>,
    head: Option<String>,
    format: Option<String>,
}

/// Resolves the query to two runs, checks the caller may read their comparison, compares.
pub async fn comparison(
    state: &AppState,
    caller: &Caller,
    query: &CompareQuery,
) -> Result<Comparison, ApiError> {
    let head = query
        .head
        .clone()
        .ok_or_else(|| Invalid::new("head", "is required (the run to judge)"))?;
    let base = match (&query.base, &query.baseline) {
        (Some(base), None) => BaseRef::Run(base.clone()),
        (None, Some(name)) => BaseRef::Baseline(name.clone()),
        _ => return Err(Invalid::new("base", "give exactly one of `base` and `baseline`").into()),
    };
    // Who may read is decided before anything is looked up, so a refused caller cannot tell
    // which runs or baselines exist. Share links name runs, so a baseline needs a reader's role.
    match &base {
        BaseRef::Run(id) => caller.reader_of(&Scope::Compare {
            base: id.clone(),
            head: head.clone(),
        })?,
        BaseRef::Baseline(_) => caller.viewer()?,
    }
    let service = state.service();
    let (base, baseline) = service.resolve_base(&base).await?;
    Ok(service.compare(&base, &head, baseline).await?)
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
                String::from("scenario,metric,base,head,delta,relative,p_value,verdict,note\n");
            let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let rows = comparison
                .scenarios
                .iter()
                .flat_map(|s| s.metrics.iter().map(move |m| (s.name.as_str(), m)))
                .chain(comparison.run.iter().map(|m| ("(run)", m)));
            for (scenario, m) in rows {
                let _ = writeln!(
                    csv,
                    "{scenario},{},{},{},{},{},{},{},\"{}\"",
                    m.metric,
                    number(m.base),
                    number(m.head),
                    number(m.delta),
                    number(m.relative),
                    number(m.p_value),
                    m.verdict.name(),
                    m.note.as_deref().unwrap_or_default().replace('"', "\"\"")
                );
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
        other => Err(Invalid::new("format", format!("must be json or csv, got `{other}`")).into()),
    }
}
