//! `/`: per target and environment, the current baseline, the latest runs with their verdicts,
//! and a p95 sparkline across runs; above them, when any are configured, the scheduled runs with
//! their last firing's verdict against the baseline.

use leptos::prelude::*;
use leptos_router::components::A;
use lifeguard_shared::compare::Verdict;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::run::{Baseline, DeployPhase, RunSummary};
use lifeguard_shared::schedule::ScheduleStatus;

use crate::api::{self, ApiFailure, RunFilter, with_query};
use crate::components::badges::{StateBadge, VerdictBadge};
use crate::components::share::CopyLink;
use crate::components::sparkline::Sparkline;
use crate::components::status::{Failure, Loading};
use crate::components::table::Table;
use crate::format::{local_time, maybe_metric};

/// Runs the start page looks at (newest first).
const RECENT: u64 = 200;
/// Runs listed per group.
const LISTED: usize = 5;
/// Runs in a sparkline.
const SPARK: usize = 30;

/// Runs of one target in one environment, newest first, with the baselines that apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub target: String,
    pub environment: String,
    pub runs: Vec<RunSummary>,
    pub baselines: Vec<Baseline>,
}

/// Groups runs (newest first) by target and environment, in order of each group's newest run;
/// baselines of a pair without recent runs get a group of their own.
#[must_use]
pub fn group(runs: Vec<RunSummary>, baselines: &[Baseline]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for run in runs {
        let key = (run.target.clone(), run.labels.environment.clone());
        match groups
            .iter_mut()
            .find(|g| (g.target.as_str(), g.environment.as_str()) == (&key.0, &key.1))
        {
            Some(group) => group.runs.push(run),
            None => groups.push(Group {
                target: key.0,
                environment: key.1,
                runs: vec![run],
                baselines: Vec::new(),
            }),
        }
    }
    for baseline in baselines {
        match groups
            .iter_mut()
            .find(|g| g.target == baseline.target && g.environment == baseline.environment)
        {
            Some(group) => group.baselines.push(baseline.clone()),
            None => groups.push(Group {
                target: baseline.target.clone(),
                environment: baseline.environment.clone(),
                runs: Vec::new(),
                baselines: vec![baseline.clone()],
            }),
        }
    }
    groups
}

async fn load() -> Result<Vec<Group>, ApiFailure> {
    let filter = RunFilter {
        limit: RECENT,
        ..RunFilter::default()
    };
    let page = api::runs(&filter).await?;
    let baselines = api::baselines().await?;
    Ok(group(page.runs, &baselines))
}

/// The start page.
#[component]
pub fn HomePage() -> impl IntoView {
    let groups = super::resource(load);
    let schedules = super::resource(api::schedules);
    view! {
        <div class="page-head">
            <h2>"Targets and environments"</h2>
            <CopyLink />
        </div>
        {move || {
            schedules
                .get()
                .and_then(Result::ok)
                .filter(|all| !all.is_empty())
                .map(|schedules| view! { <SchedulesCard schedules /> })
        }}
        <Transition fallback=|| view! { <Loading what="Loading the latest runs…" /> }>
            {move || {
                groups
                    .get()
                    .map(|result| match result {
                        Ok(groups) if groups.is_empty() => {
                            view! {
                                <section class="card" id="no-runs">
                                    <p>
                                        "No runs yet. " <A href="/runs/new">"Start the first run"</A>
                                        " to see the pool under load."
                                    </p>
                                </section>
                            }
                                .into_any()
                        }
                        Ok(groups) => {
                            view! {
                                <div class="groups">
                                    {groups
                                        .into_iter()
                                        .map(|group| view! { <GroupCard group /> })
                                        .collect_view()}
                                </div>
                            }
                                .into_any()
                        }
                        Err(failure) => view! { <Failure failure /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// The scheduled runs: when each fires next and how its last firing compared with its baseline.
#[component]
fn SchedulesCard(schedules: Vec<ScheduleStatus>) -> impl IntoView {
    let rows = schedules
        .into_iter()
        .map(|schedule| {
            let last = schedule.last_firing().cloned();
            let verdict = last.as_ref().and_then(|f| f.verdict);
            let next = schedule
                .next_fire_at
                .map_or_else(|| "never".to_owned(), local_time);
            let run = last.as_ref().map(|firing| {
                let when = local_time(firing.fired_at);
                match firing.run_id.clone() {
                    Some(id) => {
                        let href = format!("/runs/{id}");
                        view! { <A href=href>{id}</A> " · " {when} }.into_any()
                    }
                    None => view! { <span class="muted">{when}</span> }.into_any(),
                }
            });
            let compare = last
                .as_ref()
                .filter(|_| verdict == Some(Verdict::Regressed))
                .and_then(|firing| Some((schedule.baseline.clone()?, firing.run_id.clone()?)))
                .map(|(baseline, head)| {
                    let href = with_query(
                        "/compare",
                        &[("baseline", Some(baseline)), ("head", Some(head))],
                    );
                    view! {
                        " "
                        <A href=href>"compare"</A>
                    }
                });
            let note = last.and_then(|f| f.note).unwrap_or_default();
            let outcome = match verdict {
                Some(verdict) => view! { <VerdictBadge verdict /> }.into_any(),
                None => view! { <span class="muted">"—"</span> }.into_any(),
            };
            view! {
                <tr
                    data-schedule=schedule.name.clone()
                    data-verdict=verdict.map_or("none", Verdict::name)
                >
                    <td>
                        <strong>{schedule.name.clone()}</strong>
                        <span class="muted">
                            " " {schedule.cron.clone()} " · " {schedule.target.clone()}
                        </span>
                    </td>
                    <td>{next}</td>
                    <td>{run}</td>
                    <td title=note>{outcome} {compare}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="schedules">
            <h3>"Scheduled runs"</h3>
            <Table
                compact=true
                headers=&["Schedule", "Next run", "Last run", "Against the baseline"]
            >
                {rows}
            </Table>
        </section>
    }
}

/// One target and environment.
#[component]
fn GroupCard(group: Group) -> impl IntoView {
    let environment = if group.environment.is_empty() {
        "no environment".to_owned()
    } else {
        group.environment.clone()
    };
    let list_href = with_query(
        "/runs",
        &[
            ("target", Some(group.target.clone())),
            ("environment", Some(group.environment.clone())),
        ],
    );
    // A sizing sweep's runs change the load or the pool on purpose: not the team's trend.
    let comparable = || {
        group
            .runs
            .iter()
            .filter(|r| r.labels.phase != DeployPhase::Sizing)
    };
    let latest_finished = comparable()
        .find(|r| r.state.is_final() && r.p95_ms.is_some())
        .map(|r| r.id.clone());
    let mut spark: Vec<Option<f64>> = comparable().take(SPARK).map(|r| r.p95_ms).collect();
    spark.reverse();
    let has_spark = spark.iter().any(Option::is_some);
    let baselines = group
        .baselines
        .clone()
        .into_iter()
        .map(|b| {
            let compare = latest_finished
                .clone()
                .filter(|head| *head != b.run_id)
                .map(|head| {
                    let href = with_query(
                        "/compare",
                        &[("baseline", Some(b.name.clone())), ("head", Some(head))],
                    );
                    view! {
                        " · "
                        <A href=href>"compare the latest run"</A>
                    }
                });
            view! {
                <li data-baseline=b.name.clone()>
                    "Baseline " <strong>{b.name.clone()}</strong> ": run "
                    <A href=format!("/runs/{}", b.run_id)>{b.run_id.clone()}</A> ", set "
                    {local_time(b.updated_at)} {compare}
                </li>
            }
        })
        .collect_view();
    let no_baseline = group.baselines.is_empty().then(|| {
        view! {
            <li class="muted">
                "No baseline yet — " <A href="/baselines">"choose a known-good run"</A>
            </li>
        }
    });
    let rows = group
        .runs
        .clone()
        .into_iter()
        .take(LISTED)
        .map(|run| {
            let row_id = run.id.clone();
            view! {
                <tr data-run-id=row_id>
                    <td>
                        <A href=format!("/runs/{}", run.id)>{run.id.clone()}</A>
                    </td>
                    <td>
                        <StateBadge state=run.state />
                    </td>
                    <td>{run.labels.version.clone()}</td>
                    <td>{local_time(run.created_at)}</td>
                    <td class="num">{maybe_metric(Metric::P95LatencyMs, run.p95_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    let (target, target_attr) = (group.target.clone(), group.target.clone());
    let environment_attr = group.environment.clone();
    view! {
        <section class="card group" data-target=target_attr data-environment=environment_attr>
            <h3>
                <A href=list_href>{target} " · " {environment}</A>
            </h3>
            <ul class="baselines">{baselines} {no_baseline}</ul>
            {has_spark
                .then(|| {
                    view! {
                        <div class="spark">
                            <span class="muted">"p95 of the heaviest scenario, oldest → newest"</span>
                            <Sparkline
                                values=spark
                                metric=Metric::P95LatencyMs
                                label="p95 latency across the latest runs"
                            />
                        </div>
                    }
                })}
            <Table compact=true headers=&["Run", "State", "Version", "Started", "p95"]>
                {rows}
            </Table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeguard_shared::report::RunState;
    use lifeguard_shared::run::RunLabels;

    fn run(id: &str, target: &str, environment: &str) -> RunSummary {
        RunSummary {
            id: id.into(),
            target: target.into(),
            suite: "auth-burst".into(),
            profile: "current".into(),
            state: RunState::Passed,
            passed: Some(true),
            labels: RunLabels {
                environment: environment.into(),
                ..RunLabels::default()
            },
            created_at: 0,
            started_at: None,
            finished_at: None,
            p95_ms: Some(1.0),
            error: None,
        }
    }

    #[test]
    fn runs_group_by_target_and_environment_newest_group_first() {
        let baseline = Baseline {
            name: "prod".into(),
            target: "sandbox".into(),
            environment: "prod".into(),
            run_id: "b".into(),
            updated_at: 0,
            history: Vec::new(),
        };
        let lonely = Baseline {
            name: "qa".into(),
            environment: "qa".into(),
            ..baseline.clone()
        };
        let groups = group(
            vec![
                run("c", "sandbox", "dev"),
                run("b", "sandbox", "prod"),
                run("a", "sandbox", "dev"),
            ],
            &[baseline, lonely],
        );
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].environment, "dev");
        assert_eq!(
            groups[0]
                .runs
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["c", "a"]
        );
        assert_eq!(groups[1].baselines[0].name, "prod");
        assert!(groups[2].runs.is_empty());
        assert_eq!(groups[2].baselines[0].name, "qa");
    }
}
