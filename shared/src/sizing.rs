//! Sizing a pool from measurements: a run's adjustments (the primary pool's size, the load's
//! factor) that a sweep varies, the points it measured, and Little's law from a run's figures.

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;
use crate::pool::{MAX_REPLICAS, PoolProfile, PoolSettings};
use crate::report::{RunReport, RunState, ServerReport};
use crate::run::RunLabels;
use crate::suite::{Criteria, Load, Suite};
use crate::workload::AuthFlow;

/// Largest load factor a run may ask for: beyond it the guard rails on users and requests decide
/// anyway, and a typo (`30` for `3.0`) should not get that far.
pub const MAX_LOAD_FACTOR: f64 = 20.0;

/// Changes to the named suite and profile for one run: what a sizing sweep varies. The stored run
/// carries the changed suite and profile, whose names say what changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// The primary pool's `pool_size`.
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// The primary pool's `max_overflow`.
    #[serde(default)]
    pub max_overflow: Option<u32>,
    /// The primary pool's `pool_timeout_s`.
    #[serde(default)]
    pub pool_timeout_s: Option<f64>,
    /// Every scenario's load times this (closed: users; open: rate and requests in flight), e.g.
    /// 3 for the analysis's "3× load headroom".
    #[serde(default)]
    pub load_factor: Option<f64>,
    /// Application instances, each with the profile's pools (see [`PoolProfile::replicas`]).
    #[serde(default)]
    pub replicas: Option<u32>,
}

impl Adjustment {
    /// The rules: a pool of at least one connection, a load factor in (0, 20], 1 to
    /// [`MAX_REPLICAS`] replicas.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.pool_size == Some(0) {
            return Err(Invalid::new("pool_size", "must be at least 1, got 0"));
        }
        if let Some(replicas) = self.replicas
            && !(1..=MAX_REPLICAS).contains(&replicas)
        {
            return Err(Invalid::new(
                "replicas",
                format!("must be at least 1 and at most {MAX_REPLICAS}, got {replicas}"),
            ));
        }
        if let Some(timeout) = self.pool_timeout_s
            && !(timeout > 0.0 && timeout.is_finite())
        {
            return Err(Invalid::new(
                "pool_timeout_s",
                format!("must be a positive number of seconds, got {timeout}"),
            ));
        }
        if let Some(factor) = self.load_factor
            && !(factor > 0.0 && factor <= MAX_LOAD_FACTOR)
        {
            return Err(Invalid::new(
                "load_factor",
                format!("must be above 0 and at most {MAX_LOAD_FACTOR}, got {factor}"),
            ));
        }
        Ok(())
    }

    /// `profile` with the primary pool resized, renamed `current · pool 12 + 0` (`… · 1 s` when
    /// its timeout changed too, `… · 4 replicas` when their number did).
    #[must_use]
    pub fn profile(&self, profile: &PoolProfile) -> PoolProfile {
        let mut adjusted = profile.clone();
        if let Some(size) = self.pool_size {
            adjusted.primary.pool_size = size;
        }
        if let Some(overflow) = self.max_overflow {
            adjusted.primary.max_overflow = overflow;
        }
        if let Some(timeout) = self.pool_timeout_s {
            adjusted.primary.pool_timeout_s = timeout;
        }
        if self.pool_size.is_some() || self.max_overflow.is_some() {
            adjusted.name = format!(
                "{} · pool {} + {}",
                profile.name, adjusted.primary.pool_size, adjusted.primary.max_overflow
            );
        }
        if self.pool_timeout_s.is_some() {
            adjusted.name = format!(
                "{} · {} s",
                adjusted.name,
                trim(adjusted.primary.pool_timeout_s)
            );
        }
        if let Some(replicas) = self.replicas
            && replicas != profile.replicas
        {
            adjusted.replicas = replicas;
            adjusted.name = format!("{} · {replicas} replicas", adjusted.name);
        }
        adjusted
    }

    /// `suite` with every scenario's load scaled, renamed `auth-burst ×3`; a factor of 1 changes
    /// nothing. Users and in-flight limits round up, so a scaled load is never lighter.
    #[must_use]
    pub fn suite(&self, suite: &Suite) -> Suite {
        let Some(factor) = self.load_factor.filter(|f| (f - 1.0).abs() > f64::EPSILON) else {
            return suite.clone();
        };
        let scale = |n: u32| {
            // At most MAX_LOAD_FACTOR × u32::MAX: saturates rather than wraps.
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "positive, and saturating is the intent"
            )]
            let scaled = (f64::from(n) * factor).ceil() as u32;
            scaled.max(1)
        };
        let mut adjusted = suite.clone();
        for scenario in &mut adjusted.scenarios {
            scenario.load = match scenario.load {
                Load::Closed {
                    users,
                    requests_per_user,
                    duration_s,
                    ramp_up_s,
                    think_time_ms,
                } => Load::Closed {
                    users: scale(users),
                    requests_per_user,
                    duration_s,
                    ramp_up_s,
                    think_time_ms,
                },
                Load::Open {
                    rate_per_s,
                    duration_s,
                    max_in_flight,
                } => Load::Open {
                    rate_per_s: rate_per_s * factor,
                    duration_s,
                    max_in_flight: scale(max_in_flight),
                },
            };
        }
        adjusted.name = format!("{} ×{}", suite.name, trim(factor));
        adjusted
    }
}

/// `3` for 3.0, `2.5` for 2.5.
fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Little's law over one scenario: requests arriving per second × how long each holds a
/// connection = the connections busy on average. A pool smaller than that cannot keep up however
/// it is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LittlesLaw {
    /// The scenario it was measured in (the one that needs the most).
    pub arrival_rps: f64,
    /// Mean latency less mean acquire wait: the time a request had its connection.
    pub hold_ms: f64,
    /// `arrival_rps × hold_ms / 1000`.
    pub connections: f64,
}

impl LittlesLaw {
    /// The scenario of `report` that keeps the most connections busy; `None` without requests.
    #[must_use]
    pub fn of(report: &RunReport) -> Option<Self> {
        report
            .scenarios
            .iter()
            .filter(|s| s.requests > 0 && s.throughput_rps > 0.0)
            .map(|s| {
                let hold_ms = (s.latency_ms.mean - s.acquire_wait_ms.mean).max(0.0);
                Self {
                    arrival_rps: s.throughput_rps,
                    hold_ms,
                    connections: s.throughput_rps * hold_ms / 1000.0,
                }
            })
            .max_by(|a, b| a.connections.total_cmp(&b.connections))
    }

    /// Whether `pool_size` kept connections in each of `replicas` cover the connections busy on
    /// average (the law counts the whole load, which the replicas share).
    #[must_use]
    pub fn covered_by(&self, pool_size: u32, replicas: u32) -> bool {
        f64::from(pool_size) * f64::from(replicas.max(1)) >= self.connections
    }
}

/// The connections the server can give each replica's primary pool: `max_connections`, less the
/// superuser reserve, other clients' backends when the run started, and what every replica's
/// secondary pool may open, shared by the replicas. A plan above it does not queue at the pool:
/// the server refuses ("too many clients", 53300).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub max_connections: u32,
    pub reserved: u32,
    pub others: u32,
    /// What one replica's secondary pool may open.
    pub secondary: u32,
    #[serde(default = "one")]
    pub replicas: u32,
    /// Per replica.
    pub primary: u32,
}

fn one() -> u32 {
    1
}

impl Budget {
    /// From a run's server figures; `None` when the server was not read (a service target).
    #[must_use]
    pub fn of(server: &ServerReport, profile: &PoolProfile) -> Option<Self> {
        if server.max_connections == 0 {
            return None;
        }
        let replicas = profile.replicas.max(1);
        let secondary = profile.secondary.as_ref().map_or(0, PoolSettings::capacity);
        Some(Self {
            max_connections: server.max_connections,
            reserved: server.superuser_reserved_connections,
            others: server.other_backends_at_start,
            secondary,
            replicas,
            primary: Self::available(server, secondary, replicas) / replicas,
        })
    }

    /// What `replicas` replicas' primary pools may open in all on `server`.
    fn available(server: &ServerReport, secondary: u32, replicas: u32) -> u32 {
        server
            .max_connections
            .saturating_sub(server.superuser_reserved_connections)
            .saturating_sub(server.other_backends_at_start)
            .saturating_sub(secondary.saturating_mul(replicas))
    }

    /// What would give `need` connections to each replica's primary pool: the `max_connections`
    /// this server needs with as many replicas, and the most replicas whose pools fit as it is
    /// when the same load (`need` × replicas connections in all) is spread over fewer of them.
    #[must_use]
    pub fn to_give(&self, need: u32) -> String {
        let replicas = self.replicas.max(1);
        let per_replica = need.saturating_add(self.secondary);
        let max_connections = self
            .reserved
            .saturating_add(self.others)
            .saturating_add(per_replica.saturating_mul(replicas));
        let total = need.saturating_mul(replicas);
        let available = self
            .max_connections
            .saturating_sub(self.reserved)
            .saturating_sub(self.others);
        let fewer = (1..replicas).rev().find(|&n| {
            total
                .div_ceil(n)
                .saturating_add(self.secondary)
                .saturating_mul(n)
                <= available
        });
        match fewer {
            Some(1) => {
                format!("max_connections {max_connections}, or 1 replica of {total} connections")
            }
            Some(n) => format!(
                "max_connections {max_connections}, or {n} replicas of {} connections each",
                total.div_ceil(n)
            ),
            None => format!("max_connections {max_connections}"),
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.replicas <= 1 {
            return write!(
                f,
                "{} connections for the primary pool (max_connections {} − {} reserved − {} of \
                 other clients − {} the secondary pool may open)",
                self.primary, self.max_connections, self.reserved, self.others, self.secondary
            );
        }
        write!(
            f,
            "{} connections for each of {} replicas' primary pools ((max_connections {} − {} \
             reserved − {} of other clients − {} × {} the secondary pools may open) ÷ {})",
            self.primary,
            self.replicas,
            self.max_connections,
            self.reserved,
            self.others,
            self.replicas,
            self.secondary,
            self.replicas
        )
    }
}

/// One pool size tried at one load: the stored run that measured it and what it showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingPoint {
    pub pool_size: u32,
    pub max_overflow: u32,
    pub load_factor: f64,
    pub run_id: String,
    pub state: RunState,
    /// Every criterion, success rate, recovery and leak rule held.
    pub passed: bool,
    /// Requests per second of the heaviest (last) scenario.
    pub throughput_rps: Option<f64>,
    /// P95 latency of the heaviest scenario.
    pub p95_ms: Option<f64>,
    /// P95 acquire wait of the heaviest scenario.
    pub acquire_wait_p95_ms: Option<f64>,
    /// Little's law in the scenario that needs the most connections.
    pub little: Option<LittlesLaw>,
    /// What the server could give the primary pool when this run started.
    pub budget: Option<Budget>,
    /// The rules that failed, as the report names them; the run's error when it has no report.
    pub failed: Vec<String>,
}

impl SizingPoint {
    /// The point `report` (of run `run_id`, at `load_factor` × its suite's load) measured.
    #[must_use]
    pub fn measured(load_factor: f64, run_id: &str, report: &RunReport) -> Self {
        let heaviest = report.scenarios.last();
        let scenario_rules = report.scenarios.iter().flat_map(|s| {
            s.criteria
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| format!("{} {}", s.name, c.name.name()))
        });
        let run_rules = report
            .criteria
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.name().to_owned());
        let failed = scenario_rules
            .chain(run_rules)
            .chain(report.error.clone())
            .collect();
        Self {
            pool_size: report.pool_profile.primary.pool_size,
            max_overflow: report.pool_profile.primary.max_overflow,
            load_factor,
            run_id: run_id.to_owned(),
            state: report.state,
            passed: report.state == RunState::Passed,
            throughput_rps: heaviest.map(|s| s.throughput_rps),
            p95_ms: heaviest.map(|s| s.latency_ms.p95),
            acquire_wait_p95_ms: heaviest.map(|s| s.acquire_wait_ms.p95),
            little: LittlesLaw::of(report),
            budget: Budget::of(&report.server, &report.pool_profile),
            failed,
        }
    }
}

/// Where throughput stops rising with the pool's size at one load: PostgreSQL serves the same
/// work faster 20 at a time than 500 at a time, and past the knee more connections only queue
/// inside the server. The smallest size measured within [`Knee::WITHIN`] of the best throughput
/// measured at that load (without overflow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    pub load_factor: f64,
    pub pool_size: u32,
    pub throughput_rps: f64,
    /// The best throughput measured at this load, and at which size.
    pub best_rps: f64,
    pub best_at: u32,
}

impl Knee {
    /// How close to the best throughput counts as "stopped rising".
    pub const WITHIN: f64 = 0.05;

    /// The knee among `points` at `load_factor`; `None` with fewer than three sizes measured.
    #[must_use]
    pub fn of(points: &[SizingPoint], load_factor: f64) -> Option<Self> {
        let mut measured: Vec<(u32, f64)> = points
            .iter()
            .filter(|p| (p.load_factor - load_factor).abs() < 1e-9 && p.max_overflow == 0)
            .filter_map(|p| p.throughput_rps.map(|t| (p.pool_size, t)))
            .collect();
        measured.sort_by_key(|&(size, _)| size);
        measured.dedup_by_key(|&mut (size, _)| size);
        if measured.len() < 3 {
            return None;
        }
        let (best_at, best_rps) = measured
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let (pool_size, throughput_rps) = measured
            .iter()
            .copied()
            .find(|&(_, t)| t >= best_rps * (1.0 - Self::WITHIN))?;
        Some(Self {
            load_factor,
            pool_size,
            throughput_rps,
            best_rps,
            best_at,
        })
    }
}

/// The analysis's sizing formula, to set beside the measured answer: base concurrent requests
/// × 2.0 (authentication: a lookup and session management) × 1.5 (safety) for the sync pool, and
/// 0.8 of that for the async one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Formula {
    pub base_concurrency: u32,
    pub pool_size: u32,
    pub async_pool_size: u32,
    /// Why the measured answer differs, in a sentence.
    pub explanation: String,
}

impl Formula {
    pub const AUTH_MULTIPLIER: f64 = 2.0;
    pub const SAFETY: f64 = 1.5;
    pub const ASYNC_RATIO: f64 = 0.8;

    /// The formula's sizes for `base_concurrency`, without an explanation yet.
    #[must_use]
    pub fn of(base_concurrency: u32) -> Self {
        let sync = (f64::from(base_concurrency) * Self::AUTH_MULTIPLIER * Self::SAFETY).ceil();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a positive count of connections"
        )]
        let (pool_size, async_pool_size) = (sync as u32, (sync * Self::ASYNC_RATIO).ceil() as u32);
        Self {
            base_concurrency,
            pool_size,
            async_pool_size,
            explanation: String::new(),
        }
    }
}

/// What a sizing sweep found, with every point it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    pub target: String,
    pub suite: String,
    pub profile: String,
    /// The load factor the plan must also survive (the analysis's 3×).
    pub headroom: f64,
    /// Application instances sharing the server; every size is per replica.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The primary pool's timeout at every point, and in the recommendation.
    pub pool_timeout_s: f64,
    /// In the order they ran.
    pub points: Vec<SizingPoint>,
    /// The smallest pool (without overflow) that met every rule at the suite's load.
    pub at_load: Option<u32>,
    /// The same at the headroom load.
    pub at_headroom: Option<u32>,
    /// `at_load` connections kept, overflow up to `at_headroom`: the profile to use.
    pub recommendation: Option<PoolProfile>,
    /// Little's law at the suite's load, from the recommended size's run.
    pub little: Option<LittlesLaw>,
    /// Where throughput stopped rising at the headroom load.
    pub knee: Option<Knee>,
    /// The analysis's formula for the same load, and why the measurement differs.
    pub formula: Option<Formula>,
    /// The server's budget for the primary pool, as the last run read it; no size above it is
    /// tried or recommended.
    pub budget: Option<Budget>,
    /// What decided, or why nothing could be recommended, in a sentence.
    pub summary: String,
    /// The suite's rules every point was judged by (the chart draws the p95 limit).
    #[serde(default)]
    pub criteria: Criteria,
}

/// `profile` as the environment the analysed service reads (`examples/auth-service`: its async
/// pool is the primary, its sync pool the secondary).
#[must_use]
pub fn service_environment(profile: &PoolProfile) -> String {
    let primary = &profile.primary;
    let mut variables = vec![
        format!("POOL_SIZE={}", primary.pool_size),
        format!("MAX_OVERFLOW={}", primary.max_overflow),
        format!("POOL_TIMEOUT={}", primary.pool_timeout_s),
    ];
    if let Some(recycle) = primary.pool_recycle_s {
        variables.push(format!("POOL_RECYCLE={recycle:.0}"));
    }
    if let Some(secondary) = &profile.secondary {
        variables.push(format!("SYNC_POOL_SIZE={}", secondary.pool_size));
        variables.push(format!("SYNC_MAX_OVERFLOW={}", secondary.max_overflow));
    }
    variables.join(" ")
}

/// `POST /api/sizings`: what to size, as `lifeguard size` asks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizingRequest {
    pub target: String,
    #[serde(default = "crate::run::default_suite")]
    pub suite: String,
    /// The profile to start from (its secondary pool, recycling and checks are kept).
    #[serde(default = "crate::run::default_profile")]
    pub profile: String,
    #[serde(default)]
    pub labels: RunLabels,
    #[serde(default)]
    pub workload: AuthFlow,
    #[serde(default = "default_headroom")]
    pub headroom: f64,
    /// The primary pool's timeout at every point; the profile's when absent.
    #[serde(default)]
    pub pool_timeout_s: Option<f64>,
    /// Application instances sharing the server, each with the pools sized; the profile's when
    /// absent.
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default = "default_max_points")]
    pub max_points: u32,
    /// The formula's base concurrent requests; the heaviest scenario's users when absent.
    #[serde(default)]
    pub base_concurrency: Option<u32>,
}

impl SizingRequest {
    /// The rules the request can be checked by alone (the browser checks them too): a headroom
    /// of 1 to [`MAX_LOAD_FACTOR`], a positive pool timeout, 1 to [`MAX_REPLICAS`] replicas, the
    /// labels' and the workload's. The budget of runs needs the suite: the server checks it.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(self.headroom >= 1.0 && self.headroom <= MAX_LOAD_FACTOR) {
            return Err(Invalid::new(
                "headroom",
                format!(
                    "must be at least 1 and at most {MAX_LOAD_FACTOR}, got {}",
                    self.headroom
                ),
            ));
        }
        Adjustment {
            pool_timeout_s: self.pool_timeout_s,
            replicas: self.replicas,
            ..Adjustment::default()
        }
        .validate()?;
        if self.max_points == 0 {
            return Err(Invalid::new("max_points", "must be at least 1, got 0"));
        }
        self.labels.validate()?;
        self.workload.validate().map_err(|e| e.under("workload"))
    }

    /// The run of one point: this request's target, suite, profile and workload, adjusted, and
    /// labelled `phase = sizing` whatever its labels said (see [`crate::run::DeployPhase::Sizing`]).
    #[must_use]
    pub fn point(&self, adjust: Adjustment) -> crate::run::RunRequest {
        let mut labels = self.labels.clone();
        labels.phase = crate::run::DeployPhase::Sizing;
        crate::run::RunRequest {
            target: self.target.clone(),
            suite: self.suite.clone(),
            profile: self.profile.clone(),
            labels,
            workload: self.workload.clone(),
            adjust: Some(adjust),
            engine_threads: None,
        }
    }
}

/// The analysis's "3× load headroom".
pub const DEFAULT_HEADROOM: f64 = 3.0;

fn default_headroom() -> f64 {
    DEFAULT_HEADROOM
}

/// The default budget of runs a sweep may make.
pub const DEFAULT_MAX_POINTS: u32 = 24;

fn default_max_points() -> u32 {
    DEFAULT_MAX_POINTS
}

/// Where a stored sizing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizingState {
    Running,
    /// Finished: with a recommendation, or a summary of why there is none.
    Done,
    /// A point could not run (the error says why); the points before it are kept.
    Failed,
    Cancelled,
    /// The console stopped mid-sweep.
    Interrupted,
}

impl SizingState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Done,
            Self::Failed,
            Self::Cancelled,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// `GET /api/sizings/{id}`: a sizing and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingDetail {
    pub id: String,
    pub state: SizingState,
    /// Unix milliseconds.
    pub created_at: u64,
    pub error: Option<String>,
    pub sizing: Sizing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_factor_scales_every_load_up_and_names_the_suite() {
        let suite = Suite::built_in()
            .into_iter()
            .find(|s| s.name == "auth-burst")
            .unwrap();
        let adjustment = Adjustment {
            load_factor: Some(3.0),
            ..Adjustment::default()
        };
        let scaled = adjustment.suite(&suite);
        assert_eq!(scaled.name, "auth-burst ×3");
        for (before, after) in suite.scenarios.iter().zip(&scaled.scenarios) {
            assert_eq!(after.load.concurrency(), before.load.concurrency() * 3);
        }
        let none = Adjustment::default();
        assert_eq!(none.suite(&suite), suite);
    }

    #[test]
    fn a_resized_profile_says_its_size_in_its_name() {
        let profile = PoolProfile::built_in().remove(0);
        let adjustment = Adjustment {
            pool_size: Some(12),
            max_overflow: Some(0),
            ..Adjustment::default()
        };
        let resized = adjustment.profile(&profile);
        assert_eq!(resized.primary.pool_size, 12);
        assert_eq!(resized.primary.max_overflow, 0);
        assert_eq!(resized.name, format!("{} · pool 12 + 0", profile.name));
        assert_eq!(resized.secondary, profile.secondary);
    }

    #[test]
    fn replicas_share_the_servers_budget_and_it_says_what_would_give_more() {
        let server = ServerReport {
            max_connections: 40,
            superuser_reserved_connections: 3,
            other_backends_at_start: 1,
            ..ServerReport::default()
        };
        let mut profile = PoolProfile::built_in().remove(0);
        profile.secondary = None;
        profile.replicas = 4;
        let budget = Budget::of(&server, &profile).unwrap();
        assert_eq!((budget.primary, budget.replicas), (9, 4));
        assert_eq!(
            budget.to_string(),
            "9 connections for each of 4 replicas' primary pools ((max_connections 40 − 3 \
             reserved − 1 of other clients − 4 × 0 the secondary pools may open) ÷ 4)"
        );
        // 4 × 15 = 60 in all: fewer replicas need as many, so only the server can give them.
        assert_eq!(budget.to_give(15), "max_connections 64");
        // Each replica's secondary pool takes 5: fewer replicas leave more for the primaries.
        profile.secondary = Some(PoolSettings {
            max_overflow: 0,
            pool_size: 5,
            ..profile.primary.clone()
        });
        let budget = Budget::of(&server, &profile).unwrap();
        assert_eq!(budget.primary, 4, "(36 − 4 × 5) ÷ 4");
        assert_eq!(
            budget.to_give(5),
            "max_connections 44, or 3 replicas of 7 connections each"
        );
        profile.replicas = 1;
        assert_eq!(Budget::of(&server, &profile).unwrap().primary, 31);
    }

    #[test]
    fn replicas_are_an_adjustment_named_in_the_profile() {
        let profile = PoolProfile::built_in().remove(0);
        let adjusted = Adjustment {
            replicas: Some(4),
            ..Adjustment::default()
        };
        let fleet = adjusted.profile(&profile);
        assert_eq!(fleet.replicas, 4);
        assert_eq!(fleet.name, "current · 4 replicas");
        let same = Adjustment {
            replicas: Some(1),
            ..Adjustment::default()
        };
        assert_eq!(same.profile(&profile).name, "current");
        let none = Adjustment {
            replicas: Some(0),
            ..Adjustment::default()
        };
        assert_eq!(
            none.validate().unwrap_err().to_string(),
            "`replicas` must be at least 1 and at most 64, got 0"
        );
    }

    fn at(pool_size: u32, throughput: f64) -> SizingPoint {
        SizingPoint {
            pool_size,
            max_overflow: 0,
            load_factor: 3.0,
            run_id: String::new(),
            state: RunState::Passed,
            passed: true,
            throughput_rps: Some(throughput),
            p95_ms: None,
            acquire_wait_p95_ms: None,
            little: None,
            budget: None,
            failed: Vec::new(),
        }
    }

    #[test]
    fn the_knee_is_the_smallest_size_within_five_percent_of_the_best_throughput() {
        let points = [at(8, 400.0), at(16, 780.0), at(32, 800.0), at(64, 770.0)];
        let knee = Knee::of(&points, 3.0).unwrap();
        assert_eq!((knee.pool_size, knee.best_at), (16, 32));
        assert_eq!(Knee::of(&points[..2], 3.0), None, "two sizes show no knee");
        assert_eq!(
            Knee::of(&points, 1.0),
            None,
            "another load's points do not count"
        );
    }

    #[test]
    fn the_formula_gives_the_analysis_own_numbers() {
        // Its dev profile: base 5 → 15 sync, 12 async; prod: base 25 → 75 and 60.
        let dev = Formula::of(5);
        assert_eq!((dev.pool_size, dev.async_pool_size), (15, 12));
        let prod = Formula::of(25);
        assert_eq!((prod.pool_size, prod.async_pool_size), (75, 60));
    }

    #[test]
    fn a_zero_pool_or_an_absurd_factor_is_refused_by_name() {
        let zero = Adjustment {
            pool_size: Some(0),
            ..Adjustment::default()
        };
        assert_eq!(zero.validate().unwrap_err().field, "pool_size");
        for factor in [0.0, -1.0, 30.0, f64::NAN] {
            let bad = Adjustment {
                load_factor: Some(factor),
                ..Adjustment::default()
            };
            assert_eq!(bad.validate().unwrap_err().field, "load_factor");
        }
    }
}
