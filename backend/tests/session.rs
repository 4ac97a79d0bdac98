//! The pool's inline sessions against a real sandbox PostgreSQL: statements and their rows, the
//! server's errors, abandoned and broken exchanges, and connecting (refused, bad password).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard::pool::connect::ConnectError;
use lifeguard::pool::session::{self, Session, SessionError};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

async fn sandbox() -> Sandbox {
    Sandbox::start(&SandboxOptions::default()).await.unwrap()
}

/// Backends on the server named `app`, seen from a separate tokio-postgres connection.
async fn backends(sandbox: &Sandbox, app: &str) -> i64 {
    let (client, connection) = sandbox.connect_config().connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
}

async fn open_as(sandbox: &Sandbox, app: &str) -> Session {
    let mut config = sandbox.connect_config();
    config.application_name(app);
    Session::open(&config).await.unwrap()
}

#[tokio::test]
async fn statements_run_with_parameters_and_their_rows_decode() {
    let sandbox = sandbox().await;
    let mut session = open_as(&sandbox, "lifeguard-test-session").await;
    session
        .batch_execute("CREATE TEMP TABLE t (id int8 PRIMARY KEY, name text, ok bool)")
        .await
        .unwrap();
    let insert = session
        .prepare("INSERT INTO t VALUES ($1, $2, $3)")
        .await
        .unwrap();
    assert_eq!(insert.params().len(), 3);
    for (id, name) in [(1_i64, Some("one")), (2, None), (3, Some("three"))] {
        let affected = session
            .execute(&insert, &[&id, &name, &(id != 2)])
            .await
            .unwrap();
        assert_eq!(affected, 1);
    }
    let by_id = session
        .prepare("SELECT id, name, ok FROM t WHERE id = $1")
        .await
        .unwrap();
    let row = session.query_opt(&by_id, &[&3_i64]).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i64>(0).unwrap(), 3);
    assert_eq!(row.try_get::<&str>(1).unwrap(), "three");
    assert!(row.try_get::<bool>(2).unwrap());
    let row = session.query_opt(&by_id, &[&2_i64]).await.unwrap().unwrap();
    assert_eq!(row.try_get::<Option<String>>(1).unwrap(), None);
    assert!(!row.try_get::<bool>(2).unwrap());
    assert!(matches!(
        row.try_get::<i64>(1),
        Err(SessionError::Column { index: 1, .. })
    ));
    assert!(
        session
            .query_opt(&by_id, &[&9_i64])
            .await
            .unwrap()
            .is_none()
    );

    let touch = session
        .prepare("UPDATE t SET ok = NOT ok WHERE id > $1")
        .await
        .unwrap();
    assert_eq!(session.execute(&touch, &[&0_i64]).await.unwrap(), 3);
    let all = session.prepare("SELECT id FROM t").await.unwrap();
    assert!(matches!(
        session.query_opt(&all, &[]).await,
        Err(SessionError::MoreThanOneRow)
    ));
    // A wrong number of parameters is refused before anything is sent.
    assert!(matches!(
        session.query_opt(&by_id, &[]).await,
        Err(SessionError::Parameters {
            expected: 1,
            given: 0
        })
    ));
    assert!(session.is_usable());
    assert_eq!(session.execute(&touch, &[&2_i64]).await.unwrap(), 1);
}

#[tokio::test]
async fn a_set_of_statements_is_prepared_in_one_exchange() {
    let sandbox = sandbox().await;
    let mut session = open_as(&sandbox, "lifeguard-test-session").await;
    session
        .batch_execute("CREATE TEMP TABLE t (id int8, name text)")
        .await
        .unwrap();
    let [begin, insert, count] = session
        .prepare_all([
            "BEGIN",
            "INSERT INTO t VALUES ($1, $2)",
            "SELECT count(*) FROM t WHERE name = $1",
        ])
        .await
        .unwrap();
    assert_eq!(begin.params().len(), 0);
    assert_eq!(insert.params().len(), 2);
    assert_eq!(count.params().len(), 1);
    session.execute(&begin, &[]).await.unwrap();
    session.execute(&insert, &[&1_i64, &"a"]).await.unwrap();
    let row = session.query_opt(&count, &[&"a"]).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i64>(0).unwrap(), 1);
    session.batch_execute("COMMIT").await.unwrap();

    // One bad statement fails the set with the server's error; the session goes on.
    let error = session
        .prepare_all(["SELECT 1", "SELEC 2", "SELECT 3"])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::SYNTAX_ERROR), "{error}");
    assert!(session.is_usable());
    let one = session.prepare("SELECT 1::int4").await.unwrap();
    let row = session.query_opt(&one, &[]).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i32>(0).unwrap(), 1);
}

#[tokio::test]
async fn a_server_error_is_reported_with_its_code_and_the_session_goes_on() {
    let sandbox = sandbox().await;
    let mut session = open_as(&sandbox, "lifeguard-test-session").await;
    let divide = session.prepare("SELECT 1 / $1::int4").await.unwrap();
    let error = session.query_opt(&divide, &[&0_i32]).await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::DIVISION_BY_ZERO), "{error}");
    assert_eq!(error.to_string(), "division by zero");
    assert!(session.is_usable());
    let row = session
        .query_opt(&divide, &[&1_i32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>(0).unwrap(), 1);

    let error = session.prepare("SELEC 1").await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::SYNTAX_ERROR), "{error}");
    let error = session
        .batch_execute("SELECT * FROM missing")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE), "{error}");
    session.batch_execute("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn a_session_reads_ahead_only_when_its_thread_says_so_and_reads_answers_whole() {
    let sandbox = sandbox().await;
    let plain = open_as(&sandbox, "lifeguard-test-session").await;
    assert!(
        !plain.reads_ahead(),
        "off unless an engine thread turns it on"
    );
    session::set_read_ahead(true);
    let mut session = open_as(&sandbox, "lifeguard-test-session").await;
    session::set_read_ahead(false);
    assert!(session.reads_ahead(), "on for a server on this machine");
    assert!(
        !plain.reads_ahead(),
        "a session keeps what it was opened with"
    );

    // Answers longer than one read (rows of 100,000 bytes), errors and short answers in turn.
    let wide = session
        .prepare("SELECT repeat(chr(97 + $1::int4 % 26), 100000)")
        .await
        .unwrap();
    let divide = session.prepare("SELECT 10 / $1::int4").await.unwrap();
    for n in 0..20_i32 {
        let row = session.query_opt(&wide, &[&n]).await.unwrap().unwrap();
        let text = row.try_get::<&str>(0).unwrap();
        let letter = char::from(b'a' + u8::try_from(n % 26).unwrap());
        assert_eq!(text.len(), 100_000);
        assert!(text.chars().all(|c| c == letter), "row {n}");
        let error = session.query_opt(&divide, &[&0_i32]).await.unwrap_err();
        assert_eq!(error.code(), Some(&SqlState::DIVISION_BY_ZERO), "{error}");
        let row = session
            .query_opt(&divide, &[&(n + 1)])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i32>(0).unwrap(), 10 / (n + 1));
    }
    assert!(session.is_usable());
}

#[tokio::test]
async fn an_abandoned_exchange_leaves_the_session_unusable() {
    let sandbox = sandbox().await;
    let mut session = open_as(&sandbox, "lifeguard-test-session").await;
    let slow = session.prepare("SELECT pg_sleep($1)").await.unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        session.execute(&slow, &[&0.5_f64]),
    )
    .await;
    assert!(dropped.is_err(), "the statement should still be running");
    // Its answer is still on its way: the next exchange would read it as its own.
    assert!(!session.is_usable());
    assert!(matches!(
        session.batch_execute("SELECT 1").await,
        Err(SessionError::Abandoned)
    ));
}

#[tokio::test]
async fn a_terminated_backend_ends_the_session_and_a_dropped_one_says_goodbye() {
    let sandbox = sandbox().await;
    let app = "lifeguard-test-session-ends";
    let mut session = open_as(&sandbox, app).await;
    let (client, connection) = sandbox.connect_config().connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    let error = session.batch_execute("SELECT 1").await.unwrap_err();
    assert!(
        matches!(error, SessionError::Closed | SessionError::Io(_)) || error.code().is_some(),
        "{error:?}"
    );
    assert!(!session.is_usable());

    // Dropped between exchanges, a session sends Terminate: its backend leaves at once.
    let session = open_as(&sandbox, app).await;
    assert_eq!(backends(&sandbox, app).await, 1);
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(5);
    while backends(&sandbox, app).await != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(backends(&sandbox, app).await, 0);
}

#[tokio::test]
async fn connecting_fails_clearly_without_showing_the_password() {
    let sandbox = sandbox().await;
    let mut wrong = sandbox.connect_config();
    wrong.password("not-the-password");
    let error = Session::open(&wrong).await.unwrap_err();
    assert!(matches!(error, ConnectError::Failed(_)), "{error:?}");
    let said = error.to_string();
    assert!(said.contains("password authentication failed"), "{said}");
    assert!(!said.contains("not-the-password") && !said.contains(sandbox.password()));

    let mut nobody = tokio_postgres::Config::new();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    nobody.host("127.0.0.1").port(closed_port).user("lifeguard");
    let error = Session::open(&nobody).await.unwrap_err();
    assert!(matches!(error, ConnectError::Socket(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("error connecting to server: "),
        "{error}"
    );
}
