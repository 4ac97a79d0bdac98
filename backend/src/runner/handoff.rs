//! Futures polled inside one task, where a future woken by a sibling's poll runs right after it.
//!
//! A request that returns its connection hands it to the oldest request waiting for one (see
//! [`crate::pool`]). As tasks of their own on an engine thread's runtime, the waiting request
//! would run only after every task woken before it — on a busy thread, the other requests whose
//! answers came in the same turn — and the connection would sit idle meanwhile, longer than the
//! pool itself makes it. Here a wake from inside a sibling's poll puts the woken future first,
//! so a request granted a connection sends its statement next, as a closed model's user that
//! keeps its connection would.
//!
//! Measured with `engine_vs_pgbench`'s open model at the closed model's full rate (select-only,
//! 10 connections, one engine thread), from a grant's sending to its waiter holding the
//! connection: 52 µs on average as tasks, most between 32 and 131 µs, while a query's round trip
//! took about 120 µs; in this set 1.1 µs, 99 % under 2 µs.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// How many futures one poll of the set runs before it lets the runtime poll its other tasks
/// and its sockets.
const BATCH: usize = 64;

type Boxed = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The set's futures; see the module's documentation.
pub struct HandOffSet {
    shared: Arc<Shared>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    len: usize,
    /// Futures finished since [`HandOffSet::take_finished`] last counted them.
    finished: usize,
}

struct Slot {
    future: Option<Boxed>,
    /// This slot's waker, kept for the slot's next future.
    waker: Arc<SlotWaker>,
}

struct Shared {
    ready: Mutex<Ready>,
}

struct Ready {
    /// Slots to poll, in order.
    slots: VecDeque<usize>,
    /// The task that polls the set.
    task: Option<Waker>,
}

struct SlotWaker {
    slot: usize,
    shared: Arc<Shared>,
    /// In `ready` already: a second wake adds nothing.
    queued: AtomicBool,
}

thread_local! {
    /// The set and slot whose future this thread is polling now, if any.
    static POLLING: Cell<(*const Shared, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        // Woken by a sibling's poll (not its own, which would only yield): it goes next.
        let from_a_sibling = POLLING.with(|polling| {
            let (set, slot) = polling.get();
            std::ptr::eq(set, Arc::as_ptr(&self.shared)) && slot != self.slot
        });
        let task = {
            let mut ready = self.shared.lock();
            if from_a_sibling {
                ready.slots.push_front(self.slot);
                None
            } else {
                ready.slots.push_back(self.slot);
                ready.task.clone()
            }
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl std::fmt::Debug for HandOffSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandOffSet")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for HandOffSet {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                ready: Mutex::new(Ready {
                    slots: VecDeque::new(),
                    task: None,
                }),
            }),
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            finished: 0,
        }
    }
}

impl HandOffSet {
    /// Futures not finished yet.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many futures finished (or panicked) since the last call.
    pub fn take_finished(&mut self) -> usize {
        std::mem::take(&mut self.finished)
    }

    /// Adds `future`, to be polled at the set's next poll.
    pub fn push(&mut self, future: impl Future<Output = ()> + Send + 'static) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                future: None,
                waker: Arc::new(SlotWaker {
                    slot: self.slots.len(),
                    shared: self.shared.clone(),
                    queued: AtomicBool::new(false),
                }),
            });
            self.slots.len() - 1
        });
        self.slots[slot].future = Some(Box::pin(future));
        self.len += 1;
        Waker::from(self.slots[slot].waker.clone()).wake();
    }

    /// Polls the futures woken since the last poll, a batch at most, and is ready when the set
    /// is empty.
    pub fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut ready = self.shared.lock();
            if !ready
                .task
                .as_ref()
                .is_some_and(|task| task.will_wake(cx.waker()))
            {
                ready.task = Some(cx.waker().clone());
            }
        }
        for _ in 0..BATCH {
            let next = self.shared.lock().slots.pop_front();
            let Some(slot) = next else {
                return if self.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            };
            self.poll_slot(slot);
        }
        // More may be ready: come back after the runtime's other tasks and sockets.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn poll_slot(&mut self, slot: usize) {
        let entry = &mut self.slots[slot];
        entry.waker.queued.store(false, Ordering::Release);
        let Some(future) = entry.future.as_mut() else {
            // A wake left by the slot's last future, after it finished.
            return;
        };
        let waker = Waker::from(entry.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let previous = POLLING.with(|polling| polling.replace((Arc::as_ptr(&self.shared), slot)));
        // A future that panics ends there, as a task of its own would have, not its siblings.
        let done = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)))
            .map_or(true, |polled| polled.is_ready());
        POLLING.with(|polling| polling.set(previous));
        if done {
            entry.future = None;
            self.free.push(slot);
            self.len -= 1;
            self.finished += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// The waker of the task that polls the set: counts its wakes.
    #[derive(Default)]
    struct TaskWakes(AtomicUsize);

    impl Wake for TaskWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    type Log = Arc<Mutex<Vec<&'static str>>>;
    type Parked = Arc<Mutex<Option<Waker>>>;

    /// Pending at its first poll (leaving its waker in `parked`), done at the next.
    async fn parks(name: &'static str, log: Log, parked: Parked) {
        let mut first = true;
        std::future::poll_fn(|cx| {
            if std::mem::take(&mut first) {
                *parked.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        log.lock().unwrap().push(name);
    }

    fn logs(name: &'static str, log: &Log) -> impl Future<Output = ()> + Send + 'static {
        let log = log.clone();
        async move { log.lock().unwrap().push(name) }
    }

    #[test]
    fn a_future_woken_by_a_siblings_poll_runs_right_after_it() {
        let (log, parked): (Log, Parked) = Default::default();
        let mut set = HandOffSet::default();
        set.push(parks("granted", log.clone(), parked.clone()));
        let (grant_log, grant) = (log.clone(), parked.clone());
        set.push(async move {
            // A request that returns its connection to the one waiting.
            if let Some(waiting) = grant.lock().unwrap().take() {
                waiting.wake();
            }
            grant_log.lock().unwrap().push("returned");
        });
        set.push(logs("answered before", &log));
        set.push(logs("answered too", &log));
        let task = Arc::new(TaskWakes::default());
        let waker = Waker::from(task.clone());
        assert_eq!(
            set.poll_run(&mut Context::from_waker(&waker)),
            Poll::Ready(())
        );
        assert_eq!(
            *log.lock().unwrap(),
            ["returned", "granted", "answered before", "answered too"],
            "the granted one goes before those woken earlier"
        );
        assert!(set.is_empty());
    }

    #[test]
    fn a_wake_from_elsewhere_or_from_its_own_poll_waits_its_turn_and_wakes_the_task() {
        let (log, parked): (Log, Parked) = Default::default();
        let mut set = HandOffSet::default();
        set.push(parks("woken from elsewhere", log.clone(), parked.clone()));
        let yield_log = log.clone();
        set.push(async move {
            // Yields once: its own wake puts it behind the others.
            let mut first = true;
            std::future::poll_fn(|cx| {
                if std::mem::take(&mut first) {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            yield_log.lock().unwrap().push("yielded");
        });
        set.push(logs("after", &log));
        let task = Arc::new(TaskWakes::default());
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(set.poll_run(&mut cx), Poll::Pending, "one still parked");
        assert_eq!(*log.lock().unwrap(), ["after", "yielded"]);
        let before = task.0.load(Ordering::Relaxed);
        parked.lock().unwrap().take().unwrap().wake();
        assert_eq!(
            task.0.load(Ordering::Relaxed),
            before + 1,
            "a wake from outside the set's poll wakes its task"
        );
        assert_eq!(set.poll_run(&mut cx), Poll::Ready(()));
        assert_eq!(
            *log.lock().unwrap(),
            ["after", "yielded", "woken from elsewhere"]
        );
    }

    #[test]
    fn a_future_that_panics_ends_alone() {
        let (log, _parked): (Log, Parked) = Default::default();
        let mut set = HandOffSet::default();
        set.push(async { panic!("a request's bug") });
        set.push(logs("sibling", &log));
        let waker = Waker::from(Arc::new(TaskWakes::default()));
        assert_eq!(
            set.poll_run(&mut Context::from_waker(&waker)),
            Poll::Ready(())
        );
        assert_eq!(*log.lock().unwrap(), ["sibling"]);
        assert_eq!(set.take_finished(), 2, "the one that panicked ended too");
        assert_eq!(set.take_finished(), 0, "counted once");
    }

    #[test]
    fn dropping_the_set_drops_what_has_not_finished() {
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let mut set = HandOffSet::default();
        let guard = Dropped(dropped.clone());
        set.push(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let waker = Waker::from(Arc::new(TaskWakes::default()));
        assert_eq!(
            set.poll_run(&mut Context::from_waker(&waker)),
            Poll::Pending
        );
        assert_eq!(set.len(), 1);
        drop(set);
        assert!(dropped.load(Ordering::Relaxed));
    }
}
