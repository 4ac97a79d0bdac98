//! `/runs/new` and `/sizings/new`: the trigger form, for one run or for a sizing sweep of the same
//! target, suite and profile. Checked in the browser by the same rules the server applies
//! (`RunLabels::set`, `AuthFlow::set`, `SizingRequest::validate`), so a mistake names its field
//! and rule before sending.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::{RunLabels, RunRequest, TargetInfo};
use lifeguard_shared::sizing::{Adjustment, DEFAULT_HEADROOM, DEFAULT_MAX_POINTS, SizingRequest};
use lifeguard_shared::workload::AuthFlow;

use crate::api::{self, ApiFailure, SuiteOutline};
use crate::components::status::{Failure, Loading};

/// The form's fields as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormValues {
    pub target: String,
    pub suite: String,
    pub profile: String,
    /// Empty keeps the profile's.
    pub replicas: String,
    pub environment: String,
    pub phase: String,
    pub version: String,
    pub notes: String,
    /// `(key, value)` per workload knob; an empty value keeps the default.
    pub workload: Vec<(String, String)>,
    /// A sizing's fields; empty keeps the default.
    pub headroom: String,
    pub pool_timeout_s: String,
    pub max_points: String,
}

/// `value` as a `T`, `None` when empty, or the rule naming `field`.
fn optional<T: std::str::FromStr>(
    field: &str,
    value: &str,
    what: &str,
) -> Result<Option<T>, Invalid> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| Invalid::new(field, format!("must be {what}, got `{value}`")))
}

/// The request the form describes, or the first broken rule.
pub fn build_request(form: &FormValues) -> Result<RunRequest, Invalid> {
    let required = |field: &str, value: &str| {
        if value.trim().is_empty() {
            Err(Invalid::new(field, "must be chosen"))
        } else {
            Ok(value.trim().to_owned())
        }
    };
    let target = required("target", &form.target)?;
    let suite = required("suite", &form.suite)?;
    let profile = required("profile", &form.profile)?;
    let mut labels = RunLabels::default();
    labels.set(&format!("environment={}", form.environment))?;
    if !form.phase.is_empty() {
        labels.set(&format!("phase={}", form.phase))?;
    }
    labels.set(&format!("version={}", form.version))?;
    // `set` trims; notes keep their inner lines.
    labels.set(&format!("notes={}", form.notes))?;
    labels.validate()?;
    let mut workload = AuthFlow::default();
    for (key, value) in &form.workload {
        if !value.trim().is_empty() {
            workload.set(&format!("{key}={value}"))?;
        }
    }
    let replicas = optional("replicas", &form.replicas, "a whole number")?;
    let adjust = replicas.map(|replicas| Adjustment {
        replicas: Some(replicas),
        ..Adjustment::default()
    });
    if let Some(adjust) = &adjust {
        adjust.validate()?;
    }
    Ok(RunRequest {
        target,
        suite,
        profile,
        labels,
        workload,
        adjust,
        engine_threads: None,
    })
}

/// The sizing the form describes (the run's fields, and how to size), or the first broken rule.
pub fn build_sizing(form: &FormValues) -> Result<SizingRequest, Invalid> {
    let run = build_request(form)?;
    let request = SizingRequest {
        target: run.target,
        suite: run.suite,
        profile: run.profile,
        labels: run.labels,
        workload: run.workload,
        headroom: optional("headroom", &form.headroom, "a number")?.unwrap_or(DEFAULT_HEADROOM),
        pool_timeout_s: optional(
            "pool_timeout_s",
            &form.pool_timeout_s,
            "a number of seconds",
        )?,
        replicas: run.adjust.and_then(|a| a.replicas),
        max_points: optional("max_points", &form.max_points, "a whole number")?
            .unwrap_or(DEFAULT_MAX_POINTS),
        base_concurrency: None,
    };
    request.validate()?;
    Ok(request)
}

/// What the form starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    Run,
    Sizing,
}

/// What the filled form asks the server for.
#[derive(Debug, Clone, PartialEq)]
enum Asked {
    Run(RunRequest),
    Sizing(SizingRequest),
}

impl Starts {
    fn check(self, form: &FormValues) -> Result<Asked, Invalid> {
        match self {
            Self::Run => build_request(form).map(Asked::Run),
            Self::Sizing => build_sizing(form).map(Asked::Sizing),
        }
    }
}

/// The default of a workload knob, shown as the input's placeholder.
fn default_of(key: &str) -> String {
    let d = AuthFlow::default();
    match key {
        "users" => d.users.to_string(),
        "login_ratio" => d.login_ratio.to_string(),
        "hold_ms" => d.hold_ms.to_string(),
        "leak_on_error" => d.leak_on_error.to_string(),
        "error_rate" => d.error_rate.to_string(),
        "sync_fallback" => d.sync_fallback.to_string(),
        "token_cache_hit_ratio" => d.token_cache_hit_ratio.to_string(),
        _ => String::new(),
    }
}

type Catalog = (Vec<TargetInfo>, Vec<SuiteOutline>, Vec<PoolProfile>);

async fn catalog() -> Result<Catalog, ApiFailure> {
    Ok((
        api::targets().await?,
        api::suites().await?,
        api::profiles().await?,
    ))
}

/// `/runs/new`.
#[component]
pub fn NewRunPage() -> impl IntoView {
    view! { <TriggerPage starts=Starts::Run /> }
}

/// `/sizings/new`.
#[component]
pub fn NewSizingPage() -> impl IntoView {
    view! { <TriggerPage starts=Starts::Sizing /> }
}

/// The page: the form for operators, a plain refusal for others.
#[component]
fn TriggerPage(starts: Starts) -> impl IntoView {
    let me = super::resource(api::me);
    let (title, other, other_href, what) = match starts {
        Starts::Run => (
            "Start a run",
            "Size the pool instead",
            "/sizings/new",
            "runs",
        ),
        Starts::Sizing => (
            "Size the pool",
            "Start a single run instead",
            "/runs/new",
            "sizings",
        ),
    };
    view! {
        <div class="page-head">
            <h2>{title}</h2>
            <A href=other_href attr:id="other-form">{other}</A>
        </div>
        {(starts == Starts::Sizing)
            .then(|| {
                view! {
                    <p class="muted" id="sizing-intro">
                        "Runs the suite against pools of different sizes, at its load and at the \
                         headroom, and recommends the smallest that meets every rule, within what \
                         the server can give every replica. Each point is a stored run."
                    </p>
                }
            })}
        <Transition fallback=|| view! { <Loading what="Checking what you may do…" /> }>
            {move || {
                me.get()
                    .map(|result| match result {
                        Ok(me) if me.role == "operator" => {
                            view! { <TriggerForm starts /> }.into_any()
                        }
                        Ok(me) => {
                            view! {
                                <section class="card" id="not-operator">
                                    <p>
                                        {format!("Only operators can start {what}; this page is open as ")}
                                        <strong>{me.role}</strong>
                                        ". Open it with an operator token (?token=…) to start one."
                                    </p>
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

#[component]
fn TriggerForm(starts: Starts) -> impl IntoView {
    let catalog = super::resource(catalog);
    view! {
        <Transition fallback=|| view! { <Loading what="Loading targets, suites and profiles…" /> }>
            {move || {
                catalog
                    .get()
                    .map(|result| match result {
                        Ok((targets, suites, profiles)) => {
                            view! { <Form starts targets suites profiles /> }.into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Form(
    starts: Starts,
    targets: Vec<TargetInfo>,
    suites: Vec<SuiteOutline>,
    profiles: Vec<PoolProfile>,
) -> impl IntoView {
    let first = |names: Vec<String>, preferred: &str| {
        if names.iter().any(|n| n == preferred) {
            preferred.to_owned()
        } else {
            names.into_iter().next().unwrap_or_default()
        }
    };
    // A sizing opens pools on a PostgreSQL server: service targets are not offered.
    let targets: Vec<TargetInfo> = targets
        .into_iter()
        .filter(|t| starts == Starts::Run || t.kind != "http")
        .collect();
    let target = RwSignal::new(first(
        targets.iter().map(|t| t.name.clone()).collect(),
        "sandbox",
    ));
    let suite = RwSignal::new(first(
        suites.iter().map(|s| s.name.clone()).collect(),
        "auth-burst",
    ));
    let profile = RwSignal::new(first(
        profiles.iter().map(|p| p.name.clone()).collect(),
        "current",
    ));
    let replicas = RwSignal::new(String::new());
    let environment = RwSignal::new(String::new());
    let phase = RwSignal::new(String::from("ad-hoc"));
    let version = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    let headroom = RwSignal::new(String::new());
    let pool_timeout_s = RwSignal::new(String::new());
    let max_points = RwSignal::new(String::new());
    let knobs: Vec<(&'static str, RwSignal<String>)> = AuthFlow::KEYS
        .iter()
        .map(|key| (*key, RwSignal::new(String::new())))
        .collect();
    let knob_signals = knobs.clone();
    let values = move || FormValues {
        target: target.get(),
        suite: suite.get(),
        profile: profile.get(),
        replicas: replicas.get(),
        environment: environment.get(),
        phase: phase.get(),
        version: version.get(),
        notes: notes.get(),
        workload: knob_signals
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.get()))
            .collect(),
        headroom: headroom.get(),
        pool_timeout_s: pool_timeout_s.get(),
        max_points: max_points.get(),
    };
    let checked = Memo::new(move |_| starts.check(&values()));
    let invalid_field = move || checked.with(|c| c.as_ref().err().map(|e| e.field.clone()));
    let is_invalid = move |field: &'static str| move || invalid_field().as_deref() == Some(field);
    let submitted = RwSignal::new(false);
    let sending = RwSignal::new(false);
    let server_error = RwSignal::new(None::<ApiFailure>);
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        let Ok(asked) = checked.get_untracked() else {
            return;
        };
        sending.set(true);
        server_error.set(None);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let created = match &asked {
                Asked::Run(request) => api::create_run(request)
                    .await
                    .map(|c| format!("/runs/{}", c.id)),
                Asked::Sizing(request) => api::create_sizing(request)
                    .await
                    .map(|c| format!("/sizings/{}", c.id)),
            };
            match created {
                Ok(path) => navigate(&path, NavigateOptions::default()),
                Err(failure) => {
                    sending.try_set(false);
                    server_error.try_set(Some(failure));
                }
            }
        });
    };
    // A text input bound to `value`, marked invalid when the form's error names `field`.
    // A text input bound to `value`, marked invalid when the form's error names `field`.
    let number = move |id: &'static str,
                       field: &'static str,
                       placeholder: Signal<String>,
                       value: RwSignal<String>| {
        view! {
            <input
                id=id
                type="text"
                inputmode="decimal"
                data-field=field
                placeholder=placeholder
                aria-invalid=move || is_invalid(field)().to_string()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        }
    };
    let profile_replicas = {
        let profiles = profiles.clone();
        move || {
            let name = profile.get();
            let replicas = profiles
                .iter()
                .find(|p| p.name == name)
                .map_or(1, |p| p.replicas);
            format!("the profile's ({replicas})")
        }
    };
    let how_to_size = (starts == Starts::Sizing).then(|| {
        let profile_timeout = {
            let profiles = profiles.clone();
            move || {
                let name = profile.get();
                profiles
                    .iter()
                    .find(|p| p.name == name)
                    .map_or_else(String::new, |p| {
                        format!("the profile's ({} s)", p.primary.pool_timeout_s)
                    })
            }
        };
        view! {
            <fieldset id="how-to-size">
                <legend>"How to size (empty keeps the default shown)"</legend>
                <div class="field">
                    <label for="sizing-headroom">"Headroom (× load)"</label>
                    {number(
                        "sizing-headroom",
                        "headroom",
                        Signal::stored(DEFAULT_HEADROOM.to_string()),
                        headroom,
                    )}
                </div>
                <div class="field">
                    <label for="sizing-pool-timeout">"Pool timeout (s)"</label>
                    {number(
                        "sizing-pool-timeout",
                        "pool_timeout_s",
                        Signal::derive(profile_timeout),
                        pool_timeout_s,
                    )}
                </div>
                <div class="field">
                    <label for="sizing-max-points">"Most runs"</label>
                    {number(
                        "sizing-max-points",
                        "max_points",
                        Signal::stored(DEFAULT_MAX_POINTS.to_string()),
                        max_points,
                    )}
                </div>
            </fieldset>
        }
    });
    let options = |names: Vec<(String, String)>| {
        names
            .into_iter()
            .map(|(name, title)| {
                let value = name.clone();
                view! { <option value=value title=title>{name}</option> }
            })
            .collect_view()
    };
    let target_options = options(
        targets
            .into_iter()
            .map(|t| (t.name, format!("{}: {}", t.kind, t.description)))
            .collect(),
    );
    let suite_options = options(
        suites
            .into_iter()
            .map(|s| (s.name, s.description))
            .collect(),
    );
    let profile_options = options(
        profiles
            .into_iter()
            .map(|p| (p.name, p.description))
            .collect(),
    );
    let knob_inputs = knobs
        .into_iter()
        .map(|(key, value)| {
            let id = format!("workload-{key}");
            let field = format!("workload.{key}");
            let invalid = {
                let field = field.clone();
                move || invalid_field().as_deref() == Some(field.as_str())
            };
            let input = if matches!(key, "leak_on_error" | "sync_fallback") {
                view! {
                    <select
                        id=id.clone()
                        data-field=field.clone()
                        aria-invalid=move || invalid().to_string()
                        prop:value=move || value.get()
                        on:change=move |ev| value.set(event_target_value(&ev))
                    >
                        <option value="">{format!("default ({})", default_of(key))}</option>
                        <option value="true">"true"</option>
                        <option value="false">"false"</option>
                    </select>
                }
                .into_any()
            } else {
                view! {
                    <input
                        id=id.clone()
                        type="text"
                        inputmode="decimal"
                        data-field=field.clone()
                        placeholder=default_of(key)
                        aria-invalid=move || invalid().to_string()
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                }
                .into_any()
            };
            view! {
                <div class="field">
                    <label for=id>{key}</label>
                    {input}
                </div>
            }
        })
        .collect_view();
    view! {
        <form class="card form" id="trigger-form" on:submit=submit novalidate=true>
            <fieldset>
                <legend>"What to run"</legend>
                <div class="field">
                    <label for="run-target">"Target"</label>
                    <select
                        id="run-target"
                        data-field="target"
                        aria-invalid=move || is_invalid("target")().to_string()
                        prop:value=move || target.get()
                        on:change=move |ev| target.set(event_target_value(&ev))
                    >
                        {target_options}
                    </select>
                </div>
                <div class="field">
                    <label for="run-suite">"Suite"</label>
                    <select
                        id="run-suite"
                        data-field="suite"
                        prop:value=move || suite.get()
                        on:change=move |ev| suite.set(event_target_value(&ev))
                    >
                        {suite_options}
                    </select>
                </div>
                <div class="field">
                    <label for="run-profile">"Pool profile"</label>
                    <select
                        id="run-profile"
                        data-field="profile"
                        prop:value=move || profile.get()
                        on:change=move |ev| profile.set(event_target_value(&ev))
                    >
                        {profile_options}
                    </select>
                </div>
                <div class="field">
                    <label for="run-replicas">"Replicas"</label>
                    {number("run-replicas", "replicas", Signal::derive(profile_replicas), replicas)}
                </div>
            </fieldset>
            {how_to_size}
            <fieldset>
                <legend>"Labels"</legend>
                <div class="field">
                    <label for="label-environment">"Environment"</label>
                    <input
                        id="label-environment"
                        type="text"
                        placeholder="e.g. staging"
                        data-field="labels.environment"
                        aria-invalid=move || is_invalid("labels.environment")().to_string()
                        prop:value=move || environment.get()
                        on:input=move |ev| environment.set(event_target_value(&ev))
                    />
                </div>
                // A sizing's runs are labelled `sizing` whatever the form says.
                {(starts == Starts::Run)
                    .then(|| {
                        view! {
                            <div class="field">
                                <label for="label-phase">"Phase"</label>
                                <select
                                    id="label-phase"
                                    data-field="labels.phase"
                                    prop:value=move || phase.get()
                                    on:change=move |ev| phase.set(event_target_value(&ev))
                                >
                                    {super::phase_options(
                                        &lifeguard_shared::run::DeployPhase::TRIGGERED,
                                    )}
                                </select>
                            </div>
                        }
                    })}
                <div class="field">
                    <label for="label-version">"Version or commit"</label>
                    <input
                        id="label-version"
                        type="text"
                        data-field="labels.version"
                        aria-invalid=move || is_invalid("labels.version")().to_string()
                        prop:value=move || version.get()
                        on:input=move |ev| version.set(event_target_value(&ev))
                    />
                </div>
                <div class="field wide">
                    <label for="label-notes">"Notes"</label>
                    <textarea
                        id="label-notes"
                        rows="2"
                        data-field="labels.notes"
                        aria-invalid=move || is_invalid("labels.notes")().to_string()
                        prop:value=move || notes.get()
                        on:input=move |ev| notes.set(event_target_value(&ev))
                    ></textarea>
                </div>
            </fieldset>
            <fieldset>
                <legend>"Workload overrides (empty keeps the default shown)"</legend>
                {knob_inputs}
            </fieldset>
            {move || {
                checked
                    .with(|c| c.as_ref().err().cloned())
                    .filter(|_| submitted.get() || invalid_field().is_some_and(|f| f != "target"))
                    .map(|invalid| {
                        view! {
                            <p
                                class="error"
                                id="form-error"
                                role="alert"
                                data-field=invalid.field.clone()
                            >
                                <code>{invalid.field.clone()}</code>
                                " "
                                {invalid.rule.clone()}
                            </p>
                        }
                    })
            }}
            {move || server_error.get().map(|failure| view! { <Failure failure /> })}
            <button
                type="submit"
                id="start-run"
                class="primary"
                disabled=move || sending.get() || checked.with(Result::is_err)
            >
                {move || match (sending.get(), starts) {
                    (true, _) => "Starting…",
                    (false, Starts::Run) => "Start run",
                    (false, Starts::Sizing) => "Start sizing",
                }}
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> FormValues {
        FormValues {
            target: "sandbox".into(),
            suite: "auth-burst".into(),
            profile: "current".into(),
            environment: "staging".into(),
            phase: "pre-deploy".into(),
            version: "abc123".into(),
            notes: "first line\nsecond line".into(),
            workload: vec![
                ("hold_ms".into(), "20".into()),
                ("leak_on_error".into(), "true".into()),
                ("error_rate".into(), String::new()),
            ],
            ..FormValues::default()
        }
    }

    #[test]
    fn a_filled_form_is_a_request() {
        let request = build_request(&form()).unwrap();
        assert_eq!(request.target, "sandbox");
        assert_eq!(request.labels.environment, "staging");
        assert_eq!(request.labels.phase.as_str(), "pre-deploy");
        assert_eq!(request.labels.notes, "first line\nsecond line");
        assert_eq!(request.workload.hold_ms, 20);
        assert!(request.workload.leak_on_error);
        assert!((request.workload.error_rate - AuthFlow::default().error_rate).abs() < 1e-12);
    }

    #[test]
    fn a_broken_workload_rule_names_its_field() {
        let mut values = form();
        values.workload.push(("error_rate".into(), "2".into()));
        let invalid = build_request(&values).unwrap_err();
        assert_eq!(invalid.field, "workload.error_rate");
        assert_eq!(invalid.rule, "must be between 0 and 1, got 2");
    }

    #[test]
    fn a_long_label_is_refused_by_the_shared_rule() {
        let values = FormValues {
            version: "x".repeat(101),
            ..form()
        };
        let invalid = build_request(&values).unwrap_err();
        assert_eq!(invalid.field, "labels.version");
        assert!(invalid.rule.contains("at most 100"), "{}", invalid.rule);
    }

    #[test]
    fn replicas_adjust_a_run_and_a_sizing_keeps_the_defaults_it_was_not_given() {
        let values = FormValues {
            replicas: "4".into(),
            ..form()
        };
        let run = build_request(&values).unwrap();
        assert_eq!(run.adjust.and_then(|a| a.replicas), Some(4));
        let sizing = build_sizing(&values).unwrap();
        assert_eq!(sizing.replicas, Some(4));
        assert!((sizing.headroom - DEFAULT_HEADROOM).abs() < f64::EPSILON);
        assert_eq!(sizing.max_points, DEFAULT_MAX_POINTS);
        assert_eq!(sizing.pool_timeout_s, None);
        assert_eq!(build_request(&form()).unwrap().adjust, None);
    }

    #[test]
    fn a_sizing_field_out_of_its_rule_is_named_as_the_server_names_it() {
        let cases = [
            (
                "headroom",
                "0.5",
                "must be at least 1 and at most 20, got 0.5",
            ),
            ("headroom", "lots", "must be a number, got `lots`"),
            (
                "pool_timeout_s",
                "0",
                "must be a positive number of seconds, got 0",
            ),
            ("replicas", "0", "must be at least 1 and at most 64, got 0"),
            ("max_points", "0", "must be at least 1, got 0"),
        ];
        for (field, value, rule) in cases {
            let mut values = form();
            match field {
                "headroom" => values.headroom = value.into(),
                "pool_timeout_s" => values.pool_timeout_s = value.into(),
                "replicas" => values.replicas = value.into(),
                _ => values.max_points = value.into(),
            }
            let invalid = build_sizing(&values).unwrap_err();
            assert_eq!(
                (invalid.field.as_str(), invalid.rule.as_str()),
                (field, rule)
            );
        }
    }

    #[test]
    fn a_target_must_be_chosen() {
        let values = FormValues {
            target: " ".into(),
            ..form()
        };
        assert_eq!(build_request(&values).unwrap_err().field, "target");
    }
}
