//! The auth flow against a deployed HTTP service: each virtual user logs in (the declared login
//! request with one of the target's test users) and then validates its token (the declared
//! validation request); a share of requests (`login_ratio`) log in again. Each virtual user has
//! a connection of its own, kept alive, as browsers and mobile apps do ([`super::http_conn`]).
//! What the service does with its pool is its own; lifeguard sees its answers (and, elsewhere,
//! its metrics and its database).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand::rngs::SmallRng;

use super::http_conn::{Connection, Endpoint, Prepared, SendError};
use super::{Outcome, RequestResult, Workload};
use crate::runner::Abort;
use crate::targets::http::{Body, HttpService, RequestSpec};

/// A virtual user between requests: its connection (kept alive), who it is, its login made ready,
/// and its token — with its validation made ready — once logged in.
struct VirtualUser {
    connection: Connection,
    user: usize,
    login: Prepared,
    session: Option<(String, Prepared)>,
}

/// Why a request did not produce a token or an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the service answered {status} to the {what}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("the {what} failed: {cause}")]
    Failed { what: &'static str, cause: String },
    #[error("the login's answer has no token at `{pointer}` (targets.login.token_pointer): {body}")]
    NoToken { pointer: String, body: String },
}

/// The workload, on one service.
pub struct HttpAuthFlow {
    service: Arc<HttpService>,
    endpoint: Endpoint,
    login_ratio: f64,
    /// Virtual users not making a request right now.
    idle: Mutex<Vec<VirtualUser>>,
    /// Stops the run when the service has stopped answering.
    abort: Abort,
    /// Since when every request has failed to reach the service (`None` while it answers).
    unreachable_since: Mutex<Option<(Instant, String)>>,
    /// Whether `unreachable_since` is set: an answered request need not take the lock.
    unreachable: AtomicBool,
}

/// How long a service may be unreachable (every request refused or timed out) before the run
/// ends `aborted`: longer than a restart of a pool, shorter than anyone's patience.
const UNREACHABLE_FOR: Duration = Duration::from_secs(3);

impl std::fmt::Debug for HttpAuthFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuthFlow")
            .field("service", &self.service.describe())
            .finish_non_exhaustive()
    }
}

/// A `reqwest` client for the service's metrics endpoint: the target's timeout and extra CA,
/// redirects followed only on the same host.
pub fn client(service: &HttpService) -> Result<reqwest::Client, String> {
    let host = service.base_url.host_str().map(str::to_owned);
    let mut builder = reqwest::Client::builder()
        .timeout(service.timeout)
        .connect_timeout(service.timeout)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 || attempt.url().host_str() != host.as_deref() {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }));
    if let Some(pem) = &service.extra_ca {
        let ca = reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|e| e.to_string())
}

/// `text` with the placeholders filled.
fn fill(text: &str, email: &str, password: &str, token: &str) -> String {
    text.replace("{email}", email)
        .replace("{password}", password)
        .replace("{token}", token)
}

fn fill_json(value: &serde_json::Value, email: &str, password: &str) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(fill(s, email, password, "")),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|v| fill_json(v, email, password))
                .collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_json(v, email, password)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl HttpAuthFlow {
    /// The workload on `service`; an error when its address cannot be connected to at all.
    pub fn new(service: Arc<HttpService>, login_ratio: f64, abort: Abort) -> Result<Self, String> {
        let endpoint = Endpoint::new(
            &service.base_url,
            service.timeout,
            service.extra_ca.as_deref(),
        )?;
        Ok(Self {
            service,
            endpoint,
            login_ratio,
            idle: Mutex::new(Vec::new()),
            abort,
            unreachable_since: Mutex::new(None),
            unreachable: AtomicBool::new(false),
        })
    }

    /// Notes whether the service answered; aborts the run once nothing has reached it for
    /// [`UNREACHABLE_FOR`].
    fn note_reach(&self, result: &Result<(), FlowError>) {
        let reached = !matches!(result, Err(FlowError::Failed { .. }));
        if reached && !self.unreachable.load(Ordering::Relaxed) {
            return;
        }
        self.unreachable.store(!reached, Ordering::Relaxed);
        let mut since = self
            .unreachable_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Err(FlowError::Failed { cause, .. }) => {
                let (first, _) = since.get_or_insert_with(|| (Instant::now(), cause.clone()));
                if first.elapsed() >= UNREACHABLE_FOR {
                    self.abort.abort(format!(
                        "the service stopped answering for {} s: {cause}",
                        UNREACHABLE_FOR.as_secs()
                    ));
                }
            }
            _ => *since = None,
        }
    }

    /// `spec` for `user` (and `token`), placeholders filled, ready to send.
    fn prepare(&self, spec: &RequestSpec, user: usize, token: &str) -> Result<Prepared, String> {
        let test = &self.service.users[user];
        let (email, password) = (test.email.as_str(), test.password.expose());
        let headers: Vec<(String, String)> = spec
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), fill(value, email, password, token)))
            .collect();
        let body = match &spec.body {
            Body::None => None,
            Body::Json(json) => Some((
                "application/json",
                serde_json::to_vec(&fill_json(json, email, password)).map_err(|e| e.to_string())?,
            )),
            Body::Form(pairs) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (key, value) in pairs {
                    form.append_pair(key, &fill(value, email, password, token));
                }
                Some((
                    "application/x-www-form-urlencoded",
                    form.finish().into_bytes(),
                ))
            }
        };
        self.endpoint.prepare(
            spec.method.clone(),
            &fill(&spec.path, email, password, token),
            &headers,
            body,
        )
    }

    /// A virtual user logged in as nobody yet, as test user `user`.
    fn virtual_user(&self, user: usize) -> Result<VirtualUser, FlowError> {
        Ok(VirtualUser {
            connection: Connection::default(),
            user,
            login: self
                .prepare(&self.service.login, user, "")
                .map_err(|cause| FlowError::Failed {
                    what: "login",
                    cause,
                })?,
            session: None,
        })
    }

    /// Logs `vu` in: its token, and its validation made ready.
    async fn login(&self, vu: &mut VirtualUser) -> Result<(), FlowError> {
        let answer = vu
            .connection
            .send(&self.endpoint, &vu.login)
            .await
            .map_err(|e| failed("login", &e))?;
        if !answer.status.is_success() {
            return Err(FlowError::Status {
                what: "login",
                status: answer.status.as_u16(),
                body: excerpt(&answer.body),
            });
        }
        let pointer = &self.service.token_pointer;
        let token = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|json| {
                json.pointer(pointer)
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            })
            .ok_or_else(|| FlowError::NoToken {
                pointer: pointer.clone(),
                body: excerpt(&answer.body),
            })?;
        let validate = self
            .prepare(&self.service.validate, vu.user, &token)
            .map_err(|cause| FlowError::Failed {
                what: "validation",
                cause,
            })?;
        vu.session = Some((token, validate));
        Ok(())
    }

    /// Validates `vu`'s token.
    async fn validate(&self, vu: &mut VirtualUser) -> Result<(), FlowError> {
        let Some((_, request)) = &vu.session else {
            return self.login(vu).await;
        };
        let answer = vu
            .connection
            .send(&self.endpoint, request)
            .await
            .map_err(|e| failed("validation", &e))?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(FlowError::Status {
                what: "validation",
                status: answer.status.as_u16(),
                body: excerpt(&answer.body),
            })
        }
    }

    /// One login and one validation with the first test user, before any load: a service that
    /// cannot be logged into, or whose answer has no token where the target says, is an error
    /// now rather than a run of failures.
    /// A 5xx answer is tried again (up to ten times): a service that fails some requests on
    /// purpose, or under a moment's load, is still one to load. (At a 30 % error rate a login
    /// and a validation both succeed about half the time: five attempts failed 3 % of checks.)
    pub async fn preflight(&self) -> Result<(), FlowError> {
        const ATTEMPTS: usize = 10;
        let mut vu = self.virtual_user(0)?;
        let mut attempt = 1;
        loop {
            vu.session = None;
            let checked = match self.login(&mut vu).await {
                Ok(()) => self.validate(&mut vu).await,
                Err(error) => Err(error),
            };
            match checked {
                Err(FlowError::Status { status, .. }) if status >= 500 && attempt < ATTEMPTS => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn take(&self, rng: &mut SmallRng) -> Option<VirtualUser> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.or_else(|| {
            self.virtual_user(rng.random_range(0..self.service.users.len()))
                .ok()
        })
    }

    fn give_back(&self, user: VirtualUser) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(user);
    }
}

fn failed(what: &'static str, error: &SendError) -> FlowError {
    FlowError::Failed {
        what,
        cause: error.to_string(),
    }
}

/// The start of an answer, for error messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// How a failed request counts.
fn outcome(error: &FlowError) -> Outcome {
    match error {
        FlowError::Status { status, .. } if *status >= 500 => Outcome::Http5xx,
        FlowError::Status { .. } | FlowError::NoToken { .. } => Outcome::Http4xx,
        FlowError::Failed { cause, .. } if cause.starts_with("timed out") => Outcome::Timeout,
        FlowError::Failed { .. } => Outcome::ConnectError,
    }
}

impl Workload for HttpAuthFlow {
    fn hold(&self) -> Duration {
        Duration::ZERO
    }

    async fn request(&self, rng: &mut SmallRng, _hold: Duration) -> RequestResult {
        let result = |outcome| RequestResult {
            outcome,
            acquire_wait: Duration::ZERO,
            pool: None,
        };
        let Some(mut user) = self.take(rng) else {
            return result(Outcome::ConnectError);
        };
        let done = if user.session.is_none() || rng.random_bool(self.login_ratio) {
            self.login(&mut user).await
        } else {
            self.validate(&mut user).await
        };
        self.note_reach(&done);
        let outcome = match &done {
            Ok(()) => Outcome::Ok,
            Err(error) => {
                // A refused token is stale: log in again next time.
                if matches!(
                    error,
                    FlowError::Status {
                        status: 401 | 403,
                        ..
                    }
                ) {
                    user.session = None;
                }
                outcome(error)
            }
        };
        self.give_back(user);
        result(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_strings_and_json() {
        assert_eq!(fill("Bearer {token}", "a", "b", "t1"), "Bearer t1");
        let json = serde_json::json!({ "email": "{email}", "nested": ["{password}", 3] });
        assert_eq!(
            fill_json(&json, "u@x", "pw"),
            serde_json::json!({ "email": "u@x", "nested": ["pw", 3] })
        );
    }

    #[test]
    fn answers_count_as_the_outcomes_a_report_shows() {
        let status = |status| FlowError::Status {
            what: "login",
            status,
            body: String::new(),
        };
        assert_eq!(outcome(&status(503)), Outcome::Http5xx);
        assert_eq!(outcome(&status(401)), Outcome::Http4xx);
        let timeout = FlowError::Failed {
            what: "login",
            cause: "timed out: operation timed out".into(),
        };
        assert_eq!(outcome(&timeout), Outcome::Timeout);
        let refused = FlowError::Failed {
            what: "login",
            cause: "could not connect: connection refused".into(),
        };
        assert_eq!(outcome(&refused), Outcome::ConnectError);
    }
}
