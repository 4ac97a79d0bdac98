//! The targets runs may load: the embedded sandbox, the PostgreSQL servers and the HTTP services
//! the operator configured ([`http`]). Only names cross the API; connection settings (with
//! passwords) stay here.

pub mod http;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::run::TargetInfo;
use tokio_postgres::config::Host;

use crate::config::{Config, TargetKind};
use crate::pool::connect::DEFAULT_CONNECT_TIMEOUT;
pub use http::HttpService;

/// How a run reaches a target.
#[derive(Clone)]
pub enum Reach {
    /// A PostgreSQL server lifeguard opens its own pools on. Holds the password: never log or
    /// serialise it. Its `connect_timeout` is the deadline for opening a connection (see
    /// [`crate::pool::connect`]).
    Postgres(Box<tokio_postgres::Config>),
    /// A deployed service lifeguard sends its auth flow to.
    Http(Arc<HttpService>),
}

impl fmt::Debug for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(config) => write!(f, "Postgres({})", describe(config)),
            Self::Http(service) => write!(f, "Http({})", service.describe()),
        }
    }
}

impl From<tokio_postgres::Config> for Reach {
    fn from(config: tokio_postgres::Config) -> Self {
        Self::Postgres(Box::new(config))
    }
}

/// One target: its name, kind and how to reach it.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `sandbox`, `postgres` or `http`.
    pub kind: &'static str,
    pub reach: Reach,
    /// Worker threads of a run's engine against it, unless a run asks for others.
    pub engine_threads: u32,
}

/// A run's engine threads when nobody said: one for a target on this machine — the server shares
/// the cores, and a second engine thread would take them from it (the sandbox, a loopback
/// address, a Unix socket) —, one per core for a remote target, whose server has cores of its own.
#[must_use]
pub fn default_engine_threads(reach: &Reach) -> u32 {
    let local = match reach {
        Reach::Postgres(config) => config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => is_loopback_host(name),
            Host::Unix(_) => true,
        }),
        Reach::Http(service) => service.base_url.host_str().is_none_or(is_loopback_host),
    };
    if local {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
        .min(lifeguard_shared::run::MAX_ENGINE_THREADS)
}

/// `localhost`, or an address of this machine's loopback interface (`[::1]` as URLs write it).
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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

/// A configured target that cannot be reached as configured.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: target `{name}`: {cause}")]
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
                    reach: sandbox.into(),
                    engine_threads: 1,
                },
            );
        }
        for configured in &config.targets {
            let failed = |cause: String| TargetError {
                name: configured.name.clone(),
                cause,
            };
            let (kind, reach) = match configured.kind {
                TargetKind::Postgres => {
                    let url = configured
                        .url
                        .as_ref()
                        .ok_or_else(|| failed("`targets.url` is required".into()))?;
                    let mut parsed = url
                        .expose()
                        .parse::<tokio_postgres::Config>()
                        .map_err(|error| failed(format!("`targets.url`: {error}")))?;
                    match configured.connect_timeout_s {
                        Some(seconds) => {
                            parsed.connect_timeout(Duration::from_secs_f64(seconds));
                        }
                        // A URL's own `connect_timeout` stands; else the default deadline.
                        None if parsed.get_connect_timeout().is_none() => {
                            parsed.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
                        }
                        None => {}
                    }
                    ("postgres", parsed.into())
                }
                TargetKind::Http => {
                    let service = HttpService::build(&configured.http_fields())
                        .map_err(|e| failed(e.to_string()))?;
                    ("http", Reach::Http(Arc::new(service)))
                }
            };
            by_name.insert(
                configured.name.clone(),
                Target {
                    name: configured.name.clone(),
                    kind,
                    engine_threads: configured
                        .engine_threads
                        .unwrap_or_else(|| default_engine_threads(&reach)),
                    reach,
                },
            );
        }
        Ok(Self { by_name })
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Target> {
        self.by_name.get(name)
    }

    /// The target a request names, or the rule it broke, naming the known ones.
    pub fn known(&self, name: &str) -> Result<&Target, Invalid> {
        self.get(name).ok_or_else(|| {
            Invalid::new(
                "target",
                format!(
                    "names no known target: `{name}` (known: {})",
                    self.names().join(", ")
                ),
            )
        })
    }

    /// What the API shows of each target.
    #[must_use]
    pub fn infos(&self) -> Vec<TargetInfo> {
        self.by_name
            .values()
            .map(|t| TargetInfo {
                name: t.name.clone(),
                kind: t.kind.to_owned(),
                description: match &t.reach {
                    Reach::Postgres(config) => describe(config),
                    Reach::Http(service) => service.describe(),
                },
                provides: match &t.reach {
                    Reach::Postgres(_) => vec![
                        "lifeguard's own pools (every checkout)".to_owned(),
                        "server-side backends (pg_stat_activity)".to_owned(),
                    ],
                    Reach::Http(service) => service.provides(),
                },
            })
            .collect()
    }

    /// The database the probe measures when none is named: the sandbox, else the first
    /// PostgreSQL target (a service is not a database).
    #[must_use]
    pub fn default_database(&self) -> Option<&Target> {
        self.get("sandbox").or_else(|| {
            self.by_name
                .values()
                .find(|t| matches!(t.reach, Reach::Postgres(_)))
        })
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
        config.targets.push(TargetConfig::postgres(
            "staging",
            SecretUrl::new("postgres://app:hunter2hunter2@db.internal:6432/auth"),
        ));
        let targets = Targets::new(&config, None).unwrap();
        let infos = targets.infos();
        assert_eq!(infos[0].description, "db.internal:6432/auth");
        let shown = format!("{infos:?} {targets:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("app"), "{shown}");
    }

    #[test]
    fn an_engine_has_one_thread_beside_a_local_server_and_one_per_core_for_a_remote_one() {
        let mut config = Config::default();
        for (name, url) in [
            ("loopback", "postgres://app:pw@127.0.0.1:5432/auth"),
            ("localhost", "postgres://app:pw@localhost/auth"),
            ("v6", "postgres://app:pw@[::1]:5432/auth"),
            ("socket", "postgresql:///auth?host=/var/run/postgresql"),
            ("remote", "postgres://app:pw@db.internal:5432/auth"),
        ] {
            config
                .targets
                .push(TargetConfig::postgres(name, SecretUrl::new(url)));
        }
        config.targets.push(TargetConfig {
            engine_threads: Some(3),
            ..TargetConfig::postgres("pinned", SecretUrl::new("postgres://app:pw@127.0.0.1/a"))
        });
        let targets =
            Targets::new(&config, Some("postgres://x@127.0.0.1/db".parse().unwrap())).unwrap();
        let threads = |name: &str| targets.get(name).unwrap().engine_threads;
        for local in ["sandbox", "loopback", "localhost", "v6", "socket"] {
            assert_eq!(threads(local), 1, "{local}");
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(usize::try_from(threads("remote")).unwrap(), cores);
        assert_eq!(threads("pinned"), 3, "the configuration's own");
    }
}
