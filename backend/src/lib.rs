//! lifeguard: validates a PostgreSQL connection pool against authentication bursts, with numbers.
//!
//! Layout:
//! - [`catalog`]: the suites and pool profiles a run can use (built-in and configured).
//! - [`config`]: built-in defaults → optional TOML file → `LIFEGUARD_*` environment overrides.
//! - [`sandbox`]: a throwaway PostgreSQL cluster started from the local server binaries.
//! - [`scrape`]: a service's pool read from its metrics endpoint (presets, custom mappings).
//! - [`pool`]: the instrumented QueuePool and its event stream.
//! - [`workload`]: what a virtual user's request does (`auth-flow`), and lifeguard's schema.
//! - [`runner`]: runs a suite — virtual users, collector, observer, recovery and leak phases, verdicts.
//! - [`stats`]: pure statistics — blocks, the Mann-Whitney test, run comparison, change points.
//! - [`service`]: runs through the console — queue per target, cancel, live events.
//! - [`sizing`]: the smallest pool that meets a suite's rules at its load and its headroom, by
//!   bisection over real runs.
//! - [`sizings`]: sizing sweeps through the console (`POST /api/sizings`), stored point by point.
//! - [`schedule`]: cron-timed runs compared with their baseline; missed firings run once at start.
//! - [`store`]: runs and baselines in SQLite (default) or PostgreSQL.
//! - [`targets`]: the sandbox and the configured PostgreSQL targets, by name.
//! - [`probe`]: measures a target on demand (server identity, connect and round-trip times).
//! - [`api`]: the axum router: JSON API under `/api`, the built frontend everywhere else.
//! - [`app`]: start-up and shut-down of the console (`App::build` → `port` → `run_until_stopped`).
//! - [`cli`]: the `lifeguard` command line.

pub mod api;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod monitor;
pub mod pool;
pub mod probe;
pub mod runner;
pub mod sandbox;
pub mod schedule;
pub mod scrape;
pub mod service;
pub mod sizing;
pub mod sizings;
pub mod stats;
pub mod store;
pub mod targets;
pub mod workload;
