//! Scheduled regression runs: each configured schedule (`[[schedules]]`) fires a run on its cron
//! pattern through [`RunService::submit`] — the API's path, so the guard rails and the target's
//! queue apply — and compares it with its baseline when it ends; the verdict is stored with the
//! firing and shown by `GET /api/schedules` and on the start page.
//!
//! Firings are recorded in the store (`schedule_runs`): at start a schedule whose firings were
//! due while the console was down fires once, not once per missed time; one that never fired
//! does not catch up. The pure parts — next fire time, catch-up — take an explicit `now`.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDateTime, CronDateTime, Resolution, Weekday};
use lifeguard_shared::compare::Verdict;
use lifeguard_shared::event::RunEvent;
use lifeguard_shared::run::RunRequest;
use lifeguard_shared::schedule::ScheduleStatus;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ScheduleConfig;
use crate::service::{BaseRef, RunService, ServiceError};
use crate::store::{StoreError, now_ms};

/// Firings `GET /api/schedules` shows per schedule.
const RECENT_FIRINGS: u64 = 10;
/// The note of a catch-up firing (replaced by the outcome's note, if any).
const CATCH_UP_NOTE: &str = "catch-up: due while the console was down";

/// Parses a cron pattern: 5 fields (minute hour day-of-month month day-of-week) or 6 with
/// seconds first. The error is the rule, in words.
pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    let fields = pattern.split_whitespace().count();
    if !(fields == 5 || fields == 6 || pattern.trim_start().starts_with('@')) {
        return Err(format!(
            "must be a cron pattern of 5 fields (minute hour day-of-month month day-of-week) or 6 \
             (seconds first), got `{pattern}` ({fields} fields)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| format!("must be a valid cron pattern, got `{pattern}`: {e}"))
}

/// The first time after `after_ms` (unix ms) that `cron` matches, in whole seconds (UTC).
#[must_use]
pub fn next_fire(cron: &Cron, after_ms: u64) -> Option<u64> {
    let start = UtcSecond(i64::try_from(after_ms / 1000).ok()?);
    cron.find_next_occurrence(&start, false)
        .ok()
        .and_then(UtcSecond::to_ms)
}

/// The latest time at or before `at_ms` that `cron` matches.
#[must_use]
pub fn latest_due(cron: &Cron, at_ms: u64) -> Option<u64> {
    let start = UtcSecond(i64::try_from(at_ms / 1000).ok()?);
    cron.find_previous_occurrence(&start, true)
        .ok()
        .and_then(UtcSecond::to_ms)
}

/// The firing to make at start: when one or more were due after the last recorded one
/// (`last_due`) and up to `now`, the latest of them — one firing for any number missed. A
/// schedule that never fired (`None`) does not catch up.
#[must_use]
pub fn catch_up(cron: &Cron, last_due: Option<u64>, now: u64) -> Option<u64> {
    let missed = next_fire(cron, last_due?)?;
    if missed <= now {
        latest_due(cron, now).filter(|&due| due >= missed)
    } else {
        None
    }
}

/// A UTC instant in whole seconds: the clock croner searches over (no time zone, no chrono).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct UtcSecond(i64);

impl UtcSecond {
    fn to_ms(self) -> Option<u64> {
        u64::try_from(self.0).ok()?.checked_mul(1000)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01 (H. Hinnant's `civil_from_days`): year, month, day.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl CronDateTime for UtcSecond {
    fn to_civil(&self) -> CivilDateTime {
        let (days, second) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        let part = |v: i64| u32::try_from(v).unwrap_or(0);
        CivilDateTime::from_ymd_hms_opt(
            i32::try_from(year).unwrap_or(1970),
            part(month),
            part(day),
            part(second / 3600),
            part(second / 60 % 60),
            part(second % 60),
        )
        // Every part above is in its range by construction; 1970-01-01 for a year past i32.
        .unwrap_or_else(|| {
            CivilDateTime::new(
                croner::CivilDate::from_parts_unchecked(1970, 1, 1),
                croner::CivilTime::MIDNIGHT,
            )
        })
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday, 4 days from Sunday.
        let days = self.0.div_euclid(86_400);
        Weekday::from_days_from_sunday(u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0))
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let days = days_from_civil(
            i64::from(civil.year()),
            i64::from(civil.month()),
            i64::from(civil.day()),
        );
        let second = i64::from(civil.hour()) * 3600
            + i64::from(civil.minute()) * 60
            + i64::from(civil.second());
        Ok(Resolution::Single(Self(days * 86_400 + second)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(Self)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

/// A configured schedule with its parsed pattern.
#[derive(Debug)]
struct Schedule {
    config: ScheduleConfig,
    cron: Cron,
}

#[derive(Debug)]
struct Inner {
    service: RunService,
    schedules: Vec<Schedule>,
    /// Cancelled when the console stops: no firing after it, no judging of runs it aborts.
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The console's schedules: started with the console, stopped before its runs are; cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    /// The schedules of a validated configuration (a pattern that does not parse is logged and
    /// left out).
    #[must_use]
    pub fn new(service: RunService, configs: &[ScheduleConfig]) -> Self {
        let schedules = configs
            .iter()
            .filter_map(|config| match parse_cron(&config.cron) {
                Ok(cron) => Some(Schedule {
                    config: config.clone(),
                    cron,
                }),
                Err(rule) => {
                    tracing::error!(schedule = %config.name, "cron {rule}; left out");
                    None
                }
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                service,
                schedules,
                stop: CancellationToken::new(),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Starts one task per schedule: it judges firings a stopped console left unjudged, catches
    /// up once, then fires on the pattern until [`Scheduler::stop`].
    pub fn start(&self) {
        for index in 0..self.inner.schedules.len() {
            let task = tokio::spawn(self.clone().drive(index));
            self.track(task);
        }
        if !self.inner.schedules.is_empty() {
            tracing::info!(schedules = self.inner.schedules.len(), "schedules started");
        }
    }

    /// Stops firing and judging, and waits for the tasks.
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        loop {
            let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks());
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                let _finished_or_panicked = task.await;
            }
        }
    }

    /// Every schedule with its next fire time after `now` and its recent firings.
    pub async fn statuses(&self, now: u64) -> Result<Vec<ScheduleStatus>, StoreError> {
        let store = self.inner.service.store();
        let mut all = Vec::with_capacity(self.inner.schedules.len());
        for schedule in &self.inner.schedules {
            let config = &schedule.config;
            all.push(ScheduleStatus {
                name: config.name.clone(),
                cron: config.cron.clone(),
                target: config.target.clone(),
                suite: config.suite.clone(),
                profile: config.profile.clone(),
                baseline: config.baseline.clone(),
                next_fire_at: next_fire(&schedule.cron, now),
                firings: store.firings(&config.name, RECENT_FIRINGS).await?,
            });
        }
        Ok(all)
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn track(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks();
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    async fn drive(self, index: usize) {
        let schedule = &self.inner.schedules[index];
        let name = &schedule.config.name;
        self.rejudge(index).await;
        let now = now_ms();
        match self.inner.service.store().last_due(name).await {
            Ok(last) => {
                if let Some(due) = catch_up(&schedule.cron, last, now) {
                    tracing::info!(schedule = %name, due, "firings were due while the console was down; firing once now");
                    self.fire(index, due, Some(CATCH_UP_NOTE)).await;
                }
            }
            Err(error) => tracing::error!(schedule = %name, %error, "reading the last firing"),
        }
        let mut after = now;
        loop {
            let Some(due) = next_fire(&schedule.cron, after) else {
                tracing::info!(schedule = %name, "the pattern matches no later time");
                return;
            };
            // Sleeps in steps of at most a minute, so a clock that moves is followed.
            while now_ms() < due {
                let wait = Duration::from_millis(due - now_ms()).min(Duration::from_mins(1));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.inner.stop.cancelled() => return,
                }
            }
            if self.inner.stop.is_cancelled() {
                return;
            }
            self.fire(index, due, None).await;
            // Woken late (a suspended machine)? The times missed meanwhile are not fired one by one.
            after = due.max(now_ms());
        }
    }

    /// Claims the firing due at `due`, queues its run and has it judged when it ends.
    async fn fire(&self, index: usize, due: u64, note: Option<&str>) {
        let config = &self.inner.schedules[index].config;
        let (service, name) = (&self.inner.service, config.name.as_str());
        let store = service.store();
        match store.claim_firing(name, due, now_ms(), note).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(schedule = %name, due, "already fired (another console?)");
                return;
            }
            Err(error) => {
                tracing::error!(schedule = %name, %error, "recording a firing; not fired");
                return;
            }
        }
        let mut labels = config.labels.clone();
        labels.notes = if labels.notes.is_empty() {
            format!("scheduled: {name}")
        } else {
            format!("scheduled: {name} — {}", labels.notes)
        };
        let request = RunRequest {
            target: config.target.clone(),
            suite: config.suite.clone(),
            profile: config.profile.clone(),
            labels,
            workload: config.workload.clone(),
            adjust: None,
            engine_threads: None,
        };
        let outcome = match service.submit(request).await {
            Ok(id) => {
                tracing::info!(schedule = %name, run = %id, "scheduled run queued");
                if let Err(error) = store.set_firing_run(name, due, &id).await {
                    tracing::error!(schedule = %name, run = %id, %error, "recording a scheduled run");
                }
                let task = tokio::spawn(self.clone().judge(index, due, id));
                self.track(task);
                return;
            }
            Err(error @ ServiceError::QueueFull(_)) => {
                tracing::warn!(schedule = %name, %error, "scheduled run skipped");
                format!("skipped: {error}")
            }
            Err(error) => {
                tracing::error!(schedule = %name, %error, "a scheduled run could not be queued");
                format!("not run: {error}")
            }
        };
        if let Err(error) = store
            .set_firing_outcome(name, due, None, Some(&outcome))
            .await
        {
            tracing::error!(schedule = %name, %error, "recording a skipped firing");
        }
    }

    /// Waits for run `id` to end, compares it with the schedule's baseline and records the verdict.
    async fn judge(self, index: usize, due: u64, id: String) {
        if let Some(mut events) = self.inner.service.follow(&id) {
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(event) if RunEvent::is_last_kind(&event.kind) => break,
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                    // The console is stopping: its runs end `aborted`, nothing to judge.
                    () = self.inner.stop.cancelled() => return,
                }
            }
        }
        self.record_verdict(index, due, &id).await;
    }

    /// Judges the recent firings whose run ended while no console watched it.
    async fn rejudge(&self, index: usize) {
        let name = &self.inner.schedules[index].config.name;
        let store = self.inner.service.store();
        let firings = match store.firings(name, RECENT_FIRINGS).await {
            Ok(firings) => firings,
            Err(error) => {
                tracing::error!(schedule = %name, %error, "reading recent firings");
                return;
            }
        };
        for firing in firings {
            let unjudged = firing.verdict.is_none()
                && firing.note.as_deref().is_none_or(|n| n == CATCH_UP_NOTE);
            let Some(id) = firing.run_id.filter(|_| unjudged) else {
                continue;
            };
            let ended = match store.run(&id).await {
                Ok(Some(run)) => run.summary.state.is_final(),
                Ok(None) => true,
                Err(_) => false,
            };
            if ended {
                self.record_verdict(index, firing.due_at, &id).await;
            }
        }
    }

    async fn record_verdict(&self, index: usize, due: u64, id: &str) {
        let config = &self.inner.schedules[index].config;
        let name = config.name.as_str();
        let (verdict, note) = match self.verdict(config, id).await {
            Ok(comparison) => comparison,
            Err(error) => (None, Some(format!("not compared: {error}"))),
        };
        if verdict == Some(Verdict::Regressed) {
            tracing::warn!(schedule = %name, run = %id, baseline = ?config.baseline, "scheduled run regressed against its baseline");
        }
        if let Err(error) = self
            .inner
            .service
            .store()
            .set_firing_outcome(name, due, verdict, note.as_deref())
            .await
        {
            tracing::error!(schedule = %name, run = %id, %error, "recording a scheduled run's verdict");
        }
    }

    /// The verdict of run `id` against the schedule's baseline, or why there is none.
    async fn verdict(
        &self,
        config: &ScheduleConfig,
        id: &str,
    ) -> Result<(Option<Verdict>, Option<String>), ServiceError> {
        let service = &self.inner.service;
        let Some(run) = service.store().run(id).await? else {
            return Ok((None, Some(format!("run `{id}` is gone"))));
        };
        if run.report.is_none() {
            let state = run.summary.state.as_str();
            let error = run.summary.error.unwrap_or_default();
            return Ok((None, Some(format!("the run ended {state}: {error}"))));
        }
        let Some(baseline) = &config.baseline else {
            return Ok((None, Some("no baseline to compare with".into())));
        };
        let (base, from) = service
            .resolve_base(&BaseRef::Baseline(baseline.clone()))
            .await?;
        let comparison = service.compare(&base, id, from).await?;
        Ok((Some(comparison.verdict), Some(comparison.summary())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;
    /// 2024-03-01 12:00:00 UTC (a Friday).
    const NOON: u64 = 1_709_294_400_000;

    fn cron(pattern: &str) -> Cron {
        parse_cron(pattern).unwrap()
    }

    #[test]
    fn the_civil_calendar_round_trips() {
        for days in [-719_468, -1, 0, 59, 10_957, 19_783, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        let civil = UtcSecond(i64::try_from(NOON / 1000).unwrap()).to_civil();
        assert_eq!(
            (civil.year(), civil.month(), civil.day(), civil.hour()),
            (2024, 3, 1, 12)
        );
        let friday = UtcSecond(i64::try_from(NOON / 1000).unwrap()).civil_weekday();
        assert_eq!(friday.num_days_from_sunday(), 5);
    }

    #[test]
    fn next_fire_is_strictly_after_and_accepts_seconds() {
        assert_eq!(next_fire(&cron("* * * * *"), NOON), Some(NOON + MINUTE));
        assert_eq!(next_fire(&cron("* * * * *"), NOON + 1), Some(NOON + MINUTE));
        assert_eq!(next_fire(&cron("*/2 * * * * *"), NOON), Some(NOON + 2000));
        assert_eq!(
            next_fire(&cron("*/2 * * * * *"), NOON + 2500),
            Some(NOON + 4000)
        );
        // Weekly: Mondays at 03:00; 2024-03-01 is a Friday, so Monday 2024-03-04.
        assert_eq!(
            next_fire(&cron("0 3 * * 1"), NOON),
            Some(NOON + 2 * 86_400_000 + 15 * 3_600_000)
        );
        assert_eq!(
            latest_due(&cron("0 3 * * 1"), NOON),
            Some(NOON - 4 * 86_400_000 - 9 * 3_600_000)
        );
    }

    #[test]
    fn bad_patterns_name_the_rule() {
        let error = parse_cron("every day").unwrap_err();
        assert!(error.contains("5 fields"), "{error}");
        let error = parse_cron("61 * * * *").unwrap_err();
        assert!(error.contains("valid cron pattern"), "{error}");
        assert!(parse_cron("* * * * * * 2030").is_err(), "no year field");
        assert!(parse_cron("@hourly").is_ok());
    }

    #[test]
    fn missed_firings_catch_up_once_with_the_latest_due_time() {
        let every_minute = cron("* * * * *");
        // Last fired ten minutes ago: ten firings were missed, one is made, due at the latest.
        assert_eq!(
            catch_up(&every_minute, Some(NOON - 10 * MINUTE), NOON + 30_000),
            Some(NOON)
        );
        // Nothing missed: the next one is still ahead.
        assert_eq!(catch_up(&every_minute, Some(NOON), NOON + 30_000), None);
        // Never fired: no catch-up.
        assert_eq!(catch_up(&every_minute, None, NOON), None);
        // Weekly, last fired eight days ago: one catch-up, due last Monday.
        let weekly = cron("0 3 * * 1");
        let last_monday = latest_due(&weekly, NOON).unwrap();
        assert_eq!(
            catch_up(&weekly, Some(last_monday - 7 * 86_400_000), NOON),
            Some(last_monday)
        );
        assert_eq!(catch_up(&weekly, Some(last_monday), NOON), None);
    }
}
