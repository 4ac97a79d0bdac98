//! Stopping a run early, with the reason kept for the report.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// Shared by everything in a run: the first reason given wins, and the token wakes every loop.
#[derive(Debug, Clone, Default)]
pub struct Abort {
    token: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
}

impl Abort {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run; `reason` says why in words (the first one is kept).
    pub fn abort(&self, reason: impl Into<String>) {
        {
            let mut slot = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(reason.into());
            }
        }
        self.token.cancel();
    }

    /// Why the run was stopped, if it was.
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    #[must_use]
    pub fn is_aborted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the run is stopped.
    pub async fn aborted(&self) {
        self.token.cancelled().await;
    }
}

/// Aborts a task when whoever waits for it stops waiting (a run's deadline when the run ends, a
/// request when its phase is aborted).
#[derive(Debug)]
pub struct AbortTaskOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortTaskOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
