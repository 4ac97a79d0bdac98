//! Seeded histories for the history tests: a console whose one suite runs in a few seconds, one
//! real run on its sandbox, and runs built from that run's report, with the light scenario's mean
//! latency set run by run (a step, or flat noise), stored through the console's own store — so
//! the store, the API, the detector and the console that read them are the real ones.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use lifeguard::runner::new_run_id;
use lifeguard::store::{NewRun, Store, now_ms};
use lifeguard_shared::report::{RunReport, RunState};
use lifeguard_shared::run::{DeployPhase, RunDetail, RunLabels};
use lifeguard_shared::suite::{LeakCheck, Load, Scenario, Suite};
use serde_json::json;

use crate::{TestApp, spawn_app_with};

/// Runs in each seeded history, and the first one at the new level in a stepped one.
pub const RUNS: usize = 30;
pub const STEP_AT: usize = 20;

/// One light closed scenario and a quick leak check: a real run in a few seconds.
#[must_use]
pub fn quick_suite() -> Suite {
    Suite {
        name: "quick".into(),
        scenarios: vec![Scenario {
            name: "light".into(),
            load: Load::Closed {
                users: 5,
                requests_per_user: Some(4),
                duration_s: None,
                ramp_up_s: 0.0,
                think_time_ms: 0,
            },
            min_success_rate: 0.95,
        }],
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 1.0 }),
        ..Suite::auth_burst()
    }
}

/// A console whose only suite is [`quick_suite`].
pub async fn console() -> anyhow::Result<TestApp> {
    spawn_app_with(|config| config.suites = vec![quick_suite()]).await
}

/// A real passed run's report (`quick` on the sandbox, `recommended-dev`), to build the seeded
/// ones from (they are stored as passed runs, so the template must be one). Its speed is not what
/// the history tests are about: on a machine busy with other tests' sandboxes, 20 requests can
/// miss the analysis's latency rules, so up to three runs are made until one passes.
pub async fn real_report(app: &TestApp) -> anyhow::Result<RunReport> {
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        let body = json!({ "target": "sandbox", "suite": "quick", "profile": "recommended-dev" });
        let (status, answer) = app.post("/api/runs", &body).await?;
        anyhow::ensure!(status == 202, "starting a run answered {status}: {answer}");
        let id = answer["id"]
            .as_str()
            .context("the run's id in the answer")?
            .to_owned();
        let events = app.follow(&id, None, Duration::from_mins(1)).await?;
        let (_, kind, verdict) = events.last().context("no event from the run")?;
        anyhow::ensure!(kind == "verdict", "the run ended with {kind} {verdict}");
        if verdict["state"] == "passed" {
            let detail: RunDetail = app.get_json(&format!("/api/runs/{id}")).await?;
            return detail.report.context("the finished run's report");
        }
        verdicts.push(verdict.clone());
    }
    anyhow::bail!("no run passed: {verdicts:?}")
}

/// The console's own store, opened beside it.
pub async fn open_store(app: &TestApp) -> anyhow::Result<Store> {
    let url = format!("sqlite://{}", app.data_dir.join("lifeguard.db").display());
    Ok(Store::open(&url).await?)
}

/// Deterministic noise of mean 0 and standard deviation about 1 (xorshift64*, Irwin-Hall of 4).
#[derive(Debug)]
pub struct Noise(pub u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next value.
    pub fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.uniform()).sum::<f64>() - 2.0) / (4.0_f64 / 12.0).sqrt()
    }
}

/// Stores one finished run of target `sandbox` in `environment`, of the template's suite and
/// profile, made `minutes_ago`, whose light scenario's mean latency is `mean_ms`.
pub async fn store_run(
    store: &Store,
    template: &RunReport,
    environment: &str,
    minutes_ago: u64,
    mean_ms: f64,
    state: RunState,
) -> anyhow::Result<String> {
    let id = new_run_id();
    store
        .create_run(&NewRun {
            id: id.clone(),
            target: "sandbox".into(),
            suite: template.suite.clone(),
            profile: template.profile.clone(),
            labels: RunLabels {
                environment: environment.into(),
                phase: DeployPhase::PreDeploy,
                version: format!("v{minutes_ago}"),
                notes: String::new(),
            },
            plan: "{}".into(),
            created_at: now_ms() - minutes_ago * 60_000,
        })
        .await?;
    store.mark_running(&id).await?;
    let mut report = template.clone();
    report.state = state;
    report.passed = state == RunState::Passed;
    let light = report
        .scenarios
        .iter_mut()
        .find(|s| s.name == "light")
        .context("a light scenario in the template")?;
    light.latency_ms.mean = mean_ms;
    store.finish_run(&id, &report, &BTreeMap::new()).await?;
    Ok(id)
}

/// Stores [`RUNS`] passed runs ten minutes apart, oldest first (the newest ten minutes ago), the
/// i-th with mean latency `level(i)` × (1 + 4 % noise); their ids, oldest first.
pub async fn store_history(
    store: &Store,
    template: &RunReport,
    environment: &str,
    seed: u64,
    level: impl Fn(usize) -> f64,
) -> anyhow::Result<Vec<String>> {
    let mut noise = Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut ids = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let mean = level(i) * (1.0 + 0.04 * noise.normal());
        let minutes_ago = 10 * (RUNS - i) as u64;
        ids.push(
            store_run(
                store,
                template,
                environment,
                minutes_ago,
                mean,
                RunState::Passed,
            )
            .await?,
        );
    }
    Ok(ids)
}
