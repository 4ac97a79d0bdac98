//! `lifeguard serve` as a process: killed during a run, restarted, and the run is `interrupted`
//! with its seconds kept; stopped with SIGTERM, the run ends `aborted`, within seconds even with a
//! target that never answers; a public address without tokens is refused; the sandbox it starts
//! keeps its secrets and does not outlive a killed console.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lifeguard::sandbox::{Sandbox, SandboxOptions};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Console {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Console {
    async fn start(config: &Path, port: u16) -> Self {
        Self::start_with(config, port, &[], Stdio::null()).await
    }

    /// Starts `lifeguard serve` with extra environment variables and its log going to `log`.
    async fn start_with(
        config: &Path,
        port: u16,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let console = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        while console.get("/api/health").await.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the console did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        console
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    async fn seconds(&self, id: &str) -> usize {
        self.get(&format!("/api/runs/{id}/series"))
            .await
            .and_then(|s| s["points"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    async fn wait_for_seconds(&self, id: &str, at_least: usize) {
        let started = Instant::now();
        while self.seconds(id).await < at_least {
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "the run stored no seconds"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn signal(&self, signal: Signal) {
        kill(
            Pid::from_raw(i32::try_from(self.child.id()).unwrap()),
            signal,
        )
        .unwrap();
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < within, "the console did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Console {
    /// SIGTERM, as a service manager stops it; its sandbox stops with it.
    fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let status = self.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{status}");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _already_gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// A configuration file in `dir`: the console on `port`, its store in `dir`, then `rest`.
fn write_config(dir: &Path, port: u16, rest: &str) -> std::path::PathBuf {
    let path = dir.join("lifeguard.toml");
    let data = dir.join("data");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n{rest}",
            data.display()
        ),
    )
    .unwrap();
    path
}

/// A suite of `users` for `seconds`: long enough to be killed or stopped mid-run.
fn long_suite(users: u32, seconds: u32) -> String {
    format!(
        r#"
[[suites]]
name = "long"
[[suites.scenarios]]
name = "steady"
min_success_rate = 0.9
load = {{ model = "closed", users = {users}, duration_s = {seconds}, think_time_ms = 20 }}
"#
    )
}

/// Only the configured target `name` at `url` (no sandbox), and the long suite.
fn external_target(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[sandbox]\nenabled = false\n\n[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n{}",
        long_suite(5, 60)
    )
}

#[tokio::test]
async fn a_killed_console_finds_its_run_interrupted_with_seconds_kept_and_sigterm_aborts() {
    let target = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &external_target("db", &target.url(), ""));
    let run = json!({ "target": "db", "suite": "long", "profile": "recommended-dev", "workload": { "users": 200 } });

    let mut console = Console::start(&config, port).await;
    let id = console.post("/api/runs", &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    console.wait_for_seconds(&id, 3).await;
    console.signal(Signal::SIGKILL);
    console.wait_exit(Duration::from_secs(5));
    drop(console);

    let mut console = Console::start(&config, port).await;
    let detail = console.get(&format!("/api/runs/{id}")).await.unwrap();
    assert_eq!(detail["state"], "interrupted", "{detail}");
    assert!(
        detail["error"].as_str().unwrap().contains("stopped"),
        "{detail}"
    );
    assert!(
        console.seconds(&id).await >= 3,
        "the seconds written before the crash are kept"
    );

    let second = console.post("/api/runs", &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    console.wait_for_seconds(&second, 2).await;
    console.signal(Signal::SIGTERM);
    let status = console.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");
    drop(console);

    let console = Console::start(&config, port).await;
    let detail = console.get(&format!("/api/runs/{second}")).await.unwrap();
    assert_eq!(detail["state"], "aborted", "{detail}");
    assert!(
        detail["error"]
            .as_str()
            .unwrap()
            .contains("console was stopped"),
        "{detail}"
    );
    assert!(
        detail["report"]["scenarios"][0]["requests"]
            .as_u64()
            .unwrap()
            > 0
    );
    drop(console);
    target.stop().await;
}

#[test]
fn a_public_address_without_operator_tokens_is_refused_at_start_saying_why() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("RUST_LOG", "warn")
        .env("LIFEGUARD_DATA_DIR", data.path().join("store"))
        .env("LIFEGUARD_SANDBOX__ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the console started on 0.0.0.0 without operator tokens");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("`listen` must be a loopback address while no operator token is configured, got 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("operator_tokens"), "{stderr}");
    assert!(
        !data.path().join("store").exists(),
        "nothing was started or created"
    );
}

/// The child processes of `parent` whose command name is `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((head, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let comm = head.split_once('(').map_or("", |(_, c)| c);
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            comm == name && ppid == Some(parent)
        })
        .collect()
}

/// Whether `pid` runs (a zombie does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

/// The data directory a postmaster was started with (`-D DIR`).
fn data_dir_of(pid: u32) -> std::path::PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = args.iter().position(|a| a == "-D").unwrap();
    std::path::PathBuf::from(&args[at + 1])
}

/// The postmaster the console `console` started, once it runs.
async fn postmaster_of(console: u32) -> u32 {
    let started = Instant::now();
    loop {
        if let Some(pid) = children_named(console, "postgres").first() {
            return *pid;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no postmaster");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Exit status of `command` run as the unprivileged `nobody` account.
fn as_nobody(command: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(command)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_sandbox_server_inherits_no_secret_and_its_files_are_private() {
    const SECRET: &str = "share-secret-that-must-stay-in-the-console";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &long_suite(3, 120));
    let console = Console::start_with(
        &config,
        port,
        &[("LIFEGUARD_ACCESS__SHARE_SECRET", SECRET)],
        Stdio::null(),
    )
    .await;
    let postmaster = postmaster_of(console.child.id()).await;

    let environ = std::fs::read(format!("/proc/{postmaster}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains(SECRET), "the postmaster holds the secret");
    assert!(!environ.contains("LIFEGUARD_"), "{environ}");

    let data = data_dir_of(postmaster);
    let root = data.parent().unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(root), 0o700, "{}", root.display());
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(&root.join("server.log")), 0o600);
    assert!(!root.join("pwfile").exists(), "the password file is gone");

    if nix::unistd::Uid::effective().is_root() {
        let mut readable = 0;
        for path in [
            root.to_path_buf(),
            root.join("server.log"),
            data.join("global/pg_control"),
            data.join("postgresql.auto.conf"),
        ] {
            let read = as_nobody(&["cat", path.to_str().unwrap()]);
            assert!(!read.status.success(), "nobody reads {}", path.display());
            readable += read.stdout.len();
        }
        let listed = as_nobody(&["ls", root.to_str().unwrap()]);
        assert!(
            !listed.status.success(),
            "nobody lists the sandbox directory"
        );
        assert_eq!(readable, 0, "bytes another account could read");
    } else {
        eprintln!("not root: the sandbox runs as this user; another account's view is not tested");
    }
    console.stop();
}

/// The sandbox directories in `tmp`.
fn sandboxes_in(tmp: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lifeguard-sandbox-"))
        })
        .collect()
}

#[tokio::test]
async fn a_console_killed_mid_run_leaves_no_sandbox_behind_after_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    // A temporary directory of the test's own, so only these consoles' sandboxes are in it; the
    // server's account must be able to pass through it.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o711)).unwrap();
    let tmp_env = [("TMPDIR", tmp.to_str().unwrap())];
    let port = free_port();
    let config = write_config(dir.path(), port, &long_suite(3, 120));

    let mut first = Console::start_with(&config, port, &tmp_env, Stdio::null()).await;
    let run = json!({ "target": "sandbox", "suite": "long", "profile": "recommended-dev", "workload": { "users": 100 } });
    let id = first.post("/api/runs", &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.wait_for_seconds(&id, 2).await;
    let postmaster = postmaster_of(first.child.id()).await;
    let left_behind = sandboxes_in(&tmp);
    assert_eq!(left_behind.len(), 1, "{left_behind:?}");
    first.signal(Signal::SIGKILL);
    first.wait_exit(Duration::from_secs(5));
    drop(first);
    assert!(running(postmaster), "a killed console's server outlives it");
    assert!(left_behind[0].exists());

    let log_path = dir.path().join("second.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let second = Console::start_with(&config, port, &tmp_env, log).await;
    assert!(
        !running(postmaster),
        "the orphaned server {postmaster} still runs"
    );
    assert!(
        !left_behind[0].exists(),
        "{} remains",
        left_behind[0].display()
    );
    let own = sandboxes_in(&tmp);
    assert_eq!(own.len(), 1, "only the running console's sandbox: {own:?}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("removed the sandbox of a lifeguard process that is gone"),
        "{log}"
    );
    assert!(log.contains(&postmaster.to_string()), "{log}");
    second.stop();
    assert!(
        sandboxes_in(&tmp).is_empty(),
        "a stopped console removes its sandbox"
    );
}

/// A TCP listener that accepts connections and never answers: a target stuck in the network.
fn stuck_listener() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming().flatten() {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn sigterm_stops_the_console_within_ten_seconds_with_a_run_on_a_stuck_target() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let stuck = stuck_listener();
    let url = format!("postgres://app:secret@127.0.0.1:{stuck}/auth");
    let config = write_config(
        dir.path(),
        port,
        &external_target("stuck", &url, "connect_timeout_s = 120"),
    );
    let mut console = Console::start(&config, port).await;
    let run = json!({ "target": "stuck", "suite": "auth-burst", "profile": "current" });
    let id = console.post("/api/runs", &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    while console.get(&format!("/api/runs/{id}")).await.unwrap()["state"] != "running" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The run is now waiting for a handshake that will not come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    console.signal(Signal::SIGTERM);
    let status = console.wait_exit(Duration::from_secs(10));
    let took = stopping.elapsed();
    assert!(status.success(), "{status}");
    eprintln!("SIGTERM with a stuck target: exited after {took:?}");
    drop(console);

    let console = Console::start(&config, port).await;
    let detail = console.get(&format!("/api/runs/{id}")).await.unwrap();
    assert_eq!(detail["state"], "aborted", "{detail}");
    assert!(
        detail["error"]
            .as_str()
            .unwrap()
            .contains("the console was stopped"),
        "{detail}"
    );
    console.stop();
}
