//! Helpers for the end-to-end tests: a console on port 0 with its own store and sandbox PostgreSQL
//! ([`spawn_app`]), real HTTP requests, the console's log lines ([`captured_logs`]), and headless
//! Chromium driven through chromedriver ([`Browser`]).

pub mod browser;
pub mod history_seed;
pub mod hour_runs;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use anyhow::Context as _;
use lifeguard::app::App;
use lifeguard::config::Config;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use browser::Browser;

/// A running console: real HTTP on a free port, a fresh store, a real sandbox PostgreSQL.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    /// The sandbox role's password, to prove it never leaks.
    pub target_password: String,
    /// The sandbox's connection URL (with the password), for tests that look at the server.
    pub target_url: String,
    /// Where the console keeps its SQLite store.
    pub data_dir: PathBuf,
    /// Sent as `Authorization: Bearer` with every request when set.
    pub token: Option<String>,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
    _data: Option<tempfile::TempDir>,
}

/// Starts a console with `configure` applied to a test configuration (port 0, a fresh SQLite
/// store in a temporary directory, the built frontend).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    capture_logs();
    let data = tempfile::tempdir()?;
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        frontend_dir: Some(dist_dir()),
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    configure(&mut config);
    let app = App::build(&config).await.context("starting the console")?;
    let addr = app.local_addr();
    let target_password = app
        .sandbox()
        .map(|s| s.password().to_owned())
        .unwrap_or_default();
    let target_url = app
        .sandbox()
        .map(lifeguard::sandbox::Sandbox::url)
        .unwrap_or_default();
    let data_dir = config.data_dir.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _sender_dropped_or_sent = stopped.await;
    }));
    Ok(TestApp {
        addr,
        target_password,
        target_url,
        data_dir,
        token: None,
        http: reqwest::Client::new(),
        stop: Some(stop),
        served,
        _data: Some(data),
    })
}

/// Starts a console with the test defaults.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    /// `http://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The HTTP client, for requests the helpers below do not cover (own headers, raw answers).
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(u16, String)> {
        let response = self.authorised(request).send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        remember_response(&body);
        Ok((status, body))
    }

    /// GET `path`; the status and the raw body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        self.send(self.http.get(self.url(path))).await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let (status, text) = self.send(self.http.post(self.url(path)).json(body)).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// PUT `body` as JSON to `path`.
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let (status, text) = self.send(self.http.put(self.url(path)).json(body)).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// POST a raw body with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Value)> {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        let (status, text) = self.send(request).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// GET `path`, expecting 200 and JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let (status, body) = self.get(path).await?;
        anyhow::ensure!(status == 200, "GET {path} answered {status}: {body}");
        serde_json::from_str(&body).with_context(|| format!("GET {path} answered {body}"))
    }

    /// GET `path`, expecting an error body `{code, message}`.
    pub async fn get_error(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let (status, body) = self.get(path).await?;
        Ok((status, serde_json::from_str(&body)?))
    }

    /// Triggers the run `request` describes (`POST /api/runs`) and waits for its verdict; its id.
    pub async fn run_to_the_end(&self, request: &Value) -> anyhow::Result<String> {
        let (status, answer) = self.post("/api/runs", request).await?;
        anyhow::ensure!(status == 202, "POST /api/runs answered {status}: {answer}");
        let id = answer["id"]
            .as_str()
            .context("no run id in the answer")?
            .to_owned();
        self.follow(&id, None, std::time::Duration::from_mins(2))
            .await?;
        Ok(id)
    }

    /// Reads `/api/sizings/{id}` every 50 ms until `done` says so (or `limit`).
    pub async fn sizing_until(
        &self,
        id: &str,
        limit: std::time::Duration,
        done: impl Fn(&lifeguard_shared::sizing::SizingDetail) -> bool,
    ) -> anyhow::Result<lifeguard_shared::sizing::SizingDetail> {
        let started = std::time::Instant::now();
        loop {
            let detail: lifeguard_shared::sizing::SizingDetail =
                self.get_json(&format!("/api/sizings/{id}")).await?;
            if done(&detail) {
                return Ok(detail);
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "waited {limit:?} for sizing {id}: {detail:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Starts a sizing (`POST /api/sizings`) and waits until it is no longer running.
    pub async fn size_to_the_end(
        &self,
        request: &Value,
    ) -> anyhow::Result<lifeguard_shared::sizing::SizingDetail> {
        let (status, answer) = self.post("/api/sizings", request).await?;
        anyhow::ensure!(
            status == 202,
            "POST /api/sizings answered {status}: {answer}"
        );
        let id = answer["id"]
            .as_str()
            .context("no sizing id in the answer")?;
        self.sizing_until(id, std::time::Duration::from_mins(3), |d| {
            d.state != lifeguard_shared::sizing::SizingState::Running
        })
        .await
    }

    /// Follows `/api/runs/{id}/events` until the `verdict` event (or `timeout`); returns every
    /// event as (id, kind, data).
    pub async fn follow(
        &self,
        id: &str,
        last_event_id: Option<u64>,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Vec<(u64, String, Value)>> {
        let mut request = self.http.get(self.url(&format!("/api/runs/{id}/events")));
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last.to_string());
        }
        let mut response = self.authorised(request).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "events answered {}",
            response.status()
        );
        let mut buffer = String::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .context("no verdict before the timeout")??;
            let Some(chunk) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                remember_response(&block);
                let (mut seq, mut kind, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        seq = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        v.trim().clone_into(&mut kind);
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if let Some(seq) = seq {
                    let verdict = kind == "verdict";
                    events.push((
                        seq,
                        kind,
                        serde_json::from_str(&data).unwrap_or(Value::Null),
                    ));
                    if verdict {
                        return Ok(events);
                    }
                }
            }
        }
        Ok(events)
    }

    /// Stops the console like Ctrl-C would, and waits for it (and its sandbox) to stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _already_stopping = stop.send(());
        }
        (&mut self.served).await??;
        Ok(())
    }
}

/// The built frontend: `$LIFEGUARD_TEST_DIST`, else `dist/` at the workspace root.
#[must_use]
pub fn dist_dir() -> PathBuf {
    std::env::var_os("LIFEGUARD_TEST_DIST").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"),
        PathBuf::from,
    )
}

/// Where tests put what a person may want to look at afterwards (screenshots).
#[must_use]
pub fn output_dir() -> PathBuf {
    let dir = std::env::var_os("LIFEGUARD_TEST_OUTPUT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-output"),
        PathBuf::from,
    );
    let _exists_or_reported_later = std::fs::create_dir_all(&dir);
    dir
}

/// Everything the consoles of this test binary logged, and every response body they sent.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _another_subscriber_is_fine = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "lifeguard=debug,tower_http=debug,info",
            ))
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init();
    });
}

fn remember_response(body: &str) {
    let _ = Capture.write(body.as_bytes());
}

/// The console's log lines and every response body so far, as text.
#[must_use]
pub fn captured_logs() -> String {
    String::from_utf8_lossy(
        &CAPTURED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}
