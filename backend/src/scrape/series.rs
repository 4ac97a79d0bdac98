//! One scrape, parsed: every sample by name and labels, whatever the exposition format
//! (Prometheus text or OpenMetrics, through the `prometheus-parse` crate), and the reading of a
//! named series with label matchers.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};

/// A series a mapping names: a metric name and labels its samples must carry, written as in
/// PromQL: `db_client_connection_count{state="used"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    /// Parses `name` or `name{label="value",…}`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, labels) = match text.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or_else(|| format!("`{text}` opens a `{{` it does not close"))?;
                (name, parse_labels(inner)?)
            }
            None => (text, BTreeMap::new()),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid {
            return Err(format!("`{name}` is not a metric name"));
        }
        Ok(Self {
            name: name.to_owned(),
            labels,
        })
    }

    /// `name` with no labels.
    #[must_use]
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            labels: BTreeMap::new(),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            let pairs: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            write!(f, "{{{}}}", pairs.join(","))?;
        }
        Ok(())
    }
}

fn parse_labels(inner: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not `label=\"value\"`"))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| format!("the value of `{}` must be quoted", key.trim()))?;
        labels.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(labels)
}

/// A histogram's totals (or a summary's), in the metric's own unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    pub count: f64,
    pub sum: f64,
    /// Cumulative bucket counts by upper bound, ascending (empty for a summary).
    pub buckets: Vec<(f64, f64)>,
}

/// One scrape's samples.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    samples: Vec<prometheus_parse::Sample>,
}

impl Samples {
    /// Parses an exposition (Prometheus text format or OpenMetrics text).
    pub fn parse(text: &str) -> Result<Self, String> {
        let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .map_err(|e| format!("unreadable metrics: {e}"))?;
        Ok(Self {
            samples: scrape.samples,
        })
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a BTreeMap<String, String>,
        pool: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a prometheus_parse::Sample> {
        self.samples.iter().filter(move |sample| {
            sample.metric == name
                && labels
                    .iter()
                    .chain(pool)
                    .all(|(k, v)| sample.labels.get(k) == Some(v.as_str()))
        })
    }

    /// The sum of the plain values of `selector`'s series that also carry the `pool` labels;
    /// `None` when there is no such series.
    #[must_use]
    pub fn value(&self, selector: &Selector, pool: &BTreeMap<String, String>) -> Option<f64> {
        let mut found = None;
        for sample in self.matching(&selector.name, &selector.labels, pool) {
            let value = match &sample.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(_) | Value::Summary(_) => continue,
            };
            if value.is_finite() {
                *found.get_or_insert(0.0) += value;
            }
        }
        found
    }

    /// The histogram or summary whose series are `selector`'s name with `_bucket`, `_sum` and
    /// `_count`, summed over the series carrying the `pool` labels.
    #[must_use]
    pub fn distribution(
        &self,
        selector: &Selector,
        pool: &BTreeMap<String, String>,
    ) -> Option<Distribution> {
        let with = |suffix: &str| Selector {
            name: format!("{}{suffix}", selector.name),
            labels: selector.labels.clone(),
        };
        let count = self.value(&with("_count"), pool)?;
        let sum = self.value(&with("_sum"), pool).unwrap_or(0.0);
        let mut buckets: BTreeMap<u64, f64> = BTreeMap::new();
        for sample in self.matching(&selector.name, &selector.labels, pool) {
            if let Value::Histogram(counts) = &sample.value {
                for bucket in counts {
                    // Upper bounds as ordered bits of non-negative floats (+Inf included).
                    *buckets.entry(bucket.less_than.to_bits()).or_default() += bucket.count;
                }
            }
        }
        Some(Distribution {
            count,
            sum,
            buckets: buckets
                .into_iter()
                .map(|(bits, count)| (f64::from_bits(bits), count))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS: &str = r#"# HELP db_client_connection_count Connections by state
# TYPE db_client_connection_count gauge
db_client_connection_count{pool_name="async",state="used"} 7
db_client_connection_count{pool_name="async",state="idle"} 3
db_client_connection_count{pool_name="sync",state="used"} 1
# TYPE db_client_connection_timeouts_total counter
db_client_connection_timeouts_total{pool_name="async"} 4
# TYPE db_client_connection_wait_time_seconds histogram
db_client_connection_wait_time_seconds_bucket{pool_name="async",le="0.005"} 90
db_client_connection_wait_time_seconds_bucket{pool_name="async",le="0.1"} 98
db_client_connection_wait_time_seconds_bucket{pool_name="async",le="+Inf"} 100
db_client_connection_wait_time_seconds_sum{pool_name="async"} 1.5
db_client_connection_wait_time_seconds_count{pool_name="async"} 100
"#;

    const OPENMETRICS: &str = r#"# TYPE hikaricp_connections_active gauge
# UNIT hikaricp_connections_active connections
hikaricp_connections_active{pool="HikariPool-1"} 12.0
# TYPE hikaricp_connections_timeout counter
hikaricp_connections_timeout_total{pool="HikariPool-1"} 2.0
hikaricp_connections_timeout_created{pool="HikariPool-1"} 1.7e9
# EOF
"#;

    fn pool(name: &str) -> BTreeMap<String, String> {
        [("pool_name".to_owned(), name.to_owned())].into()
    }

    #[test]
    fn values_are_found_by_name_labels_and_pool() {
        let samples = Samples::parse(PROMETHEUS).unwrap();
        let used = Selector::parse(r#"db_client_connection_count{state="used"}"#).unwrap();
        assert_eq!(samples.value(&used, &pool("async")), Some(7.0));
        assert_eq!(samples.value(&used, &pool("sync")), Some(1.0));
        assert_eq!(samples.value(&used, &BTreeMap::new()), Some(8.0), "summed");
        let missing = Selector::named("db_client_connection_pending_requests");
        assert_eq!(samples.value(&missing, &pool("async")), None);
        let timeouts = Selector::named("db_client_connection_timeouts_total");
        assert_eq!(samples.value(&timeouts, &pool("async")), Some(4.0));
    }

    #[test]
    fn a_histogram_reads_as_count_sum_and_cumulative_buckets() {
        let samples = Samples::parse(PROMETHEUS).unwrap();
        let wait = Selector::named("db_client_connection_wait_time_seconds");
        let d = samples.distribution(&wait, &pool("async")).unwrap();
        assert!((d.count - 100.0).abs() < 1e-9 && (d.sum - 1.5).abs() < 1e-9);
        assert_eq!(d.buckets.len(), 3);
        assert_eq!(d.buckets[0], (0.005, 90.0));
        assert!(d.buckets[2].0.is_infinite());
    }

    #[test]
    fn openmetrics_text_reads_the_same_way() {
        let samples = Samples::parse(OPENMETRICS).unwrap();
        let hikari: BTreeMap<String, String> =
            [("pool".to_owned(), "HikariPool-1".to_owned())].into();
        assert_eq!(
            samples.value(&Selector::named("hikaricp_connections_active"), &hikari),
            Some(12.0)
        );
        assert_eq!(
            samples.value(
                &Selector::named("hikaricp_connections_timeout_total"),
                &hikari
            ),
            Some(2.0)
        );
    }

    #[test]
    fn selectors_round_trip_and_refuse_what_is_not_one() {
        let s = Selector::parse(r#" db_x{state="used", pool="a"} "#).unwrap();
        assert_eq!(s.to_string(), r#"db_x{pool="a",state="used"}"#);
        assert!(Selector::parse("db x").is_err());
        assert!(Selector::parse("db_x{state=used}").is_err());
        assert!(Selector::parse("db_x{state=\"used\"").is_err());
    }

    /// What Python's `prometheus_client` writes (as the demo service does): `le` first, floats
    /// with `.0`, a `_created` gauge beside the histogram.
    const PROMETHEUS_CLIENT: &str = r#"# HELP db_client_connection_wait_time_seconds w
# TYPE db_client_connection_wait_time_seconds histogram
db_client_connection_wait_time_seconds_bucket{le="0.001",pool_name="async"} 90.0
db_client_connection_wait_time_seconds_bucket{le="0.0025",pool_name="async"} 90.0
db_client_connection_wait_time_seconds_bucket{le="0.005",pool_name="async"} 90.0
db_client_connection_wait_time_seconds_bucket{le="0.01",pool_name="async"} 90.0
db_client_connection_wait_time_seconds_bucket{le="0.025",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="0.05",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="0.1",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="0.25",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="0.5",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="1.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="2.5",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="5.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="10.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="30.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="45.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="60.0",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_bucket{le="+Inf",pool_name="async"} 100.0
db_client_connection_wait_time_seconds_count{pool_name="async"} 100.0
db_client_connection_wait_time_seconds_sum{pool_name="async"} 0.20899999999999996
# HELP db_client_connection_wait_time_seconds_created w
# TYPE db_client_connection_wait_time_seconds_created gauge
db_client_connection_wait_time_seconds_created{pool_name="async"} 1.7961071649535656e+09
"#;

    #[test]
    fn prometheus_client_histograms_read_whole() {
        let samples = Samples::parse(PROMETHEUS_CLIENT).unwrap();
        let wait = Selector::named("db_client_connection_wait_time_seconds");
        let d = samples.distribution(&wait, &pool("async")).unwrap();
        assert_eq!(d.buckets.len(), 17, "{d:?}");
        assert_eq!(d.buckets[4], (0.025, 100.0));
        assert!((d.buckets[16].1 - 100.0).abs() < 1e-9);
        assert!((d.count - 100.0).abs() < 1e-9);
    }
}
