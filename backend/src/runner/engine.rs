//! A run's engine threads: each a single-threaded runtime of its own that drives the virtual
//! users it is given and the I/O of the connections they open, as each of pgbench's threads owns
//! its clients. A request's task drives its connection's socket itself (see
//! [`crate::pool::session`]), and it and the timers it waits on wake without crossing threads;
//! what threads share — the pools, the samples buffer — is
//! behind locks held for a few instructions. The run's own thread (phases, collector, observer)
//! hands users out and never makes requests itself, so its bookkeeping never delays one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The engine threads of one run; dropping them stops and joins the threads (tasks still on them
/// are dropped, after the connections closed meanwhile have said goodbye to the server).
#[derive(Debug)]
pub struct EngineThreads {
    runtimes: Runtimes,
    stop: CancellationToken,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Handles to the engine threads' runtimes, to spawn work on them; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Runtimes {
    handles: Arc<[Handle]>,
    /// Where the next [`Runtimes::next`] goes.
    turn: Arc<AtomicUsize>,
}

impl Runtimes {
    /// Every engine thread's runtime, in order.
    #[must_use]
    pub fn all(&self) -> &[Handle] {
        &self.handles
    }

    /// Engine thread `index` (modulo their count): user `n` lives on thread `n % threads`.
    #[must_use]
    pub fn of(&self, index: usize) -> &Handle {
        &self.handles[index % self.handles.len()]
    }

    /// The engine threads in turn, for work that comes one piece at a time.
    #[must_use]
    pub fn next(&self) -> &Handle {
        self.of(self.turn.fetch_add(1, Ordering::Relaxed))
    }
}

impl EngineThreads {
    /// Starts `count` engine threads named `lifeguard-engine-<run>-<n>`. On an error the threads
    /// started so far are stopped and joined (by dropping what was built).
    pub fn start(count: usize, run_id: &str) -> std::io::Result<Self> {
        let mut engine = Self {
            runtimes: Runtimes::default(),
            stop: CancellationToken::new(),
            threads: Vec::with_capacity(count),
        };
        let mut handles = Vec::with_capacity(count);
        // Threads that fill the cores leave none to a server on this machine: its backends run
        // beside them, and their answers are there to read as soon as a request is sent.
        let read_ahead =
            count >= std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for index in 0..count {
            let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
            let stopped = engine.stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("lifeguard-engine-{run_id}-{index}"))
                .spawn(move || {
                    crate::pool::set_thread_home(index);
                    crate::pool::session::set_read_ahead(read_ahead);
                    // Checkouts handed over by other threads wait in the runtime's shared
                    // queue: look there every 8 tasks rather than 31, so a request granted a
                    // connection by another thread goes on promptly on a busy engine.
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .global_queue_interval(8)
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            let _caller_gone = handle_tx.send(Err(error));
                            return;
                        }
                    };
                    let _caller_gone = handle_tx.send(Ok(runtime.handle().clone()));
                    // Sessions say goodbye to the server as they are dropped, with the runtime.
                    runtime.block_on(stopped.cancelled());
                })?;
            engine.threads.push(thread);
            let handle = handle_rx
                .recv()
                .map_err(|_| std::io::Error::other("an engine thread ended while starting"))??;
            handles.push(handle);
        }
        engine.runtimes = Runtimes {
            handles: handles.into(),
            turn: Arc::default(),
        };
        Ok(engine)
    }

    /// Where to spawn the run's users and their connections.
    #[must_use]
    pub fn runtimes(&self) -> Runtimes {
        self.runtimes.clone()
    }
}

impl Drop for EngineThreads {
    fn drop(&mut self) {
        self.stop.cancel();
        for thread in self.threads.drain(..) {
            let _panicked = thread.join();
        }
    }
}
