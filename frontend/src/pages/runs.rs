//! `/runs`: every run, filtered by target, environment, phase and state; the filters live in
//! the query string so a filtered list is a link.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::run::{Baseline, RunPage};

use crate::api::{self, RunFilter, with_query};
use crate::charts::history::{HistoryPoint, metric_history};
use crate::components::badges::StateBadge;
use crate::components::chart::{self, EChart};
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::{local_time, maybe_metric};

/// Runs per page.
const PAGE: u64 = 50;

/// The filter a query string asks for (`get` reads one query parameter).
#[must_use]
pub fn filter_from(get: impl Fn(&str) -> Option<String>) -> RunFilter {
    let text = |key: &str| get(key).filter(|v| !v.is_empty());
    RunFilter {
        target: text("target"),
        environment: text("environment"),
        phase: text("phase"),
        state: text("state"),
        offset: text("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
        limit: PAGE,
    }
}

/// The history chart's points: the page's runs oldest first, baseline runs marked.
#[must_use]
pub fn history_points(page: &RunPage, baselines: &[Baseline]) -> Vec<HistoryPoint> {
    page.runs
        .iter()
        .rev()
        .map(|run| {
            let names: Vec<&str> = baselines
                .iter()
                .filter(|b| b.run_id == run.id)
                .map(|b| b.name.as_str())
                .collect();
            HistoryPoint {
                label: local_time(run.created_at),
                run_id: run.id.clone(),
                value: run.p95_ms,
                baseline: (!names.is_empty()).then(|| names.join(", ")),
            }
        })
        .collect()
}

/// The list page.
#[component]
pub fn RunsPage() -> impl IntoView {
    chart::load_early();
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(|q: &ParamsMap| filter_from(|key| q.get(key))));
    let runs = super::resource(move || {
        let filter = filter.get();
        async move {
            let page = api::runs(&filter).await?;
            let baselines = api::baselines().await?;
            Ok::<_, api::ApiFailure>((page, baselines))
        }
    });
    view! {
        <div class="page-head">
            <h2>"Runs"</h2>
            <CopyLink />
            <A href="/runs/new">"Start a run"</A>
            {move || {
                let f = filter.get();
                let href = with_query(
                    "/history",
                    &[("target", f.target), ("environment", f.environment)],
                );
                view! {
                    <A href=href attr:id="history-link">
                        "History with change points"
                    </A>
                }
            }}
        </div>
        <Filters filter />
        <Transition fallback=|| view! { <Loading what="Loading runs…" /> }>
            {move || {
                runs.get()
                    .map(|result| match result {
                        Ok((page, baselines)) => {
                            view! { <RunTable page baselines filter=filter.get_untracked() /> }
                                .into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// The filter controls; each change navigates to the first page of the new list.
#[component]
fn Filters(filter: Memo<RunFilter>) -> impl IntoView {
    let targets = super::resource(api::targets);
    let navigate = use_navigate();
    // Any change of a filter goes to the first page of the new list.
    let go = move |key: &'static str, value: String| {
        let mut next = filter.get_untracked();
        let value = (!value.is_empty()).then_some(value);
        match key {
            "target" => next.target = value,
            "environment" => next.environment = value,
            "phase" => next.phase = value,
            _ => next.state = value,
        }
        next.offset = 0;
        navigate(
            &with_query("/runs", &next.pairs()),
            NavigateOptions::default(),
        );
    };
    let selected = move |key: &'static str| {
        move || {
            let f = filter.get();
            match key {
                "target" => f.target,
                "environment" => f.environment,
                "phase" => f.phase,
                _ => f.state,
            }
            .unwrap_or_default()
        }
    };
    let (go_target, go_environment, go_phase, go_state) =
        (go.clone(), go.clone(), go.clone(), go.clone());
    view! {
        <form class="card filters" id="run-filters" on:submit=|ev| ev.prevent_default()>
            <div class="field">
                <label for="filter-target">"Target"</label>
                <select
                    id="filter-target"
                    prop:value=selected("target")
                    on:change=move |ev| go_target("target", event_target_value(&ev))
                >
                    <option value="">"any"</option>
                    {move || {
                        targets
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|t| {
                                let value = t.name.clone();
                                view! { <option value=value>{t.name}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </div>
            <div class="field">
                <label for="filter-environment">"Environment"</label>
                <input
                    id="filter-environment"
                    type="text"
                    placeholder="any"
                    prop:value=selected("environment")
                    on:change=move |ev| go_environment("environment", event_target_value(&ev))
                />
            </div>
            <div class="field">
                <label for="filter-phase">"Phase"</label>
                <select
                    id="filter-phase"
                    prop:value=selected("phase")
                    on:change=move |ev| go_phase("phase", event_target_value(&ev))
                >
                    <option value="">"any"</option>
                    {super::phase_options(&lifeguard_shared::run::DeployPhase::ALL)}
                </select>
            </div>
            <div class="field">
                <label for="filter-state">"State"</label>
                <select
                    id="filter-state"
                    prop:value=selected("state")
                    on:change=move |ev| go_state("state", event_target_value(&ev))
                >
                    <option value="">"any"</option>
                    {["queued", "running", "passed", "failed", "aborted", "interrupted"]
                        .into_iter()
                        .map(|s| view! { <option value=s>{s}</option> })
                        .collect_view()}
                </select>
            </div>
        </form>
    }
}

/// One page of runs, its pager and its p95 history.
#[component]
fn RunTable(page: RunPage, baselines: Vec<Baseline>, filter: RunFilter) -> impl IntoView {
    if page.runs.is_empty() {
        return view! {
            <section class="card" id="no-runs">
                <p>"No runs match these filters."</p>
            </section>
        }
        .into_any();
    }
    let points = history_points(&page, &baselines);
    let chart = Signal::derive_local(move || {
        metric_history("p95 across runs", &Metric::P95LatencyMs.titled(), &points)
    });
    let first = page.offset + 1;
    let last = page.offset + page.runs.len() as u64;
    let previous = (page.offset > 0).then(|| {
        let target = RunFilter {
            offset: page.offset.saturating_sub(page.limit),
            ..filter.clone()
        };
        view! { <A href=with_query("/runs", &target.pairs())>"← Newer"</A> }
    });
    let next = (last < page.total).then(|| {
        let target = RunFilter {
            offset: last,
            ..filter.clone()
        };
        view! { <A href=with_query("/runs", &target.pairs())>"Older →"</A> }
    });
    let rows = page
        .runs
        .into_iter()
        .map(|run| {
            let row_id = run.id.clone();
            view! {
                <tr data-run-id=row_id>
                    <td>
                        <A href=format!("/runs/{}", run.id)>{run.id.clone()}</A>
                    </td>
                    <td>{run.target}</td>
                    <td>{run.labels.environment}</td>
                    <td>{run.labels.phase.as_str()}</td>
                    <td>{run.labels.version}</td>
                    <td>{run.suite} " / " {run.profile}</td>
                    <td>
                        <StateBadge state=run.state />
                    </td>
                    <td>{local_time(run.created_at)}</td>
                    <td class="num">{maybe_metric(Metric::P95LatencyMs, run.p95_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <Table id="runs" headers=&[
                "Run",
                "Target",
                "Environment",
                "Phase",
                "Version",
                "Suite / profile",
                "State",
                "Created",
                "p95",
            ]>
                {rows}
            </Table>
            <p class="pager">
                {previous} " " {format!("Runs {first}–{last} of {}", page.total)} " " {next}
            </p>
        </section>
        <section class="card">
            <EChart
                chart
                name="p95-history"
                label="p95 latency of the heaviest scenario across these runs, baselines marked"
            />
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_is_the_filter() {
        let filter = filter_from(|key| match key {
            "target" => Some("sandbox".to_owned()),
            "environment" => Some(String::new()),
            "offset" => Some("50".to_owned()),
            _ => None,
        });
        assert_eq!(filter.target.as_deref(), Some("sandbox"));
        assert_eq!(filter.environment, None);
        assert_eq!(filter.offset, 50);
        assert_eq!(
            with_query("/runs", &filter.pairs()),
            "/runs?target=sandbox&offset=50"
        );
    }
}
