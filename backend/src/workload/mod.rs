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
use std::time::Duration;

use rand::rngs::SmallRng;

use crate::pool::events::PoolRole;
use crate::pool::{Pool, PoolError};

/// The pools of one run: the primary, and the secondary ("sync") pool when the profile has one.
#[derive(Debug, Clone)]
pub struct Pools {
    pub primary: Pool,
    pub secondary: Option<Pool>,
}

impl Pools {
    /// Closes both pools (idle and leaked connections now, the rest as they come back).
    pub fn close(&self) {
        self.primary.close();
        if let Some(secondary) = &self.secondary {
            secondary.close();
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
