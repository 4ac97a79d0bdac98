//! Start-up and shut-down of the console: `App::build(config)` → `port()` → `run_until_stopped()`.
//!
//! Start-up opens the results store (marking runs a previous process left unfinished as
//! `interrupted`), starts the sandbox target when enabled — both through [`Services`], which the
//! local command line opens the same way — and binds the listener. The caller owns
//! the shutdown signal; on it, in-flight requests finish, running runs end `aborted`, then the
//! sandbox stops.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::api::{self, Access, AppState};
use crate::catalog::Catalog;
use crate::config::{Config, ConfigError};
use crate::monitor::Monitors;
use crate::sandbox::demo::{DemoError, DemoService};
use crate::sandbox::{Sandbox, SandboxError};
use crate::schedule::Scheduler;
use crate::service::RunService;
use crate::store::{Store, StoreError};
use crate::targets::{TargetError, Targets};

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("starting the sandbox PostgreSQL: {0}")]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("creating the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the console and the local command line both run on, opened the same way: the results
/// store (runs a stopped process left unfinished marked `interrupted`), the sandbox target when
/// asked for, the configured targets, and the run service over them.
#[derive(Debug)]
pub struct Services {
    pub service: RunService,
    /// The embedded target, when started; stopped by [`Services::close`] (or when dropped).
    pub sandbox: Option<Sandbox>,
    /// The demo service beside the sandbox (target `demo`), when configured.
    pub demo: Option<DemoService>,
    /// Where the demo's users file lives while it runs.
    _demo_files: Option<tempfile::TempDir>,
}

impl Services {
    /// Checks the configuration's rules, then opens everything; `with_sandbox` starts the sandbox.
    pub async fn open(config: &Config, with_sandbox: bool) -> Result<Self, StartupError> {
        // However the configuration was put together (file, environment, command line, code),
        // its rules hold before anything starts.
        config.validate()?;
        if config.store_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        }
        let store = Store::open(&config.store_url()).await?;
        let sizings = store.interrupt_unfinished_sizings().await?;
        if sizings > 0 {
            tracing::warn!(
                sizings,
                "sizings left running by a stopped console are now `interrupted`"
            );
        }
        let interrupted = store.interrupt_unfinished().await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "runs left unfinished by a stopped console are now `interrupted`"
            );
        }
        let sandbox = if with_sandbox {
            let sandbox = Sandbox::start(&config.sandbox_options()).await?;
            tracing::info!(port = sandbox.port(), "sandbox PostgreSQL ready");
            Some(sandbox)
        } else {
            None
        };
        let (demo, demo_files, with_demo) = match (&sandbox, &config.sandbox.demo) {
            (Some(sandbox), Some(demo)) => {
                let started = DemoService::start(demo, &sandbox.url(), &[]).await?;
                let files = tempfile::tempdir().map_err(|source| StartupError::DataDir {
                    path: "a temporary directory for the demo's users".into(),
                    source,
                })?;
                let target = started
                    .target("demo", &files.path().join("users.csv"))
                    .map_err(|source| StartupError::DataDir {
                        path: files.path().display().to_string(),
                        source,
                    })?;
                let mut with_demo = config.clone();
                with_demo.targets.push(target);
                tracing::info!(url = %started.base_url(), "demo auth service ready (target `demo`)");
                (Some(started), Some(files), Some(with_demo))
            }
            _ => (None, None, None),
        };
        let config = with_demo.as_ref().unwrap_or(config);
        let targets = Targets::new(config, sandbox.as_ref().map(Sandbox::connect_config))?;
        let service = RunService::new(
            store,
            targets,
            Catalog::from_config(config),
            config.guard_rails.clone(),
            config.retention.keep_runs,
            config.compare.clone(),
        );
        Ok(Self {
            service,
            sandbox,
            demo,
            _demo_files: demo_files,
        })
    }

    /// Ends the runs (`aborted`), closes the store, stops the sandbox.
    pub async fn close(mut self) {
        self.service.shutdown().await;
        self.service.store().close().await;
        if let Some(demo) = self.demo.as_mut() {
            demo.stop();
        }
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
            tracing::info!("sandbox stopped");
        }
    }
}

/// A console that is listening but not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    services: Services,
    /// The configured schedules; they start firing with [`App::run_until_stopped`].
    scheduler: Scheduler,
    /// The configured monitors; they start sampling with [`App::run_until_stopped`].
    monitors: Monitors,
}

impl App {
    /// Opens the store, starts the sandbox (when enabled) and binds the listener (port 0 picks a
    /// free port).
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let services = Services::open(config, config.sandbox.enabled).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState::new(services.service.clone(), Access::new(config.access.clone()));
        let bound = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                addr: config.listen,
                source,
            })?;
        let scheduler = Scheduler::new(services.service.clone(), &config.schedules);
        let monitors = Monitors::new(
            config,
            services.service.targets(),
            services.service.store().clone(),
        );
        let router = api::router(state, config.frontend_dir.as_deref(), bound)
            .layer(axum::Extension(scheduler.clone()))
            .layer(axum::Extension(monitors.clone()));
        Ok(Self {
            listener,
            router,
            services,
            scheduler,
            monitors,
        })
    }

    /// The embedded sandbox target, when enabled (tests read its password to prove it never leaks).
    #[must_use]
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.services.sandbox.as_ref()
    }

    /// The port actually bound.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts the schedules and monitors and serves until `shutdown` completes, then stops them,
    /// the runs, the store and the sandbox.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let service = self.services.service.clone();
        let scheduler = self.scheduler.clone();
        let monitors = self.monitors.clone();
        scheduler.start();
        monitors.start();
        let stopping = async move {
            shutdown.await;
            // No schedule fires once stopping; then runs end `aborted` now, so their event
            // streams finish and serving can stop.
            scheduler.stop().await;
            monitors.stop().await;
            service.shutdown().await;
        };
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stopping)
            .await;
        self.services.close().await;
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
