//! The pool's event stream: timestamped, with the gauges right after each event, so a collector
//! can derive peaks and per-second counts exactly.
//!
//! Recording is cheap: an event is a small `Copy` value pushed with `try_send` into a bounded
//! channel; when the collector falls behind, events are counted as dropped instead of blocking the
//! pool or growing memory without bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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
    CheckoutRequested,
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

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolEvent {
    pub at: Instant,
    pub pool: PoolRole,
    pub kind: EventKind,
    pub gauges: Gauges,
}

/// Where a pool's events go: a bounded channel, or nowhere (instrumentation off).
#[derive(Debug, Default)]
pub struct EventSink {
    sender: Option<mpsc::Sender<PoolEvent>>,
    dropped: AtomicU64,
}

impl EventSink {
    /// Events go into `sender`.
    #[must_use]
    pub fn to(sender: mpsc::Sender<PoolEvent>) -> Self {
        Self {
            sender: Some(sender),
            dropped: AtomicU64::new(0),
        }
    }

    /// Events are not recorded (the benchmark's reference for instrumentation cost).
    #[must_use]
    pub fn off() -> Self {
        Self::default()
    }

    /// Whether anyone listens; callers skip building events when nobody does.
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.sender.is_some()
    }

    /// Records `event` without waiting; counts it as dropped when the channel is full or closed.
    pub fn record(&self, event: PoolEvent) {
        if let Some(sender) = &self.sender
            && sender.try_send(event).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events lost because the collector fell behind.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
