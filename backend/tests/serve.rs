//! `lifeguard serve` as a process: killed during a run, restarted, and the run is `interrupted`
//! with its seconds kept; stopped with SIGTERM, the run ends `aborted`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

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
        let child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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

impl Drop for Console {
    fn drop(&mut self) {
        let _already_gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn write_config(dir: &Path, port: u16, target_url: &str) -> std::path::PathBuf {
    let path = dir.join("lifeguard.toml");
    std::fs::write(
        &path,
        format!(
            r#"
listen = "127.0.0.1:{port}"
data_dir = "{data}"

[sandbox]
enabled = false

[[targets]]
name = "db"
url = "{target_url}"

[[suites]]
name = "long"
[[suites.scenarios]]
name = "steady"
min_success_rate = 0.9
load = {{ model = "closed", users = 5, duration_s = 60, think_time_ms = 20 }}
"#,
            data = dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_killed_console_finds_its_run_interrupted_with_seconds_kept_and_sigterm_aborts() {
    let target = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &target.url());
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
