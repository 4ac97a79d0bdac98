//! What one virtual user's request does with the pools, and how it ended.
//!
//! [`auth_flow`] is the built-in workload on lifeguard's own pools; [`schema`] creates and seeds
//! the tables it reads. [`http_auth`] is the same flow against a deployed HTTP service.
//! The runner is generic over [`Workload`], so benchmarks can drive other statements through the
//! same users, pools and collector.

pub mod auth_flow;
pub mod http_auth;
pub mod http_conn;
pub mod schema;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;

use crate::pool::events::PoolRole;
use crate::pool::{Pool, PoolError};

/// One application instance's pools: the primary, and the secondary ("sync") pool when the
/// profile has one.
#[derive(Debug, Clone)]
pub struct Replica {
    pub primary: Pool,
    pub secondary: Option<Pool>,
}

/// The pools of one run: a [`Replica`] for each application instance the run stands in for, all
/// on one server. Requests go to the replicas in turn, as a round-robin load balancer sends them,
/// so N replicas' pools compete for the server's connections as N deployed instances do.
#[derive(Debug, Clone)]
pub struct Pools {
    replicas: Arc<[Replica]>,
    turn: Arc<AtomicUsize>,
}

impl Pools {
    /// The pools of `replicas` (at least one).
    ///
    /// # Panics
    /// With no replica: a run always has one.
    #[must_use]
    pub fn new(replicas: Vec<Replica>) -> Self {
        assert!(!replicas.is_empty(), "a run has at least one replica");
        Self {
            replicas: replicas.into(),
            turn: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// One application instance's pools.
    #[must_use]
    pub fn single(primary: Pool, secondary: Option<Pool>) -> Self {
        Self::new(vec![Replica { primary, secondary }])
    }

    /// The replica the next request goes to.
    #[must_use]
    pub fn next(&self) -> &Replica {
        if self.replicas.len() == 1 {
            return &self.replicas[0];
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        &self.replicas[turn % self.replicas.len()]
    }

    #[must_use]
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// Every pool of every replica, primaries and secondaries.
    pub fn all(&self) -> impl Iterator<Item = &Pool> {
        self.replicas
            .iter()
            .flat_map(|r| std::iter::once(&r.primary).chain(r.secondary.as_ref()))
    }

    /// Every replica's primary pool.
    pub fn primaries(&self) -> impl Iterator<Item = &Pool> {
        self.replicas.iter().map(|r| &r.primary)
    }

    /// Closes every pool (idle and leaked connections now, the rest as they come back).
    pub fn close(&self) {
        for pool in self.all() {
            pool.close();
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    PoolTimeout,
    Refused,
    ConnectError,
    DbError,
    AppError,
    Leaked,
    /// Never started: the open model's `max_in_flight` was reached.
    Dropped,
    /// An HTTP service answered 4xx.
    Http4xx,
    /// An HTTP service answered 5xx.
    Http5xx,
    /// An HTTP service did not answer in time.
    Timeout,
}

impl Outcome {
    /// How a failed checkout is counted.
    #[must_use]
    pub fn of_checkout(error: &PoolError) -> Self {
        match error {
            PoolError::Timeout { .. } => Self::PoolTimeout,
            PoolError::Refused(_) => Self::Refused,
            PoolError::Connect(_) | PoolError::ConnectTimeout(_) | PoolError::Closed => {
                Self::ConnectError
            }
        }
    }

    #[must_use]
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
}

/// What the workload reports of one request; the runner adds the latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestResult {
    pub outcome: Outcome,
    /// Time spent waiting for a connection (zero when the database was not needed).
    pub acquire_wait: Duration,
    /// The pool that served the request, if any did.
    pub pool: Option<PoolRole>,
}

/// One kind of request a virtual user makes; it holds whatever it makes requests through (the
/// run's pools, or a service's address).
pub trait Workload: Send + Sync + 'static {
    /// How long a request holds its connection for simulated application work, by default.
    fn hold(&self) -> Duration;

    /// Makes one request, holding the connection for `hold` of simulated work.
    fn request(
        &self,
        rng: &mut SmallRng,
        hold: Duration,
    ) -> impl Future<Output = RequestResult> + Send;
}
