//! Measures a target on demand: the server's identity, its connection ceiling, and how long a fresh
//! connection and a round trip take. What the first console page shows; later the run's preflight.

use std::time::{Duration, Instant};

use lifeguard_shared::health::ProbeReport;
use tokio_postgres::Client;

use crate::pool::connect::{self, ConnectError, seconds, timeout_of};
use crate::targets::{Reach, Target};

/// How many fresh connections are timed.
const CONNECTS: usize = 5;
/// How many `SELECT 1` round trips are timed.
const ROUND_TRIPS: usize = 20;

/// The target could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The probe measures PostgreSQL servers; an HTTP service has none to measure directly.
    #[error("target `{target}` is an HTTP service; the probe measures PostgreSQL servers")]
    NotPostgres { target: String },
    #[error("connecting to target `{target}`: {source}")]
    Connect {
        target: String,
        #[source]
        source: ConnectError,
    },
    #[error("target `{target}` gave no answer to the probe within {}", seconds(*.waited))]
    NoAnswer { target: String, waited: Duration },
    #[error("querying target `{target}` ({what}): {source}")]
    Query {
        target: String,
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("target `{target}` answered `{value}` for {what}, which is not a number")]
    Unexpected {
        target: String,
        what: &'static str,
        value: String,
    },
}

/// Measures `target`, which must be a PostgreSQL server (see [`probe`]).
pub async fn probe_target(target: &Target) -> Result<ProbeReport, ProbeError> {
    match &target.reach {
        Reach::Postgres(config) => probe(&target.name, config).await,
        Reach::Http(_) => Err(ProbeError::NotPostgres {
            target: target.name.clone(),
        }),
    }
}

/// Opens [`CONNECTS`] fresh connections one after another, then times [`ROUND_TRIPS`] round trips
/// and reads the server's identity on the last one. Each connection has the target's connect
/// deadline, and the whole probe twice that plus one: a target that stops answering is an error
/// the caller sees in seconds.
pub async fn probe(
    target: &str,
    config: &tokio_postgres::Config,
) -> Result<ProbeReport, ProbeError> {
    let waited = timeout_of(config) * 2 + Duration::from_secs(1);
    tokio::time::timeout(waited, measure(target, config))
        .await
        .map_err(|_elapsed| ProbeError::NoAnswer {
            target: target.to_owned(),
            waited,
        })?
}

async fn measure(target: &str, config: &tokio_postgres::Config) -> Result<ProbeReport, ProbeError> {
    let mut connect_ms = Vec::with_capacity(CONNECTS);
    let started = Instant::now();
    let mut client = connect(target, config).await?;
    connect_ms.push(millis(started.elapsed()));
    for _ in 1..CONNECTS {
        let started = Instant::now();
        // Each replaces the previous one, which closes when dropped.
        client = connect(target, config).await?;
        connect_ms.push(millis(started.elapsed()));
    }

    let query = |what: &'static str| {
        move |source| ProbeError::Query {
            target: target.to_owned(),
            what,
            source,
        }
    };
    let mut round_trip_ms = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let started = Instant::now();
        client
            .simple_query("SELECT 1")
            .await
            .map_err(query("round trip"))?;
        round_trip_ms.push(millis(started.elapsed()));
    }
    let server_version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(query("server_version"))?
        .get(0);
    let max_connections: String = client
        .query_one("SHOW max_connections", &[])
        .await
        .map_err(query("max_connections"))?
        .get(0);
    let reserved: String = client
        .query_one("SHOW superuser_reserved_connections", &[])
        .await
        .map_err(query("superuser_reserved_connections"))?
        .get(0);
    let connected_backends: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
            &[],
        )
        .await
        .map_err(query("pg_stat_activity"))?
        .get(0);
    Ok(ProbeReport {
        target: target.to_owned(),
        server_version,
        max_connections: max_connections
            .parse()
            .map_err(|_| ProbeError::Unexpected {
                target: target.to_owned(),
                what: "max_connections",
                value: max_connections.clone(),
            })?,
        superuser_reserved_connections: reserved.parse().map_err(|_| ProbeError::Unexpected {
            target: target.to_owned(),
            what: "superuser_reserved_connections",
            value: reserved.clone(),
        })?,
        connected_backends: u32::try_from(connected_backends).unwrap_or(u32::MAX),
        connect_ms,
        round_trip_ms,
    })
}

async fn connect(target: &str, config: &tokio_postgres::Config) -> Result<Client, ProbeError> {
    connect::connect(config)
        .await
        .map_err(|source| ProbeError::Connect {
            target: target.to_owned(),
            source,
        })
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
