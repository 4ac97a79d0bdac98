//! The targets runs may load: the embedded sandbox and the PostgreSQL targets the operator
//! configured. Only names cross the API; connection settings (with passwords) stay here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use lifeguard_shared::run::TargetInfo;
use tokio_postgres::config::Host;

use crate::config::Config;
use crate::pool::connect::DEFAULT_CONNECT_TIMEOUT;

/// One target: its name, kind and how to reach it.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    /// `sandbox` or `postgres`.
    pub kind: &'static str,
    /// Holds the password: never log or serialise it. Its `connect_timeout` is the target's
    /// deadline for opening a connection (see [`crate::pool::connect`]).
    pub config: tokio_postgres::Config,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("at", &describe(&self.config))
            .finish_non_exhaustive()
    }
}

/// `host:port/database`, without user or password.
#[must_use]
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config.get_dbname().unwrap_or("postgres")
    )
}

/// The targets by name.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    by_name: BTreeMap<String, Target>,
}

/// A configured target URL that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `targets.url` of target `{name}` is not a PostgreSQL URL: {cause}")]
pub struct TargetError {
    name: String,
    cause: String,
}

impl Targets {
    /// The configured targets, plus `sandbox` when one runs.
    pub fn new(
        config: &Config,
        sandbox: Option<tokio_postgres::Config>,
    ) -> Result<Self, TargetError> {
        let mut by_name = BTreeMap::new();
        if let Some(sandbox) = sandbox {
            by_name.insert(
                "sandbox".to_owned(),
                Target {
                    name: "sandbox".into(),
                    kind: "sandbox",
                    config: sandbox,
                },
            );
        }
        for configured in &config.targets {
            let parsed = configured
                .url
                .expose()
                .parse::<tokio_postgres::Config>()
                .map_err(|error| TargetError {
                    name: configured.name.clone(),
                    cause: error.to_string(),
                })?;
            let mut config = parsed;
            match configured.connect_timeout_s {
                Some(seconds) => {
                    config.connect_timeout(Duration::from_secs_f64(seconds));
                }
                // A URL's own `connect_timeout` stands; else the default deadline.
                None if config.get_connect_timeout().is_none() => {
                    config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
                }
                None => {}
            }
            by_name.insert(
                configured.name.clone(),
                Target {
                    name: configured.name.clone(),
                    kind: "postgres",
                    config,
                },
            );
        }
        Ok(Self { by_name })
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Target> {
        self.by_name.get(name)
    }

    /// What the API shows of each target.
    #[must_use]
    pub fn infos(&self) -> Vec<TargetInfo> {
        self.by_name
            .values()
            .map(|t| TargetInfo {
                name: t.name.clone(),
                kind: t.kind.to_owned(),
                description: describe(&t.config),
            })
            .collect()
    }

    /// The names, for error messages.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SecretUrl, TargetConfig};

    #[test]
    fn the_api_sees_no_credentials() {
        let mut config = Config::default();
        config.targets.push(TargetConfig {
            name: "staging".into(),
            url: SecretUrl::new("postgres://app:hunter2hunter2@db.internal:6432/auth"),
            connect_timeout_s: None,
        });
        let targets = Targets::new(&config, None).unwrap();
        let infos = targets.infos();
        assert_eq!(infos[0].description, "db.internal:6432/auth");
        let shown = format!("{infos:?} {targets:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("app"), "{shown}");
    }
}
