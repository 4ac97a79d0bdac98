//! `/targets`: the targets this console may load, and one of them measured live.

use leptos::prelude::*;
use lifeguard_shared::health::ProbeReport;

use crate::api;
use crate::charts::probe_chart;
use crate::components::chart::EChart;
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};

/// The configured targets, and a probe of the default one on load and on demand.
#[component]
pub fn TargetsPage() -> impl IntoView {
    let targets = super::resource(api::targets);
    let probe = super::resource(probe_a_database);
    view! {
        <div class="page-head">
            <h2>"Targets"</h2>
            <CopyLink />
        </div>
        <section class="card">
            <Transition fallback=|| view! { <Loading what="Loading the targets…" /> }>
                {move || {
                    targets
                        .get()
                        .map(|result| match result {
                            Ok(targets) => {
                                view! {
                                    <table class="table" id="targets">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Name"</th>
                                                <th scope="col">"Kind"</th>
                                                <th scope="col">"Where"</th>
                                                <th scope="col">"Read while loading"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {targets
                                                .into_iter()
                                                .map(|t| {
                                                    let row = t.name.clone();
                                                    view! {
                                                        <tr data-target=row>
                                                            <td>{t.name}</td>
                                                            <td>{t.kind}</td>
                                                            <td>{t.description}</td>
                                                            <td data-provides>{t.provides.join("; ")}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                }
                                    .into_any()
                            }
                            Err(failure) => view! { <Failure failure /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
        <section class="card">
            <h2>"Measured now"</h2>
            <Transition fallback=|| view! { <Loading what="Measuring the target…" /> }>
                {move || {
                    probe
                        .get()
                        .map(|result| match result {
                            Ok(Some(report)) => {
                                view! {
                                    <ProbeView report />
                                    <button type="button" on:click=move |_| probe.refetch()>
                                        "Measure again"
                                    </button>
                                }
                                    .into_any()
                            }
                            Ok(None) => {
                                view! {
                                    <p class="hint" id="no-database">
                                        "Every target is a service: its database is watched during runs when configured."
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(failure) => view! { <Failure failure /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// A probe of the default database; `None` when every target is a service (nothing to probe).
async fn probe_a_database() -> Result<Option<ProbeReport>, api::ApiFailure> {
    let targets = api::targets().await?;
    if targets.iter().all(|t| t.kind == "http") {
        return Ok(None);
    }
    api::probe().await.map(Some)
}

/// The probe's figures and its chart.
#[component]
fn ProbeView(report: ProbeReport) -> impl IntoView {
    let ms = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2} ms"));
    let connect = ms(report.median_connect_ms());
    let round_trip = ms(report.median_round_trip_ms());
    let (target, server_version) = (report.target.clone(), report.server_version.clone());
    let (max_connections, connected_backends) = (report.max_connections, report.connected_backends);
    let chart = Signal::derive_local(move || probe_chart(&report));
    view! {
        <dl class="facts">
            <div>
                <dt>"Target"</dt>
                <dd data-testid="target">{target}</dd>
            </div>
            <div>
                <dt>"PostgreSQL"</dt>
                <dd data-testid="server-version">{server_version}</dd>
            </div>
            <div>
                <dt>"max_connections"</dt>
                <dd data-testid="max-connections">{max_connections}</dd>
            </div>
            <div>
                <dt>"Connected backends"</dt>
                <dd data-testid="connected-backends">{connected_backends}</dd>
            </div>
            <div>
                <dt>"Median new connection"</dt>
                <dd data-testid="median-connect">{connect}</dd>
            </div>
            <div>
                <dt>"Median round trip"</dt>
                <dd data-testid="median-round-trip">{round_trip}</dd>
            </div>
        </dl>
        <EChart
            chart
            name="probe"
            label="Connection and round-trip times of the target, sample by sample"
        />
    }
}
