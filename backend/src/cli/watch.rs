//! `lifeguard watch TARGET`: a monitor in the terminal. The target is read every interval as the
//! console's monitor reads it — a PostgreSQL target's server through one connection; a service's
//! database and its pool from its metrics endpoint —, a line per sample (or per failed reading:
//! it goes on), and alerts are raised as the console's monitor raises them (its rules when the
//! configuration has a monitor for the target, else the defaults). Nothing is stored. Exit 0, or
//! 1 when an alert stands as it stops.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{AlertSettings, MonitorSample};
use lifeguard_shared::report::Level;

use super::EXIT_CRITERIA_FAILED;
use crate::config::Config;
use crate::monitor::alerts::{AlertState, Transition};
use crate::monitor::read::{Reader, Reading, Source};
use crate::store::now_ms;
use crate::targets::Targets;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A target of the configuration: a PostgreSQL server, or a service with a database or a
    /// metrics endpoint.
    pub target: String,
    /// Seconds between samples (default: the target's monitor's, else 5; at least 1).
    #[arg(long)]
    pub interval_s: Option<f64>,
    /// Stop after this many samples (default: at Ctrl-C).
    #[arg(long)]
    pub count: Option<u64>,
}

/// Watches until Ctrl-C or `--count` readings, writing a line per reading to `out`.
pub async fn watch(
    config: &Config,
    args: WatchArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let targets = Targets::new(config, None)?;
    let Some(source) = targets.get(&args.target).and_then(|t| Source::of(&t.reach)) else {
        bail!(
            "invalid target: `{}` is no target of the configuration with something to watch (a \
             PostgreSQL server, or a service with `database` or `metrics`; the sandbox is started \
             per command and would be empty)",
            args.target
        );
    };
    let monitor = config.monitors.iter().find(|m| m.target == args.target);
    let settings = monitor.map_or_else(AlertSettings::default, |m| m.alerts.clone());
    let interval_s = args
        .interval_s
        .or(monitor.map(|m| m.interval_s))
        .unwrap_or(5.0);
    if !(interval_s.is_finite() && interval_s >= 1.0) {
        bail!("invalid interval_s: must be at least 1 second, got {interval_s}");
    }
    let interval = Duration::from_secs_f64(interval_s);
    let mut reader = Reader::new(&args.target, source, interval);
    let mut states: Vec<AlertState> = settings
        .rules
        .iter()
        .map(|_| AlertState::at(Level::Ok))
        .collect();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = crate::app::shutdown_signal();
    tokio::pin!(stop);
    let mut taken = 0;
    while args.count.is_none_or(|count| taken < count) {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {}
        }
        taken += 1;
        let sample = match reader.read().await {
            Ok(Reading { sample, partly }) => {
                writeln!(out, "{}", line(&sample))?;
                if let Some(partly) = partly {
                    writeln!(out, "  {partly}")?;
                }
                sample
            }
            Err(error) => {
                writeln!(out, "{}  {error}", clock(now_ms()))?;
                continue;
            }
        };
        for (rule, state) in settings.rules.iter().zip(&mut states) {
            let said = match state.observe(
                rule,
                sample.judged(rule.metric),
                settings.fire_after,
                settings.resolve_after,
            ) {
                Some(Transition::Fired { level, value }) => {
                    format!("ALERT {}", described(rule.metric, level, value, rule))
                }
                Some(Transition::Changed { to, value, .. }) => {
                    format!("ALERT now {}", described(rule.metric, to, value, rule))
                }
                Some(Transition::Resolved { value, .. }) => format!(
                    "RESOLVED {} back to {}",
                    rule.metric.label(),
                    rule.metric.format(value)
                ),
                None => continue,
            };
            writeln!(out, "  {said}")?;
        }
    }
    let standing = states.iter().any(|s| s.level() != Level::Ok);
    Ok(if standing {
        ExitCode::from(EXIT_CRITERIA_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// `warning: oldest idle in transaction at 75.00 s (threshold 60.00 s)`.
fn described(
    metric: Metric,
    level: Level,
    value: f64,
    rule: &lifeguard_shared::monitor::AlertRule,
) -> String {
    let (name, threshold) = match level {
        Level::Critical => ("critical", rule.critical),
        Level::Warning => ("warning", rule.warning),
        Level::Ok => ("ok", rule.warning),
    };
    format!(
        "{name}: {} at {} (threshold {})",
        metric.label(),
        metric.format(value),
        metric.format(threshold)
    )
}

/// `HH:MM:SS UTC` of `ms` since the Unix epoch.
fn clock(ms: u64) -> String {
    let time = ms / 1000 % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

/// One sample on a line: the server's part when there is one, then the service's pool and the
/// requests it served since the previous line.
fn line(sample: &MonitorSample) -> String {
    let mut line = clock(sample.at_ms);
    if sample.max_connections > 0 {
        let waiting: u32 = sample.waiting.values().sum();
        let _infallible = write!(
            line,
            "  backends {}/{} ({:.1} %)  active {}  idle {}  idle in tx {} (oldest {:.0} s)  \
             longest tx {:.0} s  waiting {}  new {}",
            sample.backends,
            sample.max_connections,
            sample.value(Metric::ConnectionsUsedPct).unwrap_or(0.0),
            sample.active,
            sample.idle,
            sample.idle_in_transaction,
            sample.oldest_idle_in_transaction_s,
            sample.longest_transaction_s,
            waiting,
            sample
                .new_backends_per_s
                .map_or_else(|| "–".to_owned(), |n| format!("{n:.1}/s")),
        );
    }
    if let Some(pool) = &sample.pool {
        let gauge =
            |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"));
        let _infallible = write!(
            line,
            "  pool used {} of {}  idle {}  waiting {}",
            gauge(pool.used),
            gauge(pool.max),
            gauge(pool.idle),
            gauge(pool.pending)
        );
    }
    if let Some(requests) = &sample.requests {
        let _infallible = write!(
            line,
            "  requests {:.0}{}",
            requests.count,
            requests
                .mean_ms
                .map_or_else(String::new, |mean| format!(" (mean {mean:.1} ms)"))
        );
    }
    line
}
