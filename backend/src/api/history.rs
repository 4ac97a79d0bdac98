//! `GET /api/history?target=&environment=&metric=[&scenario=]`: one metric across a target's
//! finished runs of one suite in one environment, oldest first, the baseline's runs marked, with
//! the change points [`crate::stats::change_points`] finds in it, each linked to the comparison
//! across it.
//!
//! Optional: `suite` (default: the suite of the newest finished run of the target in the
//! environment; a history never mixes suites), `profile` (default: any), `limit` (the newest runs
//! to read, default 1000, at most 10000) and the detector's
//! `max_p_value`, `min_change` and `min_segment` (defaults: [`ChangePointSettings::default`]).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use lifeguard_shared::history::{
    ChangePointSettings, History, HistoryChangePoint, HistoryPoint, per_scenario, report_value,
};
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::run::RunDetail;
use serde::Deserialize;

use super::access::Caller;
use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::stats::change_points;

/// Runs read when `limit` is not given: what `retention.keep_runs` keeps by default.
const DEFAULT_LIMIT: u64 = 1000;
/// Most runs one history reads.
const MAX_LIMIT: u64 = 10_000;

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    target: Option<String>,
    /// The `environment` label; runs without one when left out.
    environment: Option<String>,
    metric: Option<String>,
    scenario: Option<String>,
    /// The suite; the newest finished run's when left out.
    suite: Option<String>,
    /// The pool profile; any when left out.
    profile: Option<String>,
    limit: Option<u64>,
    max_p_value: Option<f64>,
    min_change: Option<f64>,
    min_segment: Option<usize>,
}

/// What the query asks for, parsed.
#[derive(Debug)]
struct Wanted {
    target: String,
    environment: String,
    metric: Metric,
    scenario: Option<String>,
    suite: Option<String>,
    profile: Option<String>,
    limit: u64,
    settings: ChangePointSettings,
}

fn parse(query: HistoryQuery) -> Result<Wanted, Invalid> {
    let target = query
        .target
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Invalid::new("target", "is required (a target's name)"))?;
    let known = || {
        Metric::OF_RUNS
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let name = query
        .metric
        .ok_or_else(|| Invalid::new("metric", format!("is required, one of: {}", known())))?;
    let metric = Metric::from_name(&name)
        .filter(|m| Metric::OF_RUNS.contains(m))
        .ok_or_else(|| {
            Invalid::new(
                "metric",
                format!("`{name}` is not a metric of runs (one of: {})", known()),
            )
        })?;
    let scenario = match (per_scenario(metric), query.scenario) {
        (true, None) => {
            return Err(Invalid::new(
                "scenario",
                format!("is required for `{metric}`, which is measured per scenario"),
            ));
        }
        (false, Some(_)) => {
            return Err(Invalid::new(
                "scenario",
                format!("must be left out: `{metric}` is measured once per run"),
            ));
        }
        (_, scenario) => scenario,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(2..=MAX_LIMIT).contains(&limit) {
        return Err(Invalid::new(
            "limit",
            format!("must be between 2 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let defaults = ChangePointSettings::default();
    let settings = ChangePointSettings {
        max_p_value: query.max_p_value.unwrap_or(defaults.max_p_value),
        min_change: query.min_change.unwrap_or(defaults.min_change),
        min_segment: query.min_segment.unwrap_or(defaults.min_segment),
    };
    settings.validate()?;
    Ok(Wanted {
        target,
        environment: query.environment.unwrap_or_default(),
        metric,
        scenario,
        suite: query.suite.filter(|s| !s.is_empty()),
        profile: query.profile.filter(|p| !p.is_empty()),
        limit,
        settings,
    })
}

/// `GET /api/history`.
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    caller.viewer()?;
    let wanted = parse(query)?;
    let service = state.service();
    let runs = service
        .store()
        .finished_runs(
            &wanted.target,
            &wanted.environment,
            wanted.suite.as_deref(),
            wanted.profile.as_deref(),
            wanted.limit,
        )
        .await?;
    if runs.is_empty() && service.targets().get(&wanted.target).is_none() {
        return Err(ApiError::NotFound(format!(
            "no target `{}` and no runs of one",
            wanted.target
        )));
    }
    if let Some(scenario) = &wanted.scenario {
        check_scenario(&wanted, scenario, &runs)?;
    }
    let baselines = service.store().baseline_runs().await?;
    Ok(Json(build(wanted, &runs, &baselines)))
}

/// A scenario none of the runs has is a misspelling (unless there are no runs to tell by).
fn check_scenario(wanted: &Wanted, scenario: &str, runs: &[RunDetail]) -> Result<(), Invalid> {
    let mut names: Vec<&str> = Vec::new();
    for report in runs.iter().filter_map(|r| r.report.as_ref()) {
        for s in &report.scenarios {
            if s.name == scenario {
                return Ok(());
            }
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    Err(Invalid::new(
        "scenario",
        format!(
            "no run of `{}` in environment `{}` and suite `{}` has a scenario `{scenario}` \
             (they have: {})",
            wanted.target,
            wanted.environment,
            runs.first().map_or("", |r| r.summary.suite.as_str()),
            names.join(", ")
        ),
    ))
}

/// The history of the wanted metric in `runs` (oldest first): a point per run, the runs in
/// `baselines` marked, and the change points of the runs that have a value.
fn build(wanted: Wanted, runs: &[RunDetail], baselines: &BTreeSet<String>) -> History {
    let points: Vec<HistoryPoint> = runs
        .iter()
        .map(|run| HistoryPoint {
            run_id: run.summary.id.clone(),
            started_at: run.summary.started_at,
            version: run.summary.labels.version.clone(),
            value: run
                .report
                .as_ref()
                .and_then(|r| report_value(r, wanted.metric, wanted.scenario.as_deref()))
                .filter(|v| v.is_finite()),
            baseline: baselines.contains(&run.summary.id),
            state: run.summary.state,
        })
        .collect();
    let values: Vec<f64> = points.iter().map(|p| p.value.unwrap_or(f64::NAN)).collect();
    let change_points = change_points::detect(&values, &wanted.settings)
        .into_iter()
        .filter_map(|found| {
            let previous = points[..found.index]
                .iter()
                .rposition(|p| p.value.is_some())?;
            let run_id = points[found.index].run_id.clone();
            let previous_run_id = points[previous].run_id.clone();
            Some(HistoryChangePoint {
                index: found.index,
                compare: format!("/compare/{previous_run_id}/{run_id}"),
                run_id,
                previous_run_id,
                mean_before: found.mean_before,
                mean_after: found.mean_after,
                relative_change: found.relative_change,
                p_value: found.p_value,
            })
        })
        .collect();
    // The suite the store read: the one asked for, else the newest finished run's.
    let suite = runs
        .first()
        .map(|run| run.summary.suite.clone())
        .or(wanted.suite)
        .unwrap_or_default();
    History {
        target: wanted.target,
        environment: wanted.environment,
        suite,
        profile: wanted.profile,
        metric: wanted.metric,
        scenario: wanted.scenario,
        points,
        change_points,
        settings: wanted.settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &str) -> HistoryQuery {
        serde_json::from_value(
            pairs
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| {
                    let value = match k {
                        "limit" | "min_segment" => serde_json::json!(v.parse::<u64>().unwrap()),
                        "max_p_value" | "min_change" => {
                            serde_json::json!(v.parse::<f64>().unwrap())
                        }
                        _ => serde_json::json!(v),
                    };
                    (k.to_owned(), value)
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        )
        .unwrap()
    }

    #[test]
    fn a_misspelt_metric_is_refused_naming_the_field() {
        let error = parse(query("target=sandbox&metric=p95_latency&scenario=light")).unwrap_err();
        assert_eq!(error.field, "metric");
        assert!(error.rule.contains("p95_latency_ms"), "{error}");
    }

    #[test]
    fn per_scenario_metrics_need_a_scenario_and_run_level_ones_refuse_it() {
        let error = parse(query("target=sandbox&metric=mean_latency_ms")).unwrap_err();
        assert_eq!(error.field, "scenario");
        let error = parse(query("target=sandbox&metric=leaks&scenario=light")).unwrap_err();
        assert_eq!(error.field, "scenario");
        let wanted = parse(query("target=sandbox&metric=recovery_s")).unwrap();
        assert_eq!(wanted.environment, "");
        assert_eq!(wanted.limit, DEFAULT_LIMIT);
        assert_eq!(wanted.settings, ChangePointSettings::default());
    }

    #[test]
    fn detector_settings_and_limit_are_checked() {
        let error = parse(query("target=sandbox&metric=leaks&min_segment=1")).unwrap_err();
        assert_eq!(error.field, "min_segment");
        let error = parse(query("target=sandbox&metric=leaks&limit=1")).unwrap_err();
        assert_eq!(error.field, "limit");
        let wanted = parse(query("target=sandbox&metric=leaks&min_change=0.2")).unwrap();
        assert!((wanted.settings.min_change - 0.2).abs() < f64::EPSILON);
        assert_eq!(parse(query("metric=leaks")).unwrap_err().field, "target");
    }
}
