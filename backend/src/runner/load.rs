//! Virtual users: the closed model (users × requests or duration, ramp-up, think time) and the
//! open model (arrivals at a fixed rate; latency from each request's intended start, and how late
//! it actually started).
//!
//! Users run on the engine threads ([`Runtimes`]): a closed model's users are dealt to them in
//! turn; an open model's arrivals too, each thread starting its own.
//!
//! The open model's schedule is kept by a thread of its own ([`Arrivals`]) that sleeps to each
//! intended start with the operating system's timer and hands the arrival to an engine thread:
//! the engine's timer counts whole milliseconds, which alone would start requests up to a
//! millisecond late. A request's lag — its actual start less its intended one — is measured where
//! it starts, on the engine, so an engine too busy to pick arrivals up shows as lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lifeguard_shared::suite::Load;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::abort::{Abort, AbortTaskOnDrop};
use super::collector::{Sample, Samples};
use super::engine::Runtimes;
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
                let gap = Duration::from_secs_f64(1.0 / rate_per_s);
                let (queues, arriving): (Vec<_>, Vec<_>) = self
                    .runtimes
                    .all()
                    .iter()
                    .map(|_| mpsc::unbounded_channel())
                    .unzip();
                if !Arrivals::start(started, gap, arrivals, queues, &self.abort) {
                    return;
                }
                let in_flight = Arc::new(AtomicUsize::new(0));
                let mut seeds = SmallRng::from_rng(&mut rand::rng());
                for (thread, arriving) in arriving.into_iter().enumerate() {
                    let dispatcher = Dispatcher {
                        phase,
                        hold,
                        in_flight: in_flight.clone(),
                        max_in_flight: max_in_flight as usize,
                        rng: SmallRng::from_rng(&mut seeds),
                    };
                    running.spawn_on(
                        dispatcher.start(self.clone(), arriving),
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

/// One engine thread's share of an open model's arrivals.
struct Dispatcher {
    phase: usize,
    hold: Duration,
    /// Requests running on every engine thread, against `max_in_flight`.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    rng: SmallRng,
}

impl Dispatcher {
    /// Starts a request for each arrival, on this thread, unless `max_in_flight` requests are
    /// already running over all threads: then the arrival is dropped (and counted so).
    async fn start<W: Workload>(
        mut self,
        users: Users<W>,
        mut arriving: mpsc::UnboundedReceiver<Instant>,
    ) {
        let mut running = JoinSet::new();
        while let Some(intended) = tokio::select! {
            next = arriving.recv() => next,
            () = users.abort.aborted() => None,
        } {
            while running.try_join_next().is_some() {}
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
                continue;
            }
            let landed = InFlight(self.in_flight.clone());
            let this = users.clone();
            let mut rng = SmallRng::from_rng(&mut self.rng);
            let (phase, hold) = (self.phase, self.hold);
            running.spawn(async move {
                let _landed = landed;
                this.fire(phase, &mut rng, hold, intended, true).await;
            });
        }
        users.join(&mut running).await;
    }
}

/// One request counted in flight until it ends, however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An open model's schedule, kept by a thread of its own: it sleeps to each arrival's intended
/// start with the operating system's timer (tens of microseconds late, where the engine's counts
/// whole milliseconds) and hands it to the engine threads in turn; it stops at the last arrival,
/// when the run is aborted, or when nobody takes arrivals any more.
struct Arrivals;

impl Arrivals {
    /// `count` arrivals `gap` apart from `started`, dealt to `queues` in turn; `false` when no
    /// thread could be started (the run is aborted saying so).
    fn start(
        started: Instant,
        gap: Duration,
        count: u64,
        queues: Vec<mpsc::UnboundedSender<Instant>>,
        abort: &Abort,
    ) -> bool {
        let watched = abort.clone();
        let spawned = std::thread::Builder::new()
            .name("lifeguard-arrivals".into())
            .spawn(move || {
                // Linux lets a sleep end up to 50 µs late by default, to batch wake-ups: this
                // thread's wake-ups are the schedule, so none of that slack.
                if let Err(error) = nix::sys::prctl::set_timerslack(1) {
                    tracing::debug!(%error, "the schedule thread keeps the default timer slack");
                }
                for (arrival, queue) in (0..count).zip(queues.iter().cycle()) {
                    #[expect(clippy::cast_precision_loss, reason = "an arrival's index")]
                    let at = started + gap.mul_f64(arrival as f64);
                    let now = Instant::now();
                    if at > now {
                        std::thread::sleep(at - now);
                    }
                    if watched.is_aborted() || queue.send(at).is_err() {
                        return;
                    }
                }
            });
        if let Err(error) = spawned {
            abort.abort(format!("starting the open model's schedule: {error}"));
            return false;
        }
        true
    }
}
