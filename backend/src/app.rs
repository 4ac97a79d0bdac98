//! Start-up and shut-down of the console: `App::build(config)` → `port()` → `run_until_stopped()`.
//!
//! The caller owns the shutdown signal, so tests stop an app with a channel and `serve` stops on
//! Ctrl-C or SIGTERM. The sandbox target stops after the last request is answered.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::sandbox::{Sandbox, SandboxError};

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("starting the sandbox PostgreSQL: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A console that is listening but not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    /// The embedded target; stopped when the app stops.
    sandbox: Sandbox,
}

impl App {
    /// Starts the sandbox target and binds the listener (port 0 picks a free port).
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let sandbox = Sandbox::start(&config.sandbox_options()).await?;
        tracing::info!(port = sandbox.port(), "sandbox PostgreSQL ready");
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState::new("sandbox", sandbox.connect_config());
        let router = api::router(state, &config.frontend_dir);
        Ok(Self {
            listener,
            router,
            sandbox,
        })
    }

    /// The embedded sandbox target (tests read its password to prove it never leaks).
    #[must_use]
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
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

    /// Serves until `shutdown` completes, lets in-flight requests finish, then stops the sandbox.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        self.sandbox.stop().await;
        tracing::info!("sandbox stopped");
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
