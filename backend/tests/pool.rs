//! The QueuePool rules, each proven against a real sandbox PostgreSQL — on a runtime of one
//! thread and on one of four, as a run's engine may have either.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard::pool::events::{CloseReason, EventKind, PoolRole};
use lifeguard::pool::{Pool, PoolError, PooledConn};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::pool::{PoolSettings, Reuse};
use tokio_postgres::NoTls;

fn settings(pool_size: u32, max_overflow: u32, timeout_s: f64) -> PoolSettings {
    PoolSettings {
        pool_size,
        max_overflow,
        pool_timeout_s: timeout_s,
        pool_recycle_s: None,
        pre_ping: false,
        prewarm: false,
        reuse: Reuse::Fifo,
    }
}

struct Fixture {
    sandbox: Sandbox,
    pool: Pool,
    app: String,
}

fn fixture_on(sandbox: Sandbox, settings: PoolSettings) -> Fixture {
    // Each fixture has its own sandbox, so one name attributes this pool's backends.
    let app = "lifeguard-test-pool".to_owned();
    let mut connect = sandbox.connect_config();
    connect.application_name(&app);
    let pool = Pool::new(PoolRole::Primary, settings, connect, true);
    Fixture { sandbox, pool, app }
}

async fn fixture(settings: PoolSettings) -> Fixture {
    fixture_on(
        Sandbox::start(&SandboxOptions::default()).await.unwrap(),
        settings,
    )
}

impl Fixture {
    fn drain(&mut self) -> Vec<EventKind> {
        let mut events = Vec::new();
        self.pool.drain_events(&mut events);
        events.into_iter().map(|e| e.kind).collect()
    }

    /// This pool's backends on the server, seen from a separate connection.
    async fn server_backends(&self, state: Option<&str>) -> i64 {
        let (client, connection) = self.sandbox.connect_config().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
                 AND ($2::text IS NULL OR state = $2)",
                &[&self.app, &state],
            )
            .await
            .unwrap();
        row.get(0)
    }

    async fn terminate_backends(&self) {
        let (client, connection) = self.sandbox.connect_config().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&self.app],
            )
            .await
            .unwrap();
    }
}

async fn backend_pid(conn: &mut PooledConn) -> i32 {
    let on = conn.session();
    let statement = on.prepare("SELECT pg_backend_pid()").await.unwrap();
    let row = on.query_opt(&statement, &[]).await.unwrap().unwrap();
    row.try_get(0).unwrap()
}

fn closed(kinds: &[EventKind], reason: CloseReason) -> usize {
    kinds
        .iter()
        .filter(|k| **k == EventKind::Closed { reason })
        .count()
}

async fn a_checkout_beyond_size_and_overflow_waits_then_times_out_with_the_queuepool_message() {
    let mut f = fixture(settings(2, 1, 0.5)).await;
    let held = [
        f.pool.checkout().await.unwrap(),
        f.pool.checkout().await.unwrap(),
        f.pool.checkout().await.unwrap(),
    ];
    let started = Instant::now();
    let error = f.pool.checkout().await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(error, PoolError::Timeout { .. }));
    assert_eq!(
        error.to_string(),
        "QueuePool limit of size 2 overflow 1 reached, connection timed out, timeout 0.50"
    );
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    let kinds = f.drain();
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Exhausted).count(),
        1
    );
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::TimedOut { waited } if *waited >= Duration::from_millis(500))
    ));
    let stats = f.pool.stats();
    assert_eq!(stats.counters.timeouts, 1);
    assert_eq!(stats.gauges.checked_out, 3);
    assert_eq!(stats.gauges.waiters, 0);
    assert_eq!(f.server_backends(None).await, 3);
    drop(held);
}

async fn the_overflow_connection_is_closed_when_returned_to_a_full_pool() {
    let mut f = fixture(settings(2, 1, 1.0)).await;
    let held: Vec<PooledConn> = vec![
        f.pool.checkout().await.unwrap(),
        f.pool.checkout().await.unwrap(),
        f.pool.checkout().await.unwrap(),
    ];
    assert_eq!(f.pool.stats().gauges.overflow, 1);
    drop(held);
    let stats = f.pool.stats();
    assert_eq!(
        (stats.gauges.idle, stats.gauges.open, stats.gauges.overflow),
        (2, 2, 0)
    );
    assert_eq!(closed(&f.drain(), CloseReason::Overflow), 1);
    // The server agrees once the closed connection's backend has gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while f.server_backends(None).await != 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.server_backends(None).await, 2);
}

async fn a_queued_checkout_gets_the_next_returned_connection() {
    let f = fixture(settings(1, 0, 5.0)).await;
    let mut first = f.pool.checkout().await.unwrap();
    let first_pid = backend_pid(&mut first).await;
    let pool = f.pool.clone();
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let mut conn = pool.checkout().await.unwrap();
        (started.elapsed(), backend_pid(&mut conn).await)
    });
    // Long enough for the waiter to queue.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.pool.stats().gauges.waiters, 1);
    drop(first);
    let (queued_for, handed_pid) = waiter.await.unwrap();
    assert!(queued_for >= Duration::from_millis(190), "{queued_for:?}");
    assert_eq!(handed_pid, first_pid, "the same connection is handed over");
    assert_eq!(f.pool.stats().counters.created, 1);
}

async fn recycle_replaces_connections_older_than_the_limit() {
    let mut f = fixture(PoolSettings {
        pool_recycle_s: Some(0.2),
        ..settings(1, 0, 5.0)
    })
    .await;
    let mut conn = f.pool.checkout().await.unwrap();
    let old_pid = backend_pid(&mut conn).await;
    drop(conn);
    let mut conn = f.pool.checkout().await.unwrap();
    assert_eq!(
        backend_pid(&mut conn).await,
        old_pid,
        "young connections are reused"
    );
    drop(conn);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut conn = f.pool.checkout().await.unwrap();
    assert_ne!(backend_pid(&mut conn).await, old_pid);
    assert_eq!(closed(&f.drain(), CloseReason::Recycle), 1);
    assert_eq!(f.pool.stats().counters.created, 2);
}

async fn pre_ping_recovers_after_the_server_terminates_idle_connections() {
    let mut f = fixture(PoolSettings {
        pre_ping: true,
        prewarm: true,
        ..settings(2, 0, 5.0)
    })
    .await;
    f.pool.prewarm().await.unwrap();
    f.terminate_backends().await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut first = f.pool.checkout().await.unwrap();
    first.session().batch_execute("SELECT 1").await.unwrap();
    let mut second = f.pool.checkout().await.unwrap();
    second.session().batch_execute("SELECT 1").await.unwrap();

    let kinds = f.drain();
    assert_eq!(closed(&kinds, CloseReason::Ping), 1, "{kinds:?}");
    assert!(kinds.contains(&EventKind::Invalidated));
    // The second old connection was created before the invalidation: replaced without a ping.
    assert_eq!(closed(&kinds, CloseReason::Invalidated), 1, "{kinds:?}");
    assert_eq!(f.pool.stats().counters.created, 4);
}

async fn without_pre_ping_a_dead_connection_is_handed_out_and_fails() {
    let f = fixture(PoolSettings {
        prewarm: true,
        ..settings(1, 0, 5.0)
    })
    .await;
    f.pool.prewarm().await.unwrap();
    f.terminate_backends().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut conn = f.pool.checkout().await.unwrap();
    assert!(conn.session().batch_execute("SELECT 1").await.is_err());
    drop(conn);
    // Returned broken, it is closed; the next checkout opens a fresh one.
    let mut conn = f.pool.checkout().await.unwrap();
    conn.session().batch_execute("SELECT 1").await.unwrap();
}

async fn prewarm_opens_pool_size_verified_connections() {
    let mut f = fixture(PoolSettings {
        prewarm: true,
        ..settings(3, 5, 5.0)
    })
    .await;
    f.pool.prewarm().await.unwrap();
    let stats = f.pool.stats();
    assert_eq!(
        (stats.gauges.idle, stats.gauges.open, stats.counters.created),
        (3, 3, 3)
    );
    assert_eq!(f.server_backends(Some("idle")).await, 3);
    let created = f
        .drain()
        .into_iter()
        .filter(|k| matches!(k, EventKind::Created { .. }))
        .count();
    assert_eq!(created, 3);
}

async fn lifo_reuses_the_newest_idle_connection_and_fifo_the_oldest() {
    for (reuse, expect_second) in [(Reuse::Lifo, true), (Reuse::Fifo, false)] {
        let f = fixture(PoolSettings {
            reuse,
            ..settings(2, 0, 5.0)
        })
        .await;
        let mut a = f.pool.checkout().await.unwrap();
        let mut b = f.pool.checkout().await.unwrap();
        let (pid_a, pid_b) = (backend_pid(&mut a).await, backend_pid(&mut b).await);
        drop(a);
        drop(b);
        let next = backend_pid(&mut f.pool.checkout().await.unwrap()).await;
        assert_eq!(next, if expect_second { pid_b } else { pid_a }, "{reuse:?}");
    }
}

async fn a_server_out_of_connections_refuses_and_is_not_a_pool_timeout() {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 4,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let mut f = fixture_on(sandbox, settings(10, 0, 5.0));
    let mut held = Vec::new();
    let error = loop {
        match f.pool.checkout().await {
            Ok(conn) => held.push(conn),
            Err(error) => break error,
        }
        assert!(
            held.len() <= 4,
            "the server accepted more than max_connections"
        );
    };
    assert!(matches!(error, PoolError::Refused(_)), "{error}");
    assert!(error.to_string().contains("too many clients"), "{error:?}");
    assert_eq!(held.len(), 4);
    let stats = f.pool.stats();
    assert_eq!(stats.counters.timeouts, 0);
    assert_eq!(stats.counters.connect_failures, 1);
    assert_eq!(stats.gauges.open, 4, "the refused slot is given back");
    assert!(f.drain().iter().any(|k| matches!(
        k,
        EventKind::ConnectFailed {
            failure: lifeguard::pool::events::ConnectFailure::Refused
        }
    )));
}

async fn a_leaked_connection_stays_checked_out_and_idle_in_transaction_until_close() {
    let f = fixture(settings(2, 0, 0.3)).await;
    let mut conn = f.pool.checkout().await.unwrap();
    conn.session()
        .batch_execute("BEGIN; SELECT 1")
        .await
        .unwrap();
    conn.leak();
    let stats = f.pool.stats();
    assert_eq!((stats.gauges.checked_out, stats.counters.leaked), (1, 1));
    assert_eq!(f.server_backends(Some("idle in transaction")).await, 1);
    f.pool.close();
    assert_eq!(f.pool.stats().gauges.open, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while f.server_backends(None).await != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.server_backends(None).await, 0);
    assert!(matches!(f.pool.checkout().await, Err(PoolError::Closed)));
}

async fn many_concurrent_users_never_exceed_capacity_and_all_return() {
    let f = fixture(settings(3, 2, 10.0)).await;
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let pool = f.pool.clone();
        users.spawn(async move {
            for _ in 0..8 {
                let mut conn = pool.checkout().await.unwrap();
                conn.session().batch_execute("SELECT 1").await.unwrap();
                assert!(pool.stats().gauges.open <= 5);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    while let Some(done) = users.join_next().await {
        done.unwrap();
    }
    let stats = f.pool.stats();
    assert_eq!(stats.gauges.checked_out, 0);
    assert_eq!(stats.gauges.waiters, 0);
    assert_eq!(stats.gauges.open, 3);
    assert_eq!(stats.counters.checkouts, 200);
    assert!(stats.counters.exhaustion_events > 0);
    assert_eq!(stats.counters.created - stats.counters.closed, 3);
}

/// Each test as a test on a single-threaded runtime and as one on four worker threads.
macro_rules! on_one_thread_and_on_four {
    ($($test:ident),* $(,)?) => {
        mod one_thread {
            $(#[tokio::test]
            async fn $test() {
                super::$test().await;
            })*
        }
        mod four_threads {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                super::$test().await;
            })*
        }
    };
}

on_one_thread_and_on_four!(
    a_checkout_beyond_size_and_overflow_waits_then_times_out_with_the_queuepool_message,
    the_overflow_connection_is_closed_when_returned_to_a_full_pool,
    a_queued_checkout_gets_the_next_returned_connection,
    recycle_replaces_connections_older_than_the_limit,
    pre_ping_recovers_after_the_server_terminates_idle_connections,
    without_pre_ping_a_dead_connection_is_handed_out_and_fails,
    prewarm_opens_pool_size_verified_connections,
    lifo_reuses_the_newest_idle_connection_and_fifo_the_oldest,
    a_server_out_of_connections_refuses_and_is_not_a_pool_timeout,
    a_leaked_connection_stays_checked_out_and_idle_in_transaction_until_close,
    many_concurrent_users_never_exceed_capacity_and_all_return,
);
