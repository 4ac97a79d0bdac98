//! What a monitor reads, and one reading of it: the PostgreSQL server (a `postgres` target, or a
//! service's database) through the monitor's one connection, and a service's pool from its
//! metrics endpoint. Shared by the console's monitors and `lifeguard watch`, so a terminal sees
//! what the console stores.

use std::time::Duration;

use lifeguard_shared::monitor::{MonitorSample, PoolSample, RequestsSample};

use super::sample::Sampler;
use crate::pool::connect::timeout_of;
use crate::scrape::series::Distribution;
use crate::store::now_ms;
use crate::targets::Reach;
use crate::targets::http::MetricsPlan;

/// What a monitor reads.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub server: Option<tokio_postgres::Config>,
    pub metrics: Option<(MetricsPlan, reqwest::Client)>,
}

impl From<tokio_postgres::Config> for Source {
    fn from(server: tokio_postgres::Config) -> Self {
        Self {
            server: Some(server),
            metrics: None,
        }
    }
}

impl Source {
    /// What there is to read of a target: a PostgreSQL target's server; a service's database
    /// and its metrics endpoint, where its configuration names them. `None`: nothing.
    #[must_use]
    pub fn of(reach: &Reach) -> Option<Self> {
        let source = match reach {
            Reach::Postgres(connect) => Self::from((**connect).clone()),
            Reach::Http(service) => Self {
                server: service.database.as_ref().map(|d| d.connect.clone()),
                metrics: service.metrics.clone().and_then(|plan| {
                    Some((plan, crate::workload::http_auth::client(service).ok()?))
                }),
            },
        };
        (source.server.is_some() || source.metrics.is_some()).then_some(source)
    }
}

/// One reading: the sample, and why a part of it is missing (the metrics endpoint failed while
/// the server answered).
#[derive(Debug, Clone)]
pub struct Reading {
    pub sample: MonitorSample,
    pub partly: Option<String>,
}

/// Reads a source every interval, connecting to the server when it has no connection (first, or
/// after one dropped).
#[derive(Debug)]
pub struct Reader {
    target: String,
    source: Source,
    interval: Duration,
    sampler: Option<Sampler>,
    /// The service's request durations as the previous scrape counted them.
    served: Option<Distribution>,
}

impl Reader {
    #[must_use]
    pub fn new(target: &str, source: Source, interval: Duration) -> Self {
        Self {
            target: target.to_owned(),
            source,
            interval,
            sampler: None,
            served: None,
        }
    }

    /// One reading; an error says why nothing could be read.
    pub async fn read(&mut self) -> Result<Reading, String> {
        let mut sample = if self.source.server.is_some() {
            self.read_server().await?
        } else {
            MonitorSample {
                at_ms: now_ms(),
                ..MonitorSample::default()
            }
        };
        let Some((plan, http)) = &self.source.metrics else {
            return Ok(Reading {
                sample,
                partly: None,
            });
        };
        let within = self.interval.min(Duration::from_secs(10));
        match crate::scrape::scrape_once(http, plan, within).await {
            Ok(scrape) => {
                let pool = scrape.primary;
                sample.pool = Some(PoolSample {
                    used: pool.used,
                    idle: pool.idle,
                    pending: pool.pending,
                    max: pool.max,
                    idle_max: pool.idle_max,
                });
                sample.requests = since(self.served.as_ref(), scrape.response_time.as_ref());
                self.served = scrape.response_time;
                Ok(Reading {
                    sample,
                    partly: None,
                })
            }
            Err(cause) => {
                let error = format!("reading the service's metrics: {cause}");
                if self.source.server.is_none() {
                    return Err(error);
                }
                Ok(Reading {
                    sample,
                    partly: Some(error),
                })
            }
        }
    }

    /// The server's part of a reading; the connection is dropped when it fails or outlasts the
    /// target's deadline.
    async fn read_server(&mut self) -> Result<MonitorSample, String> {
        let Some(server) = &self.source.server else {
            return Err("no server to read".into());
        };
        if self.sampler.as_ref().is_none_or(Sampler::is_closed) {
            let connected = Sampler::connect(&self.target, server)
                .await
                .map_err(|error| format!("connecting: {error}"))?;
            self.sampler = Some(connected);
        }
        let deadline = timeout_of(server);
        let Some(open) = self.sampler.as_mut() else {
            return Err("no connection".into());
        };
        let outcome = match tokio::time::timeout(deadline, open.sample()).await {
            Ok(Ok(sample)) => return Ok(sample),
            Ok(Err(error)) => format!("sampling: {}", crate::pool::describe(&error)),
            Err(_elapsed) => format!("no answer within {} s", deadline.as_secs_f64()),
        };
        self.sampler = None;
        Err(outcome)
    }
}

/// The requests served between two cumulative readings of a request-duration histogram; `None`
/// without both, or when the counter went back (the service restarted).
fn since(before: Option<&Distribution>, now: Option<&Distribution>) -> Option<RequestsSample> {
    let (before, now) = (before?, now?);
    let count = now.count - before.count;
    if count < 0.0 {
        return None;
    }
    Some(RequestsSample {
        count,
        mean_ms: (count > 0.0).then(|| (now.sum - before.sum) / count * 1000.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(count: f64, sum: f64) -> Distribution {
        Distribution {
            count,
            sum,
            buckets: Vec::new(),
        }
    }

    #[test]
    fn requests_between_two_readings_and_their_mean() {
        let between = since(Some(&served(10.0, 1.0)), Some(&served(14.0, 2.2)));
        let between = between.unwrap();
        assert!((between.count - 4.0).abs() < 1e-9);
        assert!((between.mean_ms.unwrap() - 300.0).abs() < 1e-6);
        let idle = since(Some(&served(14.0, 2.2)), Some(&served(14.0, 2.2))).unwrap();
        assert_eq!(idle.mean_ms, None, "no request, no mean");
        assert_eq!(since(None, Some(&served(1.0, 0.1))), None, "first reading");
        assert_eq!(
            since(Some(&served(14.0, 2.2)), Some(&served(3.0, 0.3))),
            None,
            "restarted"
        );
    }
}
