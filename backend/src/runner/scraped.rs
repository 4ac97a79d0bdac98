//! A service's pool through its scrapes: the gauges each reading shows, and what changed since
//! the previous one — timeouts, connections created, acquire waits, episodes of checkouts
//! waiting — for the collector to attribute to seconds and phases like a pool's own events.

use std::collections::BTreeSet;
use std::time::Duration;

use lifeguard_shared::pool::{PoolProfile, PoolSettings};

use crate::pool::events::Gauges;
use crate::scrape::Scrape;
use crate::scrape::mapping::PoolReading;
use crate::scrape::series::Distribution;

/// Acquire waits added up from histogram increments (seconds, cumulative buckets).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waits {
    pub count: f64,
    pub sum_s: f64,
    /// Upper bound (seconds) → count, cumulative.
    pub buckets: Vec<(f64, f64)>,
}

impl Waits {
    fn add(&mut self, delta: &Distribution) {
        self.count += delta.count;
        self.sum_s += delta.sum;
        for (bound, n) in &delta.buckets {
            match self
                .buckets
                .iter_mut()
                .find(|(b, _)| b.to_bits() == bound.to_bits())
            {
                Some(slot) => slot.1 += n,
                None => self.buckets.push((*bound, *n)),
            }
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// Adds `other`'s waits.
    pub fn merge(&mut self, other: &Self) {
        self.add(&Distribution {
            count: other.count,
            sum: other.sum_s,
            buckets: other.buckets.clone(),
        });
    }

    /// The mean wait in milliseconds; `None` without waits.
    #[must_use]
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum_s / self.count * 1000.0)
    }

    /// The wait at quantile `q`, in milliseconds: the upper bound of the bucket it falls in (the
    /// bucket's width is the error). `None` without buckets.
    #[must_use]
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let bound = self
            .buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= rank)
            .map(|(bound, _)| *bound)?;
        // Past the last finite bound: the largest finite one is the best the histogram says.
        let bound = if bound.is_finite() {
            bound
        } else {
            self.buckets
                .iter()
                .rev()
                .map(|(b, _)| *b)
                .find(|b| b.is_finite())
                .unwrap_or(0.0)
        };
        Some(bound * 1000.0)
    }
}

/// What one scrape changed, for the collector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeDelta {
    pub gauges: Gauges,
    pub timeouts: u64,
    /// Connections created by the primary pool, and by the secondary.
    pub created: u64,
    pub secondary_created: u64,
    /// Checkouts started waiting (none waited at the previous scrape, some do now).
    pub dry: bool,
    pub waits: Option<Waits>,
    pub wait_max_s: Option<f64>,
}

/// The scrapes of one run so far.
#[derive(Debug, Default)]
pub struct ScrapedPool {
    last: Option<Scrape>,
    /// Gauges some scrape provided.
    seen: BTreeSet<&'static str>,
    pub failed: u64,
    pub lost_at: Option<Duration>,
    pub last_error: Option<String>,
    /// The primary pool's capacity, when the metrics say it.
    pub capacity: Option<u32>,
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to the u32 range first"
)]
fn count(value: f64) -> u32 {
    value.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to be non-negative; counters stay far below 2^53"
)]
fn increase(now: Option<f64>, before: Option<f64>) -> u64 {
    match (now, before) {
        // A counter that went down restarted: what it counts now is all new.
        (Some(now), Some(before)) if now >= before => (now - before).round() as u64,
        (Some(now), _) => now.max(0.0).round() as u64,
        (None, _) => 0,
    }
}

fn distribution_increase(now: &Distribution, before: Option<&Distribution>) -> Distribution {
    match before {
        Some(before) if now.count >= before.count => Distribution {
            count: now.count - before.count,
            sum: (now.sum - before.sum).max(0.0),
            buckets: now
                .buckets
                .iter()
                .map(|(bound, n)| {
                    let earlier = before
                        .buckets
                        .iter()
                        .find(|(b, _)| b.to_bits() == bound.to_bits())
                        .map_or(0.0, |(_, m)| *m);
                    (*bound, (n - earlier).max(0.0))
                })
                .collect(),
        },
        _ => now.clone(),
    }
}

impl ScrapedPool {
    /// Takes in one reading; what it changed. The first reading sets the counters' starting
    /// points (what the service counted before the run is not the run's).
    pub fn read(&mut self, scrape: &Scrape) -> ScrapeDelta {
        self.note_seen(&scrape.primary);
        let p = &scrape.primary;
        let used = p.used.unwrap_or(0.0);
        let gauges = Gauges {
            checked_out: count(used),
            idle: count(p.idle.unwrap_or(0.0)),
            open: count(used + p.idle.unwrap_or(0.0)),
            overflow: p.idle_max.map_or(0, |size| count(used - size)),
            waiters: count(p.pending.unwrap_or(0.0)),
        };
        if let Some(max) = p.max {
            self.capacity = Some(count(max));
        }
        let delta = match &self.last {
            None => ScrapeDelta {
                gauges,
                dry: gauges.waiters > 0,
                wait_max_s: p.wait_max_s,
                ..ScrapeDelta::default()
            },
            Some(last) => {
                let before = &last.primary;
                let secondary_before = last.secondary.as_ref();
                ScrapeDelta {
                    gauges,
                    timeouts: increase(p.timeouts, before.timeouts),
                    created: increase(p.created, before.created),
                    secondary_created: scrape.secondary.as_ref().map_or(0, |s| {
                        increase(s.created, secondary_before.and_then(|b| b.created))
                    }),
                    dry: gauges.waiters > 0 && before.pending.is_none_or(|w| w <= 0.0),
                    waits: p.wait_time.as_ref().map(|now| {
                        let mut waits = Waits::default();
                        waits.add(&distribution_increase(now, before.wait_time.as_ref()));
                        waits
                    }),
                    wait_max_s: p.wait_max_s,
                }
            }
        };
        self.last = Some(scrape.clone());
        delta
    }

    /// A scrape failed `since_start` into the run.
    pub fn failed(&mut self, since_start: Duration, cause: String) {
        self.failed += 1;
        self.lost_at.get_or_insert(since_start);
        self.last_error = Some(cause);
    }

    fn note_seen(&mut self, reading: &PoolReading) {
        let present = [
            ("checked out", reading.used.is_some()),
            ("idle", reading.idle.is_some()),
            ("waiting", reading.pending.is_some()),
            ("capacity", reading.max.is_some()),
            (
                "overflow",
                reading.idle_max.is_some() && reading.used.is_some(),
            ),
            ("timeouts", reading.timeouts.is_some()),
            (
                "acquire wait",
                reading.wait_time.is_some() || reading.wait_max_s.is_some(),
            ),
            ("connections created", reading.created.is_some()),
        ];
        for (name, is_present) in present {
            if is_present {
                self.seen.insert(name);
            }
        }
    }

    /// `declared` with each pool's size and overflow as the service's metrics last said them
    /// (`idle_max` the size, `max` the capacity): what the run was told the service's pool is
    /// counts only where its metrics are silent.
    #[must_use]
    pub fn sized(&self, declared: &PoolProfile) -> PoolProfile {
        let mut profile = declared.clone();
        if let Some(last) = &self.last {
            resize(&mut profile.primary, &last.primary);
            if let (Some(settings), Some(reading)) =
                (profile.secondary.as_mut(), last.secondary.as_ref())
            {
                resize(settings, reading);
            }
        }
        profile
    }

    /// The gauges some scrape provided, and those none did.
    #[must_use]
    pub fn gauges(&self) -> (Vec<String>, Vec<String>) {
        let all = [
            "checked out",
            "idle",
            "waiting",
            "capacity",
            "overflow",
            "timeouts",
            "acquire wait",
            "connections created",
        ];
        let (seen, missing): (Vec<&str>, Vec<&str>) =
            all.into_iter().partition(|g| self.seen.contains(g));
        (
            seen.into_iter().map(str::to_owned).collect(),
            missing.into_iter().map(str::to_owned).collect(),
        )
    }
}

fn resize(settings: &mut PoolSettings, reading: &PoolReading) {
    let capacity = reading.max.map_or_else(|| settings.capacity(), count);
    settings.pool_size = reading
        .idle_max
        .map_or(settings.pool_size, count)
        .min(capacity);
    settings.max_overflow = capacity - settings.pool_size;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn reading(used: f64, pending: f64, timeouts: f64, waits: (f64, f64)) -> PoolReading {
        PoolReading {
            used: Some(used),
            idle: Some(10.0 - used.min(10.0)),
            pending: Some(pending),
            max: Some(30.0),
            idle_max: Some(10.0),
            timeouts: Some(timeouts),
            wait_time: Some(Distribution {
                count: waits.0,
                sum: waits.1,
                buckets: vec![
                    (0.01, waits.0 * 0.5),
                    (0.1, waits.0),
                    (f64::INFINITY, waits.0),
                ],
            }),
            wait_max_s: None,
            created: None,
        }
    }

    fn scrape(primary: PoolReading) -> Scrape {
        Scrape {
            at: Instant::now(),
            primary,
            secondary: None,
            response_time: None,
        }
    }

    #[test]
    fn the_services_pool_is_sized_by_its_metrics_and_by_the_declared_profile_where_they_are_silent()
    {
        let declared = PoolProfile::built_in().remove(0);
        let mut pool = ScrapedPool::default();
        assert_eq!(pool.sized(&declared), declared, "no scrape yet");
        let mut primary = reading(4.0, 0.0, 0.0, (0.0, 0.0));
        primary.max = Some(50.0);
        primary.idle_max = Some(20.0);
        let mut secondary = primary.clone();
        secondary.max = Some(8.0);
        secondary.idle_max = None;
        pool.read(&Scrape {
            secondary: Some(secondary),
            ..scrape(primary)
        });
        let sized = pool.sized(&declared);
        assert_eq!(
            (sized.primary.pool_size, sized.primary.max_overflow),
            (20, 30)
        );
        let declared_sync = declared.secondary.as_ref().unwrap();
        let sync = sized.secondary.unwrap();
        assert_eq!(
            (sync.pool_size, sync.max_overflow),
            (
                declared_sync.pool_size.min(8),
                8 - declared_sync.pool_size.min(8)
            ),
            "a capacity without a size keeps the declared size within it"
        );
        assert_eq!(
            sized.primary.pool_timeout_s.to_bits(),
            declared.primary.pool_timeout_s.to_bits(),
            "what the metrics do not say stays as declared"
        );
    }

    #[test]
    fn counters_count_from_the_first_scrape_and_gauges_read_as_they_are() {
        let mut pool = ScrapedPool::default();
        let first = pool.read(&scrape(reading(4.0, 0.0, 7.0, (100.0, 1.0))));
        assert_eq!(
            first.timeouts, 0,
            "what came before the run is not the run's"
        );
        assert_eq!(first.gauges.checked_out, 4);
        let second = pool.read(&scrape(reading(14.0, 3.0, 9.0, (140.0, 3.0))));
        assert_eq!(second.timeouts, 2);
        assert_eq!(second.gauges.overflow, 4, "14 used of a pool of 10");
        assert!(second.dry, "waiting began");
        let waits = second.waits.clone().unwrap();
        assert!((waits.count - 40.0).abs() < 1e-9);
        assert!((waits.mean_ms().unwrap() - 50.0).abs() < 1e-9);
        assert!((waits.quantile_ms(0.95).unwrap() - 100.0).abs() < 1e-9);
        let third = pool.read(&scrape(reading(14.0, 5.0, 9.0, (140.0, 3.0))));
        assert!(!third.dry, "still the same episode");
        // Increments of every bucket, the +Inf one included, add up across scrapes.
        let mut both = second.waits.clone().unwrap();
        both.merge(&third.waits.clone().unwrap());
        assert_eq!(both.buckets.len(), 3, "{both:?}");
        assert!((both.buckets[2].1 - 40.0).abs() < 1e-9, "{both:?}");
        assert_eq!(pool.capacity, Some(30));
        let (seen, missing) = pool.gauges();
        assert!(seen.contains(&"waiting".to_owned()));
        assert_eq!(missing, ["connections created"]);
    }

    #[test]
    fn a_restarted_counter_counts_again_and_failures_are_kept() {
        let mut pool = ScrapedPool::default();
        pool.read(&scrape(reading(1.0, 0.0, 50.0, (10.0, 0.1))));
        let after_restart = pool.read(&scrape(reading(1.0, 0.0, 3.0, (2.0, 0.01))));
        assert_eq!(after_restart.timeouts, 3);
        pool.failed(Duration::from_secs(4), "refused".into());
        pool.failed(Duration::from_secs(5), "refused again".into());
        assert_eq!(pool.failed, 2);
        assert_eq!(pool.lost_at, Some(Duration::from_secs(4)));
        assert_eq!(pool.last_error.as_deref(), Some("refused again"));
    }
}
