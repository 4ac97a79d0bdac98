//! `/`: what the console's target looks like right now, measured live.

use leptos::prelude::*;
use lifeguard_shared::health::ProbeReport;

use crate::api;
use crate::charts::probe_chart;
use crate::components::chart::EChart;

/// Probes the target on load and on demand.
#[component]
pub fn HomePage() -> impl IntoView {
    let probe = LocalResource::new(api::probe);
    view! {
        <section class="card">
            <h2>"Target"</h2>
            <Transition fallback=|| view! { <p class="loading">"Measuring the target…"</p> }>
                {move || {
                    probe
                        .get()
                        .map(|result| match result {
                            Ok(report) => view! { <ProbeView report /> }.into_any(),
                            Err(failure) => {
                                view! {
                                    <p class="error" data-testid="error">{failure.to_string()}</p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
            <button on:click=move |_| probe.refetch()>"Measure again"</button>
        </section>
    }
}

/// The probe's figures and its chart.
#[component]
fn ProbeView(report: ProbeReport) -> impl IntoView {
    let ms = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2} ms"));
    let connect = ms(report.median_connect_ms());
    let round_trip = ms(report.median_round_trip_ms());
    let chart = Signal::stored(probe_chart(&report));
    view! {
        <dl class="facts">
            <div>
                <dt>"Target"</dt>
                <dd data-testid="target">{report.target.clone()}</dd>
            </div>
            <div>
                <dt>"PostgreSQL"</dt>
                <dd data-testid="server-version">{report.server_version.clone()}</dd>
            </div>
            <div>
                <dt>"max_connections"</dt>
                <dd data-testid="max-connections">{report.max_connections}</dd>
            </div>
            <div>
                <dt>"Connected backends"</dt>
                <dd data-testid="connected-backends">{report.connected_backends}</dd>
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
        <EChart chart label="Connection and round-trip times of the target, sample by sample" />
    }
}
