//! The console's configuration: built-in defaults → optional TOML file → `LIFEGUARD_*` environment.
//!
//! Nested keys use `__` in the environment (`LIFEGUARD_SANDBOX__MAX_CONNECTIONS=50`);
//! `LIFEGUARD_PG_BIN` is accepted as a short name for `sandbox.pg_bin`. Unknown keys are errors, so
//! a misspelt setting is reported instead of silently ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::RunLabels;
use lifeguard_shared::suite::Suite;
use lifeguard_shared::workload::AuthFlow;

use crate::pool::connect::DEFAULT_CONNECT_TIMEOUT;
use crate::sandbox::SandboxOptions;
use crate::sandbox::demo::DemoConfig;
use crate::stats::compare::CompareSettings;
use crate::targets::http::{
    DatabaseConfig, HttpFields, HttpService, MetricsConfig, RequestConfig, UsersConfig,
};

/// Everything `lifeguard serve` needs; [`Config::default`] needs no file at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the console listens. Loopback by default: the console can trigger load.
    pub listen: SocketAddr,
    /// A built frontend (`trunk build` output) to serve at `/` instead of the one the binary
    /// carries (`--frontend-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend_dir: Option<PathBuf>,
    /// The embedded sandbox target.
    pub sandbox: SandboxConfig,
    /// PostgreSQL targets besides the sandbox, registered by the operator (never typed into the UI).
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Suites beyond the built-in ones; one with a built-in's name replaces it.
    #[serde(default)]
    pub suites: Vec<Suite>,
    /// Pool profiles beyond the built-in ones; one with a built-in's name replaces it.
    #[serde(default)]
    pub profiles: Vec<PoolProfile>,
    /// Where the default SQLite store lives.
    pub data_dir: PathBuf,
    /// The results store: `sqlite://PATH` or `postgres://…` (a secret); by default SQLite in
    /// `data_dir`.
    pub store_url: Option<SecretUrl>,
    /// Who may trigger runs and who may read.
    pub access: AccessConfig,
    /// Bounds on what any run may ask for.
    pub guard_rails: GuardRails,
    /// How many finished runs to keep (a baseline's run is always kept).
    pub retention: Retention,
    /// Practical thresholds of comparisons.
    pub compare: CompareSettings,
    /// Scheduled regression runs: each fires a run on its cron pattern and compares it with its
    /// baseline ([`crate::schedule`]).
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
    /// Targets watched between tests ([`crate::monitor`]).
    #[serde(default)]
    pub monitors: Vec<MonitorConfig>,
    /// How monitors keep their samples, and where their alerts go.
    #[serde(default)]
    pub monitoring: MonitoringConfig,
}

/// A target watched all the time (`[[monitors]]`): sampled every `interval_s` through one
/// connection, each sample judged by the alert rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// A PostgreSQL target (or `sandbox`), or a service target with `metrics` (its pool) or a
    /// `database` (its server); one monitor per target.
    pub target: String,
    /// Seconds between samples, at least 1.
    #[serde(default = "default_interval_s")]
    pub interval_s: f64,
    /// The rules and their hysteresis; the analysis's server-side thresholds by default.
    #[serde(default)]
    pub alerts: lifeguard_shared::monitor::AlertSettings,
    /// The webhooks (by name) its alerts go to; every one of `[monitoring]` when absent.
    #[serde(default)]
    pub notify: Option<Vec<String>>,
}

fn default_interval_s() -> f64 {
    5.0
}

/// How long samples are kept, and the webhooks alerts are sent to (`[monitoring]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Hours samples are kept as read, then folded into one-minute min/mean/max.
    pub raw_hours: f64,
    /// Days the one-minute rows are kept.
    pub minutes_days: f64,
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            raw_hours: 48.0,
            minutes_days: 90.0,
            webhooks: Vec::new(),
        }
    }
}

/// Where alert notifications are posted (`[[monitoring.webhooks]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// `http(s)://…`; a secret (a chat webhook's path is its key), never shown.
    pub url: Secret,
    /// `json` (a generic body: target, metric, level, value, threshold, what happened) or `slack`
    /// (`{"text": …}`, which Slack-compatible chats read).
    #[serde(default)]
    pub format: WebhookFormat,
    /// Seconds one attempt may take.
    #[serde(default = "default_webhook_timeout_s")]
    pub timeout_s: f64,
    /// Attempts after the first when one fails (an error status, no answer).
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
}

fn default_webhook_timeout_s() -> f64 {
    5.0
}

fn default_webhook_retries() -> u32 {
    3
}

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

/// A scheduled regression run (`[[schedules]]`): what to run, when, and what to compare it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Unique; the scheduled runs' notes say `scheduled: NAME`.
    pub name: String,
    /// When, in UTC: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds
    /// first.
    pub cron: String,
    pub target: String,
    #[serde(default = "lifeguard_shared::run::default_suite")]
    pub suite: String,
    #[serde(default = "lifeguard_shared::run::default_profile")]
    pub profile: String,
    /// The runs' labels (`phase` is `ad-hoc` unless given).
    #[serde(default)]
    pub labels: RunLabels,
    /// Workload knobs; the defaults when absent.
    #[serde(default)]
    pub workload: AuthFlow,
    /// The baseline every scheduled run is compared with; none, no comparison.
    #[serde(default)]
    pub baseline: Option<String>,
}

/// Tokens: operators trigger, cancel and set baselines; viewers read. Without operator tokens the
/// console is in local mode: loopback only, and everyone who reaches it is an operator.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    pub operator_tokens: Vec<Secret>,
    pub viewer_tokens: Vec<Secret>,
    /// Reading needs a viewer (or operator) token; otherwise anyone may read.
    pub viewers_need_token: bool,
    /// Key that signs share links; a random one per start when absent (links then end with the
    /// process).
    pub share_secret: Option<Secret>,
}

/// Bounds on the load any one run may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardRails {
    /// Most virtual users (or requests in flight) in any scenario.
    pub max_users: u32,
    /// Longest a run's scenarios may last in all, in seconds.
    pub max_duration_s: f64,
    /// Highest arrival rate of an open-model scenario.
    pub max_rate_per_s: f64,
    /// Most requests a request-count scenario may make (users × requests per user).
    pub max_requests: u64,
    /// Most users a run may seed in lifeguard's schema on the target (`workload.users`).
    pub max_seeded_users: u32,
    /// Runs a target may have waiting; a request beyond it is refused (429), nothing stored.
    pub max_queued_runs: usize,
    /// Live-event streams open at once, in all and per run; beyond either, 503.
    pub max_live_streams: usize,
    pub max_live_streams_per_run: usize,
}

impl Default for GuardRails {
    fn default() -> Self {
        Self {
            max_users: 500,
            max_duration_s: 3600.0,
            max_rate_per_s: 5000.0,
            max_requests: 1_000_000,
            max_seeded_users: 1_000_000,
            max_queued_runs: 64,
            max_live_streams: 256,
            max_live_streams_per_run: 32,
        }
    }
}

impl GuardRails {
    /// Every bound is a positive number: a zero would refuse every run, an infinite one no run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, value: String| {
            Err(ConfigError::Invalid {
                field,
                rule: format!("must be a positive number, got {value}"),
            })
        };
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.max_users == 0 {
            return invalid("guard_rails.max_users", "0".into());
        }
        if !positive(self.max_duration_s) {
            return invalid(
                "guard_rails.max_duration_s",
                self.max_duration_s.to_string(),
            );
        }
        if !positive(self.max_rate_per_s) {
            return invalid(
                "guard_rails.max_rate_per_s",
                self.max_rate_per_s.to_string(),
            );
        }
        let counts = [
            ("guard_rails.max_requests", self.max_requests),
            (
                "guard_rails.max_seeded_users",
                u64::from(self.max_seeded_users),
            ),
            ("guard_rails.max_queued_runs", self.max_queued_runs as u64),
            ("guard_rails.max_live_streams", self.max_live_streams as u64),
            (
                "guard_rails.max_live_streams_per_run",
                self.max_live_streams_per_run as u64,
            ),
        ];
        for (field, value) in counts {
            if value == 0 {
                return invalid(field, "0".into());
            }
        }
        Ok(())
    }

    /// The longest a run may take, whatever its scenarios say: the runner's deadline.
    #[must_use]
    pub fn max_duration(&self) -> Duration {
        Duration::try_from_secs_f64(self.max_duration_s).unwrap_or(Duration::MAX)
    }
}

/// How long runs are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub keep_runs: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { keep_runs: 1000 }
    }
}

/// A token or key: compared, never shown (`***` in logs and serialised output).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for comparing or signing only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// A target besides the sandbox: a PostgreSQL server (`kind = "postgres"`, the default: a
/// connection URL, a secret) whose pool lifeguard builds itself, or a deployed HTTP service
/// (`kind = "http"`: its auth endpoints, test users, metrics endpoint and database; see
/// [`crate::targets::http`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    #[serde(default)]
    pub kind: TargetKind,
    /// `postgres`: the server to load.
    #[serde(default)]
    pub url: Option<SecretUrl>,
    /// How long opening a connection may take, handshake included (pools, observer, probe,
    /// seeding); also how long the observer waits for an answer. 10 s when absent.
    #[serde(default)]
    pub connect_timeout_s: Option<f64>,
    /// `http`: the service's address.
    #[serde(default)]
    pub base_url: Option<SecretUrl>,
    #[serde(default)]
    pub login: Option<RequestConfig>,
    #[serde(default)]
    pub validate: Option<RequestConfig>,
    #[serde(default)]
    pub users: Option<UsersConfig>,
    /// How long one request may take before it counts as a timeout (10 s).
    #[serde(default)]
    pub request_timeout_s: Option<f64>,
    /// Extra CA certificates (PEM) for an https service.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    #[serde(default)]
    pub database: Option<DatabaseConfig>,
    /// Worker threads of a run's engine against this target (1–64): 1 when absent for a server
    /// on this machine, one per core for a remote one.
    #[serde(default)]
    pub engine_threads: Option<u32>,
}

/// What a configured target is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    #[default]
    Postgres,
    Http,
}

impl TargetConfig {
    /// A PostgreSQL target at `url`.
    #[must_use]
    pub fn postgres(name: impl Into<String>, url: SecretUrl) -> Self {
        Self {
            name: name.into(),
            kind: TargetKind::Postgres,
            url: Some(url),
            connect_timeout_s: None,
            base_url: None,
            login: None,
            validate: None,
            users: None,
            request_timeout_s: None,
            ca_file: None,
            metrics: None,
            database: None,
            engine_threads: None,
        }
    }

    /// The deadline for opening a connection to this target (or its database).
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout_s
            .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs_f64)
    }

    /// The HTTP fields, for [`HttpService::build`].
    #[must_use]
    pub fn http_fields(&self) -> HttpFields<'_> {
        HttpFields {
            name: &self.name,
            base_url: self.base_url.as_ref(),
            login: self.login.as_ref(),
            validate: self.validate.as_ref(),
            users: self.users.as_ref(),
            request_timeout_s: self.request_timeout_s,
            ca_file: self.ca_file.as_ref(),
            metrics: self.metrics.as_ref(),
            database: self.database.as_ref(),
            connect_timeout: self.connect_timeout(),
        }
    }
}

/// A connection URL that may hold a password: shown and serialised with the password masked.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for connecting only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return "***".into();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end],
                    &rest[..colon],
                    &rest[at..]
                ),
                None => url.clone(),
            },
            None => url.clone(),
        }
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// How the embedded sandbox PostgreSQL is started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// Directory holding `initdb` and `postgres`; discovered when absent.
    pub pg_bin: Option<PathBuf>,
    /// Seconds to wait for the server to accept connections.
    pub ready_timeout_s: u64,
    /// Further server settings, e.g. `shared_buffers = "256MB"`.
    pub settings: BTreeMap<String, String>,
    /// Start the sandbox target with the console (off when only real targets are validated).
    pub enabled: bool,
    /// Start the demo auth service beside the sandbox as target `demo` (`scripts/run.sh` does
    /// when its virtual environment is installed).
    #[serde(default)]
    pub demo: Option<DemoConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            frontend_dir: None,
            sandbox: SandboxConfig::default(),
            targets: Vec::new(),
            suites: Vec::new(),
            profiles: Vec::new(),
            data_dir: PathBuf::from("lifeguard-data"),
            store_url: None,
            access: AccessConfig::default(),
            guard_rails: GuardRails::default(),
            retention: Retention::default(),
            compare: CompareSettings::default(),
            schedules: Vec::new(),
            monitors: Vec::new(),
            monitoring: MonitoringConfig::default(),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let options = SandboxOptions::default();
        Self {
            max_connections: options.max_connections,
            pg_bin: None,
            ready_timeout_s: options.ready_timeout.as_secs(),
            settings: BTreeMap::new(),
            enabled: true,
            demo: None,
        }
    }
}

/// A configuration that cannot be used; the message names the key and the rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The figment error is shown, not chained as a source: chained, `{:#}` would print it twice.
    #[error("reading the configuration: {0}")]
    Source(Box<figment::Error>),
    #[error("the configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: `{field}` {rule}")]
    Invalid { field: &'static str, rule: String },
    /// The same, for a key with an index in it (`schedules[0].cron`).
    #[error("invalid configuration: `{field}` {rule}")]
    InvalidAt { field: String, rule: String },
}

impl From<Box<figment::Error>> for ConfigError {
    fn from(error: Box<figment::Error>) -> Self {
        Self::Source(error)
    }
}

impl Config {
    /// Defaults, then `file` when given (it must exist), then the `LIFEGUARD_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Self = figment
            .merge(environment())
            .extract()
            .map_err(|e| ConfigError::Source(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The rules serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() && self.access.operator_tokens.is_empty() {
            return Err(ConfigError::Invalid {
                field: "listen",
                rule: format!(
                    "must be a loopback address while no operator token is configured, got {}: \
                     without tokens everyone who reaches the console may trigger load. Add a token \
                     of 16 characters or more (`[access] operator_tokens = [\"...\"]` in the \
                     configuration file, or LIFEGUARD_ACCESS__OPERATOR_TOKENS='[\"...\"]'), or \
                     listen on 127.0.0.1",
                    self.listen
                ),
            });
        }
        let tokens = self
            .access
            .operator_tokens
            .iter()
            .chain(&self.access.viewer_tokens);
        if tokens
            .chain(&self.access.share_secret)
            .any(|t| t.expose().len() < 16)
        {
            return Err(ConfigError::Invalid {
                field: "access",
                rule: "tokens and the share secret must be at least 16 characters".into(),
            });
        }
        if self.sandbox.max_connections < 3 {
            return Err(ConfigError::Invalid {
                field: "sandbox.max_connections",
                rule: format!(
                    "must be at least 3 (PostgreSQL reserves superuser slots), got {}",
                    self.sandbox.max_connections
                ),
            });
        }
        self.guard_rails.validate()?;
        if self.sandbox.ready_timeout_s == 0 {
            return Err(ConfigError::Invalid {
                field: "sandbox.ready_timeout_s",
                rule: "must be at least 1 second".into(),
            });
        }
        let mut names = std::collections::BTreeSet::from(["sandbox"]);
        for target in &self.targets {
            if !names.insert(target.name.as_str()) {
                return Err(ConfigError::Invalid {
                    field: "targets.name",
                    rule: format!(
                        "must be unique (and not `sandbox`), `{}` repeats",
                        target.name
                    ),
                });
            }
            if let Some(timeout) = target.connect_timeout_s
                && !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0)
            {
                return Err(ConfigError::Invalid {
                    field: "targets.connect_timeout_s",
                    rule: format!(
                        "must be a number of seconds above 0 and at most 600, got {timeout} for \
                         target `{}`",
                        target.name
                    ),
                });
            }
            if let Some(threads) = target.engine_threads {
                lifeguard_shared::run::check_engine_threads("targets.engine_threads", threads)
                    .map_err(|e| ConfigError::InvalidAt {
                        field: e.field,
                        rule: format!("{} (target `{}`)", e.rule, target.name),
                    })?;
            }
            match target.kind {
                TargetKind::Postgres => check_postgres(target)?,
                TargetKind::Http => {
                    HttpService::build(&target.http_fields()).map_err(|e| {
                        ConfigError::Invalid {
                            field: e.field,
                            rule: format!("{} (target `{}`)", e.rule, target.name),
                        }
                    })?;
                }
            }
        }
        for (i, profile) in self.profiles.iter().enumerate() {
            profile.validate().map_err(|e| ConfigError::InvalidAt {
                field: format!("profiles[{i}].{}", e.field),
                rule: format!("{} (profile `{}`)", e.rule, profile.name),
            })?;
        }
        self.validate_schedules()?;
        self.validate_monitors()
    }

    /// Monitors: a PostgreSQL target each, once; an interval of a second or more; rules that
    /// hold; webhooks that exist, with an address, a timeout and retries in bounds.
    fn validate_monitors(&self) -> Result<(), ConfigError> {
        let monitoring = &self.monitoring;
        let mut hooks = std::collections::BTreeSet::new();
        for (i, hook) in monitoring.webhooks.iter().enumerate() {
            let invalid = |key: &str, rule: String| ConfigError::InvalidAt {
                field: format!("monitoring.webhooks[{i}].{key}"),
                rule,
            };
            if hook.name.trim().is_empty() || !hooks.insert(hook.name.as_str()) {
                return Err(invalid("name", "must be given and unique".into()));
            }
            let url = hook.url.expose();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "url",
                    "must be an http:// or https:// address".into(),
                ));
            }
            if !(hook.timeout_s > 0.0 && hook.timeout_s <= 60.0) {
                return Err(invalid(
                    "timeout_s",
                    format!("must be above 0 and at most 60, got {}", hook.timeout_s),
                ));
            }
            if hook.retries > 10 {
                return Err(invalid(
                    "retries",
                    format!("must be at most 10, got {}", hook.retries),
                ));
            }
        }
        for (key, value) in [
            ("raw_hours", monitoring.raw_hours),
            ("minutes_days", monitoring.minutes_days),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::InvalidAt {
                    field: format!("monitoring.{key}"),
                    rule: format!("must be a positive number, got {value}"),
                });
            }
        }
        // PostgreSQL targets, and services whose pool metrics or database a monitor can read.
        let readable: Vec<&str> = std::iter::once("sandbox")
            .chain(
                self.targets
                    .iter()
                    .filter(|t| {
                        t.kind == TargetKind::Postgres
                            || t.metrics.is_some()
                            || t.database.is_some()
                    })
                    .map(|t| t.name.as_str()),
            )
            .collect();
        let mut watched = std::collections::BTreeSet::new();
        for (i, monitor) in self.monitors.iter().enumerate() {
            let invalid = |key: &str, rule: String| ConfigError::InvalidAt {
                field: format!("monitors[{i}].{key}"),
                rule,
            };
            if !readable.contains(&monitor.target.as_str()) {
                return Err(invalid(
                    "target",
                    format!(
                        "names no target a monitor can read (a PostgreSQL target, or a service \
                         with `metrics` or a `database`): `{}` (known: {})",
                        monitor.target,
                        readable.join(", ")
                    ),
                ));
            }
            if !watched.insert(monitor.target.as_str()) {
                return Err(invalid(
                    "target",
                    format!("`{}` has a monitor already", monitor.target),
                ));
            }
            if !(monitor.interval_s.is_finite() && monitor.interval_s >= 1.0) {
                return Err(invalid(
                    "interval_s",
                    format!("must be at least 1 second, got {}", monitor.interval_s),
                ));
            }
            monitor
                .alerts
                .validate()
                .map_err(|e| invalid(&format!("alerts.{}", e.field), e.rule))?;
            for name in monitor.notify.iter().flatten() {
                if !hooks.contains(name.as_str()) {
                    return Err(invalid("notify", format!("names no webhook: `{name}`")));
                }
            }
        }
        Ok(())
    }

    /// Schedules: unique names, a cron pattern that parses, and a target, suite, profile,
    /// labels, workload and baseline name a run would accept.
    fn validate_schedules(&self) -> Result<(), ConfigError> {
        let catalog = crate::catalog::Catalog::from_config(self);
        let mut targets: Vec<&str> = vec!["sandbox"];
        if self.sandbox.demo.is_some() {
            targets.push("demo");
        }
        targets.extend(self.targets.iter().map(|t| t.name.as_str()));
        let mut names = std::collections::BTreeSet::new();
        for (i, schedule) in self.schedules.iter().enumerate() {
            let invalid = |key: &str, rule: String| ConfigError::InvalidAt {
                field: format!("schedules[{i}].{key}"),
                rule,
            };
            if schedule.name.trim().is_empty() {
                return Err(invalid("name", "must not be empty".into()));
            }
            if !names.insert(schedule.name.as_str()) {
                return Err(invalid(
                    "name",
                    format!("must be unique, `{}` repeats", schedule.name),
                ));
            }
            crate::schedule::parse_cron(&schedule.cron).map_err(|rule| invalid("cron", rule))?;
            if !targets.contains(&schedule.target.as_str()) {
                return Err(invalid(
                    "target",
                    format!(
                        "names no known target: `{}` (known: {})",
                        schedule.target,
                        targets.join(", ")
                    ),
                ));
            }
            catalog
                .suite(&schedule.suite)
                .map_err(|e| invalid("suite", e.rule))?;
            catalog
                .profile(&schedule.profile)
                .map_err(|e| invalid("profile", e.rule))?;
            schedule
                .labels
                .validate()
                .and_then(|()| {
                    schedule
                        .workload
                        .validate()
                        .map_err(|e| e.under("workload"))
                })
                .map_err(|e| invalid(&e.field, e.rule))?;
            if let Some(baseline) = &schedule.baseline {
                crate::api::check_baseline_name(baseline)
                    .map_err(|e| invalid("baseline", e.rule))?;
            }
        }
        Ok(())
    }

    /// The store URL: the configured one, else SQLite in `data_dir`.
    #[must_use]
    pub fn store_url(&self) -> String {
        self.store_url.as_ref().map_or_else(
            || format!("sqlite://{}", self.data_dir.join("lifeguard.db").display()),
            |url| url.expose().to_owned(),
        )
    }

    /// Whether the console runs in local mode (no operator tokens).
    #[must_use]
    pub fn local_mode(&self) -> bool {
        self.access.operator_tokens.is_empty()
    }

    /// The sandbox options this configuration describes.
    #[must_use]
    pub fn sandbox_options(&self) -> SandboxOptions {
        SandboxOptions {
            max_connections: self.sandbox.max_connections,
            settings: self.sandbox.settings.clone(),
            pg_bin: self.sandbox.pg_bin.clone(),
            ready_timeout: Duration::from_secs(self.sandbox.ready_timeout_s),
        }
    }
}

/// A PostgreSQL target has a URL that parses, and none of a service's fields.
fn check_postgres(target: &TargetConfig) -> Result<(), ConfigError> {
    let url = target.url.as_ref().ok_or_else(|| ConfigError::Invalid {
        field: "targets.url",
        rule: format!(
            "is required for PostgreSQL target `{}` (or say `kind = \"http\"` for a service)",
            target.name
        ),
    })?;
    if url.expose().parse::<tokio_postgres::Config>().is_err() {
        return Err(ConfigError::Invalid {
            field: "targets.url",
            rule: format!(
                "must be a PostgreSQL connection URL, got `{}` for target `{}`",
                url.redacted(),
                target.name
            ),
        });
    }
    let service_fields = [
        ("targets.base_url", target.base_url.is_some()),
        ("targets.login", target.login.is_some()),
        ("targets.validate", target.validate.is_some()),
        ("targets.users", target.users.is_some()),
        ("targets.metrics", target.metrics.is_some()),
        ("targets.database", target.database.is_some()),
    ];
    if let Some((field, _)) = service_fields.into_iter().find(|(_, given)| *given) {
        return Err(ConfigError::Invalid {
            field,
            rule: format!(
                "belongs to an `http` target; target `{}` is PostgreSQL (add `kind = \"http\"`)",
                target.name
            ),
        });
    }
    Ok(())
}

/// The sections an environment variable may address; other `LIFEGUARD_*` variables (the test
/// harness's, `LIFEGUARD_CONFIG`) are not configuration. Within a section unknown keys are errors.
const ENV_SECTIONS: &[&str] = &[
    "listen",
    "frontend_dir",
    "sandbox",
    "pg_bin",
    "data_dir",
    "store_url",
    "access",
    "guard_rails",
    "retention",
    "compare",
    "schedules",
];

/// `LIFEGUARD_*` variables as configuration keys.
fn environment() -> Env {
    Env::prefixed("LIFEGUARD_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            ENV_SECTIONS.iter().any(|section| {
                key == *section
                    || key
                        .strip_prefix(section)
                        .is_some_and(|rest| rest.starts_with("__"))
            })
        })
        .map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            if key == "pg_bin" {
                "sandbox.pg_bin".into()
            } else {
                key.replace("__", ".").into()
            }
        })
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closures must return figment::Error"
)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file_and_listen_on_loopback() {
        figment::Jail::expect_with(|_jail| {
            let config = Config::load(None).unwrap();
            assert_eq!(config, Config::default());
            assert!(config.listen.ip().is_loopback());
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                "listen = \"127.0.0.1:9000\"\n[sandbox]\nmax_connections = 40\n",
            )?;
            jail.set_env("LIFEGUARD_SANDBOX__MAX_CONNECTIONS", "55");
            jail.set_env("LIFEGUARD_PG_BIN", "/opt/pg/bin");
            let config = Config::load(Some(Path::new("lifeguard.toml"))).unwrap();
            assert_eq!(config.listen.port(), 9000);
            assert_eq!(config.sandbox.max_connections, 55);
            assert_eq!(config.sandbox.pg_bin, Some(PathBuf::from("/opt/pg/bin")));
            Ok(())
        });
    }

    #[test]
    fn other_lifeguard_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LIFEGUARD_TEST_OUTPUT", "/tmp/out");
            jail.set_env("LIFEGUARD_CONFIG", "lifeguard.toml");
            assert_eq!(Config::load(None).unwrap(), Config::default());
            jail.set_env("LIFEGUARD_SANDBOX__MAX_CONECTIONS", "9");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("max_conections"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("lifeguard.toml", "[sandbox]\nmax_conections = 40\n")?;
            let error = Config::load(Some(Path::new("lifeguard.toml")))
                .unwrap_err()
                .to_string();
            assert!(error.contains("max_conections"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_too_small_server_is_rejected_with_field_and_rule() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LIFEGUARD_SANDBOX__MAX_CONNECTIONS", "2");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("sandbox.max_connections"), "{error}");
            assert!(error.contains("at least 3"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn suites_profiles_and_targets_come_from_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                r#"
                [[targets]]
                name = "staging"
                url = "postgres://app:s3cret@db.internal:5432/auth"

                [[profiles]]
                name = "tiny"
                primary = { pool_size = 2, max_overflow = 1, pool_timeout_s = 5 }

                [[suites]]
                name = "smoke"
                [[suites.scenarios]]
                name = "one"
                min_success_rate = 1.0
                load = { model = "closed", users = 1, requests_per_user = 1 }
                "#,
            )?;
            let config = Config::load(Some(Path::new("lifeguard.toml"))).unwrap();
            assert_eq!(config.targets[0].name, "staging");
            assert_eq!(config.profiles[0].primary.capacity(), 3);
            assert_eq!(config.suites[0].scenarios[0].name, "one");
            let shown = format!("{config:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(
                shown.contains("postgres://app:***@db.internal:5432/auth"),
                "{shown}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_readmes_configuration_example_loads_as_it_is_written() {
        let readme = include_str!("../../README.md");
        let example = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("README.md has a toml block");
        figment::Jail::expect_with(|jail| {
            jail.create_file("lifeguard.toml", example)?;
            jail.set_env("AUTH_LOADTEST_PASSWORD", "from-the-environment");
            let config = Config::load(Some(Path::new("lifeguard.toml")))
                .unwrap_or_else(|e| panic!("README.md's example: {e}"));
            assert!(config.targets.iter().any(|t| t.kind == TargetKind::Http));
            assert!(
                config
                    .targets
                    .iter()
                    .any(|t| t.kind == TargetKind::Postgres)
            );
            Ok(())
        });
    }

    #[test]
    fn an_invalid_profile_in_the_file_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                "[[profiles]]\nname = \"bad\"\nprimary = { pool_size = 0, max_overflow = 1, pool_timeout_s = 5 }\n",
            )?;
            let error = Config::load(Some(Path::new("lifeguard.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("`pool_size` must be at least 1, got 0"),
                "{error}"
            );
            assert!(error.contains("profiles"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_profile_of_no_replicas_is_named_with_its_rule() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                "[[profiles]]\nname = \"fleet\"\nreplicas = 0\nprimary = { pool_size = 2, max_overflow = 1, pool_timeout_s = 5 }\n",
            )?;
            let error = Config::load(Some(Path::new("lifeguard.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("profiles[0].replicas")
                    && error.contains("must be at least 1, got 0"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_monitor_out_of_its_rules_is_named_with_its_field() {
        let cases = [
            (
                "target = \"nowhere\"",
                "monitors[0].target",
                "names no target a monitor can read",
            ),
            (
                "target = \"sandbox\"\ninterval_s = 0.5",
                "monitors[0].interval_s",
                "at least 1 second",
            ),
            (
                "target = \"sandbox\"\nnotify = [\"pager\"]",
                "monitors[0].notify",
                "names no webhook: `pager`",
            ),
            (
                "target = \"sandbox\"\nalerts = { rules = [{ metric = \"churn_per_s\", warning = 20, critical = 10 }] }",
                "monitors[0].alerts.rules[0].warning",
                "at most `critical`",
            ),
        ];
        for (monitor, field, rule) in cases {
            figment::Jail::expect_with(|jail| {
                jail.create_file("lifeguard.toml", &format!("[[monitors]]\n{monitor}\n"))?;
                let error = Config::load(Some(Path::new("lifeguard.toml")))
                    .unwrap_err()
                    .to_string();
                assert!(error.contains(field) && error.contains(rule), "{error}");
                Ok(())
            });
        }
    }

    #[test]
    fn a_webhook_address_is_a_secret_never_shown() {
        let hook = WebhookConfig {
            name: "ops".into(),
            url: Secret::new("https://hooks.example/T000/B000/XXXX"),
            format: WebhookFormat::Slack,
            timeout_s: 5.0,
            retries: 3,
        };
        let shown = format!("{hook:?} {}", serde_json::to_string(&hook).unwrap());
        assert!(
            !shown.contains("XXXX") && !shown.contains("hooks.example"),
            "{shown}"
        );
    }

    #[test]
    fn a_redacted_url_keeps_everything_but_the_password() {
        let url = SecretUrl::new("postgresql://u:p%40ss@h:1/d?sslmode=disable");
        assert_eq!(url.redacted(), "postgresql://u:***@h:1/d?sslmode=disable");
        assert_eq!(
            SecretUrl::new("postgres://h/d").redacted(),
            "postgres://h/d"
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let error = Config::load(Some(Path::new("/nonexistent/lifeguard.toml"))).unwrap_err();
        assert!(matches!(error, ConfigError::MissingFile(_)));
    }

    #[test]
    fn a_public_address_without_tokens_says_why_and_how_to_add_one() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LIFEGUARD_LISTEN", "0.0.0.0:8080");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(
                error.contains("`listen` must be a loopback address"),
                "{error}"
            );
            assert!(error.contains("operator_tokens"), "{error}");
            jail.set_env(
                "LIFEGUARD_ACCESS__OPERATOR_TOKENS",
                r#"["operator-token-0123456789"]"#,
            );
            let config = Config::load(None).unwrap();
            assert_eq!(config.access.operator_tokens.len(), 1);
            assert!(!config.local_mode());
            Ok(())
        });
    }

    #[test]
    fn schedules_come_from_the_file_and_a_bad_one_is_named_by_index() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                r#"
                [[schedules]]
                name = "weekly"
                cron = "0 3 * * 1"
                target = "sandbox"
                labels = { environment = "staging" }
                baseline = "staging-good"
                "#,
            )?;
            let config = Config::load(Some(Path::new("lifeguard.toml"))).unwrap();
            let weekly = &config.schedules[0];
            assert_eq!(
                (weekly.suite.as_str(), weekly.profile.as_str()),
                ("auth-burst", "current")
            );
            assert_eq!(weekly.baseline.as_deref(), Some("staging-good"));
            let refused = |schedule: &str| {
                jail.create_file("bad.toml", &format!("[[schedules]]\n{schedule}\n"))
                    .unwrap();
                Config::load(Some(Path::new("bad.toml")))
                    .unwrap_err()
                    .to_string()
            };
            let error = refused(
                r#"name = "x"
cron = "0 3 * *"
target = "sandbox""#,
            );
            assert!(
                error.contains("`schedules[0].cron` must be a cron pattern"),
                "{error}"
            );
            let error = refused(
                r#"name = "x"
cron = "0 3 * * 1"
target = "nowhere""#,
            );
            assert!(
                error.contains("`schedules[0].target` names no known target"),
                "{error}"
            );
            let error = refused(
                r#"name = "x"
cron = "0 3 * * 1"
target = "sandbox"
suite = "auth-bust""#,
            );
            assert!(error.contains("`schedules[0].suite`"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_target_connect_timeout_must_be_positive_and_bounded() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "lifeguard.toml",
                "[[targets]]\nname = \"db\"\nurl = \"postgres://u@h/d\"\nconnect_timeout_s = 0\n",
            )?;
            let error = Config::load(Some(Path::new("lifeguard.toml")))
                .unwrap_err()
                .to_string();
            assert!(error.contains("targets.connect_timeout_s"), "{error}");
            Ok(())
        });
    }
}
