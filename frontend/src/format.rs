//! Numbers and times as a person reads them: metrics in their units (the shared [`Metric`]
//! vocabulary), times in the viewer's zone.

use lifeguard_shared::metric::Metric;

pub use lifeguard_shared::metric::{ms, number, share};

/// A metric's value with its unit ([`Metric::format`]).
#[must_use]
pub fn metric(metric: Metric, value: f64) -> String {
    metric.format(value)
}

/// An optional metric value; a dash when it could not be measured.
#[must_use]
pub fn maybe_metric(metric: Metric, value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| metric.format(v))
}

/// A metric in words with its unit: `p95 latency (ms)` ([`Metric::titled`]).
#[must_use]
pub fn metric_label(metric: Metric) -> String {
    metric.titled()
}

/// A calendar date and wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub year: u32,
    /// 1..=12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Clock {
    /// `2025-11-27 14:05:09`.
    #[must_use]
    pub fn render(self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// The UTC clock of a Unix time in milliseconds (civil-from-days, proleptic Gregorian).
    #[must_use]
    pub fn utc(unix_ms: u64) -> Self {
        let seconds = unix_ms / 1000;
        let days = i64::try_from(seconds / 86_400).unwrap_or(0);
        let rest = u32::try_from(seconds % 86_400).unwrap_or(0);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let small = |v: i64| u32::try_from(v).unwrap_or(0);
        Self {
            year: small(year),
            month: small(month),
            day: small(day),
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
        }
    }
}

/// A Unix time in milliseconds in the viewer's time zone (the browser's `Date`).
#[must_use]
pub fn local_time(unix_ms: u64) -> String {
    local_clock(unix_ms).render()
}

#[cfg(target_arch = "wasm32")]
fn local_clock(unix_ms: u64) -> Clock {
    let date = web_sys::js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms as f64));
    Clock {
        year: date.get_full_year(),
        month: date.get_month() + 1,
        day: date.get_date(),
        hour: date.get_hours(),
        minute: date.get_minutes(),
        second: date.get_seconds(),
    }
}

/// Off the browser (native tests) there is no viewer: UTC.
#[cfg(not(target_arch = "wasm32"))]
fn local_clock(unix_ms: u64) -> Clock {
    Clock::utc(unix_ms)
}

/// How long something took, from seconds.
#[must_use]
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = seconds.round();
        format!("{:.0} min {:.0} s", (whole / 60.0).floor(), whole % 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_carry_their_units() {
        assert_eq!(metric(Metric::P95LatencyMs, 12.345), "12.3 ms");
        assert_eq!(metric(Metric::SuccessRate, 0.95), "95.0 %");
        assert_eq!(metric(Metric::ThroughputRps, 812.04), "812.0 req/s");
        assert_eq!(metric(Metric::RecoveryS, 3.5), "3.50 s");
        assert_eq!(metric(Metric::Leaks, 0.0), "0");
        assert_eq!(metric(Metric::PoolUtilizationPct, 72.0), "72.0 %");
        assert_eq!(metric(Metric::ChurnPerS, 5.0), "5 /s");
        assert_eq!(maybe_metric(Metric::RecoveryS, None), "–");
    }

    #[test]
    fn metric_names_read_as_words() {
        assert_eq!(metric_label(Metric::P95LatencyMs), "p95 latency (ms)");
        assert_eq!(metric_label(Metric::SuccessRate), "success rate");
        assert_eq!(metric_label(Metric::RecoveryS), "recovery (s)");
    }

    #[test]
    fn unix_milliseconds_become_a_calendar_clock() {
        // 2024-02-29 13:45:30 UTC.
        let clock = Clock::utc(1_709_214_330_000);
        assert_eq!(clock.render(), "2024-02-29 13:45:30");
        assert_eq!(Clock::utc(0).render(), "1970-01-01 00:00:00");
    }

    #[test]
    fn durations_switch_to_minutes() {
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(125.0), "2 min 5 s");
    }
}
