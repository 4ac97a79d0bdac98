//! A throwaway PostgreSQL cluster that lifeguard starts from the local server binaries.
//!
//! `initdb` into a fresh temporary directory, a server on 127.0.0.1 on a free port with its own socket
//! directory, a password for its role, and — on [`Sandbox::stop`] or drop — a fast shutdown followed by
//! removal of every file. When lifeguard runs as root, the server runs as an unprivileged account
//! ([`os_user`]), because PostgreSQL refuses root.

mod binaries;
pub mod demo;
pub mod orphans;
mod os_user;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::distr::{Alphanumeric, SampleString as _};
use tempfile::TempDir;

pub use binaries::{PG_BIN_ENV, ServerBinaries};
use os_user::{ServerAccount, server_account};

/// The role the sandbox creates; it owns the cluster.
pub const SANDBOX_USER: &str = "lifeguard";

/// How many fresh ports are tried when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 5;

/// How long a fast shutdown may take before the server is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the sandbox is started with.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The server's `max_connections`: the ceiling every pool on the target shares.
    pub max_connections: u32,
    /// Further server settings (`-c name=value`); they override the sandbox's own defaults.
    pub settings: BTreeMap<String, String>,
    /// Where `initdb` and `postgres` live; discovered when `None` (see [`ServerBinaries::discover`]).
    pub pg_bin: Option<PathBuf>,
    /// How long to wait for the server to accept connections.
    pub ready_timeout: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            max_connections: 200,
            settings: BTreeMap::new(),
            pg_bin: None,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found; looked in: {looked}. Install them \
         with `apt-get install postgresql`, or set {PG_BIN_ENV} to the directory that holds them"
    )]
    BinariesNotFound { looked: String },
    #[error("{0}")]
    Account(String),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("initdb failed ({status}): {stderr}")]
    Initdb { status: String, stderr: String },
    #[error("the sandbox server exited during start-up ({status}); its log ends with:\n{log_tail}")]
    Exited { status: String, log_tail: String },
    #[error(
        "the sandbox server did not accept connections within {waited:?}; its log ends with:\n{log_tail}"
    )]
    NeverReady { waited: Duration, log_tail: String },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let action = action.into();
    move |source| SandboxError::Io { action, source }
}

/// A running throwaway cluster. Dropping it stops the server and removes its files.
#[derive(Debug)]
pub struct Sandbox {
    /// The postmaster; `None` once stopped.
    server: Option<Child>,
    /// Everything the cluster wrote: data, socket directory, log. Removed on stop.
    root: Option<TempDir>,
    port: u16,
    /// The role's password: real, so that redaction of secrets can be tested end to end.
    password: String,
    data_dir: PathBuf,
    log_path: PathBuf,
}

impl Sandbox {
    /// Creates, starts and waits for a fresh cluster.
    pub async fn start(options: &SandboxOptions) -> Result<Self, SandboxError> {
        let binaries = ServerBinaries::discover(options.pg_bin.as_deref()).map_err(|looked| {
            SandboxError::BinariesNotFound {
                looked: looked.join(", "),
            }
        })?;
        let account = server_account().map_err(SandboxError::Account)?;
        // Sandboxes of consoles that were killed go first; nothing else would ever stop them.
        let _reaped = tokio::task::spawn_blocking(|| orphans::reap(&std::env::temp_dir())).await;
        let root = tempfile::Builder::new()
            .prefix(orphans::DIR_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(io_error("creating the sandbox directory"))?;
        if let Some(owner) = orphans::Owner::current() {
            owner
                .write_to(root.path())
                .map_err(io_error("naming the sandbox's owner"))?;
        }
        let password = Alphanumeric.sample_string(&mut rand::rng(), 24);
        let data_dir = root.path().join("data");
        let socket_dir = root.path().join("socket");
        std::fs::create_dir(&socket_dir).map_err(io_error("creating the socket directory"))?;
        give_to(account, root.path())?;
        give_to(account, &socket_dir)?;
        initdb(&binaries, account, root.path(), &data_dir, &password).await?;

        let mut sandbox = Self {
            server: None,
            log_path: root.path().join("server.log"),
            root: Some(root),
            port: 0,
            password,
            data_dir,
        };
        let settings = server_settings(options, &socket_dir);
        for attempt in 1..=PORT_ATTEMPTS {
            sandbox.port = free_port()?;
            sandbox.server = Some(sandbox.spawn_server(&binaries, account, &settings)?);
            match sandbox.wait_until_ready(options.ready_timeout).await {
                Ok(()) => return Ok(sandbox),
                Err(SandboxError::Exited { log_tail, .. })
                    if attempt < PORT_ATTEMPTS && port_was_taken(&log_tail) =>
                {
                    tracing::debug!(port = sandbox.port, "sandbox port taken, trying another");
                }
                Err(error) => return Err(error),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The TCP port the server listens on (127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (inside a temporary directory removed on stop).
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The postmaster's process id while the server runs.
    #[must_use]
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// The role's password. A secret: never log it or put it in a response.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Connection settings for the sandbox's `postgres` database as its owning role.
    #[must_use]
    pub fn connect_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(SANDBOX_USER)
            .password(&self.password)
            .dbname("postgres")
            .connect_timeout(crate::pool::connect::DEFAULT_CONNECT_TIMEOUT);
        config
    }

    /// A `postgres://` URL for the sandbox's `postgres` database. Holds the password: a secret.
    #[must_use]
    pub fn url(&self) -> String {
        format!(
            "postgres://{SANDBOX_USER}:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// Stops the server (fast shutdown, then kill after a grace period) and removes every file.
    pub async fn stop(mut self) {
        let server = self.server.take();
        let root = self.root.take();
        // Waiting for the process is blocking; keep it off the async workers.
        let joined = tokio::task::spawn_blocking(move || shut_down(server, root)).await;
        if let Err(error) = joined {
            tracing::warn!(%error, "stopping the sandbox did not finish");
        }
    }

    fn spawn_server(
        &self,
        binaries: &ServerBinaries,
        account: Option<ServerAccount>,
        settings: &BTreeMap<String, String>,
    ) -> Result<Child, SandboxError> {
        let log = private_file(&self.log_path).map_err(io_error("creating the server log"))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("opening the server log"))?;
        let mut command = Command::new(binaries.postgres());
        command
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .current_dir(self.data_dir.parent().unwrap_or(&self.data_dir))
            .env_clear()
            .envs(server_environment())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        for (name, value) in settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        if let Some(account) = account {
            command.uid(account.uid.as_raw()).gid(account.gid.as_raw());
        }
        command.spawn().map_err(io_error(format!(
            "starting {}",
            binaries.postgres().display()
        )))
    }

    async fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), SandboxError> {
        let started = Instant::now();
        let config = self.connect_config();
        loop {
            if let Some(server) = self.server.as_mut()
                && let Ok(Some(status)) = server.try_wait()
            {
                self.server = None;
                return Err(SandboxError::Exited {
                    status: status.to_string(),
                    log_tail: log_tail(&self.log_path),
                });
            }
            if let Ok((client, connection)) = config.connect(tokio_postgres::NoTls).await {
                drop(client);
                let _closed = connection.await;
                return Ok(());
            }
            if started.elapsed() > timeout {
                let server = self.server.take();
                tokio::task::spawn_blocking(move || shut_down(server, None))
                    .await
                    .ok();
                return Err(SandboxError::NeverReady {
                    waited: timeout,
                    log_tail: log_tail(&self.log_path),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        shut_down(self.server.take(), self.root.take());
    }
}

/// Fast shutdown of the postmaster (SIGINT), SIGKILL after [`SHUTDOWN_GRACE`], then removal of the
/// files. Idempotent: both arguments are taken out of the sandbox before the call.
fn shut_down(server: Option<Child>, root: Option<TempDir>) {
    if let Some(mut child) = server {
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        if let Ok(pid) = i32::try_from(child.id()) {
            let _already_gone = kill(Pid::from_raw(pid), Signal::SIGINT);
        }
        loop {
            match child.try_wait() {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(Some(_)) => break,
                _ => {
                    tracing::warn!("the sandbox server ignored a fast shutdown; killing it");
                    let _already_gone = child.kill();
                    let _reaped = child.wait();
                    break;
                }
            }
        }
    }
    if let Some(root) = root {
        let path = root.path().to_path_buf();
        if let Err(error) = root.close() {
            tracing::warn!(%error, path = %path.display(), "removing the sandbox directory");
        }
    }
}

/// The sandbox's own defaults: loopback only, its own socket directory, durability off (the data is
/// thrown away), then the caller's settings on top.
fn server_settings(options: &SandboxOptions, socket_dir: &Path) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> = [
        ("listen_addresses", "127.0.0.1".to_owned()),
        ("unix_socket_directories", socket_dir.display().to_string()),
        ("max_connections", options.max_connections.to_string()),
        ("fsync", "off".to_owned()),
        ("full_page_writes", "off".to_owned()),
        ("synchronous_commit", "off".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    settings.extend(options.settings.clone());
    settings
}

async fn initdb(
    binaries: &ServerBinaries,
    account: Option<ServerAccount>,
    root: &Path,
    data_dir: &Path,
    password: &str,
) -> Result<(), SandboxError> {
    let pwfile = root.join("pwfile");
    {
        let mut file = private_file(&pwfile).map_err(io_error("writing the password file"))?;
        writeln!(file, "{password}").map_err(io_error("writing the password file"))?;
    }
    give_to(account, &pwfile)?;
    let mut command = tokio::process::Command::new(binaries.initdb());
    command
        .arg("-D")
        .arg(data_dir)
        .args(["-U", SANDBOX_USER, "--auth=scram-sha-256", "-E", "UTF8"])
        .args(["--locale=C", "--no-sync"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(root)
        .env_clear()
        .envs(server_environment())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(account) = account {
        command.uid(account.uid.as_raw()).gid(account.gid.as_raw());
    }
    let output = command
        .output()
        .await
        .map_err(io_error(format!("running {}", binaries.initdb().display())))?;
    std::fs::remove_file(&pwfile).map_err(io_error("removing the password file"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(SandboxError::Initdb {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The whole environment of `initdb` and the server: none of the console's (its `LIFEGUARD_*`
/// secrets would otherwise be readable in `/proc/<pid>/environ` by the server's account).
fn server_environment() -> [(&'static str, &'static str); 2] {
    [("PATH", "/usr/local/bin:/usr/bin:/bin"), ("LC_ALL", "C")]
}

/// A new file only its owner may read or write (`0600`), whatever the umask.
fn private_file(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Hands `path` to the server's account, so a server running unprivileged can write there.
fn give_to(account: Option<ServerAccount>, path: &Path) -> Result<(), SandboxError> {
    let Some(account) = account else {
        return Ok(());
    };
    nix::unistd::chown(path, Some(account.uid), Some(account.gid)).map_err(|errno| {
        SandboxError::Io {
            action: format!("handing {} to the server account", path.display()),
            source: errno.into(),
        }
    })
}

/// A port that was free a moment ago; [`Sandbox::start`] retries when another process wins the race.
fn free_port() -> Result<u16, SandboxError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(io_error("finding a free port on 127.0.0.1"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(io_error("finding a free port on 127.0.0.1"))
}

fn port_was_taken(log_tail: &str) -> bool {
    log_tail.contains("could not bind") || log_tail.contains("Address already in use")
}

/// The last lines of the server log, for error messages.
fn log_tail(path: &Path) -> String {
    const LINES: usize = 20;
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_settings_override_the_sandbox_defaults() {
        let options = SandboxOptions {
            max_connections: 7,
            settings: [("fsync".to_owned(), "on".to_owned())].into(),
            ..SandboxOptions::default()
        };
        let settings = server_settings(&options, Path::new("/tmp/s"));
        assert_eq!(settings["max_connections"], "7");
        assert_eq!(settings["fsync"], "on");
        assert_eq!(settings["listen_addresses"], "127.0.0.1");
    }

    #[test]
    fn a_taken_port_is_recognised_in_the_log() {
        assert!(port_was_taken(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use"
        ));
        assert!(!port_was_taken(
            "FATAL:  data directory has wrong ownership"
        ));
    }
}
