//! What the benchmarks that race lifeguard against a reference tool share: one side's figures,
//! their mean and median over rounds, CPU time from `getrusage` and `/proc/stat`, and settings
//! from the environment.

#![allow(dead_code, reason = "each benchmark uses part of it")]

use std::time::Duration;

use lifeguard_shared::suite::{Load, Scenario, Suite};
use nix::sys::resource::{UsageWho, getrusage};

/// Throughput and latency of one side of a case.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Requests or transactions per second.
    pub per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// CPU (user + system) per request or transaction, in microseconds: what the side costs.
    /// Far steadier than throughput on a machine shared with neighbours.
    pub cpu_us: f64,
    /// The whole machine's busy CPU per request or transaction, in microseconds: the client's,
    /// the server's and the kernel's. On a machine that the client shares with its server, this
    /// is what throughput follows once every core is busy.
    pub machine_us: f64,
    /// The machine's context switches per request or transaction.
    pub switches: f64,
    /// Interrupts between cores (see [`Usage::crossings`]) per request or transaction.
    pub crossings: f64,
}

impl Figures {
    /// The mean of each figure.
    pub fn mean(sides: &[Self]) -> Self {
        let n = sides.len() as f64;
        let of = |key: fn(&Self) -> f64| sides.iter().map(key).sum::<f64>() / n;
        Self {
            per_s: of(|f| f.per_s),
            p50_ms: of(|f| f.p50_ms),
            p95_ms: of(|f| f.p95_ms),
            cpu_us: of(|f| f.cpu_us),
            machine_us: of(|f| f.machine_us),
            switches: of(|f| f.switches),
            crossings: of(|f| f.crossings),
        }
    }

    /// The median of each figure over the rounds.
    pub fn median(rounds: &[Self]) -> Self {
        let of = |key: fn(&Self) -> f64| median(rounds.iter().map(key).collect());
        Self {
            per_s: of(|f| f.per_s),
            p50_ms: of(|f| f.p50_ms),
            p95_ms: of(|f| f.p95_ms),
            cpu_us: of(|f| f.cpu_us),
            machine_us: of(|f| f.machine_us),
            switches: of(|f| f.switches),
            crossings: of(|f| f.crossings),
        }
    }
}

/// The middle value; of an even count, the mean of the two middle ones (the upper one alone
/// would be the better of two rounds, flattering a ratio that must reach a bar).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let half = values.len() / 2;
    if values.len().is_multiple_of(2) {
        f64::midpoint(values[half - 1], values[half])
    } else {
        values[half]
    }
}

/// CPU time spent so far, read at one instant: by this process, by its children that have been
/// waited for (a reference tool it ran) and by the whole machine. A side's cost is
/// `Usage::now()` before it and [`Usage::spent`] after.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// This process, user + system.
    pub own: Duration,
    /// Its waited-for children, user + system.
    pub children: Duration,
    /// The whole machine, all cores: see [`machine_cpu`].
    pub machine: Duration,
    /// The machine's context switches, all cores.
    pub switches: u64,
    /// Interrupts between cores (`RES` and `CAL` in `/proc/interrupts`): mostly one core
    /// telling another to run a task it woke there, which costs more on a virtual machine.
    pub crossings: u64,
}

impl Usage {
    pub fn now() -> Self {
        Self {
            own: cpu(UsageWho::RUSAGE_SELF),
            children: cpu(UsageWho::RUSAGE_CHILDREN),
            machine: machine_cpu(),
            switches: context_switches(),
            crossings: cross_core_interrupts(),
        }
    }

    /// What was spent between this reading and now.
    pub fn spent(self) -> Self {
        let now = Self::now();
        Self {
            own: now.own.saturating_sub(self.own),
            children: now.children.saturating_sub(self.children),
            machine: now.machine.saturating_sub(self.machine),
            switches: now.switches.saturating_sub(self.switches),
            crossings: now.crossings.saturating_sub(self.crossings),
        }
    }
}

/// The machine's context switches and interrupts between cores in `spent`, per one of `count`
/// requests or transactions.
pub fn scheduling_per_request(spent: Usage, count: f64) -> (f64, f64) {
    #[expect(clippy::cast_precision_loss, reason = "counts of a few seconds")]
    let per = |n: u64| n as f64 / count;
    (per(spent.switches), per(spent.crossings))
}

/// `spent` per one of `count` requests or transactions, in microseconds.
pub fn per_request_us(spent: Duration, count: f64) -> f64 {
    spent.as_secs_f64() * 1e6 / count
}

/// CPU time (user + system) this process (`RUSAGE_SELF`) or its waited-for children have used.
fn cpu(who: UsageWho) -> Duration {
    getrusage(who).map_or(Duration::ZERO, |usage| {
        let time = |t: nix::sys::time::TimeVal| {
            Duration::new(
                u64::try_from(t.tv_sec()).unwrap_or(0),
                u32::try_from(t.tv_usec()).unwrap_or(0) * 1000,
            )
        };
        time(usage.user_time()) + time(usage.system_time())
    })
}

/// The busy CPU time of the whole machine, all cores, from `/proc/stat`, in its clock ticks of
/// 10 ms: user, system and interrupt time. Idle, I/O wait and steal (time the hypervisor gave
/// to other machines) are not spent here.
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .map_or(0, |fields| {
            fields
                .split_whitespace()
                .filter_map(|v| v.parse::<u64>().ok())
                .enumerate()
                // user nice system idle iowait irq softirq steal; guest time is already in user.
                .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 5 | 6))
                .map(|(_, v)| v)
                .sum()
        });
    Duration::from_millis(ticks * 10)
}

/// The machine's context switches since boot (`ctxt` in `/proc/stat`).
fn context_switches() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("ctxt "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// Rescheduling and function-call interrupts since boot, all cores (`/proc/interrupts`).
fn cross_core_interrupts() -> u64 {
    std::fs::read_to_string("/proc/interrupts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, counts) = line.trim_start().split_once(':')?;
            matches!(name, "RES" | "CAL").then(|| {
                counts
                    .split_whitespace()
                    .map_while(|v| v.parse::<u64>().ok())
                    .sum::<u64>()
            })
        })
        .sum()
}

/// The number in environment variable `name`, else `default`.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A suite of one closed scenario, `users` without think time for `seconds`, judging nothing.
pub fn closed_suite(users: u32, seconds: u64) -> Suite {
    Suite {
        name: "bench".into(),
        scenarios: vec![Scenario {
            name: format!("{users} users"),
            load: Load::Closed {
                users,
                requests_per_user: None,
                duration_s: Some(seconds as f64),
                ramp_up_s: 0.0,
                think_time_ms: 0,
            },
            min_success_rate: 0.0,
        }],
        recovery: None,
        leak_check: None,
        ..Suite::auth_burst()
    }
}
