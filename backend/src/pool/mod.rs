//! An instrumented connection pool with SQLAlchemy `QueuePool` semantics, over [`session`]s:
//! connections driven inline by the request that holds them.
//!
//! - `pool_size` connections are kept; up to `max_overflow` more may be opened, and a returned
//!   connection is closed when `pool_size` connections already wait idle.
//! - A checkout that finds nothing idle and no room to open a connection queues (an *exhaustion
//!   event*) for at most `pool_timeout`, then fails with SQLAlchemy's "QueuePool limit … reached".
//!   Queued checkouts are served first come, first served: a returned connection (or a freed
//!   slot) is handed directly to the oldest waiter.
//! - `pool_recycle`: a connection older than this is replaced at checkout. `pre_ping`: `SELECT 1`
//!   at checkout; on failure the connection is replaced and every connection created before it is
//!   invalidated (replaced at its next checkout), as SQLAlchemy does after a disconnect.
//! - `prewarm` opens and verifies `pool_size` connections before the load starts.
//!
//! Every change emits a [`PoolEvent`](events::PoolEvent) with the gauges after it. The state sits
//! behind a `std::sync::Mutex` held only for a few field updates, never across an await.
//!
//! A connection's socket belongs to the runtime of the thread that opened it — its *home* (see
//! [`set_thread_home`]): that thread's reactor wakes whoever waits on it.
//! With several engine threads a checkout takes, among the idle connections, the first (or
//! last, per `reuse`) homed on its own thread, and any other only when none is: the same
//! connections, counts, queue and timeouts, without a thread hop for every statement.

pub mod connect;
mod error;
pub mod events;
pub mod session;

use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lifeguard_shared::pool::{PoolSettings, Reuse};
use session::Session;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use connect::ConnectError;
pub use error::{PoolError, describe};
use events::{CloseReason, EventKind, EventLog, Gauges, PoolEvent, PoolRole};

/// How long a pre-ping may take before the connection counts as dead.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A thread that is not one of a run's engine threads.
const NO_HOME: usize = usize::MAX;

thread_local! {
    static HOME: Cell<usize> = const { Cell::new(NO_HOME) };
}

/// Says that this OS thread is engine thread `index`: connections opened on it are homed here,
/// and its checkouts prefer them.
pub fn set_thread_home(index: usize) {
    HOME.with(|home| home.set(index));
}

/// The engine thread this OS thread is, if it is one.
#[must_use]
pub fn thread_home() -> usize {
    HOME.with(Cell::get)
}

/// Cumulative counts since the pool was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub checkouts: u64,
    pub created: u64,
    pub closed: u64,
    pub timeouts: u64,
    pub exhaustion_events: u64,
    pub connect_failures: u64,
    pub leaked: u64,
}

/// The pool's gauges and counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub gauges: Gauges,
    pub counters: Counters,
    /// Events lost because their collector fell behind.
    pub dropped_events: u64,
}

/// A cheaply cloneable handle to one pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("role", &self.shared.role)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

struct Shared {
    role: PoolRole,
    settings: PoolSettings,
    pool_size: usize,
    capacity: usize,
    timeout: Duration,
    recycle: Option<Duration>,
    /// Where connections go; carries the run's `application_name`. Holds the password.
    connect: tokio_postgres::Config,
    state: Mutex<State>,
    next_waiter: AtomicU64,
}

/// A live connection, boxed: a checkout, a grant and a [`PooledConn`] move a pointer, not the
/// session. With the handshake boxed too (see [`Pool::connect_in_slot`]), the select-only
/// request of `engine_vs_pgbench` measured 632 bytes instead of 2,112 and an auth-flow request
/// 1,208 instead of 2,584: what each request queued for a connection keeps in memory.
type Conn = Box<Connection>;

/// A live connection and what the pool knows of it.
struct Connection {
    session: Session,
    created: Instant,
    /// The engine thread whose runtime's reactor watches this connection's socket.
    home: usize,
    /// Per-connection data of the workload (its prepared statements).
    extension: Option<Box<dyn Any + Send + Sync>>,
}

/// What a queued checkout receives.
enum Grant {
    /// A returned connection, handed over directly.
    Conn(Conn),
    /// Room to open a new connection (already counted as open and checked out).
    Slot,
}

struct Waiter {
    id: u64,
    grant: oneshot::Sender<Grant>,
}

#[derive(Default)]
struct State {
    idle: VecDeque<Conn>,
    /// Connections open or being opened: checked out, idle or leaked.
    open: usize,
    checked_out: usize,
    waiters: VecDeque<Waiter>,
    /// Connections created before this instant are replaced at checkout.
    invalidated_before: Option<Instant>,
    closed: bool,
    leaked: Vec<Conn>,
    counters: Counters,
    /// Events not yet taken by the collector.
    log: EventLog,
}

impl Pool {
    /// A pool that opens connections with `connect` (set its `application_name` to attribute them)
    /// and, when `instrumented`, records events for [`Pool::drain_events`]. Nothing is opened until
    /// [`Pool::prewarm`] or a checkout.
    #[must_use]
    pub fn new(
        role: PoolRole,
        settings: PoolSettings,
        connect: tokio_postgres::Config,
        instrumented: bool,
    ) -> Self {
        let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX);
        Self {
            shared: Arc::new(Shared {
                role,
                pool_size: settings.pool_size as usize,
                capacity: settings.capacity() as usize,
                timeout: secs(settings.pool_timeout_s),
                recycle: settings.pool_recycle_s.map(secs),
                settings,
                connect,
                state: Mutex::new(State {
                    log: EventLog::new(instrumented),
                    ..State::default()
                }),
                next_waiter: AtomicU64::new(0),
            }),
        }
    }

    /// The settings this pool enforces.
    #[must_use]
    pub fn settings(&self) -> &PoolSettings {
        &self.shared.settings
    }

    /// Which of the profile's pools this is.
    #[must_use]
    pub fn role(&self) -> PoolRole {
        self.shared.role
    }

    /// Gauges and counters now.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            gauges: self.gauges(&state),
            counters: state.counters,
            dropped_events: state.log.dropped(),
        }
    }

    /// Moves the events recorded since the last call into `into` (which is cleared first).
    pub fn drain_events(&self, into: &mut Vec<PoolEvent>) {
        self.lock().log.swap_out(into);
    }

    /// Opens and verifies connections until `pool_size` are open, concurrently, on this thread.
    pub async fn prewarm(&self) -> Result<(), PoolError> {
        self.prewarm_on(&[tokio::runtime::Handle::current()]).await
    }

    /// [`Pool::prewarm`] with the connections opened in turn on each of `homes` (the engine
    /// threads' runtimes), so that each thread's users find connections of their own.
    pub async fn prewarm_on(&self, homes: &[tokio::runtime::Handle]) -> Result<(), PoolError> {
        let wanted = {
            let mut state = self.lock();
            if state.closed {
                return Err(PoolError::Closed);
            }
            let wanted = self.shared.pool_size.saturating_sub(state.open);
            state.open += wanted;
            wanted
        };
        let mut opening = JoinSet::new();
        for (_, home) in (0..wanted).zip(homes.iter().cycle()) {
            let pool = self.clone();
            let verified = async move {
                let mut conn = pool.connect().await?;
                match ping(&mut conn.session).await {
                    Ok(()) => Ok(conn),
                    Err(()) => Err(PoolError::ConnectTimeout(PING_TIMEOUT)),
                }
            };
            opening.spawn_on(verified, home);
        }
        let mut first_error = None;
        while let Some(joined) = opening.join_next().await {
            match joined {
                Ok(Ok(conn)) => self.put_back(conn),
                Ok(Err(error)) => {
                    self.release_slot();
                    first_error.get_or_insert(error);
                }
                Err(_panicked_or_cancelled) => self.release_slot(),
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Checks a connection out: idle first, else a new one while below capacity, else queue for at
    /// most `pool_timeout`.
    pub async fn checkout(&self) -> Result<PooledConn, PoolError> {
        let requested = Instant::now();
        let deadline = requested + self.shared.timeout;
        let immediate = {
            let mut state = self.lock();
            if state.closed {
                return Err(PoolError::Closed);
            }
            // No event for the request itself: it changes no gauge, and the checkout's own
            // event (`CheckedOut`, or `Exhausted` when it queues) follows under this same lock
            // or with its wait: one of a request's three events fewer.
            state.counters.checkouts += 1;
            if let Some(conn) =
                take_idle(&mut state.idle, self.shared.settings.reuse, thread_home())
            {
                state.checked_out += 1;
                if !self.shared.settings.pre_ping && self.replacement(&state, &conn).is_none() {
                    // Ready as it is: checked out under this same lock, with no wait.
                    self.emit_at(
                        &mut state,
                        requested,
                        EventKind::CheckedOut {
                            wait: Duration::ZERO,
                        },
                    );
                    return Ok(PooledConn::new(conn, self.clone(), requested));
                }
                Ok(Grant::Conn(conn))
            } else if state.open < self.shared.capacity {
                state.open += 1;
                state.checked_out += 1;
                Ok(Grant::Slot)
            } else {
                let id = self.shared.next_waiter.fetch_add(1, Ordering::Relaxed);
                let (grant, receiver) = oneshot::channel();
                state.waiters.push_back(Waiter { id, grant });
                state.counters.exhaustion_events += 1;
                self.emit(&mut state, EventKind::Exhausted);
                Err((id, receiver))
            }
        };
        let grant = match immediate {
            Ok(grant) => grant,
            Err((id, receiver)) => self.wait(id, receiver, deadline, requested).await?,
        };
        let conn = self.make_ready(grant).await?;
        let checked_out_at = Instant::now();
        {
            let mut state = self.lock();
            self.emit_at(
                &mut state,
                checked_out_at,
                EventKind::CheckedOut {
                    wait: checked_out_at - requested,
                },
            );
        }
        Ok(PooledConn::new(conn, self.clone(), checked_out_at))
    }

    /// Closes the pool: idle and leaked connections now, checked-out ones when they come back;
    /// queued checkouts fail with [`PoolError::Closed`].
    pub fn close(&self) {
        let (idle, leaked, waiters) = {
            let mut state = self.lock();
            state.closed = true;
            let idle: Vec<Conn> = state.idle.drain(..).collect();
            let leaked: Vec<Conn> = std::mem::take(&mut state.leaked);
            state.open -= idle.len() + leaked.len();
            state.checked_out -= leaked.len();
            for _ in 0..idle.len() + leaked.len() {
                state.counters.closed += 1;
                self.emit(
                    &mut state,
                    EventKind::Closed {
                        reason: CloseReason::Shutdown,
                    },
                );
            }
            let waiters: Vec<Waiter> = state.waiters.drain(..).collect();
            (idle, leaked, waiters)
        };
        drop((idle, leaked, waiters));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain counters behind; keep going with them.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn gauges(&self, state: &State) -> Gauges {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Gauges {
            checked_out: count(state.checked_out),
            idle: count(state.idle.len()),
            open: count(state.open),
            overflow: count(state.open.saturating_sub(self.shared.pool_size)),
            waiters: count(state.waiters.len()),
        }
    }

    /// Records `kind` with the gauges of `state` (the caller holds the lock, so they agree).
    fn emit(&self, state: &mut State, kind: EventKind) {
        if state.log.is_on() {
            self.emit_at(state, Instant::now(), kind);
        }
    }

    /// [`Pool::emit`] with a timestamp the caller already took: the checkout path reads the clock
    /// once per step, for its own timing and the event alike.
    fn emit_at(&self, state: &mut State, at: Instant, kind: EventKind) {
        if state.log.is_on() {
            let gauges = self.gauges(state);
            state.log.record(PoolEvent {
                at,
                pool: self.shared.role,
                kind,
                gauges,
            });
        }
    }

    async fn wait(
        &self,
        id: u64,
        receiver: oneshot::Receiver<Grant>,
        deadline: Instant,
        requested: Instant,
    ) -> Result<Grant, PoolError> {
        let mut queued = Queued {
            pool: self,
            id,
            receiver: Some(receiver),
        };
        let Some(receiver) = queued.receiver.as_mut() else {
            return Err(PoolError::Closed);
        };
        match tokio::time::timeout_at(deadline.into(), receiver).await {
            Ok(Ok(grant)) => {
                queued.receiver = None;
                Ok(grant)
            }
            Ok(Err(_pool_closed)) => {
                queued.receiver = None;
                Err(PoolError::Closed)
            }
            Err(_elapsed) => {
                let mut state = self.lock();
                if let Some(at) = state.waiters.iter().position(|w| w.id == id) {
                    state.waiters.remove(at);
                    state.counters.timeouts += 1;
                    self.emit(
                        &mut state,
                        EventKind::TimedOut {
                            waited: requested.elapsed(),
                        },
                    );
                    queued.receiver = None;
                    return Err(PoolError::Timeout {
                        size: self.shared.settings.pool_size,
                        overflow: self.shared.settings.max_overflow,
                        timeout: self.shared.timeout,
                    });
                }
                drop(state);
                // Not queued any more: a grant was sent (under the lock) just as time ran out.
                let mut receiver = queued.receiver.take();
                match receiver.as_mut().map(oneshot::Receiver::try_recv) {
                    Some(Ok(grant)) => Ok(grant),
                    _ => Err(PoolError::Closed),
                }
            }
        }
    }

    /// Turns a grant into a usable connection: recycle, invalidation and pre-ping for a reused
    /// one, a new connection for a slot. On failure the slot is given up.
    async fn make_ready(&self, grant: Grant) -> Result<Conn, PoolError> {
        let mut conn = match grant {
            Grant::Slot => return self.connect_in_slot().await,
            Grant::Conn(conn) => conn,
        };
        let replace = self.replacement(&self.lock(), &conn);
        if let Some(reason) = replace {
            self.discard(conn, reason);
            return self.connect_in_slot().await;
        }
        if self.shared.settings.pre_ping && ping(&mut conn.session).await.is_err() {
            {
                let mut state = self.lock();
                state.invalidated_before = Some(Instant::now());
                self.emit(&mut state, EventKind::Invalidated);
            }
            self.discard(conn, CloseReason::Ping);
            return self.connect_in_slot().await;
        }
        Ok(conn)
    }

    /// Why `conn` must be replaced before use (`pool_recycle`, an invalidation), if it must.
    fn replacement(&self, state: &State, conn: &Connection) -> Option<CloseReason> {
        if self
            .shared
            .recycle
            .is_some_and(|age| conn.created.elapsed() >= age)
        {
            Some(CloseReason::Recycle)
        } else if state
            .invalidated_before
            .is_some_and(|before| conn.created < before)
        {
            Some(CloseReason::Invalidated)
        } else {
            None
        }
    }

    /// Closes `conn` but keeps its slot for a replacement.
    fn discard(&self, conn: Conn, reason: CloseReason) {
        {
            let mut state = self.lock();
            state.counters.closed += 1;
            self.emit(&mut state, EventKind::Closed { reason });
        }
        drop(conn);
    }

    /// Opens a connection in a checkout's slot; on failure the slot is given up.
    ///
    /// Boxed: inline, a connection's handshake would be part of every checkout's future — and so
    /// of every request queued for a connection — while connections are opened rarely.
    fn connect_in_slot(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Conn, PoolError>> + Send + '_>> {
        Box::pin(async move {
            match self.connect().await {
                Ok(conn) => Ok(conn),
                Err(error) => {
                    {
                        let mut state = self.lock();
                        state.checked_out -= 1;
                    }
                    self.release_slot();
                    Err(error)
                }
            }
        })
    }

    /// Opens one connection (its slot is already counted).
    async fn connect(&self) -> Result<Conn, PoolError> {
        let started = Instant::now();
        let result = match Session::open(&self.shared.connect).await {
            Err(ConnectError::TimedOut(after)) => Err(PoolError::ConnectTimeout(after)),
            Err(error) if error.is_too_many_clients() => Err(PoolError::Refused(error.to_string())),
            Err(error) => Err(PoolError::Connect(error.to_string())),
            Ok(session) => Ok(Box::new(Connection {
                session,
                created: Instant::now(),
                home: thread_home(),
                extension: None,
            })),
        };
        let mut state = self.lock();
        match &result {
            Ok(_) => {
                state.counters.created += 1;
                self.emit(
                    &mut state,
                    EventKind::Created {
                        connect: started.elapsed(),
                    },
                );
            }
            Err(error) => {
                state.counters.connect_failures += 1;
                if let Some(failure) = error.connect_failure() {
                    self.emit(&mut state, EventKind::ConnectFailed { failure });
                }
            }
        }
        result
    }

    /// A slot (counted in `open`) is free again: give it to the oldest waiter, else forget it.
    fn release_slot(&self) {
        let mut state = self.lock();
        state.open -= 1;
        if !state.closed {
            let _unclaimed_slot = state.hand_to_waiter(Grant::Slot);
        }
    }

    /// A verified new connection goes to a waiter, else idle (prewarm).
    fn put_back(&self, conn: Conn) {
        let mut state = self.lock();
        if let Some(Grant::Conn(conn)) = state.hand_to_waiter(Grant::Conn(conn)) {
            state.idle.push_back(conn);
        }
    }

    /// A checked-out connection comes back (from [`PooledConn`]'s drop) at `at`, held for `hold`.
    fn check_in(&self, conn: Conn, at: Instant, hold: Duration, broken: bool) {
        let closing = {
            let mut state = self.lock();
            state.checked_out -= 1;
            self.emit_at(&mut state, at, EventKind::CheckedIn { hold });
            let closing = if state.closed {
                state.open -= 1;
                Some((conn, CloseReason::Shutdown))
            } else if broken || !conn.session.is_usable() {
                state.open -= 1;
                let _unclaimed_slot = state.hand_to_waiter(Grant::Slot);
                Some((conn, CloseReason::Error))
            } else {
                match state.hand_to_waiter(Grant::Conn(conn)) {
                    Some(Grant::Conn(conn)) if state.idle.len() < self.shared.pool_size => {
                        state.idle.push_back(conn);
                        None
                    }
                    Some(Grant::Conn(conn)) => {
                        state.open -= 1;
                        Some((conn, CloseReason::Overflow))
                    }
                    Some(Grant::Slot) | None => None,
                }
            };
            if let Some((_, reason)) = &closing {
                state.counters.closed += 1;
                self.emit(&mut state, EventKind::Closed { reason: *reason });
            }
            closing
        };
        drop(closing);
    }

    fn leak(&self, conn: Conn) {
        let mut state = self.lock();
        state.counters.leaked += 1;
        state.leaked.push(conn);
        self.emit(&mut state, EventKind::Leaked);
    }
}

impl State {
    /// Gives `grant` to the oldest waiter still waiting; returns it when nobody takes it.
    fn hand_to_waiter(&mut self, mut grant: Grant) -> Option<Grant> {
        while let Some(waiter) = self.waiters.pop_front() {
            self.checked_out += 1;
            if matches!(grant, Grant::Slot) {
                self.open += 1;
            }
            match waiter.grant.send(grant) {
                Ok(()) => return None,
                Err(returned) => {
                    self.checked_out -= 1;
                    if matches!(returned, Grant::Slot) {
                        self.open -= 1;
                    }
                    grant = returned;
                }
            }
        }
        Some(grant)
    }
}

/// The idle connection a checkout on engine thread `home` takes: the oldest (FIFO) or newest
/// (LIFO) homed there, else the oldest or newest of all.
fn take_idle(idle: &mut VecDeque<Conn>, reuse: Reuse, home: usize) -> Option<Conn> {
    let own = match reuse {
        _ if home == NO_HOME => None,
        Reuse::Fifo => idle.iter().position(|conn| conn.home == home),
        Reuse::Lifo => idle.iter().rposition(|conn| conn.home == home),
    };
    match (own, reuse) {
        (Some(at), _) => idle.remove(at),
        (None, Reuse::Fifo) => idle.pop_front(),
        (None, Reuse::Lifo) => idle.pop_back(),
    }
}

/// SQLAlchemy's pre-ping: `SELECT 1`, bounded in time.
async fn ping(session: &mut Session) -> Result<(), ()> {
    match tokio::time::timeout(PING_TIMEOUT, session.batch_execute("SELECT 1")).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// A queued checkout; if its future is dropped while queued, it leaves the queue, and a grant that
/// arrived meanwhile goes back to the pool instead of being lost.
struct Queued<'a> {
    pool: &'a Pool,
    id: u64,
    receiver: Option<oneshot::Receiver<Grant>>,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let Some(mut receiver) = self.receiver.take() else {
            return;
        };
        {
            let mut state = self.pool.lock();
            if let Some(at) = state.waiters.iter().position(|w| w.id == self.id) {
                state.waiters.remove(at);
                return;
            }
        }
        match receiver.try_recv() {
            Ok(Grant::Conn(conn)) => {
                self.pool
                    .check_in(conn, Instant::now(), Duration::ZERO, false);
            }
            Ok(Grant::Slot) => {
                self.pool.lock().checked_out -= 1;
                self.pool.release_slot();
            }
            Err(_) => {}
        }
    }
}

/// A checked-out connection; dropping it checks it back in.
pub struct PooledConn {
    /// `None` only inside `drop` and `leak`, which consume the value.
    conn: Option<Conn>,
    pool: Pool,
    checked_out_at: Instant,
    broken: bool,
}

impl fmt::Debug for PooledConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConn")
            .field("pool", &self.pool.role())
            .field("held", &self.checked_out_at.elapsed())
            .finish_non_exhaustive()
    }
}

impl PooledConn {
    fn new(conn: Conn, pool: Pool, checked_out_at: Instant) -> Self {
        Self {
            conn: Some(conn),
            pool,
            checked_out_at,
            broken: false,
        }
    }

    fn conn_mut(&mut self) -> &mut Connection {
        #[expect(clippy::expect_used, reason = "conn is None only after drop or leak")]
        self.conn
            .as_deref_mut()
            .expect("a checked-out connection is present")
    }

    fn conn(&self) -> &Connection {
        #[expect(clippy::expect_used, reason = "conn is None only after drop or leak")]
        self.conn
            .as_deref()
            .expect("a checked-out connection is present")
    }

    /// The server connection, to run statements on.
    pub fn session(&mut self) -> &mut Session {
        self.session_with::<()>().0
    }

    /// The server connection and the workload's per-connection data of type `T`, together.
    pub fn session_with<T: Any + Send + Sync>(&mut self) -> (&mut Session, Option<&T>) {
        let conn = self.conn_mut();
        let extension = conn.extension.as_ref().and_then(|data| data.downcast_ref());
        (&mut conn.session, extension)
    }

    /// When this connection was opened.
    #[must_use]
    pub fn created(&self) -> Instant {
        self.conn().created
    }

    /// The workload's per-connection data, if it stored some of type `T`.
    #[must_use]
    pub fn extension<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.conn().extension.as_ref()?.downcast_ref()
    }

    /// Stores the workload's per-connection data (kept while the connection lives).
    pub fn set_extension<T: Any + Send + Sync>(&mut self, value: T) {
        if let Some(conn) = self.conn.as_mut() {
            conn.extension = Some(Box::new(value));
        }
    }

    /// Marks the connection as unusable: it is closed instead of reused when returned.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Never returns the connection: it stays checked out (and, on the server, in whatever state
    /// it was) until the pool closes. The analysed error path without `finally`.
    pub fn leak(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.leak(conn);
        }
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let now = Instant::now();
            self.pool
                .check_in(conn, now, now - self.checked_out_at, self.broken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request queued for a connection keeps its checkout's future for as long as it waits:
    /// the handshake and the session stay out of it (boxed), so that a queue of thousands costs
    /// little memory.
    #[test]
    fn a_checkout_waits_in_a_small_future() {
        let pool = Pool::new(
            PoolRole::Primary,
            PoolSettings {
                pool_size: 1,
                max_overflow: 0,
                pool_timeout_s: 1.0,
                pool_recycle_s: None,
                pre_ping: true,
                prewarm: false,
                reuse: Reuse::Fifo,
            },
            tokio_postgres::Config::new(),
            true,
        );
        // 472 bytes here, 1,832 with the handshake and the session inline.
        let size = std::mem::size_of_val(&pool.checkout());
        assert!(
            size <= 640,
            "a checkout's future takes {size} bytes: is a connection's handshake or session inline?"
        );
    }
}
