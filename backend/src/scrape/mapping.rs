//! Which series say what about a service's pool: presets for the exporters teams already run —
//! the OpenTelemetry database-client conventions (current `db.client.connection.*` and older
//! `db.client.connections.*` names, as exported to Prometheus), HikariCP's Micrometer metrics and
//! `pgbouncer_exporter` — and a custom mapping by metric name and labels. Label matchers pick one
//! pool of several (the incident's async and sync pools, by `pool_name`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::series::{Distribution, Samples, Selector};

/// A known exporter's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Opentelemetry,
    Hikaricp,
    Pgbouncer,
    /// Only the names given in `series`.
    Custom,
}

impl Preset {
    /// As a configuration spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Opentelemetry => "opentelemetry",
            Self::Hikaricp => "hikaricp",
            Self::Pgbouncer => "pgbouncer",
            Self::Custom => "custom",
        }
    }
}

/// The gauges a mapping can name, each as a series (`name{label="value"}`); in a configuration
/// they override the preset's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeriesNames {
    /// Connections checked out.
    pub used: Option<String>,
    /// Connections open and idle in the pool.
    pub idle: Option<String>,
    /// Checkouts waiting for a connection.
    pub pending: Option<String>,
    /// The pool's capacity (size and overflow).
    pub max: Option<String>,
    /// Connections the pool keeps (its size without overflow).
    pub idle_max: Option<String>,
    /// Checkouts that gave up (a counter).
    pub timeouts: Option<String>,
    /// Time to get a connection: a histogram or summary, in seconds.
    pub wait_time: Option<String>,
    /// The longest current wait, in seconds (a gauge).
    pub wait_max: Option<String>,
    /// Time to open a connection: a histogram or summary whose count is the connections created.
    pub create_time: Option<String>,
    /// The service's request duration, all pools together: a histogram or summary, in seconds
    /// (a selector's labels narrow it to a route: `{http_route="/auth/login"}`).
    pub response_time: Option<String>,
}

/// What the reading of one gauge can be found under: alternatives tried in order, each with the
/// factor that turns its unit into the gauge's (milliseconds → seconds: 0.001).
type Alternatives = Vec<(Selector, f64)>;

/// A mapping made ready: every gauge's alternatives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    used: Alternatives,
    idle: Alternatives,
    pending: Alternatives,
    max: Alternatives,
    idle_max: Alternatives,
    timeouts: Alternatives,
    wait_time: Alternatives,
    wait_max: Alternatives,
    create_time: Alternatives,
    response_time: Alternatives,
}

fn named(names: &[(&str, f64)]) -> Alternatives {
    names
        .iter()
        .filter_map(|(text, factor)| Selector::parse(text).ok().map(|s| (s, *factor)))
        .collect()
}

impl Mapping {
    /// `preset`'s names, with `overrides` in their place where given; the error names the field.
    pub fn new(preset: Preset, overrides: &SeriesNames) -> Result<Self, String> {
        let mut mapping = match preset {
            Preset::Opentelemetry => Self {
                used: named(&[
                    (r#"db_client_connection_count{state="used"}"#, 1.0),
                    (r#"db_client_connections_usage{state="used"}"#, 1.0),
                ]),
                idle: named(&[
                    (r#"db_client_connection_count{state="idle"}"#, 1.0),
                    (r#"db_client_connections_usage{state="idle"}"#, 1.0),
                ]),
                pending: named(&[
                    ("db_client_connection_pending_requests", 1.0),
                    ("db_client_connections_pending_requests", 1.0),
                ]),
                max: named(&[
                    ("db_client_connection_max", 1.0),
                    ("db_client_connections_max", 1.0),
                ]),
                idle_max: named(&[
                    ("db_client_connection_idle_max", 1.0),
                    ("db_client_connections_idle_max", 1.0),
                ]),
                timeouts: named(&[
                    ("db_client_connection_timeouts_total", 1.0),
                    ("db_client_connections_timeouts_total", 1.0),
                ]),
                wait_time: named(&[
                    ("db_client_connection_wait_time_seconds", 1.0),
                    ("db_client_connections_wait_time_milliseconds", 0.001),
                ]),
                wait_max: Vec::new(),
                create_time: named(&[
                    ("db_client_connection_create_time_seconds", 1.0),
                    ("db_client_connections_create_time_milliseconds", 0.001),
                ]),
                // The HTTP server conventions, current and older.
                response_time: named(&[
                    ("http_server_request_duration_seconds", 1.0),
                    ("http_server_duration_milliseconds", 0.001),
                ]),
            },
            Preset::Hikaricp => Self {
                used: named(&[("hikaricp_connections_active", 1.0)]),
                idle: named(&[("hikaricp_connections_idle", 1.0)]),
                pending: named(&[("hikaricp_connections_pending", 1.0)]),
                max: named(&[("hikaricp_connections_max", 1.0)]),
                idle_max: named(&[("hikaricp_connections_min", 1.0)]),
                timeouts: named(&[("hikaricp_connections_timeout_total", 1.0)]),
                wait_time: named(&[("hikaricp_connections_acquire_seconds", 1.0)]),
                wait_max: named(&[("hikaricp_connections_acquire_seconds_max", 1.0)]),
                create_time: named(&[("hikaricp_connections_creation_seconds", 1.0)]),
                // Spring Boot's Micrometer timer of HTTP requests, beside HikariCP's.
                response_time: named(&[("http_server_requests_seconds", 1.0)]),
            },
            Preset::Pgbouncer => Self {
                used: named(&[("pgbouncer_pools_client_active_connections", 1.0)]),
                idle: named(&[("pgbouncer_pools_server_idle_connections", 1.0)]),
                pending: named(&[("pgbouncer_pools_client_waiting_connections", 1.0)]),
                wait_max: named(&[("pgbouncer_pools_client_maxwait_seconds", 1.0)]),
                ..Self::default()
            },
            Preset::Custom => Self::default(),
        };
        let fields: [(&str, &Option<String>, &mut Alternatives); 10] = [
            ("used", &overrides.used, &mut mapping.used),
            ("idle", &overrides.idle, &mut mapping.idle),
            ("pending", &overrides.pending, &mut mapping.pending),
            ("max", &overrides.max, &mut mapping.max),
            ("idle_max", &overrides.idle_max, &mut mapping.idle_max),
            ("timeouts", &overrides.timeouts, &mut mapping.timeouts),
            ("wait_time", &overrides.wait_time, &mut mapping.wait_time),
            ("wait_max", &overrides.wait_max, &mut mapping.wait_max),
            (
                "create_time",
                &overrides.create_time,
                &mut mapping.create_time,
            ),
            (
                "response_time",
                &overrides.response_time,
                &mut mapping.response_time,
            ),
        ];
        for (field, given, slot) in fields {
            if let Some(text) = given {
                let selector =
                    Selector::parse(text).map_err(|e| format!("`series.{field}`: {e}"))?;
                *slot = vec![(selector, 1.0)];
            }
        }
        if mapping.used.is_empty() {
            return Err("`series.used` must name the series of checked-out connections".into());
        }
        Ok(mapping)
    }

    /// One pool's gauges in `samples`: the series that carry the `pool` labels.
    #[must_use]
    pub fn read(&self, samples: &Samples, pool: &BTreeMap<String, String>) -> PoolReading {
        let value = |alternatives: &Alternatives| {
            alternatives
                .iter()
                .find_map(|(selector, factor)| samples.value(selector, pool).map(|v| v * factor))
        };
        let distribution =
            |alternatives: &Alternatives| distribution_of(alternatives, samples, pool);
        PoolReading {
            used: value(&self.used),
            idle: value(&self.idle),
            pending: value(&self.pending),
            max: value(&self.max),
            idle_max: value(&self.idle_max),
            timeouts: value(&self.timeouts),
            wait_time: distribution(&self.wait_time),
            wait_max_s: value(&self.wait_max),
            created: distribution(&self.create_time).map(|d| d.count),
        }
    }

    /// The service's request duration (cumulative, in seconds), over every series of the
    /// selector whatever their pool.
    #[must_use]
    pub fn response_time(&self, samples: &Samples) -> Option<Distribution> {
        distribution_of(&self.response_time, samples, &BTreeMap::new())
    }

    /// The gauges this mapping can read at all, by name (for the targets page).
    #[must_use]
    pub fn gauges(&self) -> Vec<&'static str> {
        [
            ("checked out", &self.used),
            ("idle", &self.idle),
            ("waiting", &self.pending),
            ("capacity", &self.max),
            ("pool size", &self.idle_max),
            ("timeouts", &self.timeouts),
            ("acquire wait", &self.wait_time),
            ("longest wait", &self.wait_max),
            ("connections created", &self.create_time),
            ("response time", &self.response_time),
        ]
        .into_iter()
        .filter(|(_, alternatives)| !alternatives.is_empty())
        .map(|(name, _)| name)
        .collect()
    }
}

/// The first of `alternatives` found in `samples` (with the `pool` labels), in seconds.
fn distribution_of(
    alternatives: &Alternatives,
    samples: &Samples,
    pool: &BTreeMap<String, String>,
) -> Option<Distribution> {
    alternatives.iter().find_map(|(selector, factor)| {
        samples.distribution(selector, pool).map(|d| Distribution {
            sum: d.sum * factor,
            buckets: d.buckets.iter().map(|(le, n)| (le * factor, *n)).collect(),
            ..d
        })
    })
}

/// One pool as one scrape saw it; `None` where the service exposes no such series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolReading {
    pub used: Option<f64>,
    pub idle: Option<f64>,
    pub pending: Option<f64>,
    pub max: Option<f64>,
    pub idle_max: Option<f64>,
    /// Cumulative.
    pub timeouts: Option<f64>,
    /// Cumulative, in seconds.
    pub wait_time: Option<Distribution>,
    pub wait_max_s: Option<f64>,
    /// Cumulative connections created.
    pub created: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(key: &str, value: &str) -> BTreeMap<String, String> {
        [(key.to_owned(), value.to_owned())].into()
    }

    #[test]
    fn the_response_time_is_every_routes_requests_or_the_one_a_selector_names() {
        let exposition = Samples::parse(
            "# TYPE http_server_request_duration_seconds histogram\n\
             http_server_request_duration_seconds_bucket{http_route=\"/auth/login\",le=\"+Inf\"} 3\n\
             http_server_request_duration_seconds_sum{http_route=\"/auth/login\"} 0.9\n\
             http_server_request_duration_seconds_count{http_route=\"/auth/login\"} 3\n\
             http_server_request_duration_seconds_bucket{http_route=\"/health\",le=\"+Inf\"} 1\n\
             http_server_request_duration_seconds_sum{http_route=\"/health\"} 0.1\n\
             http_server_request_duration_seconds_count{http_route=\"/health\"} 1\n",
        )
        .unwrap();
        let all = Mapping::new(Preset::Opentelemetry, &SeriesNames::default()).unwrap();
        let served = all.response_time(&exposition).unwrap();
        assert!((served.count - 4.0).abs() < 1e-9, "{served:?}");
        assert!((served.sum - 1.0).abs() < 1e-9);
        let login = Mapping::new(
            Preset::Opentelemetry,
            &SeriesNames {
                response_time: Some(
                    "http_server_request_duration_seconds{http_route=\"/auth/login\"}".into(),
                ),
                ..SeriesNames::default()
            },
        )
        .unwrap();
        let login = login.response_time(&exposition).unwrap();
        assert!((login.count - 3.0).abs() < 1e-9, "{login:?}");
        let hikari = Mapping::new(Preset::Hikaricp, &SeriesNames::default()).unwrap();
        assert_eq!(hikari.response_time(&exposition), None, "not its name");
    }

    #[test]
    fn the_opentelemetry_preset_reads_current_and_older_names() {
        let current = Samples::parse(
            "db_client_connection_count{pool_name=\"async\",state=\"used\"} 4\n\
             db_client_connection_count{pool_name=\"async\",state=\"idle\"} 6\n\
             db_client_connection_pending_requests{pool_name=\"async\"} 2\n\
             db_client_connection_max{pool_name=\"async\"} 30\n\
             db_client_connection_idle_max{pool_name=\"async\"} 10\n",
        )
        .unwrap();
        let mapping = Mapping::new(Preset::Opentelemetry, &SeriesNames::default()).unwrap();
        let reading = mapping.read(&current, &pool("pool_name", "async"));
        assert_eq!(reading.used, Some(4.0));
        assert_eq!(reading.idle, Some(6.0));
        assert_eq!(reading.pending, Some(2.0));
        assert_eq!((reading.max, reading.idle_max), (Some(30.0), Some(10.0)));
        assert_eq!(reading.timeouts, None, "not exposed: not a zero");

        let older = Samples::parse(
            "db_client_connections_usage{pool_name=\"a\",state=\"used\"} 3\n\
             db_client_connections_wait_time_milliseconds_sum{pool_name=\"a\"} 500\n\
             db_client_connections_wait_time_milliseconds_count{pool_name=\"a\"} 10\n",
        )
        .unwrap();
        let reading = mapping.read(&older, &pool("pool_name", "a"));
        assert_eq!(reading.used, Some(3.0));
        let wait = reading.wait_time.unwrap();
        assert!((wait.sum - 0.5).abs() < 1e-9, "milliseconds become seconds");
    }

    #[test]
    fn hikaricp_and_pgbouncer_presets_read_their_exporters() {
        let hikari = Samples::parse(
            "hikaricp_connections_active{pool=\"HikariPool-1\"} 9\n\
             hikaricp_connections_pending{pool=\"HikariPool-1\"} 5\n\
             hikaricp_connections_timeout_total{pool=\"HikariPool-1\"} 3\n\
             hikaricp_connections_acquire_seconds_count{pool=\"HikariPool-1\"} 40\n\
             hikaricp_connections_acquire_seconds_sum{pool=\"HikariPool-1\"} 2\n",
        )
        .unwrap();
        let mapping = Mapping::new(Preset::Hikaricp, &SeriesNames::default()).unwrap();
        let reading = mapping.read(&hikari, &pool("pool", "HikariPool-1"));
        assert_eq!((reading.used, reading.pending), (Some(9.0), Some(5.0)));
        assert_eq!(reading.timeouts, Some(3.0));
        assert!((reading.wait_time.unwrap().count - 40.0).abs() < 1e-9);

        let bouncer = Samples::parse(
            "pgbouncer_pools_client_active_connections{database=\"auth\",user=\"app\"} 20\n\
             pgbouncer_pools_client_active_connections{database=\"other\",user=\"app\"} 1\n\
             pgbouncer_pools_client_waiting_connections{database=\"auth\",user=\"app\"} 7\n\
             pgbouncer_pools_client_maxwait_seconds{database=\"auth\",user=\"app\"} 1.5\n",
        )
        .unwrap();
        let mapping = Mapping::new(Preset::Pgbouncer, &SeriesNames::default()).unwrap();
        let reading = mapping.read(&bouncer, &pool("database", "auth"));
        assert_eq!((reading.used, reading.pending), (Some(20.0), Some(7.0)));
        assert_eq!(reading.wait_max_s, Some(1.5));
        assert_eq!(reading.max, None);
    }

    #[test]
    fn a_custom_mapping_names_its_own_series_and_needs_the_used_one() {
        let names = SeriesNames {
            used: Some(r#"app_pool{kind="busy"}"#.into()),
            pending: Some("app_pool_queue".into()),
            ..SeriesNames::default()
        };
        let mapping = Mapping::new(Preset::Custom, &names).unwrap();
        let samples = Samples::parse(
            "app_pool{kind=\"busy\"} 5\napp_pool{kind=\"free\"} 2\napp_pool_queue 1\n",
        )
        .unwrap();
        let reading = mapping.read(&samples, &BTreeMap::new());
        assert_eq!((reading.used, reading.pending), (Some(5.0), Some(1.0)));
        assert_eq!(mapping.gauges(), ["checked out", "waiting"]);
        let error = Mapping::new(Preset::Custom, &SeriesNames::default()).unwrap_err();
        assert!(error.contains("series.used"), "{error}");
        let bad = SeriesNames {
            idle: Some("app pool".into()),
            ..SeriesNames::default()
        };
        let error = Mapping::new(Preset::Opentelemetry, &bad).unwrap_err();
        assert!(error.contains("series.idle"), "{error}");
    }
}
