//! The one place measurements are aggregated: server observations arrive over a bounded channel,
//! virtual users' samples and pool events are swapped out of their buffers every few
//! milliseconds; per second and per phase they become HdrHistograms, counts and gauge peaks.
//! Users only leave compact samples; all bookkeeping happens here, on the run's own thread, never
//! on the engine threads that make the requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lifeguard_shared::report::{
    Buckets, LatencySummary, OutcomeCounts, PoolSummary, SATURATION_LAG_MS, ScheduleReport,
    SecondSample, ServerReport, WaitSummary,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::observer::Observation;
use super::scraped::{ScrapeDelta, ScrapedPool, Waits};
use crate::pool::Pool;
use crate::pool::events::{EventKind, Gauges, PoolEvent, PoolRole};
use crate::scrape::Scraped;
use crate::stats::blocks::{self, Block, RawRequest};
use crate::stats::histogram::{
    self, SecondHistograms, compress, max_ms, mean_ms, merge, quantile_ms, record,
};
use crate::workload::{Outcome, RequestResult};

/// How often samples and pool events are taken from their buffers.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// When each phase began, so events and seconds are attributed by their own time however late the
/// collector sees them.
#[derive(Debug, Default)]
pub struct PhaseClock {
    switches: Mutex<Vec<(Instant, usize)>>,
}

/// Now, on tokio's clock (the real one, except in tests that pause it).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl PhaseClock {
    /// Phase `phase` begins now.
    pub fn enter(&self, phase: usize) {
        self.switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((now(), phase));
    }

    /// The phase running at `when` (the first phase before any began).
    #[must_use]
    pub fn at(&self, when: Instant) -> usize {
        phase_at(&self.switches(), when)
    }

    /// Every switch so far, oldest first.
    #[must_use]
    pub fn switches(&self) -> Vec<(Instant, usize)> {
        self.switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn phase_at(switches: &[(Instant, usize)], when: Instant) -> usize {
    switches
        .iter()
        .rev()
        .find(|(began, _)| *began <= when)
        .map_or(0, |(_, phase)| *phase)
}

/// Requests per phase kept one by one; longer phases use per-second blocks.
const RAW_LIMIT: usize = 20_000;

/// One request, as a virtual user reports it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Index of the phase (scenario, burst or probe) the request belongs to.
    pub phase: usize,
    pub finished: Instant,
    /// From the request's intended start to its end.
    pub latency: Duration,
    /// An open-model request's actual start less its intended one (`None` in a closed model,
    /// where a user starts each request when it is ready).
    pub lag: Option<Duration>,
    pub result: RequestResult,
}

/// Where virtual users leave their samples: a buffer per engine thread that the collector swaps
/// out every [`DRAIN_EVERY`] — a lock no other engine thread takes, held for a push per request,
/// and no wake-up of the collector (a channel would wake it, across threads, for every request).
#[derive(Debug, Clone)]
pub struct Samples(Arc<[ThreadBuffer]>);

/// One engine thread's buffer, on cache lines of its own: neighbours' pushes on other cores do
/// not pull its lock's line away on every request (two adjacent buffers would share one line).
#[derive(Debug, Default)]
#[repr(align(128))]
struct ThreadBuffer(Mutex<Vec<Sample>>);

impl Samples {
    /// Buffers for `engine_threads` threads (at least one).
    #[must_use]
    pub fn new(engine_threads: usize) -> Self {
        Self(
            (0..engine_threads.max(1))
                .map(|_| ThreadBuffer::default())
                .collect(),
        )
    }

    pub fn push(&self, sample: Sample) {
        let buffer = &self.0[crate::pool::thread_home() % self.0.len()];
        buffer
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    }

    /// Moves the samples left since the last call into `into` (which is cleared first).
    fn swap_out(&self, into: &mut Vec<Sample>) {
        into.clear();
        for buffer in self.0.iter() {
            into.append(&mut buffer.0.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }
}

/// Everything measured in one phase.
#[derive(Debug)]
pub struct PhaseAggregate {
    /// Every request's latency and acquire wait: the phase's closed seconds, added up.
    pub latency: Histogram<u64>,
    pub acquire_wait: Histogram<u64>,
    /// Open-model requests' lags behind their schedule; `None` for a closed-model phase.
    pub lag: Option<Histogram<u64>>,
    pub outcomes: OutcomeCounts,
    /// Primary pool gauges' peaks.
    pub peak: Gauges,
    pub created: u64,
    pub secondary_created: u64,
    pub closed: u64,
    pub timeouts: u64,
    pub exhaustion_events: u64,
    /// Connections created (both pools) in each second of the run this phase touched.
    pub created_by_second: BTreeMap<u32, u64>,
    /// Requests in completion order while few enough to keep (for short-scenario blocks).
    raw: Vec<RawRequest>,
    raw_overflowed: bool,
    /// One block per second of this phase.
    second_blocks: Vec<Block>,
    open_second: Option<PhaseSecond>,
    /// Closed seconds' histograms not yet handed to the store: (t, latency, acquire wait).
    unpublished: Vec<(u32, Vec<u8>, Vec<u8>)>,
    /// A service's acquire waits during this phase, from its scrapes (and the longest it said).
    scraped_waits: Option<Waits>,
    scraped_wait_max_s: Option<f64>,
}

/// The current second of one phase, becoming a [`Block`] when the next begins.
#[derive(Debug)]
struct PhaseSecond {
    t: u64,
    latency: Histogram<u64>,
    acquire_wait: Histogram<u64>,
    requests: u64,
    ok: u64,
}

impl PhaseSecond {
    fn block(&self) -> Block {
        Block {
            requests: self.requests,
            ok: self.ok,
            seconds: 1.0,
            mean_ms: mean_ms(&self.latency),
            p50_ms: quantile_ms(&self.latency, 0.50),
            p95_ms: quantile_ms(&self.latency, 0.95),
            p99_ms: quantile_ms(&self.latency, 0.99),
            wait_p95_ms: quantile_ms(&self.acquire_wait, 0.95),
            per_second: true,
        }
    }
}

/// What the collector hands back when the run is over.
#[derive(Debug)]
pub struct Collected {
    pub phases: Vec<PhaseAggregate>,
    pub series: Vec<SecondSample>,
    /// The run in [`BUCKET`]s, when it lasted at most [`MAX_BUCKETS`] of them.
    pub buckets: Option<Buckets>,
    pub histograms: Vec<SecondHistograms>,
    pub server: ServerReport,
    /// A service's pool as its scrapes showed it (`None` for lifeguard's own pools).
    pub scraped: Option<ScrapedPool>,
}

fn peak(into: &mut Gauges, from: Gauges) {
    into.checked_out = into.checked_out.max(from.checked_out);
    into.idle = into.idle.max(from.idle);
    into.open = into.open.max(from.open);
    into.overflow = into.overflow.max(from.overflow);
    into.waiters = into.waiters.max(from.waiters);
}

fn count(outcomes: &mut OutcomeCounts, outcome: Outcome) {
    let slot = match outcome {
        Outcome::Ok => &mut outcomes.ok,
        Outcome::PoolTimeout => &mut outcomes.pool_timeout,
        Outcome::Refused => &mut outcomes.refused,
        Outcome::ConnectError => &mut outcomes.connect_error,
        Outcome::DbError => &mut outcomes.db_error,
        Outcome::AppError => &mut outcomes.app_error,
        Outcome::Leaked => &mut outcomes.leaked,
        Outcome::Dropped => &mut outcomes.dropped,
        Outcome::Http4xx => &mut outcomes.http_4xx,
        Outcome::Http5xx => &mut outcomes.http_5xx,
        Outcome::Timeout => &mut outcomes.timeout,
    };
    *slot += 1;
}

impl PhaseAggregate {
    fn new() -> Self {
        Self {
            latency: histogram::new(),
            acquire_wait: histogram::new(),
            lag: None,
            outcomes: OutcomeCounts::default(),
            peak: Gauges::default(),
            created: 0,
            secondary_created: 0,
            closed: 0,
            timeouts: 0,
            exhaustion_events: 0,
            created_by_second: BTreeMap::new(),
            raw: Vec::new(),
            raw_overflowed: false,
            second_blocks: Vec::new(),
            open_second: None,
            unpublished: Vec::new(),
            scraped_waits: None,
            scraped_wait_max_s: None,
        }
    }

    /// Adds one request to the phase's blocks: its second, and the raw list while it is short.
    fn add_to_blocks(&mut self, sample: &Sample, since_start: Duration) {
        let micros = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        let ok = sample.result.outcome.is_ok();
        if self.raw.len() < RAW_LIMIT {
            self.raw.push(RawRequest {
                latency_us: micros(sample.latency),
                wait_us: micros(sample.result.acquire_wait),
                ok,
                finished_us: u64::try_from(since_start.as_micros()).unwrap_or(u64::MAX),
            });
        } else {
            self.raw_overflowed = true;
        }
        let t = since_start.as_secs();
        if self.open_second.as_ref().is_some_and(|open| open.t != t) {
            // A late sample of an earlier second, or the next second began: close the open one.
            // (Its histograms were not yet published; the collector publishes closed seconds.)
            if let Some(closed) = self.close_block(u64::MAX) {
                self.unpublished.push(closed);
            }
        }
        let open = self.open_second.get_or_insert_with(|| PhaseSecond {
            t,
            latency: histogram::new(),
            acquire_wait: histogram::new(),
            requests: 0,
            ok: 0,
        });
        open.requests += 1;
        open.ok += u64::from(ok);
        record(&mut open.latency, sample.latency);
        record(&mut open.acquire_wait, sample.result.acquire_wait);
    }

    /// Completes the phase's open second when it is `until` or earlier: its block, and its
    /// histograms (compressed) for the store.
    fn close_block(&mut self, until: u64) -> Option<(u32, Vec<u8>, Vec<u8>)> {
        if self.open_second.as_ref().is_none_or(|open| open.t > until) {
            return None;
        }
        let open = self.open_second.take()?;
        self.second_blocks.push(open.block());
        // The phase's histograms are the sum of its seconds': one addition a second, not two
        // more records a request.
        merge(&mut self.latency, &open.latency);
        merge(&mut self.acquire_wait, &open.acquire_wait);
        Some((
            u32::try_from(open.t).unwrap_or(u32::MAX),
            compress(&open.latency),
            compress(&open.acquire_wait),
        ))
    }

    /// The blocks a comparison resamples (see [`crate::stats::blocks::choose`]). The first and
    /// last seconds are partial, so their throughput is left unknown.
    #[must_use]
    pub fn blocks(&mut self) -> Vec<Block> {
        let _already_published = self.close_block(u64::MAX);
        let mut seconds = self.second_blocks.clone();
        if seconds.len() >= 3 {
            let last = seconds.len() - 1;
            seconds[0].seconds = 0.0;
            seconds[last].seconds = 0.0;
        }
        let raw = (!self.raw_overflowed).then_some(self.raw.as_slice());
        blocks::choose(seconds, raw)
    }

    /// Latency percentiles in milliseconds.
    #[must_use]
    pub fn latency_summary(&self) -> LatencySummary {
        let h = &self.latency;
        LatencySummary {
            mean: mean_ms(h),
            p50: quantile_ms(h, 0.50),
            p95: quantile_ms(h, 0.95),
            p99: quantile_ms(h, 0.99),
            max: max_ms(h),
        }
    }

    /// How an open-model phase kept its schedule at `rate_per_s`; `None` for a closed one.
    #[must_use]
    pub fn schedule(&self, rate_per_s: f64) -> Option<ScheduleReport> {
        let lag = self.lag.as_ref()?;
        let lag_p99_ms = quantile_ms(lag, 0.99);
        Some(ScheduleReport {
            rate_per_s,
            started: lag.len(),
            lag_p50_ms: quantile_ms(lag, 0.50),
            lag_p99_ms,
            lag_max_ms: max_ms(lag),
            generator_saturated: lag_p99_ms >= SATURATION_LAG_MS,
        })
    }

    /// Acquire-wait summary in milliseconds: lifeguard's own checkouts, or a service's waits as
    /// its metrics counted them.
    #[must_use]
    pub fn wait_summary(&self) -> WaitSummary {
        if let Some(waits) = &self.scraped_waits {
            return WaitSummary {
                mean: waits.mean_ms().unwrap_or(0.0),
                p95: waits.quantile_ms(0.95).unwrap_or(0.0),
                max: self
                    .scraped_wait_max_s
                    .map(|s| s * 1000.0)
                    .or_else(|| waits.quantile_ms(1.0))
                    .unwrap_or(0.0),
            };
        }
        let h = &self.acquire_wait;
        WaitSummary {
            mean: mean_ms(h),
            p95: quantile_ms(h, 0.95),
            max: max_ms(h),
        }
    }

    /// The pool summary over `duration_s`, with utilization against `capacity`.
    #[must_use]
    pub fn pool_summary(&self, capacity: u32, duration_s: f64) -> PoolSummary {
        PoolSummary {
            peak_checked_out: self.peak.checked_out,
            peak_overflow: self.peak.overflow,
            peak_waiters: self.peak.waiters,
            peak_utilization: if capacity == 0 {
                0.0
            } else {
                f64::from(self.peak.checked_out) / f64::from(capacity)
            },
            connections_created: self.created,
            connections_closed: self.closed,
            churn_per_s: if duration_s > 0.0 {
                self.created as f64 / duration_s
            } else {
                0.0
            },
            peak_churn_per_s: self.created_by_second.values().copied().max().unwrap_or(0) as f64,
            exhaustion_events: self.exhaustion_events,
            timeouts: self.timeouts,
            secondary_connections_created: self.secondary_created,
        }
    }
}

/// The second being filled.
struct Second {
    t: u32,
    latency: Histogram<u64>,
    acquire_wait: Histogram<u64>,
    requests: u64,
    errors: u64,
    peak: Gauges,
    saw_event: bool,
    created: u64,
    closed: u64,
    timeouts: u64,
    exhaustion_events: u64,
    server_backends: u32,
    idle_in_transaction: u32,
    server_new_backends: u32,
    server_waiting: u32,
    /// A service's acquire waits in this second, from its scrapes.
    waits: Option<Waits>,
    /// Requests finished in this second per phase: the row is the phase that had the most (a
    /// 100 ms bucket often holds the end of one scenario and the start of the next).
    by_phase: Vec<u64>,
}

impl Second {
    fn add_sample(&mut self, sample: &Sample) {
        if self.by_phase.len() <= sample.phase {
            self.by_phase.resize(sample.phase + 1, 0);
        }
        self.by_phase[sample.phase] += 1;
        self.requests += 1;
        self.errors += u64::from(!sample.result.outcome.is_ok());
        if sample.result.outcome != Outcome::Dropped {
            record(&mut self.latency, sample.latency);
            record(&mut self.acquire_wait, sample.result.acquire_wait);
        }
    }

    fn add_event(&mut self, event: &PoolEvent) {
        if event.pool == PoolRole::Primary {
            peak(&mut self.peak, event.gauges);
            self.saw_event = true;
        }
        match event.kind {
            EventKind::Created { .. } => self.created += 1,
            EventKind::Closed { .. } => self.closed += 1,
            EventKind::TimedOut { .. } => self.timeouts += 1,
            EventKind::Exhausted => self.exhaustion_events += 1,
            _ => {}
        }
    }

    fn add_observation(&mut self, observation: &Observation) {
        self.server_backends = self.server_backends.max(observation.run_backends);
        self.idle_in_transaction = self
            .idle_in_transaction
            .max(observation.idle_in_transaction);
        self.server_new_backends += observation.new_backends;
        self.server_waiting = self.server_waiting.max(observation.waiting);
    }

    fn add_scrape(&mut self, delta: &ScrapeDelta) {
        peak(&mut self.peak, delta.gauges);
        self.saw_event = true;
        self.created += delta.created + delta.secondary_created;
        self.timeouts += delta.timeouts;
        self.exhaustion_events += u64::from(delta.dry);
        if let Some(waits) = &delta.waits {
            self.waits.get_or_insert_with(Waits::default).merge(waits);
        }
    }

    fn new(t: u32) -> Self {
        Self {
            t,
            latency: histogram::new(),
            acquire_wait: histogram::new(),
            requests: 0,
            errors: 0,
            peak: Gauges::default(),
            saw_event: false,
            created: 0,
            closed: 0,
            timeouts: 0,
            exhaustion_events: 0,
            server_backends: 0,
            idle_in_transaction: 0,
            server_new_backends: 0,
            server_waiting: 0,
            waits: None,
            by_phase: Vec::new(),
        }
    }

    /// The phase most requests of this second belonged to, if any finished in it.
    fn busiest_phase(&self) -> Option<usize> {
        self.by_phase
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .max_by_key(|(index, count)| (**count, std::cmp::Reverse(*index)))
            .map(|(index, _)| index)
    }
}

/// Width of the finer buckets short runs are also kept in: auth-burst's scenarios last a few
/// hundred milliseconds each, and in seconds they would all fall in the first one.
pub const BUCKET: Duration = Duration::from_millis(100);

/// Most buckets a run keeps (two minutes): a longer run is charted by its seconds.
pub const MAX_BUCKETS: usize = 1200;

/// The bucket being filled and those done.
struct Fine {
    current: Second,
    rows: Vec<SecondSample>,
}

/// What the collector publishes while the run goes; every second is published exactly once.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A phase (scenario or run phase) started.
    Phase(String),
    /// A second is complete, with the compressed histograms of each phase's seconds that closed.
    Second(SecondSample, Vec<SecondHistograms>),
}

/// Aggregates one run.
pub struct Collector {
    started: Instant,
    phase_names: Vec<String>,
    clock: Arc<PhaseClock>,
    /// Whose event buffers to drain.
    pools: Vec<Pool>,
    /// Each pool's gauges after its latest event, and the primary pools' sum: with several
    /// replicas the run's gauges are the sums over them.
    latest: Vec<Gauges>,
    primaries: Gauges,
    /// Reused allocation for drained events.
    drained: Vec<PoolEvent>,
    /// Reused allocation for drained samples.
    drained_samples: Vec<Sample>,
    phases: Vec<PhaseAggregate>,
    second: Second,
    last_gauges: Gauges,
    last_observation: Option<Observation>,
    series: Vec<SecondSample>,
    /// The same measurements in [`BUCKET`]s while the run is short enough (see [`MAX_BUCKETS`]).
    buckets: Option<Fine>,
    histograms: Vec<SecondHistograms>,
    server: ServerReport,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    /// A service's scrapes so far (`None` for lifeguard's own pools).
    scraped: Option<ScrapedPool>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("phases", &self.phase_names)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector for phases named `phase_names` (`clock` says when each began) and the events
    /// of `pools`.
    #[must_use]
    pub fn new(
        started: Instant,
        phase_names: Vec<String>,
        clock: Arc<PhaseClock>,
        pools: Vec<Pool>,
        server: ServerReport,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Self {
        Self {
            started,
            phases: phase_names.iter().map(|_| PhaseAggregate::new()).collect(),
            phase_names,
            clock,
            latest: vec![Gauges::default(); pools.len()],
            primaries: Gauges::default(),
            pools,
            drained: Vec::new(),
            drained_samples: Vec::new(),
            second: Second::new(0),
            last_gauges: Gauges::default(),
            last_observation: None,
            series: Vec::new(),
            buckets: Some(Fine {
                current: Second::new(0),
                rows: Vec::new(),
            }),
            histograms: Vec::new(),
            server,
            progress,
            scraped: None,
        }
    }

    /// Runs until `finish` is cancelled, then drains what is queued and returns the aggregates.
    pub async fn run(
        mut self,
        samples: Samples,
        mut observations: mpsc::Receiver<Observation>,
        mut scrapes: Option<mpsc::Receiver<Scraped>>,
        finish: CancellationToken,
    ) -> Collected {
        if scrapes.is_some() {
            self.scraped = Some(ScrapedPool::default());
        }
        // A channel whose senders are gone answers at once, every time: stop listening to it.
        let mut observing = true;
        let mut seconds = tokio::time::interval_at(
            (self.started + Duration::from_secs(1)).into(),
            Duration::from_secs(1),
        );
        seconds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut buckets = tokio::time::interval_at((self.started + BUCKET).into(), BUCKET);
        buckets.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut drains = tokio::time::interval(DRAIN_EVERY);
        drains.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                observation = observations.recv(), if observing => match observation {
                    Some(observation) => self.on_observation(observation),
                    None => observing = false,
                },
                reading = recv(&mut scrapes), if scrapes.is_some() => match reading {
                    Some(reading) => self.on_scrape(reading),
                    None => scrapes = None,
                },
                _ = seconds.tick() => {
                    self.drain(&samples);
                    self.close_second();
                }
                _ = buckets.tick(), if self.buckets.is_some() => {
                    self.drain(&samples);
                    self.close_bucket();
                }
                _ = drains.tick() => self.drain(&samples),
                () = finish.cancelled() => break,
            }
        }
        while let Ok(observation) = observations.try_recv() {
            self.on_observation(observation);
        }
        while let Some(Ok(scraped)) = scrapes.as_mut().map(mpsc::Receiver::try_recv) {
            self.on_scrape(scraped);
        }
        self.drain(&samples);
        self.into_collected()
    }

    /// Closes the last (partial) second and hands the aggregates over.
    fn into_collected(mut self) -> Collected {
        self.close_second_until(u64::MAX);
        self.close_bucket();
        Collected {
            phases: self.phases,
            series: self.series,
            buckets: self.buckets.map(|fine| Buckets {
                resolution_ms: u32::try_from(BUCKET.as_millis()).unwrap_or(u32::MAX),
                points: fine.rows,
            }),
            histograms: self.histograms,
            server: self.server,
            scraped: self.scraped,
        }
    }

    /// Takes in the samples and pool events left since the last drain.
    fn drain(&mut self, samples: &Samples) {
        let mut drained = std::mem::take(&mut self.drained_samples);
        samples.swap_out(&mut drained);
        // Each engine thread's buffer is in order; together, in order of finishing, so that a
        // phase's seconds close one after the other.
        drained.sort_unstable_by_key(|sample| sample.finished);
        for sample in &drained {
            self.on_sample(sample);
        }
        self.drained_samples = drained;
        self.drain_pools();
    }

    fn drain_pools(&mut self) {
        let mut drained = std::mem::take(&mut self.drained);
        // One look at the clock per drain, not one lock per event.
        let switches = self.clock.switches();
        for index in 0..self.pools.len() {
            self.pools[index].drain_events(&mut drained);
            for event in &drained {
                let phase = self.bounded(phase_at(&switches, event.at));
                let mut event = *event;
                if event.pool == PoolRole::Primary {
                    self.primaries = self.primaries.moved(self.latest[index], event.gauges);
                    self.latest[index] = event.gauges;
                    event.gauges = self.primaries;
                }
                self.on_event(phase, &event);
            }
        }
        self.drained = drained;
    }

    fn bounded(&self, phase: usize) -> usize {
        phase.min(self.phases.len().saturating_sub(1))
    }

    fn on_sample(&mut self, sample: &Sample) {
        let since_start = sample.finished.saturating_duration_since(self.started);
        if let Some(phase) = self.phases.get_mut(sample.phase) {
            count(&mut phase.outcomes, sample.result.outcome);
            if sample.result.outcome != Outcome::Dropped {
                phase.add_to_blocks(sample, since_start);
            }
            if let Some(lag) = sample.lag {
                record(phase.lag.get_or_insert_with(histogram::new), lag);
            }
        }
        self.second.add_sample(sample);
        if let Some(fine) = &mut self.buckets {
            fine.current.add_sample(sample);
        }
    }

    fn on_event(&mut self, index: usize, event: &PoolEvent) {
        let second_of_run =
            u32::try_from(event.at.saturating_duration_since(self.started).as_secs())
                .unwrap_or(u32::MAX);
        let phase = &mut self.phases[index];
        let primary = event.pool == PoolRole::Primary;
        self.second.add_event(event);
        if let Some(fine) = &mut self.buckets {
            fine.current.add_event(event);
        }
        if primary {
            peak(&mut phase.peak, event.gauges);
            self.last_gauges = event.gauges;
        }
        match event.kind {
            EventKind::Created { .. } => {
                phase.created += 1;
                *phase.created_by_second.entry(second_of_run).or_default() += 1;
                if !primary {
                    phase.secondary_created += 1;
                }
            }
            EventKind::Closed { .. } => phase.closed += 1,
            EventKind::TimedOut { .. } => phase.timeouts += 1,
            EventKind::Exhausted => phase.exhaustion_events += 1,
            _ => {}
        }
    }

    fn on_observation(&mut self, observation: Observation) {
        self.second.add_observation(&observation);
        if let Some(fine) = &mut self.buckets {
            fine.current.add_observation(&observation);
        }
        let server = &mut self.server;
        server.peak_run_backends = server.peak_run_backends.max(observation.run_backends);
        server.peak_total_backends = server.peak_total_backends.max(observation.total_backends);
        server.peak_idle_in_transaction = server
            .peak_idle_in_transaction
            .max(observation.idle_in_transaction);
        self.last_observation = Some(observation);
    }

    /// A service's scrape: its gauges and what changed since the previous one, attributed to the
    /// phase running when it was read, like a pool's own events.
    fn on_scrape(&mut self, scraped: Scraped) {
        let Some(pool) = self.scraped.as_mut() else {
            return;
        };
        let scrape = match scraped {
            Scraped::Read(scrape) => scrape,
            Scraped::Failed { at, cause } => {
                pool.failed(at.saturating_duration_since(self.started), cause);
                return;
            }
        };
        let delta = pool.read(&scrape);
        let second_of_run =
            u32::try_from(scrape.at.saturating_duration_since(self.started).as_secs())
                .unwrap_or(u32::MAX);
        let index = self.bounded(self.clock.at(scrape.at));
        self.second.add_scrape(&delta);
        if let Some(fine) = &mut self.buckets {
            fine.current.add_scrape(&delta);
        }
        let phase = &mut self.phases[index];
        peak(&mut phase.peak, delta.gauges);
        self.last_gauges = delta.gauges;
        let created = delta.created + delta.secondary_created;
        phase.created += created;
        phase.secondary_created += delta.secondary_created;
        *phase.created_by_second.entry(second_of_run).or_default() += created;
        phase.timeouts += delta.timeouts;
        phase.exhaustion_events += u64::from(delta.dry);
        if let Some(waits) = &delta.waits {
            phase
                .scraped_waits
                .get_or_insert_with(Waits::default)
                .merge(waits);
        }
        if let Some(longest) = delta.wait_max_s {
            phase.scraped_wait_max_s = Some(phase.scraped_wait_max_s.unwrap_or(0.0).max(longest));
        }
    }

    /// Completes the current second: a series row, its histograms, a progress message.
    fn close_second(&mut self) {
        let t = u64::from(self.second.t);
        self.close_second_until(t);
    }

    /// Completes the current second (a series row, a progress message) and every phase's second
    /// up to `until` (their histograms, for the store and for latency curves per phase).
    fn close_second_until(&mut self, until: u64) {
        let next = Second::new(self.second.t + 1);
        let second = std::mem::replace(&mut self.second, next);
        let row = self.row(&second);
        let mut histograms = Vec::new();
        for (index, phase) in self.phases.iter_mut().enumerate() {
            let closed = phase.close_block(until);
            let name = &self.phase_names[index];
            for (t, latency, acquire_wait) in phase.unpublished.drain(..).chain(closed) {
                histograms.push(SecondHistograms {
                    t,
                    phase: name.clone(),
                    latency,
                    acquire_wait,
                });
            }
        }
        if let Some(progress) = &self.progress {
            // Unbounded, so the measurements never wait for a slow reader and the reader (the
            // store) misses no second: the queue is bounded by the run's length (guard rails).
            let _nobody_listens = progress.send(Progress::Second(row.clone(), histograms.clone()));
        }
        self.histograms.extend(histograms);
        self.series.push(row);
    }
}

impl Collector {
    /// Completes the current bucket; past [`MAX_BUCKETS`] the run is long, and its seconds are
    /// what charts it.
    fn close_bucket(&mut self) {
        let Some(fine) = &mut self.buckets else {
            return;
        };
        let next = Second::new(fine.current.t + 1);
        let bucket = std::mem::replace(&mut fine.current, next);
        if fine.rows.len() >= MAX_BUCKETS {
            self.buckets = None;
            return;
        }
        let row = self.row(&bucket);
        if let Some(fine) = &mut self.buckets {
            fine.rows.push(row);
        }
    }

    /// The row of a second or bucket: what it measured, its gauges' peaks (where they stand, when
    /// nothing moved them), and its phase: the one most of its requests belonged to, else the
    /// one running as it closes.
    fn row(&self, second: &Second) -> SecondSample {
        let phase_index = self.bounded(
            second
                .busiest_phase()
                .unwrap_or_else(|| self.clock.at(now())),
        );
        let phase_name = self
            .phase_names
            .get(phase_index)
            .cloned()
            .unwrap_or_default();
        // Without events this second the gauges did not move: show where they stand.
        let gauges = if second.saw_event {
            second.peak
        } else {
            self.last_gauges
        };
        let (server_backends, idle_in_transaction) = if second.server_backends > 0 {
            (second.server_backends, second.idle_in_transaction)
        } else {
            self.last_observation
                .map_or((0, 0), |o| (o.run_backends, o.idle_in_transaction))
        };
        SecondSample {
            t: second.t,
            phase: phase_name,
            requests: second.requests,
            errors: second.errors,
            latency_p50_ms: quantile_ms(&second.latency, 0.50),
            latency_p95_ms: quantile_ms(&second.latency, 0.95),
            latency_p99_ms: quantile_ms(&second.latency, 0.99),
            latency_max_ms: max_ms(&second.latency),
            acquire_wait_p95_ms: match &second.waits {
                Some(waits) => waits.quantile_ms(0.95).unwrap_or(0.0),
                None => quantile_ms(&second.acquire_wait, 0.95),
            },
            checked_out: gauges.checked_out,
            idle: self.last_gauges.idle,
            overflow: gauges.overflow,
            waiters: gauges.waiters,
            connections_created: second.created,
            connections_closed: second.closed,
            timeouts: second.timeouts,
            exhaustion_events: second.exhaustion_events,
            server_backends,
            idle_in_transaction,
            server_new_backends: second.server_new_backends,
            server_waiting: second.server_waiting,
        }
    }
}

/// The next scrape, when there is a channel to take it from.
async fn recv(scrapes: &mut Option<mpsc::Receiver<Scraped>>) -> Option<Scraped> {
    match scrapes {
        Some(scrapes) => scrapes.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::RequestResult;

    fn sample(phase: usize, latency_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            phase,
            finished: now(),
            latency: Duration::from_millis(latency_ms),
            lag: None,
            result: RequestResult {
                outcome,
                acquire_wait: Duration::from_millis(latency_ms / 2),
                pool: Some(PoolRole::Primary),
            },
        }
    }

    fn event(kind: EventKind, checked_out: u32, waiters: u32) -> PoolEvent {
        PoolEvent {
            at: now(),
            pool: PoolRole::Primary,
            kind,
            gauges: Gauges {
                checked_out,
                idle: 0,
                open: checked_out,
                overflow: checked_out.saturating_sub(2),
                waiters,
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn samples_and_events_become_phase_summaries_and_seconds() {
        let clock = Arc::new(PhaseClock::default());
        let mut collector = Collector::new(
            now(),
            vec!["light".into(), "heavy".into()],
            clock.clone(),
            Vec::new(),
            ServerReport::default(),
            None,
        );
        clock.enter(0);
        for latency in [10, 20, 30, 40] {
            collector.on_sample(&sample(0, latency, Outcome::Ok));
        }
        let created = EventKind::Created {
            connect: Duration::ZERO,
        };
        collector.on_event(0, &event(created, 1, 0));
        tokio::time::advance(Duration::from_millis(2)).await;
        clock.enter(1);
        collector.on_sample(&sample(1, 900, Outcome::PoolTimeout));
        collector.on_event(1, &event(EventKind::Exhausted, 3, 2));
        let timed_out = EventKind::TimedOut {
            waited: Duration::ZERO,
        };
        collector.on_event(1, &event(timed_out, 3, 1));
        let collected = collector.into_collected();

        let light = &collected.phases[0];
        assert_eq!(light.outcomes.ok, 4);
        let latency = light.latency_summary();
        assert!((latency.mean - 25.0).abs() < 0.1, "{latency:?}");
        assert!((latency.max - 40.0).abs() < 0.1, "{latency:?}");
        assert_eq!(light.created, 1);
        let heavy = &collected.phases[1];
        assert_eq!(heavy.outcomes.pool_timeout, 1);
        assert_eq!((heavy.exhaustion_events, heavy.timeouts), (1, 1));
        assert_eq!(
            (
                heavy.peak.checked_out,
                heavy.peak.waiters,
                heavy.peak.overflow
            ),
            (3, 2, 1)
        );
        let summary = heavy.pool_summary(3, 1.0);
        assert!((summary.peak_utilization - 1.0).abs() < 1e-9);

        assert_eq!(collected.series.len(), 1);
        let second = &collected.series[0];
        assert_eq!((second.requests, second.errors), (5, 1));
        assert_eq!(second.exhaustion_events, 1);
        let phases_with_histograms: Vec<&str> = collected
            .histograms
            .iter()
            .map(|h| h.phase.as_str())
            .collect();
        assert_eq!(
            phases_with_histograms,
            ["light", "heavy"],
            "one per phase and second"
        );
        let mut phases = collected.phases;
        let light_blocks = phases[0].blocks();
        assert_eq!(
            light_blocks.len(),
            4,
            "one block per request of a short phase"
        );
        assert!((light_blocks[3].p95_ms - 40.0).abs() < 0.1);
        assert!(!collected.histograms[0].latency.is_empty());
    }

    /// A collector of `phases` on no pool, and the clock that says which runs.
    fn collector_of(phases: &[&str]) -> (Collector, Arc<PhaseClock>) {
        let clock = Arc::new(PhaseClock::default());
        let collector = Collector::new(
            now(),
            phases.iter().map(|&p| p.to_owned()).collect(),
            clock.clone(),
            Vec::new(),
            ServerReport::default(),
            None,
        );
        (collector, clock)
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_run_is_also_kept_in_100_ms_buckets_with_their_phases() {
        let (mut collector, clock) = collector_of(&["light", "heavy"]);
        clock.enter(0);
        collector.on_sample(&sample(0, 10, Outcome::Ok));
        collector.on_event(0, &event(EventKind::Exhausted, 2, 1));
        tokio::time::advance(BUCKET).await;
        collector.close_bucket();
        clock.enter(1);
        collector.on_sample(&sample(1, 30, Outcome::Ok));
        collector.on_sample(&sample(1, 50, Outcome::PoolTimeout));
        tokio::time::advance(BUCKET).await;
        collector.close_bucket();
        let collected = collector.into_collected();
        let buckets = collected.buckets.expect("a short run keeps its buckets");
        assert_eq!(buckets.resolution_ms, 100);
        let rows: Vec<(u32, &str, u64, u64, u64)> = buckets
            .points
            .iter()
            .map(|p| {
                (
                    p.t,
                    p.phase.as_str(),
                    p.requests,
                    p.errors,
                    p.exhaustion_events,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (0, "light", 1, 0, 1),
                (1, "heavy", 2, 1, 0),
                (2, "heavy", 0, 0, 0)
            ]
        );
        assert!((buckets.points[1].latency_max_ms - 50.0).abs() < 0.1);
        // The same run in seconds: one row with all three requests.
        assert_eq!(collected.series.len(), 1);
        assert_eq!(collected.series[0].requests, 3);
    }

    #[test]
    fn a_run_past_the_bucket_limit_keeps_only_its_seconds() {
        let (mut collector, _clock) = collector_of(&["steady"]);
        for _ in 0..=MAX_BUCKETS {
            collector.close_bucket();
        }
        assert!(collector.into_collected().buckets.is_none());
    }
}
