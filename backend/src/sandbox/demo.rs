//! The demo auth service (`examples/auth-service`: FastAPI and SQLAlchemy, the incident's own
//! stack) run beside a sandbox: a real service to validate, started from its virtual environment
//! against the sandbox's database, and the `http` target that loads it — so a newcomer sees a
//! service validated without writing configuration, and tests load a real one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{SecretUrl, TargetConfig, TargetKind};
use crate::scrape::mapping::{Preset, SeriesNames};
use crate::targets::http::{DatabaseConfig, MetricsConfig, RequestConfig, UsersConfig};

/// Where the demo lives on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// The Python of its virtual environment (`.tools/auth-service/bin/python`).
    pub python: PathBuf,
    /// `examples/auth-service`.
    pub app_dir: PathBuf,
}

/// The password of the demo's seeded users (`user{n}@demo.test`).
pub const DEMO_PASSWORD: &str = "demo-password";
/// How many users the demo seeds and the target logs in as.
pub const DEMO_USERS: u32 = 1000;

/// A running demo service; stopped when dropped.
pub struct DemoService {
    child: Option<Child>,
    port: u16,
    /// The sandbox database the demo uses (a secret).
    database_url: String,
    config: DemoConfig,
}

impl std::fmt::Debug for DemoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoService")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Why the demo did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the demo service ({python}): {source}")]
    Spawn {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the demo service did not answer /health within {0:?}; {1}")]
    NeverReady(Duration, String),
}

impl DemoService {
    /// Starts the demo against `database_url` (the sandbox's), on a free port, with `env` (its
    /// switches: `POOL_SIZE`, `HOLD_MS`, `LEAK_ON_ERROR`…) on top of its defaults.
    pub async fn start(
        config: &DemoConfig,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, DemoError> {
        let port = free_port().map_err(|source| DemoError::Spawn {
            python: config.python.display().to_string(),
            source,
        })?;
        let mut demo = Self {
            child: None,
            port,
            database_url: database_url.to_owned(),
            config: config.clone(),
        };
        demo.spawn(env).await?;
        Ok(demo)
    }

    /// Stops the demo and starts it again on the same address with `env` (a deployment of a
    /// new version, as far as a target can tell).
    pub async fn restart(&mut self, env: &[(&str, &str)]) -> Result<(), DemoError> {
        self.stop();
        self.spawn(env).await
    }

    async fn spawn(&mut self, env: &[(&str, &str)]) -> Result<(), DemoError> {
        let (config, port, database_url) = (&self.config, self.port, &self.database_url);
        let mut command = Command::new(&config.python);
        command
            .arg("main.py")
            .current_dir(&config.app_dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "warning")
            .env("DATABASE_URL", database_url)
            .env("SEED_USERS", DEMO_USERS.to_string())
            .env("SEED_PASSWORD", DEMO_PASSWORD)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = command.spawn().map_err(|source| DemoError::Spawn {
            python: config.python.display().to_string(),
            source,
        })?;
        self.child = Some(child);
        self.wait_until_ready(Duration::from_mins(1)).await
    }

    async fn wait_until_ready(&mut self, limit: Duration) -> Result<(), DemoError> {
        let started = Instant::now();
        let health = format!("{}/health", self.base_url());
        let http = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _partial = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(DemoError::NeverReady(
                    started.elapsed(),
                    format!("it exited ({status}): {}", tail.join("\n")),
                ));
            }
            if http
                .get(&health)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(DemoError::NeverReady(
                    limit,
                    "it still does not answer".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The demo's process id while it runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The `http` target that loads the demo, configured as an operator would: its login and
    /// validation, its seeded users (written to `users_csv`), its OpenTelemetry pool metrics
    /// every 250 ms (async pool primary, sync pool secondary) and its backends in the sandbox
    /// (`application_name LIKE 'auth-service:%'`).
    pub fn target(&self, name: &str, users_csv: &Path) -> std::io::Result<TargetConfig> {
        let csv: String = std::iter::once("email,password".to_owned())
            .chain((1..=DEMO_USERS).map(|n| format!("user{n}@demo.test,{DEMO_PASSWORD}")))
            .map(|line| line + "\n")
            .collect();
        std::fs::write(users_csv, csv)?;
        let base = self.base_url();
        let pool = |name: &str| BTreeMap::from([("pool_name".to_owned(), name.to_owned())]);
        Ok(TargetConfig {
            kind: TargetKind::Http,
            url: None,
            base_url: Some(SecretUrl::new(base.clone())),
            login: Some(RequestConfig {
                method: None,
                path: "/auth/login".into(),
                json: Some(serde_json::json!({ "email": "{email}", "password": "{password}" })),
                form: None,
                headers: BTreeMap::new(),
                token_pointer: Some("/access_token".into()),
            }),
            validate: Some(RequestConfig {
                method: None,
                path: "/auth/validate".into(),
                json: None,
                form: None,
                headers: BTreeMap::from([(
                    "Authorization".to_owned(),
                    "Bearer {token}".to_owned(),
                )]),
                token_pointer: None,
            }),
            users: Some(UsersConfig {
                pattern: None,
                count: None,
                csv: Some(users_csv.to_path_buf()),
                password_env: None,
            }),
            request_timeout_s: Some(60.0),
            metrics: Some(MetricsConfig {
                url: SecretUrl::new(format!("{base}/metrics")),
                interval_ms: 250,
                preset: Preset::Opentelemetry,
                primary: pool("async"),
                secondary: Some(pool("sync")),
                series: SeriesNames::default(),
            }),
            database: Some(DatabaseConfig {
                url: SecretUrl::new(self.database_url.clone()),
                application_name: Some("auth-service:%".into()),
                user: None,
            }),
            ..TargetConfig::postgres(name, SecretUrl::new(String::new()))
        })
    }

    /// Stops the demo (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _gone = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _already_gone = child.kill();
            let _reaped = child.wait();
        }
    }
}

impl Drop for DemoService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The demo's usual place in a clone of the repository, when its environment is installed
/// (`scripts/setup.sh` does).
#[must_use]
pub fn installed_in(repository: &Path) -> Option<DemoConfig> {
    let config = DemoConfig {
        python: repository.join(".tools/auth-service/bin/python"),
        app_dir: repository.join("examples/auth-service"),
    };
    (config.python.is_file() && config.app_dir.join("main.py").is_file()).then_some(config)
}

fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
