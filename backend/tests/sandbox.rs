//! The sandbox against the real PostgreSQL binaries of this machine.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeguard::sandbox::{Sandbox, SandboxError, SandboxOptions};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio_postgres::NoTls;

async fn query_one_text(config: &tokio_postgres::Config, sql: &str) -> String {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.unwrap().get(0)
}

fn process_is_alive(pid: u32) -> bool {
    kill(Pid::from_raw(i32::try_from(pid).unwrap()), None).is_ok()
}

/// Processes whose command line mentions `needle` (the postmaster's names its data directory).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&needle))
        .collect()
}

#[tokio::test]
async fn two_sandboxes_at_once_get_distinct_ports_and_both_answer() {
    let options = SandboxOptions {
        max_connections: 37,
        ..SandboxOptions::default()
    };
    let (a, b) = tokio::join!(Sandbox::start(&options), Sandbox::start(&options));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    for sandbox in [&a, &b] {
        let config = sandbox.connect_config();
        assert_eq!(query_one_text(&config, "SHOW max_connections").await, "37");
        assert_eq!(
            query_one_text(&config, "SELECT current_setting('listen_addresses')").await,
            "127.0.0.1"
        );
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn the_role_has_a_password_and_a_wrong_one_is_refused() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    assert!(sandbox.password().len() >= 16);
    let mut wrong = sandbox.connect_config();
    wrong.password("not-the-password");
    let error = wrong.connect(NoTls).await.err().unwrap();
    let code = error
        .as_db_error()
        .map(tokio_postgres::error::DbError::code);
    assert_eq!(
        code,
        Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD),
        "{error:?}"
    );
    let mut none = sandbox.connect_config();
    none.password("");
    assert!(none.connect(NoTls).await.is_err());
    sandbox.stop().await;
}

#[tokio::test]
async fn after_stop_no_server_process_and_no_data_directory_remain() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let pid = sandbox.server_pid().unwrap();
    let data_dir = sandbox.data_dir().to_path_buf();
    let port = sandbox.port();
    assert!(process_is_alive(pid));
    assert!(data_dir.join("PG_VERSION").is_file());
    assert!(!processes_mentioning(&data_dir).is_empty());

    sandbox.stop().await;

    assert!(!process_is_alive(pid), "the postmaster {pid} still runs");
    assert!(processes_mentioning(&data_dir).is_empty());
    assert!(!data_dir.exists(), "{} remains", data_dir.display());
    assert!(!data_dir.parent().unwrap().exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn dropping_a_sandbox_stops_it_too() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let pid = sandbox.server_pid().unwrap();
    let root = sandbox.data_dir().parent().unwrap().to_path_buf();
    drop(sandbox);
    assert!(!process_is_alive(pid));
    assert!(!root.exists());
}

#[tokio::test]
async fn missing_binaries_say_how_to_install_them() {
    let empty = tempfile::tempdir().unwrap();
    let options = SandboxOptions {
        pg_bin: Some(empty.path().to_path_buf()),
        ..SandboxOptions::default()
    };
    let error = Sandbox::start(&options).await.unwrap_err();
    assert!(matches!(error, SandboxError::BinariesNotFound { .. }));
    let message = error.to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(message.contains("LIFEGUARD_PG_BIN"), "{message}");
    assert!(
        message.contains(&empty.path().display().to_string()),
        "{message}"
    );
}

/// A directory of stand-in `initdb` and `postgres` scripts, readable by the server account.
fn fake_binaries(initdb: &str, postgres: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, body) in [("initdb", initdb), ("postgres", postgres)] {
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn options_with(bin: &Path, ready_timeout: Duration) -> SandboxOptions {
    SandboxOptions {
        pg_bin: Some(bin.to_path_buf()),
        ready_timeout,
        ..SandboxOptions::default()
    }
}

#[tokio::test]
async fn an_initdb_failure_shows_its_stderr() {
    let bin = fake_binaries(
        "echo 'initdb: error: could not create directory: Disk quota exceeded' >&2; exit 1",
        "exit 0",
    );
    let error = Sandbox::start(&options_with(bin.path(), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, SandboxError::Initdb { .. }));
    assert!(error.to_string().contains("Disk quota exceeded"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_becomes_ready_shows_the_log_tail() {
    let bin = fake_binaries(
        "exit 0",
        "echo 'LOG:  waiting for something that never comes' >&2; exec sleep 30",
    );
    let error = Sandbox::start(&options_with(bin.path(), Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(error, SandboxError::NeverReady { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("waiting for something that never comes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_exits_during_start_up_shows_the_log_tail() {
    let bin = fake_binaries(
        "exit 0",
        "echo 'FATAL:  could not load server certificate' >&2; exit 1",
    );
    let error = Sandbox::start(&options_with(bin.path(), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, SandboxError::Exited { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("could not load server certificate"),
        "{error}"
    );
}
