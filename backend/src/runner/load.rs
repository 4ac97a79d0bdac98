//! Virtual users: the closed model (users × requests or duration, ramp-up, think time) and the
//! open model (arrivals at a fixed rate; latency from each request's intended start, and how late
//! it actually started).
//!
//! Users run on the engine threads ([`Runtimes`]): a closed model's users are dealt to them in
//! turn; an open model's arrivals too, each thread starting its own.
//!
//! The open model's schedule ([`Schedule`]) is kept by the engine threads themselves: each
//! sleeps to its turns among the intended starts on a [`PreciseTimer`] of its own — the engine's
//! tokio timer counts whole milliseconds, which alone would start requests up to a millisecond
//! late — and claims what is due then and after each turn in which some of its requests ended.
//! A request's lag — its actual start less its intended one — is measured where it starts, on the
//! engine, so an engine too busy to pick arrivals up shows as lag.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lifeguard_shared::suite::Load;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use tokio::task::JoinSet;

use super::abort::{Abort, AbortTaskOnDrop};
use super::collector::{Sample, Samples};
use super::engine::Runtimes;
use super::handoff::HandOffSet;
use super::timer::PreciseTimer;
use crate::workload::{Outcome, RequestResult, Workload};

/// Everything a user needs to make requests and report them.
pub struct Users<W> {
    pub workload: Arc<W>,
    pub samples: Samples,
    pub abort: Abort,
    /// The engine threads the users run on.
    pub runtimes: Runtimes,
}

impl<W> std::fmt::Debug for Users<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl<W> Clone for Users<W> {
    fn clone(&self) -> Self {
        Self {
            workload: self.workload.clone(),
            samples: self.samples.clone(),
            abort: self.abort.clone(),
            runtimes: self.runtimes.clone(),
        }
    }
}

impl<W: Workload> Users<W> {
    /// One request intended to start at `intended`; the sample's latency counts from then, and
    /// a `scheduled` one (open model) says how late it started. Its task is aborted with the run
    /// (see [`Users::join`]).
    async fn fire(
        &self,
        phase: usize,
        rng: &mut SmallRng,
        hold: Duration,
        intended: Instant,
        scheduled: bool,
    ) -> RequestResult {
        let lag = scheduled.then(|| intended.elapsed());
        let result = self.workload.request(rng, hold).await;
        let finished = Instant::now();
        let sample = Sample {
            phase,
            finished,
            latency: finished.saturating_duration_since(intended),
            lag,
            result,
        };
        self.samples.push(sample);
        result
    }

    /// Waits for every task of `running`; an abort cuts them short wherever they are (waiting
    /// for a checkout, in a query, holding a connection, waiting for an answer): they are dropped,
    /// their connections go back to the closed pools, and they are not counted. One watch of the
    /// abort for the whole phase, not one per request.
    pub async fn join<T: 'static>(&self, running: &mut JoinSet<T>) -> Vec<T> {
        let mut done = Vec::new();
        loop {
            tokio::select! {
                joined = running.join_next() => match joined {
                    Some(Ok(value)) => done.push(value),
                    Some(Err(_cancelled_or_panicked)) => {}
                    None => return done,
                },
                () = self.abort.aborted() => {
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    return done;
                }
            }
        }
    }

    /// Drives `load` as phase `phase` until it is done or the run is aborted.
    pub async fn drive(&self, phase: usize, load: &Load) {
        let started = Instant::now();
        let hold = self.workload.hold();
        let mut running = JoinSet::new();
        match *load {
            Load::Closed {
                users,
                requests_per_user,
                duration_s,
                ramp_up_s,
                think_time_ms,
            } => {
                let deadline = duration_s.map(|d| started + Duration::from_secs_f64(d));
                let think = Duration::from_millis(u64::from(think_time_ms));
                for user in 0..users {
                    let offset =
                        Duration::from_secs_f64(ramp_up_s * f64::from(user) / f64::from(users));
                    let this = self.clone();
                    let home = self.runtimes.of(user as usize);
                    running.spawn_on(
                        async move {
                            let mut rng = SmallRng::from_rng(&mut rand::rng());
                            if !this.sleep_until(started + offset).await {
                                return;
                            }
                            let mut made = 0;
                            loop {
                                let now = Instant::now();
                                if this.abort.is_aborted()
                                    || requests_per_user.is_some_and(|n| made >= n)
                                    || deadline.is_some_and(|d| now >= d)
                                {
                                    return;
                                }
                                this.fire(phase, &mut rng, hold, now, false).await;
                                made += 1;
                                if !think.is_zero()
                                    && !this.sleep_until(Instant::now() + think).await
                                {
                                    return;
                                }
                            }
                        },
                        home,
                    );
                }
            }
            Load::Open {
                rate_per_s,
                duration_s,
                max_in_flight,
            } => {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "rate and duration are validated positive and bounded by guard rails"
                )]
                let arrivals = (rate_per_s * duration_s).floor() as u64;
                let schedule = Arc::new(Schedule {
                    started,
                    gap: Duration::from_secs_f64(1.0 / rate_per_s),
                    count: arrivals,
                    next: AtomicU64::new(0),
                });
                let in_flight = Arc::new(AtomicUsize::new(0));
                let mut seeds = SmallRng::from_rng(&mut rand::rng());
                let threads = self.runtimes.all().len();
                for thread in 0..threads {
                    let dispatcher = Dispatcher {
                        phase,
                        hold,
                        schedule: schedule.clone(),
                        turn: thread as u64,
                        threads: threads as u64,
                        in_flight: in_flight.clone(),
                        max_in_flight: max_in_flight as usize,
                        rng: SmallRng::from_rng(&mut seeds),
                    };
                    // Its requests run inside it: they yield to the runtime a batch at a time
                    // (see `handoff`), not at tokio's budget, which counts them all as one task.
                    running.spawn_on(
                        tokio::task::unconstrained(dispatcher.start(self.clone())),
                        self.runtimes.of(thread),
                    );
                }
            }
        }
        self.join(&mut running).await;
    }

    /// Sleeps until `when`; `false` when the run was aborted meanwhile.
    async fn sleep_until(&self, when: Instant) -> bool {
        tokio::select! {
            () = tokio::time::sleep_until(when.into()) => true,
            () = self.abort.aborted() => false,
        }
    }

    /// One request now, held for `hold` (the recovery phase's burst and probes); `None` when the
    /// run was aborted meanwhile.
    pub async fn once(
        &self,
        phase: usize,
        rng: &mut SmallRng,
        hold: Duration,
    ) -> Option<(RequestResult, Duration)> {
        let this = self.clone();
        let mut rng = SmallRng::from_rng(rng);
        let mut request = AbortTaskOnDrop(self.runtimes.next().spawn(async move {
            let started = Instant::now();
            let result = this.fire(phase, &mut rng, hold, started, false).await;
            (result, started.elapsed())
        }));
        tokio::select! {
            done = &mut request.0 => done.ok(),
            () = self.abort.aborted() => None,
        }
    }
}

/// An open model's arrivals: `count` of them, `gap` apart from `started`, each claimed exactly
/// once — by an engine thread when its timer wakes it at its turn, or when one of its requests
/// has just ended and some are already due. A busy engine so starts what is due without waiting
/// for its timer, which the operating system may wake late on cores the target's server shares.
#[derive(Debug)]
struct Schedule {
    started: Instant,
    gap: Duration,
    count: u64,
    /// The first arrival not claimed yet.
    next: AtomicU64,
}

impl Schedule {
    /// Arrival `index`'s intended start.
    fn at(&self, index: u64) -> Instant {
        #[expect(clippy::cast_precision_loss, reason = "an arrival's index")]
        let offset = self.gap.mul_f64(index as f64);
        self.started + offset
    }

    /// The first arrival from `from` on that is engine thread `turn`'s of `threads` to wake for
    /// (they take every `threads`-th in turn), or the last one: every thread stays awake for
    /// what its requests claim until all are claimed.
    fn turn_from(&self, from: u64, turn: u64, threads: u64) -> u64 {
        let ahead = (turn + threads - from % threads) % threads;
        (from + ahead).min(self.count.saturating_sub(1))
    }

    /// Claims every arrival due by `now` that nobody claimed yet.
    fn claim_due(&self, now: Instant) -> Range<u64> {
        let Some(elapsed) = now.checked_duration_since(self.started) else {
            return 0..0;
        };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative count of gaps, at most the run's arrivals"
        )]
        let due = ((elapsed.as_secs_f64() / self.gap.as_secs_f64()).floor() as u64)
            .saturating_add(1)
            .min(self.count);
        let from = self.next.fetch_max(due, Ordering::AcqRel);
        from..due.max(from)
    }
}

/// How often at most the timer wakes an engine thread that has requests in flight: their ends
/// start what is due, so the timer need only catch what no end came for. A timer costs far more
/// than its system call in a virtual machine — arming it and its expiry each trap to the host —
/// so at the closed model's full rate (85,000 arrivals a second, select-only, one engine thread,
/// `engine_vs_pgbench`) a wake every 100 µs took 1.6 µs of the engine's CPU per request (9.7
/// against 8.1 µs) and the target served 61,000 requests a second instead of 73,000, dropping
/// 34,000 arrivals at `max_in_flight` where every 500 µs dropped none. An arrival no end claims
/// so starts at most this late, well under a millisecond; at rates under one arrival per period,
/// nothing changes.
const BUSY_TIMER_PERIOD: Duration = Duration::from_micros(500);

/// When to set the timer for an arrival `due` then: at it, unless this thread is `busy` (has
/// requests in flight) and its timer `woke` it less than [`BUSY_TIMER_PERIOD`] before.
fn timer_wake(due: Instant, woke: Option<Instant>, busy: bool) -> Instant {
    match woke {
        Some(woke) if busy => due.max(woke + BUSY_TIMER_PERIOD),
        _ => due,
    }
}

/// One engine thread's share of an open model's arrivals.
struct Dispatcher {
    phase: usize,
    hold: Duration,
    schedule: Arc<Schedule>,
    /// This thread wakes for every `threads`-th arrival from the `turn`-th.
    turn: u64,
    threads: u64,
    /// Requests running on every engine thread, against `max_in_flight`.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    rng: SmallRng,
}

impl Dispatcher {
    /// Sleeps to this thread's turns and starts a request for each arrival claimed then or when
    /// some of its requests have just ended, on this thread, unless `max_in_flight` requests are
    /// already running over all threads: then the arrival is dropped (and counted so). Ends when
    /// every arrival is claimed and every request it started is done.
    async fn start<W: Workload>(mut self, users: Users<W>) {
        let mut timer = match PreciseTimer::new() {
            Ok(timer) => timer,
            Err(error) => {
                users
                    .abort
                    .abort(format!("starting the open model's timer: {error}"));
                return;
            }
        };
        // One handle for every request this thread starts: a single count to take per request.
        let users = Arc::new(users);
        // This thread's requests, polled here: one granted a connection by another's end runs
        // right after it (see `handoff`).
        let mut running = HandOffSet::default();
        // When the timer last woke this thread.
        let mut last_woke: Option<Instant> = None;
        loop {
            let next = self.schedule.next.load(Ordering::Acquire);
            if next >= self.schedule.count || users.abort.is_aborted() {
                break;
            }
            let due = self
                .schedule
                .at(self.schedule.turn_from(next, self.turn, self.threads));
            let wake = timer_wake(due, last_woke, !running.is_empty());
            tokio::select! {
                biased;
                () = users.abort.aborted() => break,
                slept = timer.wake_by(wake) => {
                    if let Err(error) = slept {
                        users.abort.abort(format!("the open model's timer failed: {error}"));
                        break;
                    }
                    let now = Instant::now();
                    last_woke = Some(now);
                    self.dispatch(&users, &mut running, self.schedule.claim_due(now));
                }
                // Runs the requests woken meanwhile; ready when some of them ended, which
                // starts what is due by then without waiting for the timer.
                () = std::future::poll_fn(|cx| {
                    let _all_done = running.poll_run(cx);
                    if self.count_ended(&mut running) > 0 {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                }) => {
                    let claimed = self.schedule.claim_due(Instant::now());
                    self.dispatch(&users, &mut running, claimed);
                }
            }
        }
        // The rest, each counted out of `in_flight` as it ends: another thread may still be
        // starting the last arrivals. An abort drops the requests still running, with this task:
        // their connections go back to the closed pools, and they are not counted.
        tokio::select! {
            () = std::future::poll_fn(|cx| {
                let all_done = running.poll_run(cx);
                self.count_ended(&mut running);
                all_done
            }) => {}
            () = users.abort.aborted() => {}
        }
    }

    /// Takes the requests that ended since the last look out of `in_flight`; how many.
    fn count_ended(&self, running: &mut HandOffSet) -> usize {
        let ended = running.take_finished();
        if ended > 0 {
            self.in_flight.fetch_sub(ended, Ordering::Relaxed);
        }
        ended
    }

    /// Starts the `claimed` arrivals.
    fn dispatch<W: Workload>(
        &mut self,
        users: &Arc<Users<W>>,
        running: &mut HandOffSet,
        claimed: Range<u64>,
    ) {
        for arrival in claimed {
            self.start_one(users, running, self.schedule.at(arrival));
        }
    }

    fn start_one<W: Workload>(
        &mut self,
        users: &Arc<Users<W>>,
        running: &mut HandOffSet,
        intended: Instant,
    ) {
        let room = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            });
        if room.is_err() {
            users.samples.push(Sample {
                phase: self.phase,
                finished: Instant::now(),
                latency: Duration::ZERO,
                lag: None,
                result: RequestResult {
                    outcome: Outcome::Dropped,
                    acquire_wait: Duration::ZERO,
                    pool: None,
                },
            });
            return;
        }
        let this = users.clone();
        let mut rng = SmallRng::from_rng(&mut self.rng);
        let (phase, hold) = (self.phase, self.hold);
        running.push(async move {
            this.fire(phase, &mut rng, hold, intended, true).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arrival_is_claimed_once_when_due_and_never_past_the_last() {
        let started = Instant::now();
        let schedule = Schedule {
            started,
            gap: Duration::from_millis(10),
            count: 5,
            next: AtomicU64::new(0),
        };
        let at = |ms| started + Duration::from_millis(ms);
        assert_eq!(
            schedule.claim_due(at(0)),
            0..1,
            "the first is due at the start"
        );
        assert!(
            schedule.claim_due(at(5)).is_empty(),
            "nothing new before 10 ms"
        );
        assert_eq!(
            schedule.claim_due(at(25)),
            1..3,
            "a late look claims all that is due"
        );
        assert!(
            schedule.claim_due(at(21)).is_empty(),
            "a claim by another thread that looked earlier finds nothing"
        );
        assert_eq!(schedule.claim_due(at(1_000)), 3..5, "never past the last");
        assert!(schedule.claim_due(at(2_000)).is_empty());
        assert_eq!(schedule.at(4), at(40));
    }

    #[test]
    fn a_busy_thread_leaves_close_arrivals_to_its_requests_ends() {
        let woke = Instant::now();
        let soon = woke + Duration::from_micros(20);
        let later = woke + Duration::from_millis(5);
        assert_eq!(
            timer_wake(soon, Some(woke), false),
            soon,
            "idle: at the arrival"
        );
        assert_eq!(
            timer_wake(soon, None, true),
            soon,
            "the first wake: at the arrival"
        );
        assert_eq!(
            timer_wake(soon, Some(woke), true),
            woke + BUSY_TIMER_PERIOD,
            "busy: one period after the last wake"
        );
        assert_eq!(
            timer_wake(later, Some(woke), true),
            later,
            "an arrival a period away: at it"
        );
    }

    #[test]
    fn each_engine_thread_wakes_for_its_turns_and_all_for_the_last() {
        let schedule = Schedule {
            started: Instant::now(),
            gap: Duration::from_millis(1),
            count: 10,
            next: AtomicU64::new(0),
        };
        // Two threads: thread 0 wakes for the even arrivals, thread 1 for the odd.
        assert_eq!(schedule.turn_from(0, 0, 2), 0);
        assert_eq!(schedule.turn_from(0, 1, 2), 1);
        assert_eq!(schedule.turn_from(3, 0, 2), 4);
        assert_eq!(schedule.turn_from(3, 1, 2), 3);
        // Three threads from arrival 7: 9, 7, 8.
        assert_eq!(
            [0, 1, 2].map(|turn| schedule.turn_from(7, turn, 3)),
            [9, 7, 8]
        );
        // Past the last arrival's turn, a thread still wakes for the last one.
        assert_eq!(schedule.turn_from(9, 0, 2), 9);
        assert_eq!(schedule.turn_from(9, 1, 2), 9);
        // One thread wakes for every arrival.
        assert_eq!(schedule.turn_from(5, 0, 1), 5);
    }
}
