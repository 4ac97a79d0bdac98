//! One monitor's loop: sample every interval, keep the sample, judge it by every rule, record and
//! notify what changed, and fold old samples into minutes now and then. Started again after a
//! restart, it resumes its standing alerts at their levels, so nothing fires twice.

use std::sync::Arc;
use std::time::Duration;

use lifeguard_shared::monitor::{Alert, AlertRule, MonitorSample};
use lifeguard_shared::report::Level;
use tokio_util::sync::CancellationToken;

use super::alerts::{AlertState, Transition};
use super::notify::{Happened, Notification, Outbox};
use super::read::{Reader, Reading, Source};
use crate::config::{MonitorConfig, MonitoringConfig};
use crate::store::{Store, now_ms};

/// Samples between retention passes.
const RETAIN_EVERY: u64 = 60;

/// What a running monitor last saw, for the API.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub last_sample: Option<MonitorSample>,
    pub error: Option<String>,
}

/// What a monitor tells its live readers (`GET /api/monitors/{target}/live`).
#[derive(Debug, Clone)]
pub enum Live {
    Sample(MonitorSample),
    Alert(Alert),
}

/// Live readers a monitor keeps up with; a slower one misses events and reloads.
const LIVE_BUFFER: usize = 64;

/// Everything one monitor's loop needs.
#[derive(Debug, Clone)]
pub struct Watch {
    pub config: MonitorConfig,
    pub source: Source,
    pub monitoring: MonitoringConfig,
    /// Where its alerts go.
    pub outbox: Outbox,
    pub store: Store,
    pub seen: Arc<std::sync::Mutex<Seen>>,
    pub live: tokio::sync::broadcast::Sender<Live>,
}

/// One rule, where it stands, and its standing alert.
struct Judged {
    rule: AlertRule,
    state: AlertState,
    alert: Option<Alert>,
}

impl Watch {
    /// A monitor of `config.target` (read from `source`), storing into `store` and notifying
    /// through `outbox`.
    #[must_use]
    pub fn new(
        config: MonitorConfig,
        source: impl Into<Source>,
        monitoring: MonitoringConfig,
        outbox: Outbox,
        store: Store,
    ) -> Self {
        Self {
            config,
            source: source.into(),
            monitoring,
            outbox,
            store,
            seen: Arc::default(),
            live: tokio::sync::broadcast::channel(LIVE_BUFFER).0,
        }
    }

    /// Runs until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let target = self.config.target.clone();
        let mut judged = match self.resume().await {
            Ok(judged) => judged,
            Err(error) => {
                tracing::error!(monitor = %target, "reading its standing alerts: {error}; not started");
                return;
            }
        };
        let interval = Duration::from_secs_f64(self.config.interval_s);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reader = Reader::new(&target, self.source.clone(), interval);
        let mut taken: u64 = 0;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // A stop is not held up by a server that is slow to answer.
            let read = tokio::select! {
                () = stop.cancelled() => return,
                read = reader.read() => read,
            };
            let Reading { sample, partly } = match read {
                Ok(reading) => reading,
                Err(error) => {
                    self.failed(error);
                    continue;
                }
            };
            if let Err(error) = self.store.add_monitor_sample(&target, &sample).await {
                tracing::warn!(monitor = %target, "storing a sample: {error}");
            }
            for one in &mut judged {
                self.judge(one, &sample).await;
            }
            let _nobody_watches = self.live.send(Live::Sample(sample.clone()));
            {
                let mut seen = self
                    .seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                seen.last_sample = Some(sample);
                seen.error = partly;
            }
            taken += 1;
            if taken % RETAIN_EVERY == 1 {
                self.retain().await;
            }
        }
    }

    /// Every rule at the level of its standing alert (none: `Ok`).
    async fn resume(&self) -> Result<Vec<Judged>, crate::store::StoreError> {
        let open = self
            .store
            .alerts(Some(&self.config.target), true, 1000)
            .await?;
        Ok(self
            .config
            .alerts
            .rules
            .iter()
            .map(|rule| {
                let alert = open.iter().find(|a| a.metric == rule.metric).cloned();
                Judged {
                    rule: *rule,
                    state: AlertState::at(alert.as_ref().map_or(Level::Ok, |a| a.level)),
                    alert,
                }
            })
            .collect())
    }

    /// Logs why nothing was read, and keeps it for the API.
    fn failed(&self, error: String) {
        tracing::warn!(monitor = %self.config.target, "{error}");
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .error = Some(error);
    }

    /// Judges `sample` by one rule; records and notifies a change.
    async fn judge(&self, judged: &mut Judged, sample: &MonitorSample) {
        let settings = &self.config.alerts;
        let value = sample.judged(judged.rule.metric);
        let Some(transition) = judged.state.observe(
            &judged.rule,
            value,
            settings.fire_after,
            settings.resolve_after,
        ) else {
            return;
        };
        let threshold = |level| match level {
            Level::Critical => judged.rule.critical,
            _ => judged.rule.warning,
        };
        let (happened, alert) = match (transition, judged.alert.take()) {
            (Transition::Fired { level, value }, _) => {
                let alert = Alert {
                    id: crate::runner::new_run_id(),
                    target: self.config.target.clone(),
                    metric: judged.rule.metric,
                    level,
                    value,
                    threshold: threshold(level),
                    fired_at_ms: sample.at_ms,
                    resolved_at_ms: None,
                };
                if let Err(error) = self.store.open_alert(&alert).await {
                    tracing::warn!(monitor = %alert.target, "storing an alert: {error}");
                }
                (Happened::Fired, alert)
            }
            (Transition::Changed { to, value, .. }, Some(mut alert)) => {
                alert.level = to;
                alert.value = value;
                alert.threshold = threshold(to);
                (Happened::Changed, alert)
            }
            (Transition::Resolved { from, value }, Some(mut alert)) => {
                alert.level = from;
                alert.value = value;
                alert.threshold = threshold(from);
                alert.resolved_at_ms = Some(sample.at_ms);
                (Happened::Resolved, alert)
            }
            (Transition::Changed { .. } | Transition::Resolved { .. }, None) => return,
        };
        if happened != Happened::Fired
            && let Err(error) = self.store.update_alert(&alert).await
        {
            tracing::warn!(monitor = %alert.target, "updating an alert: {error}");
        }
        if alert.resolved_at_ms.is_none() {
            judged.alert = Some(alert.clone());
        }
        tracing::info!(
            monitor = %alert.target,
            metric = %alert.metric,
            level = ?alert.level,
            happened = ?happened,
            "alert"
        );
        let _nobody_watches = self.live.send(Live::Alert(alert.clone()));
        self.outbox.send(&Notification::new(happened, alert));
    }

    /// Folds samples older than `raw_hours` into minutes and drops minutes older than
    /// `minutes_days`.
    async fn retain(&self) {
        let now = now_ms();
        let hours = |h: f64| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "validated positive, and bounded by now"
            )]
            let ms = (h * 3_600_000.0) as u64;
            now.saturating_sub(ms)
        };
        let monitoring = &self.monitoring;
        match self
            .store
            .retain_monitor(
                &self.config.target,
                hours(monitoring.raw_hours),
                hours(monitoring.minutes_days * 24.0),
            )
            .await
        {
            Ok(done) if done.downsampled + done.expired > 0 => tracing::info!(
                monitor = %self.config.target,
                downsampled = done.downsampled,
                expired = done.expired,
                "monitor samples retained"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(monitor = %self.config.target, "retention: {error}"),
        }
    }
}
