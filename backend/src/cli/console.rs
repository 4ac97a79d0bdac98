//! Where the command line's runs happen: in this process (the results store of the
//! configuration, a sandbox when the target is `sandbox`) or through a console server over HTTP
//! (`--server URL --token T`). Both answer the same questions the same way.

use std::time::Duration;

use anyhow::{Context as _, bail};
use lifeguard_shared::compare::Comparison;
use lifeguard_shared::error::ErrorBody;
use lifeguard_shared::event::RunEvent;
use lifeguard_shared::health::ProbeReport;
use lifeguard_shared::monitor::{Deployment, DeploymentComparison, DeploymentRequest};
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::{Baseline, RunCreated, RunDetail, RunRequest, SetBaseline};
use lifeguard_shared::suite::Suite;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;

use crate::app::Services;
use crate::config::Config;
use crate::service::BaseRef;

/// A console server to talk to instead of running here.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Run through the console at this URL (plain HTTP) instead of in this process.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Operator or viewer token for `--server`.
    #[arg(
        long,
        env = "LIFEGUARD_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// Runs here: the run service over the configured store, opened as the console opens it.
#[derive(Debug)]
pub struct Local {
    services: Services,
    /// Where `lifeguard serve` with this configuration would show a view.
    console_url: String,
}

/// Runs through a console server.
#[derive(Debug)]
pub struct Remote {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Either.
#[derive(Debug)]
pub enum Console {
    Local(Box<Local>),
    Remote(Remote),
}

impl Console {
    /// A remote console when `--server` is given; else a local one, starting the configured
    /// sandbox when `with_sandbox`.
    pub async fn open(
        config: &Config,
        server: &ServerArgs,
        with_sandbox: bool,
    ) -> anyhow::Result<Self> {
        if let Some(base) = &server.server {
            if !base.starts_with("http://") {
                bail!("`--server` must be an http:// URL, got `{base}`");
            }
            return Ok(Self::Remote(Remote {
                base: base.trim_end_matches('/').to_owned(),
                token: server.token.clone(),
                http: reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build()
                    .context("creating the HTTP client")?,
            }));
        }
        let services = Services::open(config, with_sandbox).await?;
        Ok(Self::Local(Box::new(Local {
            services,
            console_url: format!("http://{}", config.listen),
        })))
    }

    /// Queues a run; its id.
    pub async fn submit(&self, request: &RunRequest) -> anyhow::Result<String> {
        match self {
            Self::Local(local) => Ok(local.services.service.submit(request.clone()).await?),
            Self::Remote(remote) => {
                let created: RunCreated = remote
                    .send(remote.http.post(remote.url("/api/runs")).json(request))
                    .await?;
                Ok(created.id)
            }
        }
    }

    /// The suite and the profile these names give on this console (its configuration's, or the
    /// server's).
    pub async fn suite_and_profile(
        &self,
        suite: &str,
        profile: &str,
    ) -> anyhow::Result<(Suite, PoolProfile)> {
        match self {
            Self::Local(local) => {
                let catalog = local.services.service.catalog();
                Ok((catalog.suite(suite)?, catalog.profile(profile)?))
            }
            Self::Remote(remote) => {
                let suites: Vec<Suite> = remote.get("/api/suites").await?;
                let profiles: Vec<PoolProfile> = remote.get("/api/profiles").await?;
                let found_suite = suites
                    .into_iter()
                    .find(|s| s.name == suite)
                    .with_context(|| format!("the console has no suite `{suite}`"))?;
                let found_profile = profiles
                    .into_iter()
                    .find(|p| p.name == profile)
                    .with_context(|| format!("the console has no profile `{profile}`"))?;
                Ok((found_suite, found_profile))
            }
        }
    }

    /// Measures a PostgreSQL target now, as `GET /api/probe` does: what the server can give.
    pub async fn probe(&self, target: &str) -> anyhow::Result<ProbeReport> {
        match self {
            Self::Local(local) => {
                let targets = local.services.service.targets();
                let found = targets
                    .get(target)
                    .with_context(|| format!("the console has no target `{target}`"))?;
                Ok(crate::probe::probe_target(found).await?)
            }
            Self::Remote(remote) => {
                remote
                    .send(
                        remote
                            .http
                            .get(remote.url("/api/probe"))
                            .query(&[("target", target)]),
                    )
                    .await
            }
        }
    }

    /// Calls `on_event` for each event of the run until its verdict (or the stream's end); an
    /// event that does not read as its kind says is an error.
    pub async fn follow(
        &self,
        id: &str,
        mut on_event: impl FnMut(&RunEvent),
    ) -> anyhow::Result<()> {
        let mut deliver = |kind: &str, data: &str| -> anyhow::Result<bool> {
            Ok(match RunEvent::parse(kind, data)? {
                Some(event) => {
                    on_event(&event);
                    event.is_last()
                }
                None => false,
            })
        };
        match self {
            Self::Local(local) => {
                let Some(mut events) = local.services.service.follow(id) else {
                    return Ok(());
                };
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            if deliver(&event.kind, &event.data)? {
                                return Ok(());
                            }
                        }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return Ok(()),
                    }
                }
            }
            Self::Remote(remote) => {
                let request = remote
                    .http
                    .get(remote.url(&format!("/api/runs/{id}/events")));
                let mut response = remote
                    .authorised(request)
                    .send()
                    .await
                    .context("following the run")?;
                if !response.status().is_success() {
                    bail!("following the run: HTTP {}", response.status());
                }
                let mut buffer = String::new();
                while let Some(chunk) = response.chunk().await.context("following the run")? {
                    buffer.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buffer.find("\n\n") {
                        let block: String = buffer.drain(..end + 2).collect();
                        let (mut kind, mut data) = (String::new(), String::new());
                        for line in block.lines() {
                            if let Some(v) = line.strip_prefix("event:") {
                                v.trim().clone_into(&mut kind);
                            } else if let Some(v) = line.strip_prefix("data:") {
                                data.push_str(v.trim());
                            }
                        }
                        if !kind.is_empty() && deliver(&kind, &data)? {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The run's labels, state and report; with `series`, the report carries its seconds.
    pub async fn detail(&self, id: &str, series: bool) -> anyhow::Result<RunDetail> {
        match self {
            Self::Local(local) => {
                let store = local.services.service.store();
                let mut detail = store
                    .run(id)
                    .await?
                    .with_context(|| format!("no run `{id}`"))?;
                if series && let Some(report) = detail.report.as_mut() {
                    report.series = store.series(id).await?;
                    report.buckets = store.buckets(id).await?;
                }
                Ok(detail)
            }
            Self::Remote(remote) => {
                let path = if series {
                    format!("/api/runs/{id}/export")
                } else {
                    format!("/api/runs/{id}")
                };
                remote.get(&path).await
            }
        }
    }

    /// Compares `head` with `base`; `Ok(None)` when the base is a baseline that does not exist.
    pub async fn compare(&self, base: &BaseRef, head: &str) -> anyhow::Result<Option<Comparison>> {
        match self {
            Self::Local(local) => {
                let service = &local.services.service;
                let resolved = match service.resolve_base(base).await {
                    Ok(resolved) => resolved,
                    Err(crate::service::ServiceError::NotFound(_))
                        if matches!(base, BaseRef::Baseline(_)) =>
                    {
                        return Ok(None);
                    }
                    Err(error) => return Err(error.into()),
                };
                Ok(Some(service.compare(&resolved.0, head, resolved.1).await?))
            }
            Self::Remote(remote) => {
                let query = match base {
                    BaseRef::Run(id) => format!("base={id}"),
                    BaseRef::Baseline(name) => format!("baseline={name}"),
                };
                let path = format!("/api/compare?{query}&head={head}");
                match remote.get::<Comparison>(&path).await {
                    Ok(comparison) => Ok(Some(comparison)),
                    Err(error)
                        if matches!(base, BaseRef::Baseline(_))
                            && error.to_string().contains("no baseline") =>
                    {
                        Ok(None)
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Marks a deployment.
    pub async fn mark_deployment(&self, request: &DeploymentRequest) -> anyhow::Result<Deployment> {
        match self {
            Self::Local(local) => Ok(crate::monitor::deployments::mark(
                &local.services.service,
                request.clone(),
            )
            .await?),
            Self::Remote(remote) => {
                remote
                    .send(
                        remote
                            .http
                            .post(remote.url("/api/deployments"))
                            .json(request),
                    )
                    .await
            }
        }
    }

    /// Deployment `id` judged by its traffic over `window` either side.
    pub async fn deployment_comparison(
        &self,
        id: &str,
        window: Duration,
    ) -> anyhow::Result<DeploymentComparison> {
        match self {
            Self::Local(local) => {
                Ok(
                    crate::monitor::deployments::compare(&local.services.service, id, window)
                        .await?,
                )
            }
            Self::Remote(remote) => {
                remote
                    .send(
                        remote
                            .http
                            .get(remote.url(&format!("/api/deployments/{id}/comparison")))
                            .query(&[("window_s", window.as_secs_f64())]),
                    )
                    .await
            }
        }
    }

    /// Points baseline `name` at `run_id`.
    pub async fn set_baseline(&self, name: &str, run_id: &str) -> anyhow::Result<Baseline> {
        match self {
            Self::Local(local) => {
                crate::api::check_baseline_name(name)?;
                Ok(local
                    .services
                    .service
                    .store()
                    .set_baseline(name, run_id, "cli")
                    .await?)
            }
            Self::Remote(remote) => {
                let body = SetBaseline {
                    run_id: run_id.to_owned(),
                };
                remote
                    .send(
                        remote
                            .http
                            .put(remote.url(&format!("/api/baselines/{name}")))
                            .json(&body),
                    )
                    .await
            }
        }
    }

    /// Every baseline.
    pub async fn baselines(&self) -> anyhow::Result<Vec<Baseline>> {
        match self {
            Self::Local(local) => Ok(local.services.service.store().baselines().await?),
            Self::Remote(remote) => remote.get("/api/baselines").await,
        }
    }

    /// Where a person opens `path` of the console.
    #[must_use]
    pub fn link(&self, path: &str) -> String {
        match self {
            Self::Local(local) => format!("{}{path}", local.console_url),
            Self::Remote(remote) => format!("{}{path}", remote.base),
        }
    }

    /// Stops what this process started.
    pub async fn close(self) {
        if let Self::Local(local) = self {
            local.services.close().await;
        }
    }
}

impl Remote {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path))).await
    }

    /// Sends, and turns an error answer into its `{code, message}` in words.
    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = self
            .authorised(request)
            .send()
            .await
            .with_context(|| format!("reaching the console at {}", self.base))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .context("reading the console's answer")?;
        if !status.is_success() {
            let message = serde_json::from_str::<ErrorBody>(&body).map_or(body, |e| e.message);
            bail!("the console answered {status}: {message}");
        }
        serde_json::from_str(&body).context("reading the console's answer")
    }
}
