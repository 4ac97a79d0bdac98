//! Helpers for the end-to-end tests: a console on port 0 with its own sandbox PostgreSQL
//! ([`spawn_app`]), and headless Chromium driven through chromedriver ([`Browser`]).

pub mod browser;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use lifeguard::app::App;
use lifeguard::config::Config;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use browser::Browser;

/// A running console: real HTTP on a free port, real sandbox PostgreSQL behind it.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    /// The sandbox role's password, to prove it never leaks.
    pub target_password: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
}

/// Starts a console with `configure` applied to a test configuration (port 0, the built frontend).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        frontend_dir: dist_dir(),
        ..Config::default()
    };
    configure(&mut config);
    let app = App::build(&config).await.context("starting the console")?;
    let addr = app.local_addr();
    let target_password = app.sandbox().password().to_owned();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _sender_dropped_or_sent = stopped.await;
    }));
    Ok(TestApp {
        addr,
        target_password,
        http: reqwest::Client::new(),
        stop: Some(stop),
        served,
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

    /// GET `path`; the status and the raw body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.http.get(self.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
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
