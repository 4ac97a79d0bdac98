//! The auth flow against a deployed HTTP service: each virtual user logs in (the declared login
//! request with one of the target's test users) and then validates its token (the declared
//! validation request); a share of requests (`login_ratio`) log in again. Each virtual user has
//! an HTTP client of its own that keeps its connections alive, as browsers and mobile apps do.
//! What the service does with its pool is its own; lifeguard sees its answers (and, elsewhere,
//! its metrics and its database).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand::rngs::SmallRng;

use super::{Outcome, RequestResult, Workload};
use crate::runner::Abort;
use crate::targets::http::{Body, HttpService, RequestSpec, describe};

/// A virtual user between requests: its client (and the connections it keeps alive), who it is,
/// and its token once logged in.
struct VirtualUser {
    client: reqwest::Client,
    user: usize,
    token: Option<String>,
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
    login_ratio: f64,
    /// Virtual users not making a request right now.
    idle: Mutex<Vec<VirtualUser>>,
    /// Stops the run when the service has stopped answering.
    abort: Abort,
    /// Since when every request has failed to reach the service (`None` while it answers).
    unreachable_since: Mutex<Option<(Instant, String)>>,
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

/// A client as a browser is one: its own connections, kept alive; redirects followed only on the
/// same host; the target's timeout and extra CA.
pub fn client(service: &HttpService) -> Result<reqwest::Client, String> {
    let host = service.base_url.host_str().map(str::to_owned);
    let mut builder = reqwest::Client::builder()
        .timeout(service.timeout)
        .connect_timeout(service.timeout)
        .pool_idle_timeout(Duration::from_secs(90))
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
    #[must_use]
    pub fn new(service: Arc<HttpService>, login_ratio: f64, abort: Abort) -> Self {
        Self {
            service,
            login_ratio,
            idle: Mutex::new(Vec::new()),
            abort,
            unreachable_since: Mutex::new(None),
        }
    }

    /// Notes whether the service answered; aborts the run once nothing has reached it for
    /// [`UNREACHABLE_FOR`].
    fn note_reach(&self, result: &Result<(), FlowError>) {
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

    fn request(
        &self,
        client: &reqwest::Client,
        spec: &RequestSpec,
        user: usize,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let test = &self.service.users[user];
        let (email, password) = (test.email.as_str(), test.password.expose());
        // Below the base URL's own path, if it has one (`https://host/api` + `/auth/login`).
        let base = &self.service.base_url;
        let mut url = base.clone();
        url.set_path(&format!(
            "{}{}",
            base.path().trim_end_matches('/'),
            fill(&spec.path, email, password, token)
        ));
        let mut request = client.request(spec.method.clone(), url);
        for (name, value) in &spec.headers {
            request = request.header(name, fill(value, email, password, token));
        }
        match &spec.body {
            Body::None => request,
            Body::Json(json) => request.json(&fill_json(json, email, password)),
            Body::Form(pairs) => {
                let filled: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v, email, password, token)))
                    .collect();
                request.form(&filled)
            }
        }
    }

    /// Logs `user` in; the token.
    async fn login(&self, client: &reqwest::Client, user: usize) -> Result<String, FlowError> {
        let response = self
            .request(client, &self.service.login, user, "")
            .send()
            .await
            .map_err(|e| failed("login", &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| failed("login", &e))?;
        if !status.is_success() {
            return Err(FlowError::Status {
                what: "login",
                status: status.as_u16(),
                body: excerpt(&body),
            });
        }
        let pointer = &self.service.token_pointer;
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| {
                json.pointer(pointer)
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            })
            .ok_or_else(|| FlowError::NoToken {
                pointer: pointer.clone(),
                body: excerpt(&body),
            })
    }

    /// Validates `token`.
    async fn validate(
        &self,
        client: &reqwest::Client,
        user: usize,
        token: &str,
    ) -> Result<(), FlowError> {
        let response = self
            .request(client, &self.service.validate, user, token)
            .send()
            .await
            .map_err(|e| failed("validation", &e))?;
        let status = response.status();
        // Read the answer whole: the connection goes back to the client's pool for the next one.
        let body = response
            .bytes()
            .await
            .map_err(|e| failed("validation", &e))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(FlowError::Status {
                what: "validation",
                status: status.as_u16(),
                body: excerpt(&body),
            })
        }
    }

    /// One login and one validation with the first test user, before any load: a service that
    /// cannot be logged into, or whose answer has no token where the target says, is an error
    /// now rather than a run of failures.
    pub async fn preflight(&self) -> Result<(), FlowError> {
        let client = client(&self.service).map_err(|cause| FlowError::Failed {
            what: "client set-up",
            cause,
        })?;
        let token = self.login(&client, 0).await?;
        self.validate(&client, 0, &token).await
    }

    fn take(&self, rng: &mut SmallRng) -> Option<VirtualUser> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.or_else(|| {
            Some(VirtualUser {
                client: client(&self.service).ok()?,
                user: rng.random_range(0..self.service.users.len()),
                token: None,
            })
        })
    }

    fn give_back(&self, user: VirtualUser) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(user);
    }
}

fn failed(what: &'static str, error: &reqwest::Error) -> FlowError {
    FlowError::Failed {
        what,
        cause: describe(error),
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
        let login = user.token.is_none() || rng.random_bool(self.login_ratio);
        let done = if login {
            self.login(&user.client, user.user).await.map(|token| {
                user.token = Some(token);
            })
        } else {
            let token = user.token.as_deref().unwrap_or_default();
            self.validate(&user.client, user.user, token).await
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
                    user.token = None;
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
