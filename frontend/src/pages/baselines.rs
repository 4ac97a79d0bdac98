//! `/baselines`: which run counts as known good per target and environment, its history, and
//! changing it (operators) with a confirmation step.

use leptos::prelude::*;
use leptos_router::components::A;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::run::{Baseline, RunSummary};

use crate::api::{self, ApiFailure, RunFilter};
use crate::components::share::CopyLink;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::{local_time, maybe_metric};

/// Finished runs offered as baselines.
const CANDIDATES: u64 = 100;

type Loaded = (Vec<Baseline>, Vec<RunSummary>, bool);

async fn load() -> Result<Loaded, ApiFailure> {
    let baselines = api::baselines().await?;
    let runs = api::runs(&RunFilter {
        limit: CANDIDATES,
        ..RunFilter::default()
    })
    .await?
    .runs
    .into_iter()
    .filter(|r| r.state.is_final() && r.p95_ms.is_some())
    .collect();
    let operator = api::me().await?.role == "operator";
    Ok((baselines, runs, operator))
}

/// The page.
#[component]
pub fn BaselinesPage() -> impl IntoView {
    let data = super::resource(load);
    let reload = Callback::new(move |()| data.refetch());
    // Kept here, above the reloaded list, so the answer to a change outlives the reload it causes.
    let outcome = RwSignal::new(None::<Result<String, String>>);
    view! {
        <div class="page-head">
            <h2>"Baselines"</h2>
            <CopyLink />
        </div>
        <Transition fallback=|| view! { <Loading what="Loading baselines…" /> }>
            {move || {
                data.get()
                    .map(|result| match result {
                        Ok((baselines, runs, operator)) => {
                            view! { <Baselines baselines runs operator reload outcome /> }.into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Baselines(
    baselines: Vec<Baseline>,
    runs: Vec<RunSummary>,
    operator: bool,
    reload: Callback<()>,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let run_id = RwSignal::new(runs.first().map(|r| r.id.clone()).unwrap_or_default());
    let rows = baselines
        .clone()
        .into_iter()
        .map(|b| {
            let history = b
                .history
                .clone()
                .into_iter()
                .map(|h| {
                    view! {
                        <li>
                            {local_time(h.set_at)} ": run " <A href=format!("/runs/{}", h.run_id)>
                                {h.run_id.clone()}
                            </A>
                            {h.previous_run_id.clone().map(|p| format!(" (was {p})"))} " by "
                            {h.set_by.clone()}
                        </li>
                    }
                })
                .collect_view();
            let change = operator.then(|| {
                let prefill = b.name.clone();
                view! {
                    <button
                        type="button"
                        class="link"
                        data-action="change-baseline"
                        on:click=move |_| name.set(prefill.clone())
                    >
                        "Change…"
                    </button>
                }
            });
            view! {
                <tr data-baseline=b.name.clone()>
                    <th scope="row">{b.name.clone()}</th>
                    <td>{b.target.clone()}</td>
                    <td>{b.environment.clone()}</td>
                    <td>
                        <A href=format!("/runs/{}", b.run_id)>{b.run_id.clone()}</A>
                    </td>
                    <td>{local_time(b.updated_at)}</td>
                    <td>
                        <details>
                            <summary>{format!("{} changes", b.history.len())}</summary>
                            <ul class="plain">{history}</ul>
                        </details>
                    </td>
                    <td>{change}</td>
                </tr>
            }
        })
        .collect_view();
    let table = if baselines.is_empty() {
        view! {
            <p id="no-baselines">
                "No baselines yet. Pick a run that counts as known good to compare later runs with it."
            </p>
        }
        .into_any()
    } else {
        view! {
            <Table id="baselines" headers=&[
                "Name",
                "Target",
                "Environment",
                "Run",
                "Set",
                "History",
                "",
            ]>
                {rows}
            </Table>
        }
        .into_any()
    };
    let form = if operator {
        view! { <ChangeForm baselines runs name run_id reload outcome /> }.into_any()
    } else {
        view! {
            <p class="hint" id="not-operator">
                "Only operators can change baselines."
            </p>
        }
        .into_any()
    };
    view! {
        <section class="card">{table}</section>
        <section class="card">{form}</section>
    }
}

/// Pick a name and a run, review, confirm (`id="baseline-form"`, `id="baseline-confirm"`).
#[component]
fn ChangeForm(
    baselines: Vec<Baseline>,
    runs: Vec<RunSummary>,
    name: RwSignal<String>,
    run_id: RwSignal<String>,
    reload: Callback<()>,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let reviewing = RwSignal::new(false);
    let names = baselines
        .iter()
        .map(|b| view! { <option value=b.name.clone()></option> })
        .collect_view();
    let current = StoredValue::new(baselines);
    let described = StoredValue::new(runs.clone());
    let describe = move |id: &str| {
        described.with_value(|runs| {
            runs.iter().find(|r| r.id == id).map_or_else(
                || id.to_owned(),
                |r| {
                    format!(
                        "{} · {} · {} · {} · {} · p95 {}",
                        r.id,
                        r.target,
                        if r.labels.environment.is_empty() {
                            "no environment"
                        } else {
                            &r.labels.environment
                        },
                        r.labels.version,
                        local_time(r.created_at),
                        maybe_metric(Metric::P95LatencyMs, r.p95_ms)
                    )
                },
            )
        })
    };
    let options = runs
        .iter()
        .map(|r| {
            let id = r.id.clone();
            view! { <option value=id.clone()>{describe(&id)}</option> }
        })
        .collect_view();
    let review = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        outcome.set(None);
        reviewing.set(true);
    };
    let confirm = move |_| {
        let (name, run) = (name.get_untracked(), run_id.get_untracked());
        leptos::task::spawn_local(async move {
            let answer = api::set_baseline(name.trim(), &run)
                .await
                .map(|b| format!("Baseline {} now points at run {}.", b.name, b.run_id))
                .map_err(|e| e.to_string());
            let ok = answer.is_ok();
            reviewing.try_set(false);
            outcome.try_set(Some(answer));
            if ok {
                reload.run(());
            }
        });
    };
    view! {
        <form id="baseline-form" class="form" on:submit=review>
            <h3>"Set a baseline"</h3>
            <div class="field">
                <label for="baseline-name">"Baseline name"</label>
                <input
                    id="baseline-name"
                    type="text"
                    list="baseline-names"
                    required=true
                    placeholder="e.g. sandbox-prod"
                    prop:value=move || name.get()
                    on:input=move |ev| {
                        reviewing.set(false);
                        name.set(event_target_value(&ev));
                    }
                />
                <datalist id="baseline-names">{names}</datalist>
            </div>
            <div class="field wide">
                <label for="baseline-run">"Run"</label>
                <select
                    id="baseline-run"
                    prop:value=move || run_id.get()
                    on:change=move |ev| {
                        reviewing.set(false);
                        run_id.set(event_target_value(&ev));
                    }
                >
                    {options}
                </select>
            </div>
            <button
                type="submit"
                id="baseline-review"
                disabled=move || name.get().trim().is_empty() || run_id.get().is_empty()
            >
                "Review change"
            </button>
        </form>
        <Show when=move || reviewing.get()>
            <div class="confirm" id="baseline-confirm" role="alertdialog" aria-labelledby="baseline-confirm-text">
                <p id="baseline-confirm-text">
                    {move || {
                        let name = name.get();
                        let now = current
                            .with_value(|all| {
                                all.iter().find(|b| b.name == name.trim()).map(|b| b.run_id.clone())
                            });
                        let target = describe(&run_id.get());
                        match now {
                            Some(now) => {
                                format!(
                                    "Point baseline “{}” at run {target}? It points at run {now} now.",
                                    name.trim(),
                                )
                            }
                            None => format!("Create baseline “{}” at run {target}?", name.trim()),
                        }
                    }}
                </p>
                <button type="button" id="baseline-confirm-yes" class="primary" on:click=confirm>
                    "Yes, set the baseline"
                </button>
                <button
                    type="button"
                    id="baseline-confirm-no"
                    on:click=move |_| reviewing.set(false)
                >
                    "Back"
                </button>
            </div>
        </Show>
        {move || {
            outcome
                .get()
                .map(|answer| match answer {
                    Ok(message) => {
                        view! {
                            <p class="ok" role="status" id="baseline-result">
                                {message}
                            </p>
                        }
                            .into_any()
                    }
                    Err(message) => {
                        view! {
                            <p class="error" role="alert" id="baseline-result">
                                {message}
                            </p>
                        }
                            .into_any()
                    }
                })
        }}
    }
}
