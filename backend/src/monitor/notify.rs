//! Alert notifications to webhooks: a generic JSON body or Slack-compatible text, each attempt
//! with a timeout, retried with backoff when the receiver fails. Sent on a task of its own, so a
//! slow or failing webhook never holds the monitor up; its failures are logged.

use std::time::Duration;

use tokio::sync::mpsc;

use lifeguard_shared::monitor::Alert;
use lifeguard_shared::report::Level;
use serde::Serialize;

use crate::config::{WebhookConfig, WebhookFormat};

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Happened {
    Fired,
    Changed,
    Resolved,
}

/// The generic body.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub happened: Happened,
    pub alert: Alert,
    /// The alert in a sentence, as the Slack text says it.
    pub message: String,
}

impl Notification {
    #[must_use]
    pub fn new(happened: Happened, alert: Alert) -> Self {
        let metric = alert.metric;
        let level = match alert.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        };
        let message = match happened {
            Happened::Resolved => format!(
                "resolved on `{}`: {} back to {} (below {})",
                alert.target,
                metric.label(),
                metric.format(alert.value),
                metric.format(alert.threshold)
            ),
            Happened::Fired | Happened::Changed => format!(
                "{level} on `{}`: {} at {} (threshold {})",
                alert.target,
                metric.label(),
                metric.format(alert.value),
                metric.format(alert.threshold)
            ),
        };
        Self {
            happened,
            alert,
            message,
        }
    }

    fn body(&self, format: WebhookFormat) -> serde_json::Value {
        match format {
            WebhookFormat::Json => serde_json::to_value(self).unwrap_or_default(),
            WebhookFormat::Slack => {
                serde_json::json!({ "text": format!("lifeguard: {}", self.message) })
            }
        }
    }
}

/// Posts `notification` to `hook` until it answers 2xx or the retries are spent (backoff 0.5 s,
/// doubling); `true` when delivered.
pub async fn deliver(
    http: &reqwest::Client,
    hook: &WebhookConfig,
    notification: &Notification,
) -> bool {
    let body = notification.body(hook.format);
    let timeout = Duration::from_secs_f64(hook.timeout_s);
    let mut backoff = Duration::from_millis(500);
    for attempt in 0..=hook.retries {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        let sent = http
            .post(hook.url.expose())
            .timeout(timeout)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => return true,
            // The address is a secret: only the hook's name and what went wrong are logged.
            Ok(answer) => tracing::warn!(
                webhook = %hook.name,
                attempt,
                status = answer.status().as_u16(),
                "the webhook refused the notification"
            ),
            Err(error) => tracing::warn!(
                webhook = %hook.name,
                attempt,
                timeout = error.is_timeout(),
                "the webhook could not be reached"
            ),
        }
    }
    tracing::error!(webhook = %hook.name, "notification dropped after {} attempts", hook.retries + 1);
    false
}

/// One queue and one sender task per webhook: a webhook gets a monitor's notifications in the
/// order they happened, however long a retry takes, and the monitor never waits for it.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    queues: Vec<mpsc::UnboundedSender<Notification>>,
}

impl Outbox {
    /// Starts a sender task per hook; they end when the outbox is dropped.
    #[must_use]
    pub fn start(hooks: &[WebhookConfig], http: &reqwest::Client) -> Self {
        let queues = hooks
            .iter()
            .map(|hook| {
                let (queue, mut queued) = mpsc::unbounded_channel::<Notification>();
                let (hook, http) = (hook.clone(), http.clone());
                tokio::spawn(async move {
                    while let Some(notification) = queued.recv().await {
                        deliver(&http, &hook, &notification).await;
                    }
                });
                queue
            })
            .collect();
        Self { queues }
    }

    /// Queues `notification` for every webhook.
    pub fn send(&self, notification: &Notification) {
        for queue in &self.queues {
            let _sender_gone = queue.send(notification.clone());
        }
    }
}
