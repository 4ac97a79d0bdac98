//! `/compare/{base}/{head}` and `/compare?baseline=NAME&head=ID`: two runs side by side, per
//! scenario and metric: both values, the change, its significance and the verdict.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use lifeguard_shared::compare::{Comparison, MetricComparison, RunRef};
use lifeguard_shared::run::{PhaseDistribution, ShareRequest};

use crate::api::{self, ApiFailure, CompareSpec};
use crate::charts::percentiles::{Curve, percentile_curves};
use crate::components::badges::VerdictBadge;
use crate::components::chart::EChart;
use crate::components::share::{CopyLink, ShareButton};
use crate::components::status::{Failure, Loading, Missing};
use crate::components::table::Table;
use crate::format::{self, maybe_metric, metric_label};

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

/// A run as the comparison names it, linked.
#[component]
fn RunCard(side: &'static str, run: RunRef) -> impl IntoView {
    view! {
        <div class="side" data-side=side>
            <h3>{side}</h3>
            <A href=format!("/runs/{}", run.id)>
                <span class="mono">{run.id.clone()}</span>
            </A>
            <p class="hint">
                {run.target} " · " {run.environment} " · " {run.version} " · " {run.suite} " / "
                {run.profile}
            </p>
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
                .map_or_else(|| "–".to_owned(), |d| format::delta(m.metric, d));
            let relative = m.relative.map_or_else(|| "–".to_owned(), format::relative);
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

async fn both_histograms(
    base: String,
    head: String,
) -> Result<(Vec<PhaseDistribution>, Vec<PhaseDistribution>), ApiFailure> {
    // At once: each is a separate server-side merge of an hour of histograms.
    let (base, head) =
        futures::future::try_join(api::histograms(&base), api::histograms(&head)).await?;
    Ok((base.phases, head.phases))
}

#[component]
fn ComparisonView(spec: CompareSpec, comparison: Comparison) -> impl IntoView {
    let (base_id, head_id) = (comparison.base.id.clone(), comparison.head.id.clone());
    let histograms = super::resource(move || both_histograms(base_id.clone(), head_id.clone()));
    let chart = Signal::derive_local(move || {
        let (base, head) = histograms.get().and_then(Result::ok).unwrap_or_default();
        let mut curves: Vec<Curve<'_>> = Vec::new();
        for phase in &head {
            if let Some(b) = base.iter().find(|b| b.name == phase.name) {
                curves.push(Curve {
                    label: format!("{} · base", b.name),
                    points: &b.points,
                    dashed: true,
                });
            }
            curves.push(Curve {
                label: format!("{} · head", phase.name),
                points: &phase.points,
                dashed: false,
            });
        }
        percentile_curves("Latency by percentile: base (dashed) and head", &curves)
    });
    let scenarios = comparison
        .scenarios
        .iter()
        .map(|s| {
            view! {
                <section class="card scenario" data-scenario=s.name.clone()>
                    <h3>{s.name.clone()} " " <VerdictBadge verdict=s.verdict /></h3>
                    {metric_table(&s.name, &s.metrics)}
                </section>
            }
        })
        .collect_view();
    let run_level = (!comparison.run.is_empty()).then(|| {
        view! {
            <section class="card scenario" data-scenario="(run)">
                <h3>"Whole run"</h3>
                {metric_table("(run)", &comparison.run)}
            </section>
        }
    });
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
        <p class="hint method" id="compare-method">
            {comparison.method.clone()}
        </p>
        <div class="charts">
            <EChart
                chart
                name="latency-percentiles"
                label="Latency by percentile of base and head per scenario"
            />
        </div>
        {move || {
            histograms
                .get()
                .and_then(Result::err)
                .map(|failure| view! { <Failure failure /> })
        }}
        {scenarios}
        {run_level}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
