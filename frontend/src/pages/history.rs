//! `/history?target=&environment=&suite=&profile=&metric=&scenario=`: one metric across a
//! target's finished runs of one suite in one environment, oldest first, with the change points
//! the detector found (a line each on the chart, a row each under it with the comparison across
//! it). Every picker is in the address, so a history is a link; what the address leaves out is
//! filled in: the first target, p95 latency, the newest run's suite, its heaviest scenario.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use lifeguard_shared::history::{History, per_scenario};
use lifeguard_shared::metric::Metric;

use crate::api::{self, ApiFailure, HistoryFilter, RunFilter, SuiteOutline, with_query};
use crate::charts::history::{change_label, change_point_history};
use crate::components::badges::StateBadge;
use crate::components::chart::{self, EChart};
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::{local_time, maybe_metric, metric};

/// The metric shown when the address names none: the one the runs list charts.
const DEFAULT_METRIC: Metric = Metric::P95LatencyMs;

/// Recent runs read for the environment picker's suggestions.
const RECENT_RUNS: u64 = 200;

/// The filter a query string asks for (`get` reads one query parameter); an unknown metric name
/// counts as none.
#[must_use]
pub fn filter_from(get: impl Fn(&str) -> Option<String>) -> HistoryFilter {
    let text = |key: &str| get(key).filter(|v| !v.is_empty());
    HistoryFilter {
        target: text("target"),
        environment: text("environment"),
        suite: text("suite"),
        profile: text("profile"),
        metric: text("metric").and_then(|name| Metric::from_name(&name)),
        scenario: text("scenario"),
    }
}

/// The scenario a per-scenario history shows: the asked one when the suite has it (or the suite
/// is not known here), else the suite's last, heaviest one.
#[must_use]
pub fn scenario_in(asked: Option<String>, scenarios: &[String]) -> Option<String> {
    match asked {
        Some(name) if scenarios.is_empty() || scenarios.contains(&name) => Some(name),
        _ => scenarios.last().cloned(),
    }
}

/// What the pickers offer: targets, suites (with their scenarios), profiles by name, and the
/// environments of recent runs with their target.
#[derive(Debug, Clone, PartialEq)]
struct Choices {
    targets: Vec<String>,
    suites: Vec<SuiteOutline>,
    profiles: Vec<String>,
    /// `(target, environment)` of recent runs, newest first, each pair once.
    environments: Vec<(String, String)>,
}

impl Choices {
    fn scenarios(&self, suite: &str) -> Vec<String> {
        self.suites
            .iter()
            .find(|s| s.name == suite)
            .map(|s| s.scenarios.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }
}

async fn choices() -> Result<Choices, ApiFailure> {
    let recent = RunFilter {
        limit: RECENT_RUNS,
        ..RunFilter::default()
    };
    let (targets, suites, profiles, runs) = futures::future::try_join4(
        api::targets(),
        api::suites(),
        api::profiles(),
        api::runs(&recent),
    )
    .await?;
    let mut environments: Vec<(String, String)> = Vec::new();
    for run in runs.runs {
        let pair = (run.target, run.labels.environment);
        if !pair.1.is_empty() && !environments.contains(&pair) {
            environments.push(pair);
        }
    }
    Ok(Choices {
        targets: targets.into_iter().map(|t| t.name).collect(),
        suites,
        profiles: profiles.into_iter().map(|p| p.name).collect(),
        environments,
    })
}

/// The filter as far as it was filled in, the suite the history is of (the asked one, else the
/// newest run's), and what the API said (`None`: no target).
#[derive(Debug, Clone)]
struct Loaded {
    filter: HistoryFilter,
    suite: Option<String>,
    history: Result<Option<History>, ApiFailure>,
}

/// Fills in what `asked` leaves out and reads the history.
async fn load(asked: HistoryFilter, choices: &Choices) -> Loaded {
    let mut filter = asked;
    if filter.target.is_none() {
        filter.target = choices.targets.first().cloned();
    }
    let metric = *filter.metric.get_or_insert(DEFAULT_METRIC);
    if filter.target.is_none() {
        return Loaded {
            filter,
            suite: None,
            history: Ok(None),
        };
    }
    let mut suite = filter.suite.clone();
    if per_scenario(metric) {
        // The suite decides the scenarios: the asked one, else the one the API reads (that of the
        // newest finished run), found by a history of two runs of a run-level metric.
        let name = if let Some(suite) = &filter.suite {
            suite.clone()
        } else {
            let probe = HistoryFilter {
                metric: Some(Metric::Leaks),
                scenario: None,
                ..filter.clone()
            };
            match api::history(&probe, Some(2)).await {
                Ok(history) => history.suite,
                Err(failure) => {
                    return Loaded {
                        filter,
                        suite,
                        history: Err(failure),
                    };
                }
            }
        };
        if name.is_empty() {
            // No finished run: nothing to show, and no scenario to ask for.
            let history = History {
                target: filter.target.clone().unwrap_or_default(),
                environment: filter.environment.clone().unwrap_or_default(),
                suite: name,
                profile: filter.profile.clone(),
                metric,
                scenario: None,
                points: Vec::new(),
                change_points: Vec::new(),
                settings: lifeguard_shared::history::ChangePointSettings::default(),
            };
            return Loaded {
                filter,
                suite,
                history: Ok(Some(history)),
            };
        }
        filter.scenario = scenario_in(filter.scenario.take(), &choices.scenarios(&name));
        suite = Some(name);
    } else {
        filter.scenario = None;
    }
    let history = api::history(&filter, None).await;
    if let Ok(history) = &history
        && !history.suite.is_empty()
    {
        suite = Some(history.suite.clone());
    }
    Loaded {
        filter,
        suite,
        history: history.map(Some),
    }
}

/// Goes to the history a changed picker asks for.
type Go = std::rc::Rc<dyn Fn(&'static str, String)>;

/// The page: pickers, then the history, both drawn from what was loaded (a `Transition` keeps
/// them while the next history loads).
#[component]
pub fn HistoryPage() -> impl IntoView {
    chart::load_early();
    let query = use_query_map();
    let asked = Memo::new(move |_| query.with(|q: &ParamsMap| filter_from(|key| q.get(key))));
    let choices = super::resource(choices);
    let loaded = super::resource(move || {
        let asked = asked.get();
        let choices = choices.get();
        async move {
            match choices {
                Some(Ok(choices)) => {
                    let loaded = load(asked, &choices).await;
                    Ok(Some((choices, loaded)))
                }
                Some(Err(failure)) => Err(failure),
                None => Ok(None),
            }
        }
    });
    let navigate = use_navigate();
    view! {
        <div class="page-head">
            <h2>"History"</h2>
            <CopyLink />
        </div>
        <Transition fallback=|| view! { <Loading what="Loading the history…" /> }>
            {move || {
                loaded
                    .get()
                    .map(|result| match result {
                        Ok(Some((choices, loaded))) => {
                            let navigate = navigate.clone();
                            let shown = loaded.filter.clone();
                            // Any change keeps the other pickers as shown (filled in).
                            let go: Go = std::rc::Rc::new(move |key, value| {
                                let mut next = shown.clone();
                                let value = (!value.is_empty()).then_some(value);
                                match key {
                                    "target" => next.target = value,
                                    "environment" => next.environment = value,
                                    "suite" => next.suite = value,
                                    "profile" => next.profile = value,
                                    "metric" => {
                                        next.metric = value.and_then(|n| Metric::from_name(&n));
                                    }
                                    _ => next.scenario = value,
                                }
                                // A run-level metric has no scenario: none in the address.
                                if !per_scenario(next.metric.unwrap_or(DEFAULT_METRIC)) {
                                    next.scenario = None;
                                }
                                navigate(
                                    &with_query("/history", &next.pairs()),
                                    NavigateOptions::default(),
                                );
                            });
                            let pickers = pickers(&loaded, &choices, &go);
                            let shown = match loaded.history {
                                Ok(Some(history)) => history_view(history).into_any(),
                                Ok(None) => {
                                    view! {
                                        <section class="card" id="no-target">
                                            <p>
                                                "No target is configured, so there is no history to show."
                                            </p>
                                        </section>
                                    }
                                        .into_any()
                                }
                                Err(failure) => view! { <Failure failure /> }.into_any(),
                            };
                            view! {
                                {pickers}
                                {shown}
                            }
                                .into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                        Ok(None) => view! { <Loading what="Loading the history…" /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// The pickers, showing the filter as filled in; each change goes to the history it picks.
fn pickers(loaded: &Loaded, choices: &Choices, go: &Go) -> impl IntoView + use<> {
    let filter = &loaded.filter;
    let change = |key: &'static str| {
        let go = go.clone();
        move |ev: leptos::ev::Event| go(key, event_target_value(&ev))
    };
    let named = |names: &[String]| -> Vec<(String, String)> {
        names.iter().map(|n| (n.clone(), n.clone())).collect()
    };
    let target = filter.target.clone().unwrap_or_default();
    let environments = choices
        .environments
        .iter()
        .filter(|(t, _)| *t == target)
        .map(|(_, e)| view! { <option value=e.clone()></option> })
        .collect_view();
    let mut suites = vec![(String::new(), "the newest run's".to_owned())];
    suites.extend(named(
        &choices
            .suites
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>(),
    ));
    let mut profiles = vec![(String::new(), "any".to_owned())];
    profiles.extend(named(&choices.profiles));
    let metrics: Vec<(String, String)> = Metric::OF_RUNS
        .iter()
        .map(|m| (m.name().to_owned(), m.titled()))
        .collect();
    let metric = filter.metric.unwrap_or(DEFAULT_METRIC);
    let scenario = per_scenario(metric).then(|| {
        // The scenarios of the suite the history is of.
        let mut scenarios = loaded
            .suite
            .as_deref()
            .map(|s| choices.scenarios(s))
            .unwrap_or_default();
        if let Some(asked) = &filter.scenario
            && !scenarios.contains(asked)
        {
            scenarios.push(asked.clone());
        }
        view! {
            <div class="field">
                <label for="history-scenario">"Scenario"</label>
                <select id="history-scenario" on:change=change("scenario")>
                    {options(named(&scenarios), filter.scenario.as_deref())}
                </select>
            </div>
        }
    });
    view! {
        <form class="card filters" id="history-pickers" on:submit=|ev| ev.prevent_default()>
            <div class="field">
                <label for="history-target">"Target"</label>
                <select id="history-target" on:change=change("target")>
                    {options(named(&choices.targets), Some(&target))}
                </select>
            </div>
            <div class="field">
                <label for="history-environment">"Environment"</label>
                <input
                    id="history-environment"
                    type="text"
                    list="history-environments"
                    placeholder="none"
                    value=filter.environment.clone().unwrap_or_default()
                    on:change=change("environment")
                />
                <datalist id="history-environments">{environments}</datalist>
            </div>
            <div class="field">
                <label for="history-suite">"Suite"</label>
                <select id="history-suite" on:change=change("suite")>
                    {options(suites, filter.suite.as_deref())}
                </select>
            </div>
            <div class="field">
                <label for="history-profile">"Profile"</label>
                <select id="history-profile" on:change=change("profile")>
                    {options(profiles, filter.profile.as_deref())}
                </select>
            </div>
            <div class="field">
                <label for="history-metric">"Metric"</label>
                <select id="history-metric" on:change=change("metric")>
                    {options(metrics, Some(metric.name()))}
                </select>
            </div>
            {scenario}
        </form>
    }
}

/// `<option>`s of `(value, text)`, the one whose value is `current` (none: the empty value)
/// selected — on the option itself: a `<select>`'s own value is set before its options exist.
fn options(entries: Vec<(String, String)>, current: Option<&str>) -> impl IntoView + use<> {
    let current = current.unwrap_or_default();
    entries
        .into_iter()
        .map(|(value, text)| {
            let selected = value == current;
            view! {
                <option value=value prop:selected=selected>
                    {text}
                </option>
            }
        })
        .collect_view()
}

/// A p-value as the table shows it: four decimals, or a power of ten below 0.0001 (`2.5e-9`;
/// written by hand: `{:e}` brings a float formatter of its own into the wasm).
#[must_use]
pub fn p_value(p: f64) -> String {
    if p >= 1e-4 || p <= 0.0 || !p.is_finite() {
        return format!("{p:.4}");
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the exponent of a p-value in (0, 1e-4) is between -324 and -4"
    )]
    let mut exponent = p.log10().floor() as i32;
    let mut mantissa = (p / 10f64.powi(exponent) * 10.0).round() / 10.0;
    if mantissa >= 10.0 {
        mantissa /= 10.0;
        exponent += 1;
    }
    format!("{mantissa:.1}e{exponent}")
}

/// `mean latency of light` / `recovery`: the metric in words, with its scenario.
fn what(history: &History) -> String {
    match &history.scenario {
        Some(scenario) => format!("{} of {scenario}", history.metric.label()),
        None => history.metric.label().to_owned(),
    }
}

/// The summary, chart, change points and runs of a history.
fn history_view(history: History) -> impl IntoView {
    let environment = if history.environment.is_empty() {
        "no environment label".to_owned()
    } else {
        format!("environment {}", history.environment)
    };
    let suite = if history.suite.is_empty() {
        String::new()
    } else {
        format!(
            " · suite {} · profile {}",
            history.suite,
            history.profile.as_deref().unwrap_or("any")
        )
    };
    if history.points.is_empty() {
        return view! {
            <section class="card" id="no-history">
                <p>
                    {format!(
                        "No finished runs of {} in {environment}{suite} yet: a history needs runs that passed or failed.",
                        history.target,
                    )}
                </p>
            </section>
        }
        .into_any();
    }
    let count = history.change_points.len();
    let summary = format!(
        "{} on {} in {environment}{suite}: {} runs, {}.",
        what(&history),
        history.target,
        history.points.len(),
        match count {
            0 => "no change point".to_owned(),
            1 => "1 change point".to_owned(),
            n => format!("{n} change points"),
        },
    );
    let label = format!(
        "{} across {} runs, oldest first, baseline runs marked; {}",
        what(&history),
        history.points.len(),
        if count == 0 {
            "no change point".to_owned()
        } else {
            (0..count)
                .map(|i| {
                    format!(
                        "{} at run {}",
                        change_label(&history, i),
                        history.change_points[i].index + 1
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let title = what(&history);
    let settings = history.settings;
    let method = format!(
        "Change points: the history is split where its mean moves most (E-divisive means, \
         Hunter-style, in windows of 50 runs); a split stands when a t-test of the runs on \
         either side gives p < {}, their means differ by at least {:.0} %, and each side has at \
         least {} runs.",
        settings.max_p_value,
        settings.min_change * 100.0,
        settings.min_segment
    );
    let changes = change_table(&history);
    let runs = run_table(&history);
    // Built inside the signal: cloning a built `Chart` would compile charming's `Clone` for every
    // option type into the wasm.
    let chart = Signal::derive_local(move || change_point_history(&title, &history));
    view! {
        <p class="summary" id="history-summary">
            {summary}
        </p>
        <section class="card">
            <EChart chart name="history" label />
        </section>
        {changes}
        {runs}
        <p class="hint method" id="history-method">
            {method}
        </p>
    }
    .into_any()
}

/// A row per change point: the first run at the new level (with the comparison across the
/// change), the change, the means on either side and its p-value — what matters first comes
/// first, for a phone shows the first columns.
fn change_table(history: &History) -> impl IntoView + use<> {
    let metric_of = history.metric;
    if history.change_points.is_empty() {
        return view! {
            <section class="card" id="change-points">
                <h3>"Change points"</h3>
                <p id="no-change-point">
                    "No change point: the detector found no lasting shift of the level in these runs."
                </p>
            </section>
        }
        .into_any();
    }
    let rows = history
        .change_points
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let point = &history.points[change.index];
            let when = point.started_at.map(local_time).unwrap_or_default();
            let version = (!point.version.is_empty()).then(|| format!(" · {}", point.version));
            let run = format!("run {}", change.index + 1);
            view! {
                <tr data-index=change.index data-run-id=change.run_id.clone()>
                    <td>
                        <a href=format!("/runs/{}", change.run_id)>{run}</a>
                        <span class="note">{when} {version}</span>
                        <a href=change.compare.clone() data-compare="">
                            "compare across"
                        </a>
                    </td>
                    <td class="num" data-change="">
                        {change_label(history, i)}
                    </td>
                    <td class="num">{metric(metric_of, change.mean_before)}</td>
                    <td class="num">{metric(metric_of, change.mean_after)}</td>
                    <td class="num">{p_value(change.p_value)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="change-points">
            <h3>"Change points"</h3>
            <Table
                id="change-point-table"
                headers=&["From run", "Change", "Mean before", "Mean after", "p-value"]
            >
                {rows}
            </Table>
        </section>
    }
    .into_any()
}

/// Every run of the history, newest first, in a section that opens on request.
fn run_table(history: &History) -> impl IntoView + use<> {
    let metric_of = history.metric;
    let rows = history
        .points
        .iter()
        .enumerate()
        .rev()
        .map(|(i, point)| {
            let when = point.started_at.map(local_time).unwrap_or_default();
            let id = point.run_id.clone();
            view! {
                <tr data-run-id=point.run_id.clone()>
                    <td class="num">{i + 1}</td>
                    <td>
                        <a class="mono" href=format!("/runs/{}", point.run_id)>{id}</a>
                    </td>
                    <td>{when}</td>
                    <td>{point.version.clone()}</td>
                    <td class="num">{maybe_metric(metric_of, point.value)}</td>
                    <td>{point.baseline.then_some("◆ baseline")}</td>
                    <td>
                        <StateBadge state=point.state />
                    </td>
                </tr>
            }
        })
        .collect_view();
    let summary = format!("All {} runs, newest first", history.points.len());
    view! {
        <details class="card" id="history-runs">
            <summary>{summary}</summary>
            <Table headers=&["#", "Run", "Started", "Version", "Value", "Baseline", "State"]>
                {rows}
            </Table>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_is_the_filter_and_an_unknown_metric_is_none() {
        let filter = filter_from(|key| match key {
            "target" => Some("sandbox".to_owned()),
            "environment" => Some(String::new()),
            "metric" => Some("mean_latency_ms".to_owned()),
            "scenario" => Some("light".to_owned()),
            _ => None,
        });
        assert_eq!(filter.target.as_deref(), Some("sandbox"));
        assert_eq!(filter.environment, None);
        assert_eq!(filter.metric, Some(Metric::MeanLatencyMs));
        assert_eq!(
            with_query("/history", &filter.pairs()),
            "/history?target=sandbox&metric=mean_latency_ms&scenario=light"
        );
        let unknown = filter_from(|key| (key == "metric").then(|| "p95".to_owned()));
        assert_eq!(unknown.metric, None);
    }

    #[test]
    fn a_scenario_the_suite_lacks_gives_way_to_its_heaviest() {
        let scenarios: Vec<String> = ["light", "moderate", "peak"].map(String::from).to_vec();
        assert_eq!(
            scenario_in(Some("light".into()), &scenarios).as_deref(),
            Some("light")
        );
        assert_eq!(
            scenario_in(Some("burst".into()), &scenarios).as_deref(),
            Some("peak")
        );
        assert_eq!(scenario_in(None, &scenarios).as_deref(), Some("peak"));
        // A suite not configured here: the asked scenario stands.
        assert_eq!(scenario_in(Some("x".into()), &[]).as_deref(), Some("x"));
    }

    #[test]
    fn tiny_p_values_are_written_as_powers_of_ten() {
        assert_eq!(p_value(0.0123), "0.0123");
        assert_eq!(p_value(2.5e-9), "2.5e-9");
        assert_eq!(p_value(9.96e-6), "1.0e-5");
        assert_eq!(p_value(0.0), "0.0000");
    }
}
