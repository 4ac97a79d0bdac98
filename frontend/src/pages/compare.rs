//! `/compare/{base}/{head}` and `/compare?baseline=NAME&head=ID`: two runs side by side, per
//! scenario and metric: both values, the change, its significance and the verdict.

use std::rc::Rc;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};
use lifeguard_shared::compare::{Comparison, MetricComparison, RunRef, Verdict, combine};
use lifeguard_shared::metric::{Metric, signed_percent};
use lifeguard_shared::run::{PhaseDistribution, Series, ShareRequest};

use crate::api::{self, ApiFailure, CompareSpec};
use crate::charts::compare::{Quantity, metric_bars, overlaid, verdict_label};
use crate::charts::percentiles::{Curve, percentile_curves};
use crate::components::badges::VerdictBadge;
use crate::components::chart::{self, EChart};
use crate::components::share::{CopyLink, ShareButton};
use crate::components::status::{Failure, Loading, Missing};
use crate::components::table::Table;
use crate::format::{maybe_metric, metric_label};

/// The comparison a route asks for: path parameters first, else the query.
fn spec(
    base: Option<String>,
    head: Option<String>,
    baseline: Option<String>,
) -> Option<CompareSpec> {
    let head = head.filter(|h| !h.is_empty())?;
    match (
        base.filter(|b| !b.is_empty()),
        baseline.filter(|b| !b.is_empty()),
    ) {
        (Some(base), _) => Some(CompareSpec::Runs { base, head }),
        (None, Some(name)) => Some(CompareSpec::Baseline { name, head }),
        (None, None) => None,
    }
}

/// The page, for both routes.
#[component]
pub fn ComparePage() -> impl IntoView {
    chart::load_early();
    let params = use_params_map();
    let query = use_query_map();
    let wanted = Memo::new(move |_| {
        let p = params.get();
        let q = query.get();
        spec(
            p.get("base").or_else(|| q.get("base")),
            p.get("head").or_else(|| q.get("head")),
            q.get("baseline"),
        )
    });
    let comparison = super::resource(move || {
        let wanted = wanted.get();
        async move {
            match wanted {
                Some(spec) => api::compare(&spec).await.map(|c| Some((spec, c))),
                None => Ok(None),
            }
        }
    });
    view! {
        <Transition fallback=|| view! { <Loading what="Comparing the runs…" /> }>
            {move || {
                comparison
                    .get()
                    .map(|result| match result {
                        Ok(Some((spec, comparison))) => {
                            view! { <ComparisonView spec comparison /> }.into_any()
                        }
                        Ok(None) => {
                            view! {
                                <section class="card error" id="compare-missing">
                                    <p>
                                        "Say which runs to compare: /compare/BASE/HEAD with two run ids, or /compare?baseline=NAME&head=ID."
                                    </p>
                                </section>
                            }
                                .into_any()
                        }
                        Err(failure) if failure.is_not_found() => {
                            let detail = failure.to_string();
                            view! { <Missing title="Nothing to compare" detail /> }.into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// `sandbox · staging · v2 · auth-burst / current`, leaving out labels the run has not.
fn described(run: &RunRef) -> String {
    let suite = format!("{} / {}", run.suite, run.profile);
    [run.target.as_str(), &run.environment, &run.version, &suite]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A run as the comparison names it, linked.
#[component]
fn RunCard(side: &'static str, run: RunRef) -> impl IntoView {
    let description = described(&run);
    view! {
        <div class="side" data-side=side>
            <h3>{side}</h3>
            <A href=format!("/runs/{}", run.id)>
                <span class="mono">{run.id.clone()}</span>
            </A>
            <p class="hint">{description}</p>
        </div>
    }
}

/// The rows of one metric table.
fn metric_rows(scenario: &str, metrics: &[MetricComparison]) -> impl IntoView + use<> {
    let scenario = scenario.to_owned();
    metrics
        .iter()
        .map(|m| {
            let delta = m
                .delta
                .map_or_else(|| "–".to_owned(), |d| m.metric.format_change(d));
            let relative = m
                .relative
                .map_or_else(|| "–".to_owned(), |r| signed_percent(r, 1));
            let p = m
                .p_value
                .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}"));
            view! {
                <tr data-scenario=scenario.clone() data-metric=m.metric.name()>
                    <th scope="row">{metric_label(m.metric)}</th>
                    <td class="num">{maybe_metric(m.metric, m.base)}</td>
                    <td class="num">{maybe_metric(m.metric, m.head)}</td>
                    <td class="num">{delta}</td>
                    <td class="num">{relative}</td>
                    <td class="num">{p}</td>
                    <td>
                        <VerdictBadge verdict=m.verdict />
                        {m.note.clone().map(|note| view! { <span class="note">{note}</span> })}
                    </td>
                </tr>
            }
        })
        .collect_view()
}

fn metric_table(scenario: &str, metrics: &[MetricComparison]) -> impl IntoView + use<> {
    let rows = metric_rows(scenario, metrics);
    view! {
        <Table headers=&[
            "Metric",
            "Base",
            "Head",
            "Change",
            "Relative",
            "p-value",
            "Verdict",
        ]>
            {rows}
        </Table>
    }
}

/// What both runs measured beyond the comparison: latency distributions per phase, and their
/// series (100 ms buckets for short runs), base then head.
#[derive(Debug, Clone)]
struct Measured {
    phases: (Vec<PhaseDistribution>, Vec<PhaseDistribution>),
    series: (Series, Series),
}
type Measurements = super::Fetched<Result<Measured, ApiFailure>>;

async fn measured(base: String, head: String) -> Result<Measured, ApiFailure> {
    // At once: each histogram answer is a server-side merge of up to an hour of histograms.
    let (base_phases, head_phases, base_series, head_series) = futures::future::try_join4(
        api::histograms(&base),
        api::histograms(&head),
        api::series(&base),
        api::series(&head),
    )
    .await?;
    Ok(Measured {
        phases: (base_phases.phases, head_phases.phases),
        series: (base_series, head_series),
    })
}

/// The selector's entry for run-level metrics (recovery time, leaks) and the phases that are no
/// scenario (the exhaustion burst and its recovery): on their own, so the burst's seconds-long
/// latencies do not flatten the scenarios' curves.
const RUN_LEVEL: &str = "recovery & leaks";

/// The scenario shown first: the first that regressed, else the first.
fn first_shown(comparison: &Comparison) -> String {
    comparison
        .scenarios
        .iter()
        .find(|s| s.verdict == Verdict::Regressed)
        .or_else(|| comparison.scenarios.first())
        .map_or_else(|| RUN_LEVEL.to_owned(), |s| s.name.clone())
}

/// Base and head percentile curves of the phases `shown` selects.
fn curves_of<'a>(
    base: &'a [PhaseDistribution],
    head: &'a [PhaseDistribution],
    shown: impl Fn(&str) -> bool,
) -> Vec<Curve<'a>> {
    let mut curves = Vec::new();
    for phase in head.iter().filter(|p| shown(&p.name)) {
        if let Some(b) = base.iter().find(|b| b.name == phase.name) {
            curves.push(Curve {
                label: format!("{} · base", b.name),
                points: &b.points,
                requests: b.requests,
                dashed: true,
            });
        }
        curves.push(Curve {
            label: format!("{} · head", phase.name),
            points: &phase.points,
            requests: phase.requests,
            dashed: false,
        });
    }
    curves
}

/// The quantities of one time chart.
type Lines = &'static [Quantity];

/// The metrics drawn as bars, in this order (throughput and the pool's peaks stay in the table).
const BARS: [Metric; 6] = [
    Metric::MeanLatencyMs,
    Metric::P50LatencyMs,
    Metric::P95LatencyMs,
    Metric::P99LatencyMs,
    Metric::AcquireWaitP95Ms,
    Metric::SuccessRate,
];

/// One scenario's (or the run level's) charts and table.
#[expect(
    clippy::too_many_lines,
    reason = "one view: its bars, curves, time charts and table, each a few lines"
)]
fn scenario_view(
    name: &str,
    metrics: &[MetricComparison],
    verdict: Verdict,
    measurements: Measurements,
    scenario_names: Vec<String>,
) -> impl IntoView + use<> {
    let bars = BARS
        .iter()
        .chain(&[Metric::RecoveryS, Metric::Leaks])
        .filter_map(|&metric| metrics.iter().find(|m| m.metric == metric))
        // Zero on both sides (no leak, no wait) is said by the table; a chart of it shows nothing.
        .filter(|m| m.base.unwrap_or(0.0) != 0.0 || m.head.unwrap_or(0.0) != 0.0)
        .map(|m| {
            let label = format!(
                "{} of base and head: {}",
                m.metric.titled(),
                verdict_label(m)
            );
            let name = m.metric.name();
            // Built inside the signal: cloning a built `Chart` would compile charming's `Clone`
            // for every option type into the wasm.
            let m = m.clone();
            view! { <EChart chart=Signal::derive_local(move || metric_bars(&m)) name label /> }
        })
        .collect_view();
    let own = name.to_owned();
    let shown = Rc::new(move |phase: &str| {
        if own == RUN_LEVEL {
            !scenario_names.iter().any(|s| s == phase)
        } else {
            phase == own
        }
    });
    let title = "Latency by percentile: base dashed".to_owned();
    let chart = {
        let shown = shown.clone();
        Signal::derive_local(move || {
            let measured = measurements.get().and_then(Result::ok);
            let (base, head) = measured.map(|m| m.phases).unwrap_or_default();
            percentile_curves(&title, &curves_of(&base, &head, |phase| shown(phase)))
        })
    };
    // Base and head over time from the scenario's start: a chart per quantity.
    let over_time = |title: &'static str, unit: &'static str, lines: Lines| {
        let shown = shown.clone();
        Signal::derive_local(move || {
            let measured = measurements.get().and_then(Result::ok);
            match measured {
                Some(Measured {
                    series: (base, head),
                    ..
                }) => overlaid(title, unit, &base, &head, &*shown, lines),
                None => overlaid(
                    title,
                    unit,
                    &Series::default(),
                    &Series::default(),
                    &*shown,
                    lines,
                ),
            }
        })
    };
    let latency = over_time(
        "Latency p95 from the start",
        "ms",
        &[("p95", |p| p.latency_p95_ms)],
    );
    let pool = over_time(
        "Pool from the start",
        "connections",
        &[
            ("checked out", |p| f64::from(p.checked_out)),
            ("waiters", |p| f64::from(p.waiters)),
        ],
    );
    let wait = over_time(
        "Acquire wait p95 from the start",
        "ms",
        &[("acquire wait p95", |p| p.acquire_wait_p95_ms)],
    );
    // How many points the longer run has in this scenario: fewer than three is no line.
    let points = {
        let shown = shown.clone();
        Signal::derive_local(move || {
            measurements.get().and_then(Result::ok).map(|m| {
                let count =
                    |series: &Series| series.points.iter().filter(|p| shown(&p.phase)).count();
                (
                    count(&m.series.0).max(count(&m.series.1)),
                    m.series.1.resolution_ms,
                )
            })
        })
    };
    let own = name.to_owned();
    let over_time = move || match points.get() {
        Some((count, resolution_ms)) if count < 3 => {
            let said = format!(
                "{own} lasted {count} point{} of {resolution_ms} ms: too short to draw over \
                 time; the bars and percentiles show it.",
                if count == 1 { "" } else { "s" }
            );
            Some(view! { <p class="hint" id="over-time-too-short">{said}</p> }.into_any())
        }
        Some(_) => Some(
            view! {
                <div class="charts">
                    <EChart
                        chart=latency
                        name="over-time-latency"
                        label="Latency p95 of base and head from the scenario's start"
                    />
                    <EChart
                        chart=pool
                        name="over-time-pool"
                        label="Checked-out connections and waiters of base and head"
                    />
                    <EChart
                        chart=wait
                        name="over-time-wait"
                        label="Acquire wait p95 of base and head from the scenario's start"
                    />
                </div>
            }
            .into_any(),
        ),
        None => None,
    };
    view! {
        <section class="card scenario" data-scenario=name.to_owned()>
            <h3>{name.to_owned()} " " <VerdictBadge verdict /></h3>
            <div class="charts small">{bars}</div>
            <div class="charts">
                <EChart
                    chart
                    name="latency-percentiles"
                    label=format!("Latency by percentile of base and head in {name}")
                />
            </div>
            {over_time}
            {metric_table(name, metrics)}
        </section>
    }
}

#[component]
fn ComparisonView(spec: CompareSpec, comparison: Comparison) -> impl IntoView {
    let (base_id, head_id) = (comparison.base.id.clone(), comparison.head.id.clone());
    let measurements = super::resource(move || measured(base_id.clone(), head_id.clone()));
    let query = use_query_map();
    let location = use_location();
    let first = first_shown(&comparison);
    let selected = Memo::new(move |_| query.get().get("scenario").unwrap_or_else(|| first.clone()));
    let scenario_names: Vec<String> = comparison
        .scenarios
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let mut entries: Vec<(String, Verdict)> = comparison
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), s.verdict))
        .collect();
    if !comparison.run.is_empty() {
        entries.push((
            RUN_LEVEL.to_owned(),
            combine(comparison.run.iter().map(|m| m.verdict)),
        ));
    }
    let selector = entries
        .iter()
        .map(|(name, verdict)| {
            let name = name.clone();
            let verdict = *verdict;
            let href = {
                let name = name.clone();
                move || {
                    let mut q = query.get();
                    q.replace("scenario", name.clone());
                    format!("{}{}", location.pathname.get(), q.to_query_string())
                }
            };
            let current = {
                let name = name.clone();
                move || (selected.get() == name).then_some("true")
            };
            let data = name.clone();
            view! {
                <a href=href aria-current=current data-select=data>
                    {name}
                    " "
                    <VerdictBadge verdict />
                </a>
            }
        })
        .collect_view();
    let shown = {
        let comparison = comparison.clone();
        move || {
            let name = selected.get();
            let names = scenario_names.clone();
            if name == RUN_LEVEL {
                let verdict = combine(comparison.run.iter().map(|m| m.verdict));
                return Some(
                    scenario_view(&name, &comparison.run, verdict, measurements, names).into_any(),
                );
            }
            comparison
                .scenarios
                .iter()
                .find(|s| s.name == name)
                .map(|s| {
                    scenario_view(&s.name, &s.metrics, s.verdict, measurements, names).into_any()
                })
        }
    };
    let baseline = comparison.baseline.clone().map(|name| {
        view! {
            <p class="hint">
                "Base is baseline " <strong data-baseline=name.clone()>{name.clone()}</strong>
            </p>
        }
    });
    view! {
        <div class="page-head">
            <h2>"Comparison"</h2>
            <span id="overall-verdict">
                <VerdictBadge verdict=comparison.verdict />
            </span>
            <CopyLink />
        </div>
        <p class="summary" id="compare-summary">
            {comparison.summary()}
        </p>
        <section class="card sides" id="compare-sides">
            <RunCard side="base" run=comparison.base.clone() />
            <RunCard side="head" run=comparison.head.clone() />
            {baseline}
        </section>
        <section class="card actions">
            <ShareButton request=ShareRequest {
                run: None,
                base: Some(comparison.base.id.clone()),
                head: Some(comparison.head.id.clone()),
                expires_in_s: None,
            } />
            <span class="exports">
                "Export: "
                <a href=api::compare_csv_url(&spec) download="" data-export="csv">
                    "CSV"
                </a>
            </span>
        </section>
        <nav class="tabs" id="scenario-select" aria-label="Scenario">
            {selector}
        </nav>
        {move || {
            measurements
                .get()
                .and_then(Result::err)
                .map(|failure| view! { <Failure failure /> })
        }}
        {shown}
        <p class="hint method" id="compare-method">
            {comparison.method.clone()}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_described_without_its_empty_labels() {
        let run = RunRef {
            id: "r".into(),
            suite: "auth-burst".into(),
            target: "sandbox".into(),
            profile: "current".into(),
            environment: String::new(),
            version: "v2".into(),
        };
        assert_eq!(described(&run), "sandbox · v2 · auth-burst / current");
    }

    #[test]
    fn path_ids_win_over_a_baseline_name() {
        assert_eq!(
            spec(Some("a".into()), Some("b".into()), Some("prod".into())),
            Some(CompareSpec::Runs {
                base: "a".into(),
                head: "b".into()
            })
        );
        assert_eq!(
            spec(None, Some("b".into()), Some("prod".into())),
            Some(CompareSpec::Baseline {
                name: "prod".into(),
                head: "b".into()
            })
        );
        assert_eq!(spec(None, Some("b".into()), None), None);
        assert_eq!(spec(Some("a".into()), None, None), None);
    }
}
