//! `/sizings/{id}`: a sizing as far as it got — what decided, p95 and throughput by pool size,
//! every point with its run, and the recommendation as configuration and as the service's
//! environment. A running sizing is read again every second.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::sizing::{SizingDetail, SizingState, service_environment};

use crate::api;
use crate::charts::sizing::sizing_chart;
use crate::components::cancel::CancelButton;
use crate::components::chart::{self, EChart};
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::{local_time, maybe_metric};

/// How often a running sizing is read again.
const FOLLOW: Duration = Duration::from_secs(1);

#[component]
pub fn SizingPage() -> impl IntoView {
    chart::load_early();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let sizing = super::resource(move || {
        let id = id.get();
        async move { api::sizing(&id).await }
    });
    // Outside the view the page re-renders each second: the cancel button stays put.
    let running = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(detail)) = sizing.get() {
            let still = detail.state == SizingState::Running;
            running.set(still);
            if still {
                set_timeout(move || sizing.refetch(), FOLLOW);
            }
        }
    });
    view! {
        <div class="page-head">
            <h2>"Sizing"</h2>
            <CopyLink />
            <CancelButton
                what="sizings"
                id=id.get_untracked()
                dom_id="cancel-sizing"
                label="Cancel sizing"
                done="Cancel requested; the points measured so far stay."
                open=running
            />
        </div>
        <Transition fallback=|| view! { <Loading what="Loading the sizing…" /> }>
            {move || {
                sizing
                    .get()
                    .map(|result| match result {
                        Ok(detail) => view! { <SizingView detail /> }.into_any(),
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// One fact of the sizing's summary.
fn fact(term: &'static str, value: String) -> impl IntoView {
    view! {
        <div>
            <dt>{term}</dt>
            <dd>{value}</dd>
        </div>
    }
}

#[component]
fn SizingView(detail: SizingDetail) -> impl IntoView {
    let sizing = detail.sizing;
    let headroom = sizing.headroom;
    let connections = |n: Option<u32>| n.map_or_else(|| "–".to_owned(), |n| n.to_string());
    let recommended = sizing.recommendation.as_ref().map_or_else(
        || "none".to_owned(),
        |p| {
            let pool = format!("{} + {}", p.primary.pool_size, p.primary.max_overflow);
            if p.replicas > 1 {
                format!("{pool} in each of {} replicas", p.replicas)
            } else {
                pool
            }
        },
    );
    let little = sizing.little.map_or_else(
        || "–".to_owned(),
        |l| {
            format!(
                "{:.1} busy ({:.0} req/s × {:.2} ms)",
                l.connections, l.arrival_rps, l.hold_ms
            )
        },
    );
    let knee = sizing.knee.map_or_else(
        || "–".to_owned(),
        |k| format!("{} ({:.0} req/s)", k.pool_size, k.throughput_rps),
    );
    let formula = sizing.formula.as_ref().map_or_else(
        || "–".to_owned(),
        |f| format!("{} sync, {} async", f.pool_size, f.async_pool_size),
    );
    let rows = sizing
        .points
        .iter()
        .map(|p| {
            let run = p.run_id.clone();
            let (row, href) = (run.clone(), format!("/runs/{run}"));
            view! {
                <tr data-run-id=row data-passed=p.passed.to_string()>
                    <td class="num">{format!("{} + {}", p.pool_size, p.max_overflow)}</td>
                    <td class="num">{format!("{}×", p.load_factor)}</td>
                    <td>{p.state.as_str()}</td>
                    <td class="num">{maybe_metric(Metric::P95LatencyMs, p.p95_ms)}</td>
                    <td class="num">
                        {maybe_metric(Metric::AcquireWaitP95Ms, p.acquire_wait_p95_ms)}
                    </td>
                    <td class="num">
                        {p.throughput_rps.map_or_else(|| "–".to_owned(), |r| format!("{r:.0}"))}
                    </td>
                    <td>
                        <A href=href>{run}</A>
                    </td>
                    <td>{p.failed.join(", ")}</td>
                </tr>
            }
        })
        .collect_view();
    let configuration = sizing.recommendation.as_ref().map(|profile| {
        let primary = &profile.primary;
        let replicas = if profile.replicas > 1 {
            format!("# in each of {} replicas\n", profile.replicas)
        } else {
            String::new()
        };
        let text = format!(
            "[profiles.primary]   # profile `{}`\n{replicas}pool_size = {}\nmax_overflow = {}\n\
             pool_timeout_s = {}\n\n# the analysed service's environment\n{}",
            profile.name,
            primary.pool_size,
            primary.max_overflow,
            primary.pool_timeout_s,
            service_environment(profile)
        );
        view! {
            <section class="card">
                <h3>"The recommendation"</h3>
                <pre id="sizing-profile">{text}</pre>
            </section>
        }
    });
    let has_points = !sizing.points.is_empty();
    let summary = if sizing.summary.is_empty() && detail.state == SizingState::Running {
        format!(
            "Measuring: {} run{} so far; this page follows the sizing.",
            sizing.points.len(),
            if sizing.points.len() == 1 { "" } else { "s" }
        )
    } else {
        sizing.summary.clone()
    };
    let label = format!(
        "p95 latency and throughput of {} by pool size at 1× and {headroom}×",
        sizing.suite
    );
    let chart = Signal::derive_local({
        let sizing = sizing.clone();
        move || sizing_chart(&sizing)
    });
    view! {
        <dl class="facts small card" id="sizing-facts">
            <div>
                <dt>"State"</dt>
                <dd id="sizing-state">{detail.state.as_str()}</dd>
            </div>
            {fact("Target", sizing.target.clone())}
            {fact("Suite", sizing.suite.clone())}
            {fact("From profile", sizing.profile.clone())}
            {(sizing.replicas > 1).then(|| fact("Replicas", sizing.replicas.to_string()))}
            {fact("Started", local_time(detail.created_at))}
            {fact("Enough at 1×", connections(sizing.at_load))}
            {fact(
                if headroom > 1.0 { "Enough at the headroom" } else { "Enough at 1×" },
                format!("{} at {headroom}×", connections(sizing.at_headroom)),
            )}
            {fact("Recommended", recommended)}
            {fact("Little's law", little)}
            {fact("Knee", knee)}
            {fact("The analysis's formula", formula)}
        </dl>
        <section class="card">
            <p id="sizing-summary">{summary}</p>
            {sizing.formula.as_ref().map(|f| view! { <p class="muted">{f.explanation.clone()}</p> })}
            {detail.error.map(|error| view! { <p class="error">{error}</p> })}
        </section>
        {has_points
            .then(|| {
                view! {
                    <section class="card">
                        <EChart chart name="sizing" label />
                    </section>
                    <section class="card">
                        <Table
                            id="sizing-points"
                            headers=&[
                                "Pool",
                                "Load",
                                "State",
                                "p95",
                                "Wait p95",
                                "req/s",
                                "Run",
                                "Failed",
                            ]
                        >
                            {rows}
                        </Table>
                    </section>
                }
            })}
        {configuration}
    }
}
