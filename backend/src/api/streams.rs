//! How many live-event streams are open, in all and per run: each holds a connection and a task
//! for as long as its reader stays, so both counts have a ceiling (guard rails).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::ApiError;

/// The open streams; cheap to clone.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_total: usize,
    max_per_run: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_run: HashMap<String, usize>,
}

/// One open stream; dropping it (the reader left, or the stream ended) frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    limits: StreamLimits,
    run: String,
}

impl StreamLimits {
    #[must_use]
    pub fn new(max_total: usize, max_per_run: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_total,
                max_per_run,
                open: Mutex::new(Open::default()),
            }),
        }
    }

    /// A place for one more stream of `run`, or 503 when either ceiling is reached.
    pub fn open(&self, run: &str) -> Result<StreamPermit, ApiError> {
        let mut open = self.lock();
        let of_run = open.per_run.get(run).copied().unwrap_or(0);
        if open.total >= self.inner.max_total {
            return Err(ApiError::Unavailable(format!(
                "{} live streams are open, the most this console serves \
                 (guard_rails.max_live_streams); try again shortly",
                open.total
            )));
        }
        if of_run >= self.inner.max_per_run {
            return Err(ApiError::Unavailable(format!(
                "{of_run} live streams of run `{run}` are open, the most one run serves \
                 (guard_rails.max_live_streams_per_run); try again shortly"
            )));
        }
        open.total += 1;
        *open.per_run.entry(run.to_owned()).or_default() += 1;
        Ok(StreamPermit {
            limits: self.clone(),
            run: run.to_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_run.get_mut(&self.run) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_run.remove(&self.run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ceilings_hold_and_a_closed_stream_frees_its_place() {
        let limits = StreamLimits::new(3, 2);
        let a1 = limits.open("a").unwrap();
        let _a2 = limits.open("a").unwrap();
        let error = limits.open("a").unwrap_err().to_string();
        assert!(error.contains("max_live_streams_per_run"), "{error}");
        let _b1 = limits.open("b").unwrap();
        let error = limits.open("c").unwrap_err().to_string();
        assert!(error.contains("max_live_streams"), "{error}");
        drop(a1);
        assert!(limits.open("a").is_ok());
    }
}
