//! Numbers and times as a person reads them: units by metric name, times in the viewer's zone.

/// Milliseconds with a precision that fits their size.
#[must_use]
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// A share (0..=1) as a percentage.
#[must_use]
pub fn share(value: f64) -> String {
    format!("{:.1} %", value * 100.0)
}

/// A plain number without needless decimals.
#[must_use]
pub fn number(value: f64) -> String {
    if value.fract().abs() < 1e-9 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A metric's value with its unit, by the metric's name (`*_ms`, `*_s`, `*_rps`, `*_pct`,
/// `success_rate`, counts).
#[must_use]
pub fn metric(name: &str, value: f64) -> String {
    if name == "success_rate" {
        share(value)
    } else if name.ends_with("_ms") {
        ms(value)
    } else if name.ends_with("_pct") {
        format!("{value:.1} %")
    } else if name.ends_with("_rps") {
        format!("{value:.1} req/s")
    } else if name.ends_with("_per_s") {
        format!("{} /s", number(value))
    } else if name.ends_with("_s") {
        format!("{value:.2} s")
    } else {
        number(value)
    }
}

/// An optional metric value; a dash when it could not be measured.
#[must_use]
pub fn maybe_metric(name: &str, value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| metric(name, v))
}

/// A signed difference with the metric's unit.
#[must_use]
pub fn delta(name: &str, value: f64) -> String {
    let sign = if value > 0.0 { "+" } else { "" };
    format!("{sign}{}", metric(name, value))
}

/// A relative change as a signed percentage.
#[must_use]
pub fn relative(value: f64) -> String {
    let sign = if value > 0.0 { "+" } else { "" };
    format!("{sign}{:.1} %", value * 100.0)
}

/// `snake_case` metric names as words: `p95_latency_ms` → `p95 latency (ms)`.
#[must_use]
pub fn metric_label(name: &str) -> String {
    let (stem, unit) = [("_ms", "ms"), ("_rps", "req/s"), ("_pct", "%"), ("_s", "s")]
        .iter()
        .find_map(|(suffix, unit)| name.strip_suffix(suffix).map(|stem| (stem, Some(*unit))))
        .unwrap_or((name, None));
    let words = stem.replace('_', " ");
    match unit {
        Some(unit) => format!("{words} ({unit})"),
        None => words,
    }
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
        assert_eq!(metric("p95_latency_ms", 12.345), "12.3 ms");
        assert_eq!(metric("success_rate", 0.95), "95.0 %");
        assert_eq!(metric("throughput_rps", 812.04), "812.0 req/s");
        assert_eq!(metric("recovery_s", 3.5), "3.50 s");
        assert_eq!(metric("leaks", 0.0), "0");
        assert_eq!(metric("pool_utilization_pct", 72.0), "72.0 %");
        assert_eq!(metric("churn_per_s", 5.0), "5 /s");
        assert_eq!(maybe_metric("recovery_s", None), "–");
    }

    #[test]
    fn deltas_and_relative_changes_are_signed() {
        assert_eq!(delta("p95_latency_ms", 4.0), "+4.00 ms");
        assert_eq!(delta("p95_latency_ms", -4.0), "-4.00 ms");
        assert_eq!(relative(0.123), "+12.3 %");
        assert_eq!(relative(-0.05), "-5.0 %");
    }

    #[test]
    fn metric_names_read_as_words() {
        assert_eq!(metric_label("p95_latency_ms"), "p95 latency (ms)");
        assert_eq!(metric_label("success_rate"), "success rate");
        assert_eq!(metric_label("recovery_s"), "recovery (s)");
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
