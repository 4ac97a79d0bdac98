//! Virtual users: the closed model (users × requests or duration, ramp-up, think time) and the
//! open model (arrivals at a fixed rate; latency from each request's intended start, and how late
//! it actually started).
//!
//! The open model's schedule is kept by a thread of its own ([`Arrivals`]) that sleeps to each
//! intended start with the operating system's timer and hands the arrival to the engine: the
//! engine's timer counts whole milliseconds, which alone would start requests up to a
//! millisecond late. A request's lag — its actual start less its intended one — is measured where
//! it starts, on the engine, so an engine too busy to pick arrivals up shows as lag.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeguard_shared::suite::Load;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::abort::Abort;
use super::collector::Sample;
use crate::workload::{Outcome, RequestResult, Workload};

/// Everything a user needs to make requests and report them.
pub struct Users<W> {
    pub workload: Arc<W>,
    pub samples: mpsc::Sender<Sample>,
    pub abort: Abort,
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
        let _collector_gone = self.samples.send(sample).await;
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
                    running.spawn(async move {
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
                            if !think.is_zero() && !this.sleep_until(Instant::now() + think).await {
                                return;
                            }
                        }
                    });
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
                let gap = Duration::from_secs_f64(1.0 / rate_per_s);
                let mut rng = SmallRng::from_rng(&mut rand::rng());
                let Some(mut schedule) = Arrivals::start(started, gap, arrivals, &self.abort)
                else {
                    return;
                };
                while let Some(intended) = tokio::select! {
                    next = schedule.next() => next,
                    () = self.abort.aborted() => None,
                } {
                    while running.try_join_next().is_some() {}
                    if running.len() >= max_in_flight as usize {
                        let dropped = Sample {
                            phase,
                            finished: Instant::now(),
                            latency: Duration::ZERO,
                            lag: None,
                            result: RequestResult {
                                outcome: Outcome::Dropped,
                                acquire_wait: Duration::ZERO,
                                pool: None,
                            },
                        };
                        let _collector_gone = self.samples.send(dropped).await;
                        continue;
                    }
                    let this = self.clone();
                    let mut user_rng = SmallRng::from_rng(&mut rng);
                    running.spawn(async move {
                        this.fire(phase, &mut user_rng, hold, intended, true).await;
                    });
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
        let started = Instant::now();
        let result = tokio::select! {
            result = self.fire(phase, rng, hold, started, false) => result,
            () = self.abort.aborted() => return None,
        };
        Some((result, started.elapsed()))
    }
}

/// An open model's schedule, kept by a thread of its own: it sleeps to each arrival's intended
/// start with the operating system's timer (tens of microseconds late, where the engine's counts
/// whole milliseconds) and hands it over; it stops at the last arrival, when the run is aborted,
/// or when nobody takes arrivals any more.
struct Arrivals {
    intended: mpsc::UnboundedReceiver<Instant>,
}

impl Arrivals {
    /// `count` arrivals `gap` apart from `started`; `None` when no thread could be started (the
    /// run is aborted saying so).
    fn start(started: Instant, gap: Duration, count: u64, abort: &Abort) -> Option<Self> {
        let (sender, intended) = mpsc::unbounded_channel();
        let watched = abort.clone();
        let spawned = std::thread::Builder::new()
            .name("lifeguard-arrivals".into())
            .spawn(move || {
                for arrival in 0..count {
                    #[expect(clippy::cast_precision_loss, reason = "an arrival's index")]
                    let at = started + gap.mul_f64(arrival as f64);
                    let now = Instant::now();
                    if at > now {
                        std::thread::sleep(at - now);
                    }
                    if watched.is_aborted() || sender.send(at).is_err() {
                        return;
                    }
                }
            });
        match spawned {
            Ok(_detached) => Some(Self { intended }),
            Err(error) => {
                abort.abort(format!("starting the open model's schedule: {error}"));
                None
            }
        }
    }

    /// The next arrival's intended start, once it is due; `None` after the last.
    async fn next(&mut self) -> Option<Instant> {
        self.intended.recv().await
    }
}
