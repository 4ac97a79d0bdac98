//! Monitors: targets watched between tests — each sampled through one read-only connection
//! ([`sample`]), judged by alert rules with hysteresis ([`alerts`]), kept small in the store
//! (raw, then one-minute min/mean/max), its alerts sent to webhooks ([`notify`]); what a monitor
//! reads and one reading of it ([`read`], shared with `lifeguard watch`); one loop per
//! monitor ([`watch`]), started with the console and resumed after a restart.

pub mod alerts;
pub mod deployments;
pub mod notify;
pub mod read;
pub mod sample;
pub mod watch;

use std::sync::{Arc, Mutex, PoisonError};

use lifeguard_shared::monitor::MonitorStatus;
use lifeguard_shared::report::Level;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::targets::Targets;
use notify::Outbox;
use read::Source;
use watch::{Seen, Watch};

/// The console's monitors; cheap to clone.
#[derive(Debug, Clone)]
pub struct Monitors {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    watches: Vec<Watch>,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    store: Store,
}

impl Monitors {
    /// The monitors of a validated configuration: a PostgreSQL target's server, or a service
    /// target's database and pool metrics; a target with nothing to read is logged and left out.
    #[must_use]
    pub fn new(config: &Config, targets: &Targets, store: Store) -> Self {
        let http = reqwest::Client::new();
        let watches = config
            .monitors
            .iter()
            .filter_map(|monitor| {
                let reach = &targets.get(&monitor.target)?.reach;
                let Some(source) = Source::of(reach) else {
                    tracing::error!(monitor = %monitor.target, "nothing to read; left out");
                    return None;
                };
                let hooks: Vec<_> = config
                    .monitoring
                    .webhooks
                    .iter()
                    .filter(|h| {
                        monitor
                            .notify
                            .as_ref()
                            .is_none_or(|names| names.contains(&h.name))
                    })
                    .cloned()
                    .collect();
                Some(Watch::new(
                    monitor.clone(),
                    source,
                    config.monitoring.clone(),
                    Outbox::start(&hooks, &http),
                    store.clone(),
                ))
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                watches,
                stop: CancellationToken::new(),
                tasks: Mutex::default(),
                store,
            }),
        }
    }

    /// Starts every monitor's loop.
    pub fn start(&self) {
        let mut tasks = self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for watch in &self.inner.watches {
            tasks.push(tokio::spawn(watch.clone().run(self.inner.stop.clone())));
        }
        if !self.inner.watches.is_empty() {
            tracing::info!(monitors = self.inner.watches.len(), "monitors started");
        }
    }

    /// Stops every loop and waits for them.
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks {
            let _ended_or_panicked = task.await;
        }
    }

    /// Live samples and alerts of the monitor of `target`, when there is one, and the token
    /// cancelled when the monitors stop (a live reader's stream must end then, or the console
    /// would wait for it to stop serving).
    #[must_use]
    pub fn subscribe(
        &self,
        target: &str,
    ) -> Option<(
        tokio::sync::broadcast::Receiver<watch::Live>,
        CancellationToken,
    )> {
        self.inner
            .watches
            .iter()
            .find(|w| w.config.target == target)
            .map(|w| (w.live.subscribe(), self.inner.stop.clone()))
    }

    /// Every monitor as it stands.
    pub async fn statuses(&self) -> Result<Vec<MonitorStatus>, StoreError> {
        let mut statuses = Vec::new();
        for watch in &self.inner.watches {
            let target = &watch.config.target;
            let open_alerts = self.inner.store.alerts(Some(target), true, 100).await?;
            let last_alert = self.inner.store.alerts(Some(target), false, 1).await?.pop();
            let Seen { last_sample, error } = watch
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            statuses.push(MonitorStatus {
                target: target.clone(),
                interval_s: watch.config.interval_s,
                level: open_alerts
                    .iter()
                    .map(|a| a.level)
                    .max()
                    .unwrap_or(Level::Ok),
                last_sample,
                error,
                open_alerts,
                last_alert,
                rules: watch.config.alerts.rules.clone(),
            });
        }
        Ok(statuses)
    }
}
