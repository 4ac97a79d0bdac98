//! The pools under load as the phases watch them: lifeguard's own pools, whose state it knows
//! exactly, or a deployed service's, as its metrics last said — or nothing, for a service that
//! exposes no pool metrics.

use tokio::sync::watch;

use crate::scrape::{DryEpisodes, Scrape};
use crate::workload::Pools;

/// What recovery and the leak check read of the pools.
#[derive(Debug, Clone)]
pub enum PoolWatch {
    /// The pools lifeguard opened itself.
    Local(Pools),
    /// A service's pools, from its latest scrape.
    Scraped {
        latest: watch::Receiver<Option<Scrape>>,
        dry: DryEpisodes,
    },
    /// A service whose pools cannot be seen.
    Unseen,
}

impl PoolWatch {
    /// Checkouts waiting for the primary pool now (every replica's).
    #[must_use]
    pub fn waiters(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(pools.primaries().map(|p| p.stats().gauges.waiters).sum()),
            Self::Scraped { latest, .. } => count(latest.borrow().as_ref()?.primary.pending?),
            Self::Unseen => None,
        }
    }

    /// Connections checked out of every pool (of every replica) now.
    #[must_use]
    pub fn checked_out(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(pools.all().map(|p| p.stats().gauges.checked_out).sum()),
            Self::Scraped { latest, .. } => {
                let latest = latest.borrow();
                let scrape = latest.as_ref()?;
                let secondary = scrape
                    .secondary
                    .as_ref()
                    .and_then(|s| s.used)
                    .unwrap_or(0.0);
                count(scrape.primary.used? + secondary)
            }
            Self::Unseen => None,
        }
    }

    /// The primary pool's capacity (size and overflow), over every replica.
    #[must_use]
    pub fn capacity(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(pools.primaries().map(|p| p.settings().capacity()).sum()),
            Self::Scraped { latest, .. } => count(latest.borrow().as_ref()?.primary.max?),
            Self::Unseen => None,
        }
    }

    /// Checkouts of the primary pool (any replica's) that found it at capacity, since it was
    /// created.
    #[must_use]
    pub fn exhaustion_events(&self) -> u64 {
        match self {
            Self::Local(pools) => pools
                .primaries()
                .map(|p| p.stats().counters.exhaustion_events)
                .sum(),
            Self::Scraped { dry, .. } => dry.count(),
            Self::Unseen => 0,
        }
    }

    /// Lifeguard's own pools, when the run opened them.
    #[must_use]
    pub fn local(&self) -> Option<&Pools> {
        match self {
            Self::Local(pools) => Some(pools),
            Self::Scraped { .. } | Self::Unseen => None,
        }
    }
}

/// A scraped gauge as a count (gauges arrive as floats).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to the u32 range first"
)]
fn count(value: f64) -> Option<u32> {
    value
        .is_finite()
        .then(|| value.round().clamp(0.0, f64::from(u32::MAX)) as u32)
}
