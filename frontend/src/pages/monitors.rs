//! `/monitors`: every target watched between tests, its level and latest sample;
//! `/monitors/{target}?range=1h`: its metrics over a range with the rules' levels, alerts and
//! deployments, followed live over Server-Sent Events; `/deployments/{id}`: a deployment judged
//! by its traffic.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{Alert, MONITORED, MonitorSample, MonitorStatus};

use crate::api;
use crate::charts::monitor::{mark_link, monitor_chart};
use crate::components::badges::{LevelBadge, VerdictBadge};
use crate::components::chart::{self, Clicked, EChart};
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::local_time;
use crate::live::EventStream;

/// The ranges the picker offers: query value, label, milliseconds.
pub const RANGES: [(&str, &str, u64); 7] = [
    ("15m", "15 min", 15 * 60_000),
    ("1h", "1 hour", 3_600_000),
    ("6h", "6 hours", 6 * 3_600_000),
    ("24h", "24 hours", 24 * 3_600_000),
    ("7d", "7 days", 7 * 86_400_000),
    ("30d", "30 days", 30 * 86_400_000),
    ("90d", "90 days", 90 * 86_400_000),
];

/// The range `value` names (the first, 15 minutes, for anything else).
#[must_use]
pub fn range_ms(value: Option<&str>) -> (&'static str, u64) {
    RANGES
        .iter()
        .find(|(v, _, _)| Some(*v) == value)
        .map_or((RANGES[0].0, RANGES[0].2), |(v, _, ms)| (*v, *ms))
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the browser's clock, in milliseconds since 1970"
)]
fn now_ms() -> u64 {
    web_sys::js_sys::Date::now() as u64
}

#[component]
pub fn MonitorsPage() -> impl IntoView {
    let monitors = super::resource(api::monitors);
    view! {
        <div class="page-head">
            <h2>"Monitors"</h2>
            <CopyLink />
        </div>
        <Transition fallback=|| view! { <Loading what="Loading the monitors…" /> }>
            {move || {
                monitors
                    .get()
                    .map(|result| match result {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <section class="card" id="no-monitors">
                                    <p>
                                        "No target is watched. Add a "
                                        <code>"[[monitors]]"</code>
                                        " entry to the configuration (see the README) and restart the console."
                                    </p>
                                </section>
                            }
                                .into_any()
                        }
                        Ok(list) => view! { <MonitorTable list /> }.into_any(),
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn MonitorTable(list: Vec<MonitorStatus>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|status| {
            let href = format!("/monitors/{}", api::encode(&status.target));
            let sample = status.last_sample.clone();
            let value = move |metric: Metric| {
                sample
                    .as_ref()
                    .and_then(|s| s.value(metric))
                    .map_or_else(|| "–".to_owned(), |v| metric.format(v))
            };
            let last_alert = status.last_alert.as_ref().map_or_else(
                || "none".to_owned(),
                |a| {
                    format!(
                        "{} {} at {}{}",
                        crate::components::badges::level_name(a.level),
                        a.metric.label(),
                        local_time(a.fired_at_ms),
                        if a.resolved_at_ms.is_some() {
                            ", resolved"
                        } else {
                            ""
                        }
                    )
                },
            );
            let name = status.target.clone();
            view! {
                <tr data-target=status.target.clone()>
                    <td>
                        <A href=href>{name}</A>
                    </td>
                    <td>
                        <LevelBadge level=status.level />
                    </td>
                    <td class="num">{value(Metric::ConnectionsUsedPct)}</td>
                    <td class="num">{value(Metric::IdleInTransaction)}</td>
                    <td class="num">{value(Metric::IdleInTransactionAgeS)}</td>
                    <td class="num">{value(Metric::ChurnPerS)}</td>
                    <td>{last_alert}</td>
                    <td class="error">{status.error.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <Table
                id="monitors"
                headers=&[
                    "Target",
                    "Level",
                    "Connections used",
                    "Idle in tx",
                    "Oldest idle in tx",
                    "New connections",
                    "Last alert",
                    "Error",
                ]
            >
                {rows}
            </Table>
        </section>
    }
}

/// What the monitor view shows: the history over the range, its alerts and deployments, and its
/// rules.
type Watched = (
    lifeguard_shared::monitor::MonitorHistory,
    Vec<lifeguard_shared::monitor::Alert>,
    Vec<lifeguard_shared::monitor::Deployment>,
    Option<MonitorStatus>,
    Vec<lifeguard_shared::run::RunSummary>,
);

async fn watched(target: String, range: u64) -> Result<Watched, api::ApiFailure> {
    let to_ms = now_ms() + 1;
    let history = api::monitor_history(&target, to_ms.saturating_sub(range), to_ms).await?;
    let alerts = api::alerts(&target).await?;
    let deployments = api::deployments(&target).await?;
    let status = api::monitors()
        .await?
        .into_iter()
        .find(|m| m.target == target);
    let runs = api::runs(&api::RunFilter {
        target: Some(target),
        limit: 200,
        ..api::RunFilter::default()
    })
    .await?
    .runs;
    Ok((history, alerts, deployments, status, runs))
}

#[component]
pub fn MonitorPage() -> impl IntoView {
    chart::load_early();
    let params = use_params_map();
    let query = use_query_map();
    let target = Memo::new(move |_| params.read().get("target").unwrap_or_default());
    let range = Memo::new(move |_| range_ms(query.read().get("range").as_deref()));
    let data = super::resource(move || {
        let (target, (_, ms)) = (target.get(), range.get());
        async move { watched(target, ms).await }
    });
    let picker = move || {
        let (chosen, _) = range.get();
        RANGES
            .iter()
            .map(|(value, label, _)| {
                let href = format!("/monitors/{}?range={value}", api::encode(&target.get()));
                let current = (*value == chosen).then_some("true");
                view! {
                    <a href=href aria-current=current data-range=*value>
                        {*label}
                    </a>
                }
            })
            .collect_view()
    };
    view! {
        <div class="page-head">
            <h2>{move || format!("Monitor: {}", target.get())}</h2>
            <CopyLink />
        </div>
        <nav class="tabs" id="range-picker" aria-label="Time range">
            {picker}
        </nav>
        <Transition fallback=|| view! { <Loading what="Loading the monitor…" /> }>
            {move || {
                data.get()
                    .map(|result| match result {
                        Ok(watched) => {
                            let range_ms = range.get_untracked().1;
                            let reload = Callback::new(move |()| data.refetch());
                            view! { <MonitorView watched range_ms reload /> }.into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// The monitor's range, followed live: each sample the stream brings slides the range on, each
/// alert updates its row; a reader that fell behind loads the range again (`reload`).
#[component]
fn MonitorView(watched: Watched, range_ms: u64, reload: Callback<()>) -> impl IntoView {
    let (history, alerts, deployments, status, runs) = watched;
    let target = history.target.clone();
    let history = RwSignal::new(history);
    let alerts = RwSignal::new(alerts);
    let following = RwSignal::new("connecting");
    let opened = EventStream::open(
        &api::monitor_live_url(&target),
        &["sample", "alert", "lagged"],
        move |kind, data| match kind {
            "sample" => {
                if let Ok(sample) = serde_json::from_str::<MonitorSample>(data) {
                    let known = history.with_untracked(|h| {
                        h.samples.last().is_some_and(|l| l.at_ms >= sample.at_ms)
                    });
                    if known {
                        return;
                    }
                    history.update(|h| {
                        h.to_ms = h.to_ms.max(sample.at_ms + 1);
                        h.from_ms = h.to_ms.saturating_sub(range_ms);
                        let from = h.from_ms;
                        h.samples.retain(|s| s.at_ms >= from);
                        h.minutes.retain(|m| m.minute_ms >= from);
                        h.samples.push(sample);
                    });
                    following.set("live");
                }
            }
            "alert" => {
                if let Ok(alert) = serde_json::from_str::<Alert>(data) {
                    alerts.update(|all| match all.iter_mut().find(|a| a.id == alert.id) {
                        Some(known) => *known = alert,
                        None => all.insert(0, alert),
                    });
                }
            }
            _ => reload.run(()),
        },
        move |closed| following.set(if closed { "closed" } else { "reconnecting" }),
    );
    let stream = StoredValue::new_local(opened.ok());
    on_cleanup(move || stream.update_value(|s| drop(s.take())));
    let rules = status.as_ref().map(|s| s.rules.clone()).unwrap_or_default();
    // What this target's monitor measures: a server's metrics, a service's pool, or both. Before
    // the first sample, every metric.
    let measured = history.with_untracked(|h| {
        MONITORED
            .into_iter()
            .filter(|&m| {
                h.samples.iter().any(|s| s.value(m).is_some())
                    || h.minutes.iter().any(|row| row.metric == m)
            })
            .collect::<Vec<_>>()
    });
    let shown = if measured.is_empty() {
        MONITORED.to_vec()
    } else {
        measured
    };
    let navigate = use_navigate();
    let charts = shown
        .into_iter()
        .map(|metric| {
            let rule = rules.iter().find(|r| r.metric == metric).copied();
            let marks = StoredValue::new((deployments.clone(), runs.clone()));
            let chart = Signal::derive_local(move || {
                marks.with_value(|(deployments, runs)| {
                    history.with(|h| {
                        alerts
                            .with(|a| monitor_chart(metric, h, rule.as_ref(), a, deployments, runs))
                    })
                })
            });
            // A deployment's line opens its before/after comparison; a run's, the run.
            let navigate = navigate.clone();
            let on_click = Callback::new(move |clicked: Clicked| {
                let link = marks.with_value(|(deployments, runs)| {
                    history.with_untracked(|h| {
                        mark_link(&clicked.series, clicked.index, h, deployments, runs)
                    })
                });
                if let Some(link) = link.filter(|_| clicked.component == "markLine") {
                    navigate(&link, NavigateOptions::default());
                }
            });
            let label = format!("{} of {target} over time", metric.titled());
            view! {
                <section class="card">
                    <EChart chart name=metric.name() label on_click />
                </section>
            }
        })
        .collect_view();
    let alert_rows = move || {
        alerts.with(|all| {
            all.iter()
                .map(|a| {
                    view! {
                        <tr data-alert=a.id.clone()>
                            <td>{a.metric.label()}</td>
                            <td>
                                <LevelBadge level=a.level />
                            </td>
                            <td class="num">{a.metric.format(a.value)}</td>
                            <td>{local_time(a.fired_at_ms)}</td>
                            <td>
                                {a.resolved_at_ms.map_or_else(|| "standing".to_owned(), local_time)}
                            </td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    let deployment_rows = deployments
        .iter()
        .map(|d| {
            let href = format!("/deployments/{}", api::encode(&d.id));
            view! {
                <tr data-deployment=d.id.clone()>
                    <td>{d.version.clone()}</td>
                    <td>{local_time(d.at_ms)}</td>
                    <td>{d.notes.clone()}</td>
                    <td>
                        <A href=href>"before / after"</A>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let summary = move || {
        history.with(|h| {
            format!(
                "{} samples and {} one-minute rows from {} to {}",
                h.samples.len(),
                h.minutes.len(),
                local_time(h.from_ms),
                local_time(h.to_ms),
            )
        })
    };
    view! {
        <p class="muted" id="monitor-summary">
            {summary}
            " · "
            <span id="monitor-live" data-following=move || following.get()>
                {move || following.get()}
            </span>
        </p>
        <div class="charts">{charts}</div>
        <section class="card">
            <h3>"Alerts"</h3>
            <Table id="alerts" compact=true headers=&["Metric", "Level", "Value", "Fired", "Resolved"]>
                {alert_rows}
            </Table>
        </section>
        <section class="card">
            <h3>"Deployments"</h3>
            <Table id="deployments" compact=true headers=&["Version", "At", "Notes", "Compared"]>
                {deployment_rows}
            </Table>
        </section>
    }
}

/// `/deployments/{id}?window=30m`: the traffic after the deployment against before it.
#[component]
pub fn DeploymentPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let window_s = Memo::new(move |_| {
        query
            .read()
            .get("window_s")
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(1800)
    });
    let comparison = super::resource(move || {
        let (id, window_s) = (id.get(), window_s.get());
        async move { api::deployment_comparison(&id, window_s).await }
    });
    view! {
        <div class="page-head">
            <h2>"Deployment, before and after"</h2>
            <CopyLink />
        </div>
        <Transition fallback=|| view! { <Loading what="Comparing the traffic…" /> }>
            {move || {
                comparison
                    .get()
                    .map(|result| match result {
                        Ok(compared) => {
                            let d = &compared.deployment;
                            let rows = compared
                                .metrics
                                .iter()
                                .map(|m| {
                                    let side = |v: Option<f64>| {
                                        v.map_or_else(|| "–".to_owned(), |v| m.metric.format(v))
                                    };
                                    view! {
                                        <tr data-metric=m.metric.name()>
                                            <td>{m.metric.label()}</td>
                                            <td class="num">{side(m.base)}</td>
                                            <td class="num">{side(m.head)}</td>
                                            <td>
                                                <VerdictBadge verdict=m.verdict />
                                            </td>
                                            <td class="muted">{m.note.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <section class="card">
                                    <p id="deployment-summary">
                                        {format!(
                                            "`{}` on `{}` at {}: {} samples before, {} after — ",
                                            d.version,
                                            d.target,
                                            local_time(d.at_ms),
                                            compared.before.samples,
                                            compared.after.samples,
                                        )}
                                        <VerdictBadge verdict=compared.verdict />
                                    </p>
                                    <Table
                                        id="deployment-metrics"
                                        headers=&["Metric", "Before (mean)", "After (mean)", "Verdict", "Why"]
                                    >
                                        {rows}
                                    </Table>
                                </section>
                            }
                                .into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_read_from_the_address_and_falls_back_to_15_minutes() {
        assert_eq!(range_ms(Some("24h")), ("24h", 86_400_000));
        assert_eq!(range_ms(Some("90d")).1, 90 * 86_400_000);
        assert_eq!(range_ms(Some("forever")), ("15m", 900_000));
        assert_eq!(range_ms(None), ("15m", 900_000));
    }
}
