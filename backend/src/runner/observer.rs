//! Watches the server while a run goes: a separate connection (not from the pools) polls
//! `pg_stat_activity` each second for this run's backends by state and the server's total.
//! When the target stops answering, the observer aborts the run with the cause.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

use super::abort::Abort;
use crate::pool::connect::{self, ConnectError};
use crate::pool::describe;
pub use crate::targets::http::Backends;

/// The server side of this run at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub at: Instant,
    /// Backends whose `application_name` belongs to this run.
    pub run_backends: u32,
    pub active: u32,
    pub idle: u32,
    pub idle_in_transaction: u32,
    /// Client backends of anyone.
    pub total_backends: u32,
    /// This run's (or service's) backends started since the previous look: connection churn.
    pub new_backends: u32,
    /// This run's (or service's) active backends waiting on something other than their client
    /// (a lock, I/O).
    pub waiting: u32,
}

/// The observer's connection and whose backends it attributes to the run.
#[derive(Debug)]
pub struct Observer {
    config: tokio_postgres::Config,
    backends: Backends,
    client: Client,
    /// The server's clock at the previous look: backends started after it are new.
    previous: Option<SystemTime>,
}

/// The look at `pg_stat_activity`, for backends matched by `application_name` or by role.
fn query(backends: &Backends) -> String {
    let matched = match backends {
        Backends::ApplicationName(_) => "application_name LIKE $1",
        Backends::User(_) => "usename = $1",
    };
    format!(
        "SELECT
            count(*) FILTER (WHERE {matched}),
            count(*) FILTER (WHERE {matched} AND state = 'active'),
            count(*) FILTER (WHERE {matched} AND state = 'idle'),
            count(*) FILTER (WHERE {matched} AND state = 'idle in transaction'),
            count(*) FILTER (WHERE backend_type = 'client backend'),
            count(*) FILTER (WHERE {matched} AND backend_start > $2),
            count(*) FILTER (WHERE {matched} AND state = 'active'
                             AND wait_event_type IS NOT NULL AND wait_event_type <> 'Client'),
            now()
          FROM pg_stat_activity"
    )
}

impl Observer {
    /// Connects as `observer_name` to watch the `backends` of a run or a service.
    pub async fn connect(
        config: &tokio_postgres::Config,
        observer_name: &str,
        backends: Backends,
    ) -> Result<Self, ConnectError> {
        let mut config = config.clone();
        config.application_name(observer_name);
        let client = connect::connect(&config).await?;
        Ok(Self {
            config,
            backends,
            client,
            previous: None,
        })
    }

    /// The observer's own connection (also used to prepare the schema before the load).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// What the server is and what it can give this client, read before the load: its version,
    /// `max_connections`, `superuser_reserved_connections`, and the client backends of others.
    pub async fn server_identity(&self) -> Result<ServerIdentity, tokio_postgres::Error> {
        let row = self
            .client
            .query_one(
                "SELECT current_setting('server_version'),
                        current_setting('max_connections')::bigint,
                        current_setting('superuser_reserved_connections')::bigint,
                        (SELECT count(*) FROM pg_stat_activity
                          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())",
                &[],
            )
            .await?;
        let count = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(u32::MAX);
        Ok(ServerIdentity {
            version: row.get(0),
            max_connections: count(1),
            superuser_reserved_connections: count(2),
            other_backends: count(3),
        })
    }

    /// One look at `pg_stat_activity` within the connect deadline; reconnects once if the
    /// connection was lost.
    pub async fn observe(&mut self) -> Result<Observation, String> {
        let deadline = connect::timeout_of(&self.config);
        let first = tokio::time::timeout(deadline, self.query()).await;
        match first {
            Ok(Ok(observation)) => Ok(observation),
            Ok(Err(_)) if self.client.is_closed() => {
                self.client = connect::connect(&self.config)
                    .await
                    .map_err(|e| e.to_string())?;
                match tokio::time::timeout(deadline, self.query()).await {
                    Ok(answer) => answer.map_err(|e| describe(&e)),
                    Err(_elapsed) => Err(no_answer(deadline)),
                }
            }
            Ok(Err(error)) => Err(describe(&error)),
            Err(_elapsed) => Err(no_answer(deadline)),
        }
    }

    async fn query(&mut self) -> Result<Observation, tokio_postgres::Error> {
        let key = match &self.backends {
            Backends::ApplicationName(pattern) => pattern,
            Backends::User(role) => role,
        };
        // At the first look, nothing counts as new.
        let since = self.previous.unwrap_or_else(SystemTime::now);
        let row = self
            .client
            .query_one(&query(&self.backends), &[key, &since])
            .await?;
        let count = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(u32::MAX);
        let observation = Observation {
            at: Instant::now(),
            run_backends: count(0),
            active: count(1),
            idle: count(2),
            idle_in_transaction: count(3),
            total_backends: count(4),
            new_backends: if self.previous.is_some() { count(5) } else { 0 },
            waiting: count(6),
        };
        self.previous = Some(row.get(7));
        Ok(observation)
    }

    /// Observes every `interval` until `stop`, publishing to the collector and the latest-value
    /// channel. A target that stops answering aborts the run.
    pub async fn watch(
        mut self,
        interval: Duration,
        to_collector: mpsc::Sender<Observation>,
        latest: watch::Sender<Option<Observation>>,
        abort: Abort,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let observed = tokio::select! {
                () = stop.cancelled() => return,
                observed = self.observe() => observed,
            };
            match observed {
                Ok(observation) => {
                    let _collector_gone = to_collector.try_send(observation);
                    latest.send_replace(Some(observation));
                }
                Err(error) => {
                    abort.abort(format!("the target stopped answering: {error}"));
                    return;
                }
            }
        }
    }
}

/// The server's identity and what it can give this client, at the run's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    pub version: String,
    pub max_connections: u32,
    pub superuser_reserved_connections: u32,
    /// Client backends of everyone else (not the observer itself).
    pub other_backends: u32,
}

fn no_answer(deadline: std::time::Duration) -> String {
    format!(
        "no answer to the observer's query within {} (connect_timeout_s)",
        connect::seconds(deadline)
    )
}
