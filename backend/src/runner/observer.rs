//! Watches the server while a run goes: a separate connection (not from the pools) polls
//! `pg_stat_activity` each second for this run's backends by state and the server's total.
//! When the target stops answering, the observer aborts the run with the cause.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_postgres::{Client, NoTls};

use super::abort::Abort;
use crate::pool::describe;

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
}

/// The observer's connection and the run it attributes backends to.
#[derive(Debug)]
pub struct Observer {
    config: tokio_postgres::Config,
    /// `LIKE` pattern matching this run's `application_name`s.
    pattern: String,
    client: Client,
}

const QUERY: &str = "SELECT
    count(*) FILTER (WHERE application_name LIKE $1),
    count(*) FILTER (WHERE application_name LIKE $1 AND state = 'active'),
    count(*) FILTER (WHERE application_name LIKE $1 AND state = 'idle'),
    count(*) FILTER (WHERE application_name LIKE $1 AND state = 'idle in transaction'),
    count(*) FILTER (WHERE backend_type = 'client backend')
  FROM pg_stat_activity";

impl Observer {
    /// Connects as `observer_name` to watch backends matching `pattern`.
    pub async fn connect(
        config: &tokio_postgres::Config,
        observer_name: &str,
        pattern: String,
    ) -> Result<Self, tokio_postgres::Error> {
        let mut config = config.clone();
        config.application_name(observer_name);
        let client = open(&config).await?;
        Ok(Self {
            config,
            pattern,
            client,
        })
    }

    /// The observer's own connection (also used to prepare the schema before the load).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server's `SHOW server_version` and `max_connections`.
    pub async fn server_identity(&self) -> Result<(String, u32), tokio_postgres::Error> {
        let version: String = self
            .client
            .query_one("SHOW server_version", &[])
            .await?
            .get(0);
        let max: String = self
            .client
            .query_one("SHOW max_connections", &[])
            .await?
            .get(0);
        Ok((version, max.parse().unwrap_or(0)))
    }

    /// One look at `pg_stat_activity`; reconnects once if the connection was lost.
    pub async fn observe(&mut self) -> Result<Observation, tokio_postgres::Error> {
        match self.query().await {
            Ok(observation) => Ok(observation),
            Err(_) if self.client.is_closed() => {
                self.client = open(&self.config).await?;
                self.query().await
            }
            Err(error) => Err(error),
        }
    }

    async fn query(&self) -> Result<Observation, tokio_postgres::Error> {
        let row = self.client.query_one(QUERY, &[&self.pattern]).await?;
        let count = |i: usize| u32::try_from(row.get::<_, i64>(i)).unwrap_or(u32::MAX);
        Ok(Observation {
            at: Instant::now(),
            run_backends: count(0),
            active: count(1),
            idle: count(2),
            idle_in_transaction: count(3),
            total_backends: count(4),
        })
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
            match self.observe().await {
                Ok(observation) => {
                    let _collector_gone = to_collector.try_send(observation);
                    latest.send_replace(Some(observation));
                }
                Err(error) => {
                    abort.abort(format!(
                        "the target stopped answering: {}",
                        describe(&error)
                    ));
                    return;
                }
            }
        }
    }
}

async fn open(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "observer connection ended");
        }
    });
    Ok(client)
}
