//! `/runs/{id}`: a run. While it runs: live progress per scenario over Server-Sent Events, charts
//! that grow each second, and a cancel button. Once finished: verdicts, the criteria table (value
//! against threshold), threshold levels and the charts of the stored series.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::report::{GaugeSources, Level, RunReport, RunState};
use std::rc::Rc;

use lifeguard_shared::run::{RunDetail, RunSummary, ShareRequest};
use lifeguard_shared::suite::Levels;

use crate::api::{self, ApiFailure, with_query};
use crate::charts::percentiles::{Curve, percentile_curves_hiding};
use crate::charts::scenarios::{SuccessRow, success_rates};
use crate::charts::timeline::{self, Timeline};
use crate::components::badges::{LevelBadge, PassBadge, StateBadge};
use crate::components::cancel::CancelButton;
use crate::components::chart::{self, EChart};
use crate::components::share::{CopyLink, ExportLinks, ShareButton};
use crate::components::status::{Failure, Loading, Missing};
use crate::components::table::Table;
use crate::format::{self, local_time, maybe_metric, metric, metric_label};
use crate::live::{EventStream, LiveRun, per_phase};

/// What the charts need beyond the series: the pool's capacity and utilization levels, and each
/// scenario's minimum success rate.
#[derive(Debug, Clone, PartialEq)]
struct PoolLimits {
    capacity: u32,
    utilization: Levels,
    minimums: Vec<(String, f64)>,
    /// Pool gauges the run's source did not provide (known once it is reported).
    missing: Vec<String>,
}

/// The limits of a run not yet reported, from the catalog it was started with.
async fn catalog_limits(suite: String, profile: String) -> Result<PoolLimits, ApiFailure> {
    let suites = api::suites().await?;
    let profiles = api::profiles().await?;
    let missing = |what: &str, name: &str| ApiFailure::Unexpected(format!("no {what} `{name}`"));
    let suite = suites
        .into_iter()
        .find(|s| s.name == suite)
        .ok_or_else(|| missing("suite", &suite))?;
    let profile = profiles
        .into_iter()
        .find(|p| p.name == profile)
        .ok_or_else(|| missing("profile", &profile))?;
    Ok(PoolLimits {
        capacity: profile.primary_fleet().capacity(),
        utilization: suite.thresholds.pool_utilization_pct,
        minimums: suite
            .scenarios
            .into_iter()
            .map(|s| (s.name, s.min_success_rate))
            .collect(),
        missing: Vec::new(),
    })
}

/// The limits a finished run reported.
fn report_limits(report: &RunReport) -> Option<PoolLimits> {
    let utilization = report
        .thresholds
        .iter()
        .find(|t| t.metric == Metric::PoolUtilizationPct)?;
    Some(PoolLimits {
        capacity: report.pool_profile.primary_fleet().capacity(),
        utilization: Levels {
            warning: utilization.warning,
            critical: utilization.critical,
        },
        // The finished view reads each scenario's minimum from its criteria.
        minimums: Vec::new(),
        missing: report.sources.missing_pool_gauges.clone(),
    })
}

/// The page: loads the run; reloads it when a live run finishes.
#[component]
pub fn RunPage() -> impl IntoView {
    chart::load_early();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let reload = RwSignal::new(0_u32);
    let detail = super::resource(move || {
        reload.track();
        let id = id.get();
        async move { api::run(&id).await }
    });
    let finished = Callback::new(move |()| reload.update(|n| *n += 1));
    view! {
        <Transition fallback=|| view! { <Loading what="Loading the run…" /> }>
            {move || {
                detail
                    .get()
                    .map(|result| match result {
                        Ok(detail) => view! { <RunView detail finished /> }.into_any(),
                        Err(failure) if failure.is_not_found() => {
                            view! {
                                <Missing
                                    title="Run not found"
                                    detail=format!(
                                        "There is no run with the id “{}”. It may have been removed by retention, or the address is mistyped.",
                                        id.get_untracked(),
                                    )
                                />
                            }
                                .into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn RunView(detail: RunDetail, finished: Callback<()>) -> impl IntoView {
    let summary = detail.summary.clone();
    let id = summary.id.clone();
    let state = RwSignal::new(summary.state);
    let body = if summary.state.is_final() {
        view! { <FinishedView detail /> }.into_any()
    } else {
        view! {
            <LiveView
                id=id.clone()
                suite=summary.suite.clone()
                profile=summary.profile.clone()
                state
                finished
            />
        }
        .into_any()
    };
    view! {
        <div class="page-head">
            <h2>"Run " <span class="mono">{id.clone()}</span></h2>
            <span id="run-state">{move || view! { <StateBadge state=state.get() /> }}</span>
            <CancelButton
                what="runs"
                id=id.clone()
                dom_id="cancel-run"
                label="Cancel run"
                done="Cancel requested; the run stops and keeps what it measured."
                open=Signal::derive(move || !state.get().is_final())
            />
        </div>
        <Facts summary=summary.clone() />
        <section class="card actions">
            <CopyLink />
            <ShareButton request=ShareRequest {
                run: Some(id.clone()),
                base: None,
                head: None,
                expires_in_s: None,
            } />
            <ExportLinks run_id=id.clone() />
            <BaselineLinks summary />
        </section>
        {body}
    }
}

/// The run's labels and times.
#[component]
fn Facts(summary: RunSummary) -> impl IntoView {
    let time = |at: Option<u64>| at.map_or_else(|| "–".to_owned(), local_time);
    let fact = |label: &'static str, key: &'static str, value: String| {
        view! {
            <div>
                <dt>{label}</dt>
                <dd data-fact=key>{value}</dd>
            </div>
        }
    };
    view! {
        <dl class="facts small card" id="run-facts">
            {fact("Target", "target", summary.target.clone())}
            {fact("Suite", "suite", summary.suite.clone())}
            {fact("Pool profile", "profile", summary.profile.clone())}
            {fact("Environment", "environment", summary.labels.environment.clone())}
            {fact("Phase", "phase", summary.labels.phase.as_str().to_owned())}
            {fact("Version", "version", summary.labels.version.clone())}
            {fact("Created", "created", local_time(summary.created_at))}
            {fact("Started", "started", time(summary.started_at))}
            {fact("Finished", "finished", time(summary.finished_at))}
        </dl>
        {(!summary.labels.notes.is_empty())
            .then(|| view! { <p class="notes">{summary.labels.notes.clone()}</p> })}
        {summary
            .error
            .clone()
            .map(|error| {
                view! {
                    <p class="error" id="run-error" role="alert">
                        {error}
                    </p>
                }
            })}
    }
}

/// Links to compare this run with the baselines of its target and environment.
#[component]
fn BaselineLinks(summary: RunSummary) -> impl IntoView {
    let baselines = super::resource(api::baselines);
    move || {
        let all = baselines.get().and_then(Result::ok).unwrap_or_default();
        all.into_iter()
            .filter(|b| b.target == summary.target && b.environment == summary.labels.environment)
            .map(|b| {
                let name = b.name.clone();
                if b.run_id == summary.id {
                    view! {
                        <span class="hint" data-baseline=name>
                            "This run is baseline " <strong>{b.name}</strong>
                        </span>
                    }
                    .into_any()
                } else {
                    let href = with_query(
                        "/compare",
                        &[
                            ("baseline", Some(b.name.clone())),
                            ("head", Some(summary.id.clone())),
                        ],
                    );
                    view! {
                        <A href=href attr:data-compare-baseline=name>
                            "Compare with baseline " {b.name.clone()}
                        </A>
                    }
                    .into_any()
                }
            })
            .collect_view()
    }
}

/// A queued or running run, followed over Server-Sent Events.
#[component]
fn LiveView(
    id: String,
    suite: String,
    profile: String,
    state: RwSignal<RunState>,
    finished: Callback<()>,
) -> impl IntoView {
    let live = RwSignal::new(LiveRun::default());
    let problem = RwSignal::new(None::<String>);
    let stream: StoredValue<Option<EventStream>, LocalStorage> = StoredValue::new_local(None);
    let limits = super::resource(move || catalog_limits(suite.clone(), profile.clone()));
    let opened = EventStream::open(
        &api::events_url(&id),
        &lifeguard_shared::event::RunEvent::KINDS,
        move |kind, data| {
            let mut done = false;
            live.update(|l| {
                if let Err(error) = l.apply(kind, data) {
                    problem.set(Some(error));
                }
                if let Some(now) = l.state {
                    state.set(now);
                }
                done = l.verdict.is_some();
            });
            if done {
                stream.with_value(|s| {
                    if let Some(s) = s {
                        s.close();
                    }
                });
                finished.run(());
            } else if kind == "progress" {
                problem.set(None);
            }
        },
        move |closed| {
            problem.set(Some(if closed {
                "The live connection closed. Reload the page to follow the run again.".to_owned()
            } else {
                "The live connection dropped; reconnecting…".to_owned()
            }));
        },
    );
    match opened {
        Ok(opened) => stream.set_value(Some(opened)),
        Err(error) => problem.set(Some(error)),
    }
    on_cleanup(move || {
        // Closes the EventSource (see `EventStream`'s `Drop`).
        let _closed = stream.try_update_value(Option::take);
    });
    let seconds: WithSeconds = Rc::new(move |f| {
        live.with(|l| {
            f(&Timeline {
                points: &l.seconds,
                point_s: 1.0,
                missing: &[],
            });
        });
    });
    let success = Signal::derive_local(move || {
        let minimums = limits
            .get()
            .and_then(Result::ok)
            .map(|l| l.minimums)
            .unwrap_or_default();
        let rows: Vec<SuccessRow> = live.with(|l| {
            per_phase(&l.seconds)
                .into_iter()
                .filter_map(|p| {
                    let rate = p.success_rate()?;
                    let minimum = minimums
                        .iter()
                        .find(|(name, _)| *name == p.name)
                        .map(|(_, minimum)| *minimum);
                    Some(SuccessRow {
                        name: p.name,
                        rate,
                        minimum,
                    })
                })
                .collect()
        });
        success_rates(&rows)
    });
    view! {
        <section class="card" id="live">
            <h3>
                "Live progress "
                <span class="hint">
                    {move || {
                        live.with(|l| match (&l.phase, l.seconds.len()) {
                            (Some(phase), n) => format!("now: {phase}, {n} s measured"),
                            (None, _) => "waiting for the run to start…".to_owned(),
                        })
                    }}
                </span>
            </h3>
            {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
            <Table id="live-progress" headers=&[
                "Scenario",
                "Seconds",
                "Requests",
                "Errors",
                "Succeeded",
                "p95 (last second)",
                "Peak checked out",
                "Peak waiters",
            ]>
                {move || {
                    let current = live.with(|l| l.phase.clone());
                    live.with(|l| per_phase(&l.seconds))
                        .into_iter()
                        .map(|p| {
                            let class = if current.as_deref() == Some(p.name.as_str()) {
                                "current"
                            } else {
                                ""
                            };
                            view! {
                                <tr class=class data-scenario=p.name.clone()>
                                    <td>{p.name.clone()}</td>
                                    <td class="num">{p.seconds}</td>
                                    <td class="num">{p.requests}</td>
                                    <td class="num">{p.errors}</td>
                                    <td class="num">
                                        {p
                                            .success_rate()
                                            .map_or_else(|| "–".to_owned(), format::share)}
                                    </td>
                                    <td class="num">{format::ms(p.last_p95_ms)}</td>
                                    <td class="num">{p.peak_checked_out}</td>
                                    <td class="num">{p.peak_waiters}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </Table>
        </section>
        <div class="charts">
            <RunCharts seconds limits />
            <EChart
                chart=success
                name="success-rate"
                label="Success rate per scenario against its minimum"
            />
        </div>
    }
}

/// Hands a run's seconds to a chart builder, reading (and so tracking) wherever they live: the
/// live events or the stored series.
type WithSeconds = Rc<dyn Fn(&mut dyn FnMut(&Timeline<'_>))>;

/// The per-second charts of a run, growing each second while it runs or drawn from its stored
/// series once finished: latency, throughput and errors, the pool against its utilization bands,
/// acquire wait.
#[component]
fn RunCharts(
    seconds: WithSeconds,
    limits: super::Fetched<Result<PoolLimits, ApiFailure>>,
) -> impl IntoView {
    let chart = move |build: Builder| {
        let seconds = Rc::clone(&seconds);
        Signal::derive_local(move || {
            let mut chart = None;
            let missing = limits
                .get()
                .and_then(Result::ok)
                .map(|l| l.missing)
                .unwrap_or_default();
            seconds(&mut |timeline| {
                let timeline = Timeline {
                    missing: &missing,
                    ..*timeline
                };
                chart = Some(build(&timeline, limits));
            });
            chart.unwrap_or_else(charming::Chart::new)
        })
    };
    view! {
        <EChart
            chart=chart(|t, _| timeline::latency(t))
            name="latency-over-time"
            label="Latency p50, p95 and p99 over time"
        />
        <EChart
            chart=chart(|t, _| timeline::throughput(t))
            name="throughput"
            label="Requests, errors and pool timeouts per second"
        />
        <EChart
            chart=chart(pool_chart)
            name="pool"
            label="Pool checked out, overflow and waiters with the utilization bands"
        />
        <EChart
            chart=chart(|t, _| timeline::acquire_wait(t))
            name="acquire-wait"
            label="Acquire wait p95 over time"
        />
    }
}

type Builder = fn(&Timeline<'_>, super::Fetched<Result<PoolLimits, ApiFailure>>) -> charming::Chart;

/// The pool chart, with the utilization bands once the limits are known.
fn pool_chart(
    timeline: &Timeline<'_>,
    limits: super::Fetched<Result<PoolLimits, ApiFailure>>,
) -> charming::Chart {
    let (capacity, utilization) = limits.get().and_then(Result::ok).map_or(
        (
            0,
            Levels {
                warning: 0.0,
                critical: 0.0,
            },
        ),
        |l| (l.capacity, l.utilization),
    );
    timeline::pool(timeline, capacity, utilization)
}

/// A finished run: verdicts, criteria, thresholds and charts.
#[component]
fn FinishedView(detail: RunDetail) -> impl IntoView {
    let id = detail.summary.id.clone();
    let (series_id, histogram_id) = (id.clone(), id.clone());
    let series = super::resource(move || {
        let id = series_id.clone();
        async move { api::series(&id).await }
    });
    let histograms = super::resource(move || {
        let id = histogram_id.clone();
        async move { api::histograms(&id).await }
    });
    let reported = detail.report.as_ref().and_then(report_limits);
    let (suite, profile) = (detail.summary.suite.clone(), detail.summary.profile.clone());
    let limits = super::resource(move || {
        let (suite, profile) = (suite.clone(), profile.clone());
        let reported = reported.clone();
        async move {
            match reported {
                Some(limits) => Ok(limits),
                None => catalog_limits(suite, profile).await,
            }
        }
    });
    let verdict = match &detail.report {
        Some(report) => view! { <Verdicts report=report.clone() /> }.into_any(),
        None => view! {
            <section class="card" id="no-report">
                <p>
                    "This run ended without a report"
                    {detail.summary.error.clone().map(|e| format!(": {e}"))}
                    ". What it measured before stopping is charted below."
                </p>
            </section>
        }
        .into_any(),
    };
    let success_rows: Vec<SuccessRow> = detail
        .report
        .as_ref()
        .map(|r| {
            r.scenarios
                .iter()
                .map(|s| SuccessRow {
                    name: s.name.clone(),
                    rate: s.success_rate,
                    minimum: s
                        .criteria
                        .iter()
                        .find(|c| c.name == Metric::SuccessRate)
                        .map(|c| c.threshold),
                })
                .collect()
        })
        .unwrap_or_default();
    let has_scenarios = !success_rows.is_empty();
    let success = Signal::derive_local(move || success_rates(&success_rows));
    let percentiles = Signal::derive_local(move || {
        let distribution = histograms.get().and_then(Result::ok);
        let phases = distribution.map(|d| d.phases).unwrap_or_default();
        let curves: Vec<Curve<'_>> = phases
            .iter()
            .map(|p| Curve {
                label: p.name.clone(),
                points: &p.points,
                requests: p.requests,
                dashed: false,
            })
            .collect();
        // The burst's recovery is there, a click away: its seconds of waiting would flatten the
        // scenarios' curves.
        let hidden: &[&str] = if curves.len() > 1 { &["recovery"] } else { &[] };
        percentile_curves_hiding("Latency by percentile", &curves, hidden)
    });
    let seconds: WithSeconds = Rc::new(move |f| {
        let rows = series.get().and_then(Result::ok);
        let (point_s, points) = rows.map_or((1.0, Vec::new()), |s| (s.point_s(), s.points));
        f(&Timeline {
            points: &points,
            point_s,
            missing: &[],
        });
    });
    let load_problem = move || {
        let failure = series
            .get()
            .and_then(Result::err)
            .or_else(|| histograms.get().and_then(Result::err));
        failure.map(|failure| view! { <Failure failure /> })
    };
    view! {
        {verdict}
        {load_problem}
        <div class="charts">
            {has_scenarios
                .then(|| {
                    view! {
                        <EChart
                            chart=success
                            name="success-rate"
                            label="Success rate per scenario against its minimum"
                        />
                    }
                })}
            <EChart
                chart=percentiles
                name="latency-percentiles"
                label="Latency by percentile per scenario, log percentile axis"
            />
            <RunCharts seconds limits />
        </div>
    }
}

/// The report's verdicts: overall, thresholds, criteria, and what each scenario measured.
#[component]
fn Verdicts(report: RunReport) -> impl IntoView {
    let worst = report
        .thresholds
        .iter()
        .map(|t| t.level)
        .max()
        .unwrap_or(Level::Ok);
    // A gauge the source did not provide is not a zero.
    let missing = report.sources.missing_pool_gauges.clone();
    let provided = move |gauge: &str, value: String| {
        if missing.iter().any(|m| m == gauge) {
            "not provided".to_owned()
        } else {
            value
        }
    };
    let thresholds = report
        .thresholds
        .iter()
        .map(|t| {
            let gauge = match t.metric {
                Metric::PoolUtilizationPct => "checked out",
                Metric::OverflowUsagePct => "overflow",
                Metric::ExhaustionEvents => "waiting",
                Metric::ChurnPerS => "connections created",
                _ => "",
            };
            let peak = provided(gauge, metric(t.metric, t.peak));
            let level = (!peak.starts_with("not")).then(|| view! { <LevelBadge level=t.level /> });
            view! {
                <tr data-metric=t.metric.name()>
                    <th scope="row">{metric_label(t.metric)}</th>
                    <td class="num">{peak}</td>
                    <td class="num">{metric(t.metric, t.warning)}</td>
                    <td class="num">{metric(t.metric, t.critical)}</td>
                    <td>{level}</td>
                </tr>
            }
        })
        .collect_view();
    let criteria_rows = report
        .scenarios
        .iter()
        .flat_map(|s| s.criteria.iter().map(move |c| (s.name.clone(), c.clone())))
        .chain(
            report
                .criteria
                .iter()
                .map(|c| ("(run)".to_owned(), c.clone())),
        )
        .map(|(scenario, c)| {
            let row_scenario = scenario.clone();
            view! {
                <tr
                    data-scenario=row_scenario
                    data-criterion=c.name.name()
                    class=if c.passed { "" } else { "failed" }
                >
                    <td>{scenario}</td>
                    <th scope="row">{metric_label(c.name)}</th>
                    <td class="num">{maybe_metric(c.name, c.value)}</td>
                    <td class="rule">{c.rule.clone()}</td>
                    <td class="num">{metric(c.name, c.threshold)}</td>
                    <td>
                        <PassBadge passed=c.passed />
                    </td>
                </tr>
            }
        })
        .collect_view();
    let scenario_rows = report
        .scenarios
        .iter()
        .map(|s| {
            view! {
                <tr data-scenario=s.name.clone()>
                    <th scope="row">{s.name.clone()}</th>
                    <td class="num">{s.requests}</td>
                    <td class="num">{format::share(s.success_rate)}</td>
                    <td class="num">{format::ms(s.latency_ms.mean)}</td>
                    <td class="num">{format::ms(s.latency_ms.p50)}</td>
                    <td class="num">{format::ms(s.latency_ms.p95)}</td>
                    <td class="num">{format::ms(s.latency_ms.p99)}</td>
                    <td class="num">{metric(Metric::ThroughputRps, s.throughput_rps)}</td>
                    <td class="num">{provided("acquire wait", format::ms(s.acquire_wait_ms.p95))}</td>
                    <td class="num">
                        {provided("checked out", s.pool.peak_checked_out.to_string())}
                    </td>
                    <td class="num">
                        {provided("checked out", format::share(s.pool.peak_utilization))}
                    </td>
                    <td class="num">{provided("timeouts", s.pool.timeouts.to_string())}</td>
                    <td>
                        <PassBadge passed=s.passed />
                    </td>
                </tr>
            }
        })
        .collect_view();
    let recovery = report.recovery.as_ref().map(|r| {
        view! {
            <li data-fact="recovery">
                "Recovery after the burst: " {maybe_metric(Metric::RecoveryS, r.seconds)} " ("
                {r.burst_timeouts} " of " {r.burst_requests} " burst requests timed out) "
                <PassBadge passed=r.passed />
            </li>
        }
    });
    let leaks = report.leaks.as_ref().map(|l| {
        view! {
            <li data-fact="leaks">
                "After the load: " {l.checked_out_after} " checked out, " {l.idle_in_transaction}
                " idle in transaction, " {l.server_backends} " backends of " {l.allowed_backends}
                " allowed " <PassBadge passed=l.passed />
            </li>
        }
    });
    let sources = sources_line(&report.sources);
    view! {
        <section class="card" id="verdict">
            <h3>
                "Verdict " <span id="run-verdict">
                    <PassBadge passed=report.passed />
                </span> " Worst threshold level " <span id="worst-level">
                    <LevelBadge level=worst />
                </span>
            </h3>
            <p class="hint">
                "Ran for " {format::duration(report.duration_s)} " on PostgreSQL "
                {report.server.version.clone()} "; peak " {report.server.peak_run_backends}
                " backends of this run (max_connections " {report.server.max_connections} ")."
            </p>
            <ul class="plain">{recovery} {leaks} {sources}</ul>
        </section>
        <section class="card">
            <h3>"Criteria"</h3>
            <Table id="criteria" headers=&[
                "Scenario",
                "Criterion",
                "Value",
                "Rule",
                "Threshold",
                "Result",
            ]>
                {criteria_rows}
            </Table>
        </section>
        <section class="card">
            <h3>"Alert thresholds (peak over the run)"</h3>
            <Table id="thresholds" headers=&[
                "Metric",
                "Peak",
                "Warning at",
                "Critical at",
                "Level",
            ]>
                {thresholds}
            </Table>
        </section>
        <section class="card">
            <h3>"Scenarios"</h3>
            <Table id="scenarios" headers=&[
                "Scenario",
                "Requests",
                "Succeeded",
                "Mean",
                "p50",
                "p95",
                "p99",
                "Throughput",
                "Acquire wait p95",
                "Peak checked out",
                "Peak utilization",
                "Timeouts",
                "Result",
            ]>
                {scenario_rows}
            </Table>
        </section>
    }
}

/// Where the pool's and the server's gauges came from, and when a service's metrics went silent.
fn sources_line(sources: &GaugeSources) -> impl IntoView + use<> {
    let gauges = if sources.pool_gauges.is_empty() {
        String::new()
    } else {
        format!(": {}", sources.pool_gauges.join(", "))
    };
    let missing = (!sources.missing_pool_gauges.is_empty())
        .then(|| format!("; not provided: {}", sources.missing_pool_gauges.join(", ")));
    let lost = sources.metrics_lost_at_s.map(|at| {
        let cause = sources.last_scrape_error.clone().unwrap_or_default();
        view! {
            " "
            <strong class="error" data-fact="metrics-lost">
                "Metrics lost at " {format::duration(at)} " (" {sources.failed_scrapes}
                " failed scrapes: " {cause} ")."
            </strong>
        }
    });
    view! {
        <li data-fact="sources">
            "Pool gauges from " {sources.pool.clone()} {gauges} {missing}
            "; server backends from " {sources.server.clone()} "." {lost}
        </li>
    }
}
