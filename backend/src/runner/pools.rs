//! The pools under load as the phases watch them: lifeguard's own pools, whose state it knows
//! exactly. (A deployed service's pools, read from the metrics it exposes, are the other kind.)

use crate::workload::Pools;

/// What recovery and the leak check read of the pools.
#[derive(Debug, Clone)]
pub enum PoolWatch {
    /// The pools lifeguard opened itself.
    Local(Pools),
}

impl PoolWatch {
    /// Checkouts waiting for the primary pool now.
    #[must_use]
    pub fn waiters(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(pools.primary.stats().gauges.waiters),
        }
    }

    /// Connections checked out of every pool now.
    #[must_use]
    pub fn checked_out(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(
                pools.primary.stats().gauges.checked_out
                    + pools
                        .secondary
                        .as_ref()
                        .map_or(0, |p| p.stats().gauges.checked_out),
            ),
        }
    }

    /// The primary pool's capacity (size and overflow).
    #[must_use]
    pub fn capacity(&self) -> Option<u32> {
        match self {
            Self::Local(pools) => Some(pools.primary.settings().capacity()),
        }
    }

    /// Checkouts of the primary pool that found it at capacity, since it was created.
    #[must_use]
    pub fn exhaustion_events(&self) -> u64 {
        match self {
            Self::Local(pools) => pools.primary.stats().counters.exhaustion_events,
        }
    }
}
