//! Types shared by the lifeguard backend and its browser console.
//!
//! This crate compiles for `wasm32-unknown-unknown` and the host alike, so it holds only plain data,
//! validated newtypes and pure rules: no tokio, no database, no HTTP.
//!
//! Layout:
//! - [`error`]: the `{code, message}` body of every API error.
//! - [`event`]: a run's live events, as the console streams and stores them and followers read them.
//! - [`health`]: the console's liveness answer and what it measured of its target.
//! - [`history`]: a metric across a target's runs, with the change points found in it.
//! - [`invalid`]: the error for input that breaks a rule, naming the field and the rule.
//! - [`metric`]: the metrics runs are judged and compared by — name, unit, direction, defaults.
//! - [`pool`]: pool profiles (QueuePool settings) and the built-in ones from the analysis.
//! - [`workload`]: the `auth-flow` workload's knobs.
//! - [`suite`]: scenarios, criteria, thresholds and the built-in suites.
//! - [`report`]: a run's report, the JSON contract for pipelines.
//! - [`run`]: runs as the API keeps them — labels, requests, summaries, baselines, targets.
//! - [`sizing`]: a run's adjustments for a sizing sweep, its points, and Little's law.
//! - [`schedule`]: scheduled regression runs and their firings, as `GET /api/schedules` shows them.
//! - [`compare`]: a head run against a base run, per scenario and metric.
//! - [`verdict`]: judging a run — criteria and thresholds, pure.

pub mod compare;
pub mod error;
pub mod event;
pub mod health;
pub mod history;
pub mod invalid;
pub mod metric;
pub mod monitor;
pub mod pool;
pub mod report;
pub mod run;
pub mod schedule;
pub mod sizing;
pub mod suite;
pub mod verdict;
pub mod workload;
