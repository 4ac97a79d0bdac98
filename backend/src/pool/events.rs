//! The pool's event stream: timestamped, with the gauges right after each event, so a collector
//! can derive peaks and per-second counts exactly.
//!
//! Recording is cheap: an event is a small `Copy` value appended, under the lock the pool already
//! holds for the change, to a bounded buffer that the collector swaps out every few milliseconds.
//! No channel operation or task wake-up per event; when the collector falls behind, events beyond
//! the buffer's capacity are counted as dropped instead of blocking the pool or growing memory.

use std::time::{Duration, Instant};

/// Which of a profile's pools emitted an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolRole {
    /// The pool the auth flow uses (the analysed "async" pool).
    Primary,
    /// The fallback pool (the analysed "sync" pool).
    Secondary,
}

impl PoolRole {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        }
    }
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Returned while `pool_size` connections already waited idle.
    Overflow,
    /// Older than `pool_recycle`.
    Recycle,
    /// Broken: the server or the network ended it, or a statement failed at the protocol level.
    Error,
    /// Failed the pre-ping.
    Ping,
    /// Created before an invalidation (a failed pre-ping elsewhere).
    Invalidated,
    /// The pool was closed.
    Shutdown,
}

/// Why opening a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// The server said no: `too many clients already` (SQLSTATE 53300).
    Refused,
    /// Anything else: server down, network, authentication.
    Other,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A checkout found no idle connection and no room to open one: it queues.
    Exhausted,
    CheckedOut {
        wait: Duration,
    },
    CheckedIn {
        hold: Duration,
    },
    Created {
        connect: Duration,
    },
    Closed {
        reason: CloseReason,
    },
    TimedOut {
        waited: Duration,
    },
    /// A failed pre-ping invalidated every connection created before it.
    Invalidated,
    ConnectFailed {
        failure: ConnectFailure,
    },
    /// A connection left checked out for good (the workload's `leak_on_error`).
    Leaked,
}

/// The pool's gauges right after an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    pub checked_out: u32,
    pub idle: u32,
    /// Connections open or being opened (checked out, idle, leaked).
    pub open: u32,
    /// Open connections beyond `pool_size`.
    pub overflow: u32,
    pub waiters: u32,
}

impl Gauges {
    /// `self` with one pool's gauges changed from `before` to `after`: how the sum over several
    /// pools (a run's replicas) follows one pool's event.
    #[must_use]
    pub fn moved(self, before: Self, after: Self) -> Self {
        let step = |sum: u32, was: u32, is: u32| sum.saturating_sub(was).saturating_add(is);
        Self {
            checked_out: step(self.checked_out, before.checked_out, after.checked_out),
            idle: step(self.idle, before.idle, after.idle),
            open: step(self.open, before.open, after.open),
            overflow: step(self.overflow, before.overflow, after.overflow),
            waiters: step(self.waiters, before.waiters, after.waiters),
        }
    }
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolEvent {
    pub at: Instant,
    pub pool: PoolRole,
    pub kind: EventKind,
    pub gauges: Gauges,
}

/// Events a buffer holds before further ones are dropped (a second of heavy load fits many times).
pub const EVENT_LOG_CAPACITY: usize = 65_536;

/// The pool's pending events: a bounded buffer, or nothing at all when instrumentation is off.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    on: bool,
    events: Vec<PoolEvent>,
    dropped: u64,
}

impl EventLog {
    pub(crate) fn new(on: bool) -> Self {
        Self {
            on,
            events: Vec::new(),
            dropped: 0,
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    pub(crate) fn record(&mut self, event: PoolEvent) {
        if self.events.len() < EVENT_LOG_CAPACITY {
            self.events.push(event);
        } else {
            self.dropped += 1;
        }
    }

    /// Hands the pending events over, leaving `into`'s (emptied) allocation in their place.
    pub(crate) fn swap_out(&mut self, into: &mut Vec<PoolEvent>) {
        into.clear();
        std::mem::swap(&mut self.events, into);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}
