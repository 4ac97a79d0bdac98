//! A deployed HTTP service as a target: its auth flow as two declared requests (a login that
//! answers a token, a validation that sends it), its test users, and where to read its pool (its
//! metrics endpoint) and its database (read-only, from the server side). The configuration's
//! shapes are here, checked into an [`HttpService`] once, at start-up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Secret, SecretUrl};
use crate::scrape::mapping::{Mapping, Preset, SeriesNames};

/// One request of the auth flow, as configured. Strings may hold `{email}`, `{password}` (login)
/// and `{token}` (validation) placeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    /// `POST` for a login, `GET` for a validation when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Below the service's `base_url`, e.g. `/auth/login`.
    pub path: String,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A form-encoded body.
    #[serde(default)]
    pub form: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Login only: where the token is in the JSON answer (RFC 6901), e.g. `/access_token`.
    #[serde(default)]
    pub token_pointer: Option<String>,
}

/// The users a run logs in as: a pattern (`user{n}@demo.test`, n from 1 to `count`) or a CSV file
/// of `email,password` lines; a pattern's password comes from an environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersConfig {
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub csv: Option<PathBuf>,
    /// The environment variable holding the pattern users' password (a secret, never in the file).
    #[serde(default)]
    pub password_env: Option<String>,
}

/// Where the service's pool metrics are, and how to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub url: SecretUrl,
    /// Between scrapes: 1000 by default, at least 250.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    #[serde(default)]
    pub preset: Preset,
    /// Labels that pick the primary pool's series (e.g. `{ pool_name = "async" }`).
    #[serde(default)]
    pub primary: BTreeMap<String, String>,
    /// Labels that pick the secondary ("sync") pool's series, when the service has one.
    #[serde(default)]
    pub secondary: Option<BTreeMap<String, String>>,
    /// Series that replace the preset's (a `custom` preset names them all).
    #[serde(default)]
    pub series: SeriesNames,
}

fn default_interval_ms() -> u64 {
    1000
}

/// The service's database, watched read-only from the server side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A role that may read `pg_stat_activity` (a secret).
    pub url: SecretUrl,
    /// The service's backends: an `application_name` pattern (`LIKE`, e.g. `auth-service:%`)…
    #[serde(default)]
    pub application_name: Option<String>,
    /// …or the role they log in as.
    #[serde(default)]
    pub user: Option<String>,
}

/// A configuration that cannot be a service target: the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: `{field}` {rule}")]
pub struct Invalid {
    pub field: &'static str,
    pub rule: String,
}

fn invalid(field: &'static str, rule: impl Into<String>) -> Invalid {
    Invalid {
        field,
        rule: rule.into(),
    }
}

/// One request made ready: method, path and what to send, placeholders still in.
#[derive(Clone, PartialEq)]
pub struct RequestSpec {
    pub method: reqwest::Method,
    pub path: String,
    pub body: Body,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for RequestSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be credentials (an API key): their names only.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("at", &self.describe())
            .field("login", &self.login)
            .field("validate", &self.validate)
            .field("users", &self.users.len())
            .field("timeout", &self.timeout)
            .field("metrics", &self.metrics.as_ref().map(|m| m.url.redacted()))
            .field("database", &self.database.is_some())
            .finish_non_exhaustive()
    }
}

/// What a request sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// A test user; the password is a secret.
#[derive(Clone, PartialEq)]
pub struct TestUser {
    pub email: String,
    pub password: Secret,
}

impl std::fmt::Debug for TestUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestUser")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The metrics endpoint made ready.
#[derive(Debug, Clone)]
pub struct MetricsPlan {
    pub url: SecretUrl,
    pub interval: Duration,
    pub mapping: Mapping,
    pub preset: Preset,
    pub primary: BTreeMap<String, String>,
    pub secondary: Option<BTreeMap<String, String>>,
}

/// Which backends are the service's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backends {
    /// `application_name LIKE pattern`.
    ApplicationName(String),
    /// `usename = role`.
    User(String),
}

/// The database side made ready.
#[derive(Debug, Clone)]
pub struct DatabasePlan {
    /// Holds the password: never log or serialise it.
    pub connect: tokio_postgres::Config,
    pub backends: Backends,
}

/// A service target, checked and ready to load.
#[derive(Clone)]
pub struct HttpService {
    pub base_url: reqwest::Url,
    pub login: RequestSpec,
    pub validate: RequestSpec,
    /// RFC 6901 pointer to the token in the login's JSON answer.
    pub token_pointer: String,
    pub users: Vec<TestUser>,
    pub timeout: Duration,
    /// Extra CA certificates (PEM) trusted besides the usual roots.
    pub extra_ca: Option<Vec<u8>>,
    pub metrics: Option<MetricsPlan>,
    pub database: Option<DatabasePlan>,
}

/// The HTTP fields of a target's configuration.
#[derive(Debug, Clone, Copy)]
pub struct HttpFields<'a> {
    pub name: &'a str,
    pub base_url: Option<&'a SecretUrl>,
    pub login: Option<&'a RequestConfig>,
    pub validate: Option<&'a RequestConfig>,
    pub users: Option<&'a UsersConfig>,
    pub request_timeout_s: Option<f64>,
    pub ca_file: Option<&'a PathBuf>,
    pub metrics: Option<&'a MetricsConfig>,
    pub database: Option<&'a DatabaseConfig>,
    pub connect_timeout: Duration,
}

/// Most test users a pattern may name.
const MAX_USERS: u32 = 1_000_000;

impl HttpService {
    /// Checks `fields` and makes them ready: URLs parse, requests have paths and methods, the
    /// login says where its token is, users exist (the password variable is set, the CSV reads),
    /// the metrics mapping is complete.
    pub fn build(fields: &HttpFields<'_>) -> Result<Self, Invalid> {
        let base = fields
            .base_url
            .ok_or_else(|| invalid("targets.base_url", "is required for an `http` target"))?;
        let base_url = reqwest::Url::parse(base.expose())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                invalid(
                    "targets.base_url",
                    format!(
                        "must be an http:// or https:// URL, got `{}`",
                        base.redacted()
                    ),
                )
            })?;
        let login = fields
            .login
            .ok_or_else(|| invalid("targets.login", "is required for an `http` target"))?;
        let validate = fields
            .validate
            .ok_or_else(|| invalid("targets.validate", "is required for an `http` target"))?;
        let token_pointer = login.token_pointer.clone().ok_or_else(|| {
            invalid(
                "targets.login.token_pointer",
                "must say where the token is in the login's JSON answer, e.g. `/access_token`",
            )
        })?;
        if !token_pointer.is_empty() && !token_pointer.starts_with('/') {
            return Err(invalid(
                "targets.login.token_pointer",
                format!("must be a JSON pointer starting with `/`, got `{token_pointer}`"),
            ));
        }
        let timeout = match fields.request_timeout_s {
            None => Duration::from_secs(10),
            Some(s) if s.is_finite() && s > 0.0 && s <= 600.0 => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(invalid(
                    "targets.request_timeout_s",
                    format!("must be above 0 and at most 600 seconds, got {s}"),
                ));
            }
        };
        let extra_ca = fields
            .ca_file
            .map(|path| {
                let pem = std::fs::read(path).map_err(|e| {
                    invalid(
                        "targets.ca_file",
                        format!("cannot be read ({}): {e}", path.display()),
                    )
                })?;
                reqwest::Certificate::from_pem(&pem).map_err(|e| {
                    invalid(
                        "targets.ca_file",
                        format!("is not a PEM certificate ({}): {e}", path.display()),
                    )
                })?;
                Ok(pem)
            })
            .transpose()?;
        Ok(Self {
            base_url,
            login: request(login, "targets.login", reqwest::Method::POST)?,
            validate: request(validate, "targets.validate", reqwest::Method::GET)?,
            token_pointer,
            users: users(fields.users)?,
            timeout,
            extra_ca,
            metrics: fields.metrics.map(metrics).transpose()?,
            database: fields
                .database
                .map(|d| database(d, fields.connect_timeout))
                .transpose()?,
        })
    }

    /// What the targets page says the service is: its address without credentials.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut url = self.base_url.clone();
        let _no_user = url.set_username("");
        let _no_password = url.set_password(None);
        url.to_string()
    }

    /// What lifeguard reads of the service besides its answers.
    #[must_use]
    pub fn provides(&self) -> Vec<String> {
        let mut provides = vec![match &self.metrics {
            Some(metrics) => format!(
                "its pool from its metrics ({}): {}",
                metrics.preset.name(),
                metrics.mapping.gauges().join(", ")
            ),
            None => "no pool metrics".to_owned(),
        }];
        if self.database.is_some() {
            provides.push("server-side backends (pg_stat_activity)".to_owned());
        }
        provides
    }
}

fn request(
    config: &RequestConfig,
    field: &'static str,
    default: reqwest::Method,
) -> Result<RequestSpec, Invalid> {
    let method = match &config.method {
        Some(m) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid(field, format!("has an unknown method `{m}`")))?,
        None => default,
    };
    if !config.path.starts_with('/') {
        return Err(invalid(
            field,
            format!("needs a `path` starting with `/`, got `{}`", config.path),
        ));
    }
    let body = match (&config.json, &config.form) {
        (Some(_), Some(_)) => return Err(invalid(field, "takes `json` or `form`, not both")),
        (Some(json), None) => Body::Json(json.clone()),
        (None, Some(form)) => Body::Form(form.clone().into_iter().collect()),
        (None, None) => Body::None,
    };
    Ok(RequestSpec {
        method,
        path: config.path.clone(),
        body,
        headers: config.headers.clone().into_iter().collect(),
    })
}

fn users(config: Option<&UsersConfig>) -> Result<Vec<TestUser>, Invalid> {
    let config =
        config.ok_or_else(|| invalid("targets.users", "is required for an `http` target"))?;
    match (&config.pattern, &config.csv) {
        (Some(pattern), None) => {
            if !pattern.contains("{n}") {
                return Err(invalid(
                    "targets.users.pattern",
                    format!("must hold `{{n}}`, got `{pattern}`"),
                ));
            }
            let count = config.count.unwrap_or(1000);
            if !(1..=MAX_USERS).contains(&count) {
                return Err(invalid(
                    "targets.users.count",
                    format!("must be between 1 and {MAX_USERS}, got {count}"),
                ));
            }
            let variable = config.password_env.as_deref().ok_or_else(|| {
                invalid(
                    "targets.users.password_env",
                    "must name the environment variable holding the users' password",
                )
            })?;
            let password = std::env::var(variable).map_err(|_| {
                invalid(
                    "targets.users.password_env",
                    format!("names `{variable}`, which is not set"),
                )
            })?;
            Ok((1..=count)
                .map(|n| TestUser {
                    email: pattern.replace("{n}", &n.to_string()),
                    password: Secret::new(password.clone()),
                })
                .collect())
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "targets.users.csv",
                    format!("cannot be read ({}): {e}", path.display()),
                )
            })?;
            let users: Vec<TestUser> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "email,password")
                .filter_map(|line| {
                    let (email, password) = line.split_once(',')?;
                    Some(TestUser {
                        email: email.trim().to_owned(),
                        password: Secret::new(password.trim()),
                    })
                })
                .collect();
            if users.is_empty() {
                return Err(invalid(
                    "targets.users.csv",
                    format!("holds no `email,password` line ({})", path.display()),
                ));
            }
            Ok(users)
        }
        _ => Err(invalid(
            "targets.users",
            "takes a `pattern` (with `count` and `password_env`) or a `csv` file, one of them",
        )),
    }
}

fn metrics(config: &MetricsConfig) -> Result<MetricsPlan, Invalid> {
    reqwest::Url::parse(config.url.expose())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            invalid(
                "targets.metrics.url",
                format!(
                    "must be an http:// or https:// URL, got `{}`",
                    config.url.redacted()
                ),
            )
        })?;
    if !(250..=60_000).contains(&config.interval_ms) {
        return Err(invalid(
            "targets.metrics.interval_ms",
            format!("must be between 250 and 60000, got {}", config.interval_ms),
        ));
    }
    let mapping = Mapping::new(config.preset, &config.series)
        .map_err(|rule| invalid("targets.metrics", rule))?;
    Ok(MetricsPlan {
        url: config.url.clone(),
        interval: Duration::from_millis(config.interval_ms),
        mapping,
        preset: config.preset,
        primary: config.primary.clone(),
        secondary: config.secondary.clone(),
    })
}

fn database(config: &DatabaseConfig, timeout: Duration) -> Result<DatabasePlan, Invalid> {
    let mut connect = config
        .url
        .expose()
        .parse::<tokio_postgres::Config>()
        .map_err(|_| {
            invalid(
                "targets.database.url",
                format!(
                    "must be a PostgreSQL connection URL, got `{}`",
                    config.url.redacted()
                ),
            )
        })?;
    if connect.get_connect_timeout().is_none() {
        connect.connect_timeout(timeout);
    }
    let backends = match (&config.application_name, &config.user) {
        (Some(pattern), None) => Backends::ApplicationName(pattern.clone()),
        (None, Some(user)) => Backends::User(user.clone()),
        _ => {
            return Err(invalid(
                "targets.database",
                "names the service's backends by `application_name` or by `user`, one of them",
            ));
        }
    };
    Ok(DatabasePlan { connect, backends })
}

/// A request error in words: what failed, and its cause (`error sending request: connection
/// refused`), never the URL's credentials.
#[must_use]
pub fn describe(error: &reqwest::Error) -> String {
    let mut message = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> RequestConfig {
        RequestConfig {
            method: None,
            path: "/auth/login".into(),
            json: Some(serde_json::json!({ "email": "{email}", "password": "{password}" })),
            form: None,
            headers: BTreeMap::new(),
            token_pointer: Some("/access_token".into()),
        }
    }

    fn validate() -> RequestConfig {
        RequestConfig {
            method: None,
            path: "/auth/validate".into(),
            json: None,
            form: None,
            headers: [("Authorization".to_owned(), "Bearer {token}".to_owned())].into(),
            token_pointer: None,
        }
    }

    fn fields<'a>(
        base: &'a SecretUrl,
        login: &'a RequestConfig,
        validate: &'a RequestConfig,
        users: &'a UsersConfig,
    ) -> HttpFields<'a> {
        HttpFields {
            name: "demo",
            base_url: Some(base),
            login: Some(login),
            validate: Some(validate),
            users: Some(users),
            request_timeout_s: None,
            ca_file: None,
            metrics: None,
            database: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_service_from_a_csv_of_users_is_ready_to_load_and_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("users.csv");
        std::fs::write(
            &csv,
            "email,password\na@x.test,s3cret-a\nb@x.test,s3cret-b\n",
        )
        .unwrap();
        let users = UsersConfig {
            pattern: None,
            count: None,
            csv: Some(csv),
            password_env: None,
        };
        let base = SecretUrl::new("http://svc:hunter2@127.0.0.1:8000");
        let (login, validate) = (login(), validate());
        let service = HttpService::build(&fields(&base, &login, &validate, &users)).unwrap();
        assert_eq!(service.users.len(), 2);
        assert_eq!(service.login.method, reqwest::Method::POST);
        assert_eq!(service.validate.method, reqwest::Method::GET);
        assert_eq!(service.describe(), "http://127.0.0.1:8000/");
        let shown = format!("{service:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let base = SecretUrl::new("http://127.0.0.1:8000");
        let users = UsersConfig {
            pattern: Some("user@x.test".into()),
            count: Some(10),
            csv: None,
            password_env: Some("LIFEGUARD_TEST_NO_SUCH_VARIABLE".into()),
        };
        let (login, validate) = (login(), validate());
        let error = HttpService::build(&fields(&base, &login, &validate, &users)).unwrap_err();
        assert_eq!(error.field, "targets.users.pattern");
        let users = UsersConfig {
            pattern: Some("user{n}@x.test".into()),
            ..users
        };
        let error = HttpService::build(&fields(&base, &login, &validate, &users)).unwrap_err();
        assert_eq!(error.field, "targets.users.password_env");
        assert!(error.rule.contains("not set"), "{error}");
        let no_pointer = RequestConfig {
            token_pointer: None,
            ..login.clone()
        };
        let error = HttpService::build(&fields(&base, &no_pointer, &validate, &users)).unwrap_err();
        assert_eq!(error.field, "targets.login.token_pointer");
        let ftp = SecretUrl::new("ftp://127.0.0.1");
        let error = HttpService::build(&fields(&ftp, &login, &validate, &users)).unwrap_err();
        assert_eq!(error.field, "targets.base_url");
    }
}
