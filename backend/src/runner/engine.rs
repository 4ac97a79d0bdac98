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
        // beside them, and their answers are there to read as soon as a request is sent (and
        // each thread stays on a core of its own, see `stay_on`).
        let fill_cores = count >= machine_cores();
        let cores = if fill_cores {
            allowed_cores()
        } else {
            Vec::new()
        };
        for index in 0..count {
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
            let stopped = engine.stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("lifeguard-engine-{run_id}-{index}"))
                .spawn(move || {
                    crate::pool::set_thread_home(index);
                    if let Some(core) = core {
                        stay_on(core);
                    }
                    crate::pool::session::set_read_ahead(fill_cores);
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

/// How many threads the machine runs at once (its cores, or the share a quota leaves).
fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The cores this process may run on, in order, as its main thread's mask says (a thread
/// started from an engine thread inherits that thread's single core); empty when the kernel
/// does not say.
fn allowed_cores() -> Vec<usize> {
    cores_of_thread(nix::unistd::Pid::this())
}

/// The cores thread `tid` may run on, in order (0: the calling thread).
fn cores_of_thread(tid: nix::unistd::Pid) -> Vec<usize> {
    nix::sched::sched_getaffinity(tid).map_or_else(
        |_| Vec::new(),
        |set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .collect()
        },
    )
}

/// Keeps the calling thread on `core` (best effort: a refusal leaves it where the scheduler
/// puts it).
///
/// Engine threads that fill the cores each stay on one: a request's connection wakes its
/// server backend from the thread's core, and the scheduler places the backend beside the
/// thread that wakes it, so each thread and its backends take turns on one core, with no
/// wake-up sent to the other. Left free, the threads move, and a run spends much of its time
/// with backends woken from the far core. Measured with `engine_vs_pgbench` (auth-flow 10 and
/// select-only 20, two engine threads, two invocations of 3 rounds each way, alternating): kept
/// on their cores, 23,512 and 23,615 tx/s at 85 µs of the machine's CPU per auth-flow
/// transaction and 0.15 cross-core interrupts; free, 18,086 and 20,488 tx/s at 111 and 98 µs and
/// 0.44 and 0.29 interrupts. Select-only: 110,942 and 124,627 against 101,975 and 103,542/s.
fn stay_on(core: usize) {
    let mut cores = nix::sched::CpuSet::new();
    if cores.set(core).is_ok() {
        let this_thread = nix::unistd::Pid::from_raw(0);
        if let Err(error) = nix::sched::sched_setaffinity(this_thread, &cores) {
            tracing::debug!(core, %error, "an engine thread could not be kept on its core");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cores each engine thread may run on, in thread order.
    fn cores_of(engine: &EngineThreads) -> Vec<Vec<usize>> {
        engine
            .runtimes()
            .all()
            .iter()
            .map(|runtime| {
                let (tx, rx) = std::sync::mpsc::channel();
                runtime
                    .spawn(async move { tx.send(cores_of_thread(nix::unistd::Pid::from_raw(0))) });
                rx.recv().expect("the engine thread answers")
            })
            .collect()
    }

    #[test]
    fn threads_that_fill_the_cores_stay_one_on_each_and_fewer_stay_free() {
        let cores = allowed_cores();
        assert!(
            !cores.is_empty(),
            "the kernel says where this process may run"
        );
        let filling = EngineThreads::start(cores.len(), "test").expect("threads start");
        let each_on_one: Vec<Vec<usize>> = cores.iter().map(|&core| vec![core]).collect();
        assert_eq!(cores_of(&filling), each_on_one);
        drop(filling);
        if machine_cores() > 1 {
            let fewer = EngineThreads::start(1, "test").expect("a thread starts");
            assert_eq!(cores_of(&fewer), vec![cores.clone()]);
        }
    }
}
