//! The two phases after the scenarios: exhaustion & recovery, and the leak check.

use std::time::{Duration, Instant};

use lifeguard_shared::report::{LeakReport, RecoveryReport};
use lifeguard_shared::suite::{LeakCheck, RecoveryPhase};
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::load::Users;
use super::observer::Observation;
use super::pools::PoolWatch;
use crate::workload::{Outcome, Workload};

/// A burst of `burst_factor × capacity` requests, each holding its connection for `hold_ms`, then
/// a probe request every `probe_interval_ms`. Recovery time runs from the burst's start until a
/// probe succeeds within `warning_ms` while nobody waits for the primary pool (when the pools
/// say how many wait).
pub async fn recovery<W: Workload>(
    users: &Users<W>,
    pools: &PoolWatch,
    capacity: u32,
    phase: usize,
    settings: &RecoveryPhase,
    warning_ms: f64,
) -> RecoveryReport {
    let waiters = || pools.waiters().unwrap_or(0);
    let before = pools.exhaustion_events();
    let capacity = f64::from(capacity);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "burst_factor is validated above 1 and capacity is a u32"
    )]
    let burst = (settings.burst_factor * capacity).ceil() as u32;
    let hold = Duration::from_millis(u64::from(settings.hold_ms));
    let started = Instant::now();
    let mut bursting = JoinSet::new();
    for _ in 0..burst {
        let users = users.clone();
        bursting.spawn(async move {
            let mut rng = SmallRng::from_rng(&mut rand::rng());
            users
                .once(phase, &mut rng, hold)
                .await
                .map(|(result, _)| result)
        });
    }
    // Probe once the burst has reached the pool (someone queues), or after half a second.
    while waiters() == 0 && started.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let give_up = started + Duration::from_secs_f64(settings.max_wait_s);
    let interval = Duration::from_millis(u64::from(settings.probe_interval_ms));
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut recovered = None;
    while Instant::now() < give_up && !users.abort.is_aborted() {
        let Some((result, latency)) = users.once(phase, &mut rng, Duration::ZERO).await else {
            break;
        };
        if result.outcome.is_ok() && latency.as_secs_f64() * 1000.0 < warning_ms && waiters() == 0 {
            recovered = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = users.abort.aborted() => break,
        }
    }
    let mut burst_requests = 0;
    let mut burst_timeouts = 0;
    for done in users.join(&mut bursting).await {
        burst_requests += 1;
        if matches!(done, Some(result) if result.outcome == Outcome::PoolTimeout) {
            burst_timeouts += 1;
        }
    }
    let after = pools.exhaustion_events();
    RecoveryReport {
        seconds: recovered,
        // Judged against the suite's criterion by `verdict::run_criteria`.
        passed: false,
        burst_requests,
        burst_timeouts,
        exhaustion_events: after.saturating_sub(before),
    }
}

/// After the load, gives connections `grace_s` to come home, then reports what is still out:
/// checked out of the pools, idle in transaction on the server, backends beyond the kept ones.
pub async fn leak_check<W: Workload>(
    users: &Users<W>,
    pools: &PoolWatch,
    settings: &LeakCheck,
    observations: &watch::Receiver<Option<Observation>>,
    allowed_backends: u32,
) -> LeakReport {
    let load_ended = Instant::now();
    let deadline = load_ended + Duration::from_secs_f64(settings.grace_s);
    let checked_out = || pools.checked_out().unwrap_or(0);
    loop {
        let fresh = observations.borrow().filter(|o| o.at > load_ended);
        let clean = checked_out() == 0
            && fresh
                .is_some_and(|o| o.idle_in_transaction == 0 && o.run_backends <= allowed_backends);
        if clean || Instant::now() >= deadline || users.abort.is_aborted() {
            let last = fresh.or(*observations.borrow());
            let checked_out_after = checked_out();
            let idle_in_transaction = last.map_or(0, |o| o.idle_in_transaction);
            let server_backends = last.map_or(0, |o| o.run_backends);
            return LeakReport {
                checked_out_after,
                idle_in_transaction,
                server_backends,
                allowed_backends,
                // Judged against the suite's criterion by `verdict::run_criteria`.
                passed: false,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
