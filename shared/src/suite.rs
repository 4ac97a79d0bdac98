//! Suites: named lists of load scenarios with the criteria and thresholds a run is judged by.

use serde::{Deserialize, Serialize};

use crate::invalid::{self, Invalid};

/// How virtual users generate load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Load {
    /// A fixed number of users, each sending requests one after another; stops after
    /// `requests_per_user` requests or after `duration_s`, whichever is given.
    Closed {
        users: u32,
        #[serde(default)]
        requests_per_user: Option<u32>,
        #[serde(default)]
        duration_s: Option<f64>,
        /// User starts are spread evenly over this many seconds.
        #[serde(default)]
        ramp_up_s: f64,
        /// Pause between a user's requests.
        #[serde(default)]
        think_time_ms: u32,
    },
    /// Requests arrive at a fixed rate whatever the system's state; latency counts from each
    /// request's intended start, so queueing shows instead of hiding (coordinated omission).
    Open {
        rate_per_s: f64,
        duration_s: f64,
        /// Requests in flight at most; arrivals beyond it count as dropped, not silently delayed.
        #[serde(default = "default_max_in_flight")]
        max_in_flight: u32,
    },
}

fn default_max_in_flight() -> u32 {
    1000
}

/// The longest pause a suite may ask for (think time, holds, probe intervals), in milliseconds.
pub const MAX_PAUSE_MS: u32 = 60_000;
/// The longest wait a phase may ask for (ramp-up, recovery, leak-check grace), in seconds.
pub const MAX_PHASE_S: f64 = 3600.0;

fn at_most_ms(field: &str, value: u32) -> Result<(), Invalid> {
    if value <= MAX_PAUSE_MS {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("must be at most {MAX_PAUSE_MS} ms, got {value}"),
        ))
    }
}

fn at_most_s(field: &str, value: f64) -> Result<(), Invalid> {
    if value <= MAX_PHASE_S {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("must be at most {MAX_PHASE_S} s, got {value}"),
        ))
    }
}

impl Load {
    fn validate(&self) -> Result<(), Invalid> {
        match self {
            Self::Closed {
                users,
                requests_per_user,
                duration_s,
                ramp_up_s,
                think_time_ms,
            } => {
                invalid::at_least("users", *users, 1)?;
                match (requests_per_user, duration_s) {
                    (Some(n), None) => invalid::at_least("requests_per_user", *n, 1)?,
                    (None, Some(d)) => invalid::positive_seconds("duration_s", *d)?,
                    _ => {
                        return Err(Invalid::new(
                            "requests_per_user",
                            "give exactly one of requests_per_user and duration_s",
                        ));
                    }
                }
                if !(ramp_up_s.is_finite() && (0.0..=MAX_PHASE_S).contains(ramp_up_s)) {
                    return Err(Invalid::new(
                        "ramp_up_s",
                        format!("must be between 0 and {MAX_PHASE_S} seconds, got {ramp_up_s}"),
                    ));
                }
                at_most_ms("think_time_ms", *think_time_ms)
            }
            Self::Open {
                rate_per_s,
                duration_s,
                max_in_flight,
            } => {
                invalid::positive_seconds("duration_s", *duration_s)?;
                if !(rate_per_s.is_finite() && *rate_per_s > 0.0) {
                    return Err(Invalid::new(
                        "rate_per_s",
                        format!("must be a positive rate, got {rate_per_s}"),
                    ));
                }
                invalid::at_least("max_in_flight", *max_in_flight, 1)
            }
        }
    }

    /// Users (closed) or requests in flight at most (open): what guard rails bound.
    #[must_use]
    pub fn concurrency(&self) -> u32 {
        match self {
            Self::Closed { users, .. } => *users,
            Self::Open { max_in_flight, .. } => *max_in_flight,
        }
    }
}

/// One load shape and the success rate it must reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub load: Load,
    /// Share of requests that must succeed, e.g. 0.95.
    pub min_success_rate: f64,
}

/// Pass/fail rules of the analysis (success rate is per scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Criteria {
    /// Mean latency must stay below this.
    pub mean_latency_ms: f64,
    /// P95 latency must stay below this.
    pub p95_latency_ms: f64,
    /// Recovery after exhaustion must take less than this.
    pub recovery_s: f64,
    /// Connections left checked out or idle in transaction after the load: at most this many.
    pub max_leaks: u32,
}

impl Default for Criteria {
    fn default() -> Self {
        Self {
            mean_latency_ms: 200.0,
            p95_latency_ms: 500.0,
            recovery_s: 30.0,
            max_leaks: 0,
        }
    }
}

/// A warning and a critical level; reaching a level raises it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    pub warning: f64,
    pub critical: f64,
}

/// Alert thresholds for live health, from the analysis's monitoring strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Checked-out connections over the primary pool's capacity, percent.
    pub pool_utilization_pct: Levels,
    /// Overflow connections in use over `max_overflow`, percent.
    pub overflow_usage_pct: Levels,
    /// New connections per second.
    pub churn_per_s: Levels,
    /// Response time (the scenario's p95), milliseconds.
    pub response_time_ms: Levels,
    /// The pools' most connections over what the server can give this client, percent.
    pub connection_budget_pct: Levels,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            pool_utilization_pct: Levels {
                warning: 70.0,
                critical: 90.0,
            },
            overflow_usage_pct: Levels {
                warning: 50.0,
                critical: 80.0,
            },
            churn_per_s: Levels {
                warning: 5.0,
                critical: 15.0,
            },
            response_time_ms: Levels {
                warning: 200.0,
                critical: 500.0,
            },
            connection_budget_pct: Levels {
                warning: 80.0,
                critical: 100.0,
            },
        }
    }
}

/// The exhaustion-and-recovery phase: a burst beyond the primary pool's capacity with holds, then
/// a probe request at a fixed interval until checkouts are served within the response-time warning
/// level with nobody waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryPhase {
    /// Burst users as a multiple of the primary pool's capacity.
    pub burst_factor: f64,
    /// How long each burst request holds its connection.
    pub hold_ms: u32,
    /// Pause between probe requests.
    pub probe_interval_ms: u32,
    /// Give up (recovery fails) after this long.
    pub max_wait_s: f64,
}

impl Default for RecoveryPhase {
    fn default() -> Self {
        Self {
            burst_factor: 2.0,
            hold_ms: 1000,
            probe_interval_ms: 100,
            max_wait_s: 60.0,
        }
    }
}

/// The leak check after the load: how long connections get to come home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakCheck {
    pub grace_s: f64,
}

impl Default for LeakCheck {
    fn default() -> Self {
        Self { grace_s: 5.0 }
    }
}

/// A named, versioned list of scenarios with the rules a run is judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawSuite")]
pub struct Suite {
    pub name: String,
    pub version: u32,
    pub description: String,
    pub scenarios: Vec<Scenario>,
    pub criteria: Criteria,
    pub thresholds: Thresholds,
    pub recovery: Option<RecoveryPhase>,
    pub leak_check: Option<LeakCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default = "first_version")]
    version: u32,
    #[serde(default)]
    description: String,
    scenarios: Vec<Scenario>,
    #[serde(default)]
    criteria: Criteria,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    recovery: Option<RecoveryPhase>,
    #[serde(default)]
    leak_check: Option<LeakCheck>,
}

fn first_version() -> u32 {
    1
}

impl TryFrom<RawSuite> for Suite {
    type Error = Invalid;

    fn try_from(raw: RawSuite) -> Result<Self, Invalid> {
        let suite = Self {
            name: raw.name,
            version: raw.version,
            description: raw.description,
            scenarios: raw.scenarios,
            criteria: raw.criteria,
            thresholds: raw.thresholds,
            recovery: raw.recovery,
            leak_check: raw.leak_check,
        };
        suite.validate()?;
        Ok(suite)
    }
}

impl Suite {
    /// The rules: a name, at least one scenario with a valid load, sane phases.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.name.trim().is_empty() {
            return Err(Invalid::new("name", "must not be empty"));
        }
        if self.scenarios.is_empty() {
            return Err(Invalid::new("scenarios", "must list at least one scenario"));
        }
        for (i, scenario) in self.scenarios.iter().enumerate() {
            let at = format!("scenarios[{i}]");
            if scenario.name.trim().is_empty() {
                return Err(Invalid::new(format!("{at}.name"), "must not be empty"));
            }
            scenario
                .load
                .validate()
                .map_err(|e| e.under(&format!("{at}.load")))?;
            invalid::share(&format!("{at}.min_success_rate"), scenario.min_success_rate)?;
        }
        if let Some(recovery) = &self.recovery {
            if !(recovery.burst_factor.is_finite() && recovery.burst_factor > 1.0) {
                return Err(Invalid::new(
                    "recovery.burst_factor",
                    format!(
                        "must exceed 1 (a burst beyond capacity), got {}",
                        recovery.burst_factor
                    ),
                ));
            }
            invalid::positive_seconds("recovery.max_wait_s", recovery.max_wait_s)?;
            at_most_s("recovery.max_wait_s", recovery.max_wait_s)?;
            invalid::at_least("recovery.probe_interval_ms", recovery.probe_interval_ms, 1)?;
            at_most_ms("recovery.probe_interval_ms", recovery.probe_interval_ms)?;
            at_most_ms("recovery.hold_ms", recovery.hold_ms)?;
        }
        if let Some(leak) = &self.leak_check {
            invalid::positive_seconds("leak_check.grace_s", leak.grace_s)?;
            at_most_s("leak_check.grace_s", leak.grace_s)?;
        }
        Ok(())
    }

    /// The built-in suites: `auth-burst` (the default) and `auth-sustained`.
    #[must_use]
    pub fn built_in() -> Vec<Self> {
        vec![Self::auth_burst(), Self::auth_sustained(30.0)]
    }

    /// The analysis's four load tests, then exhaustion & recovery and the leak check.
    #[must_use]
    pub fn auth_burst() -> Self {
        let closed = |name: &str, users, requests, min_success_rate| Scenario {
            name: name.into(),
            load: Load::Closed {
                users,
                requests_per_user: Some(requests),
                duration_s: None,
                ramp_up_s: 0.0,
                think_time_ms: 0,
            },
            min_success_rate,
        };
        Self {
            name: "auth-burst".into(),
            version: 1,
            description: "Light 5×3, moderate 10×5, heavy 20×5, peak 30×3 authentication \
                          requests; then a burst beyond capacity and the leak check."
                .into(),
            scenarios: vec![
                closed("light", 5, 3, 0.95),
                closed("moderate", 10, 5, 0.95),
                closed("heavy", 20, 5, 0.90),
                closed("peak", 30, 3, 0.90),
            ],
            criteria: Criteria::default(),
            thresholds: Thresholds::default(),
            recovery: Some(RecoveryPhase::default()),
            leak_check: Some(LeakCheck::default()),
        }
    }

    /// The same four load levels, each held for `duration_s`, so per-second charts have shape.
    #[must_use]
    pub fn auth_sustained(duration_s: f64) -> Self {
        let held = |name: &str, users, min_success_rate| Scenario {
            name: name.into(),
            load: Load::Closed {
                users,
                requests_per_user: None,
                duration_s: Some(duration_s),
                ramp_up_s: 1.0,
                think_time_ms: 100,
            },
            min_success_rate,
        };
        Self {
            name: "auth-sustained".into(),
            version: 1,
            description: format!(
                "The auth-burst load levels (5, 10, 20, 30 users) held for {duration_s} s each \
                 with 100 ms think time; then recovery and the leak check."
            ),
            scenarios: vec![
                held("light", 5, 0.95),
                held("moderate", 10, 0.95),
                held("heavy", 20, 0.90),
                held("peak", 30, 0.90),
            ],
            ..Self::auth_burst()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_burst_is_the_analysis() {
        let suite = Suite::auth_burst();
        suite.validate().unwrap();
        let shapes: Vec<(String, u32)> = suite
            .scenarios
            .iter()
            .map(|s| (s.name.clone(), s.load.concurrency()))
            .collect();
        assert_eq!(
            shapes,
            [("light", 5), ("moderate", 10), ("heavy", 20), ("peak", 30)]
                .map(|(n, u)| (n.to_owned(), u))
        );
        assert!((suite.scenarios[0].min_success_rate - 0.95).abs() < 1e-9);
        assert!((suite.scenarios[3].min_success_rate - 0.90).abs() < 1e-9);
        assert!((suite.criteria.p95_latency_ms - 500.0).abs() < 1e-9);
        assert!((suite.thresholds.churn_per_s.critical - 15.0).abs() < 1e-9);
    }

    #[test]
    fn a_closed_load_needs_exactly_one_stop_rule() {
        let json = r#"{"name":"x","scenarios":[{"name":"a","min_success_rate":0.9,
            "load":{"model":"closed","users":3}}]}"#;
        let error = serde_json::from_str::<Suite>(json).unwrap_err().to_string();
        assert!(
            error.contains("`scenarios[0].load.requests_per_user` give exactly one"),
            "{error}"
        );
    }

    #[test]
    fn a_scenario_with_zero_users_is_refused() {
        let json = r#"{"name":"x","scenarios":[{"name":"a","min_success_rate":0.9,
            "load":{"model":"closed","users":0,"requests_per_user":1}}]}"#;
        let error = serde_json::from_str::<Suite>(json).unwrap_err().to_string();
        assert!(
            error.contains("`scenarios[0].load.users` must be at least 1"),
            "{error}"
        );
    }

    #[test]
    fn pauses_and_waits_have_upper_bounds() {
        let with = |load: &str, extra: &str| {
            format!(
                r#"{{"name":"x","scenarios":[{{"name":"a","min_success_rate":0.9,
                "load":{{"model":"closed","users":1,"requests_per_user":1{load}}}}}]{extra}}}"#
            )
        };
        for (json, expected) in [
            (
                with(r#","think_time_ms":60001"#, ""),
                "`scenarios[0].load.think_time_ms` must be at most 60000 ms, got 60001",
            ),
            (
                with(r#","ramp_up_s":3601"#, ""),
                "`scenarios[0].load.ramp_up_s` must be between 0 and 3600 seconds",
            ),
            (
                with("", r#","recovery":{"hold_ms":60001}"#),
                "`recovery.hold_ms` must be at most 60000 ms",
            ),
            (
                with("", r#","leak_check":{"grace_s":3601}"#),
                "`leak_check.grace_s` must be at most 3600 s",
            ),
        ] {
            let error = serde_json::from_str::<Suite>(&json)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
        assert!(serde_json::from_str::<Suite>(&with(r#","think_time_ms":60000"#, "")).is_ok());
    }

    #[test]
    fn a_suite_round_trips_through_json() {
        let suite = Suite::auth_sustained(5.0);
        let back: Suite = serde_json::from_str(&serde_json::to_string(&suite).unwrap()).unwrap();
        assert_eq!(back, suite);
    }
}
