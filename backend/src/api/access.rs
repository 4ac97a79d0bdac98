//! Who may do what. Operators (token) trigger, cancel and set baselines; viewers read, with or
//! without a token as configured; a signed share link reads one run or one comparison. In local
//! mode (no operator tokens) the console listens on loopback only and everyone is an operator.
//!
//! Tokens come as `Authorization: Bearer T` or `?token=T` (browsers' `EventSource` cannot set
//! headers); share links as `?share=S`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::IntoResponse as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{ApiError, AppState};
use crate::config::{AccessConfig, Secret};
use crate::store::now_ms;

/// What a share link opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Scope {
    Run { id: String },
    Compare { base: String, head: String },
}

impl Scope {
    /// Whether a link to `self` may read `other`: itself, and for a comparison each of its two
    /// runs (the comparison's view shows their curves and details).
    #[must_use]
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Compare { base, head }, Self::Run { id }) => id == base || id == head,
            _ => self == other,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    scope: Scope,
    /// Unix milliseconds; `None` never expires.
    expires_at: Option<u64>,
}

/// The configured tokens and the key that signs share links.
#[derive(Debug, Clone)]
pub struct Access {
    config: AccessConfig,
    key: Secret,
}

/// A caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

impl Access {
    /// Access as configured; without a share secret a random one is made for this process.
    #[must_use]
    pub fn new(config: AccessConfig) -> Self {
        let key = config.share_secret.clone().unwrap_or_else(|| {
            use rand::distr::{Alphanumeric, SampleString as _};
            Secret::new(Alphanumeric.sample_string(&mut rand::rng(), 48))
        });
        Self { config, key }
    }

    #[must_use]
    pub fn local_mode(&self) -> bool {
        self.config.operator_tokens.is_empty()
    }

    fn role_of(&self, token: Option<&str>) -> Result<Option<Role>, ApiError> {
        if self.local_mode() {
            return Ok(Some(Role::Operator));
        }
        let matches = |tokens: &[Secret], token: &str| {
            tokens
                .iter()
                .any(|t| constant_time_eq(t.expose().as_bytes(), token.as_bytes()))
        };
        match token {
            Some(token) if matches(&self.config.operator_tokens, token) => Ok(Some(Role::Operator)),
            Some(token) if matches(&self.config.viewer_tokens, token) => Ok(Some(Role::Viewer)),
            Some(_) => Err(ApiError::Unauthorized(
                "the token is not known to this console".into(),
            )),
            None if self.config.viewers_need_token => Ok(None),
            None => Ok(Some(Role::Viewer)),
        }
    }

    /// A signed link for `scope`, valid until `expires_at` (forever when `None`).
    #[must_use]
    pub fn sign(&self, scope: Scope, expires_at: Option<u64>) -> String {
        let claims = serde_json::to_vec(&Claims { scope, expires_at }).unwrap_or_default();
        let payload = B64.encode(claims);
        format!("{payload}.{}", B64.encode(self.mac(payload.as_bytes())))
    }

    /// The scope of a valid, unexpired share token.
    pub fn verify(&self, token: &str) -> Result<Scope, ApiError> {
        let invalid = || ApiError::Unauthorized("the share link is not valid".into());
        let (payload, signature) = token.split_once('.').ok_or_else(invalid)?;
        let signature = B64.decode(signature).map_err(|_| invalid())?;
        let mut mac = self.hmac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).map_err(|_| invalid())?;
        let claims: Claims = B64
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(invalid)?;
        if claims.expires_at.is_some_and(|at| at < now_ms()) {
            return Err(ApiError::Unauthorized("the share link has expired".into()));
        }
        Ok(claims.scope)
    }

    fn hmac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        #[expect(clippy::expect_used, reason = "HMAC accepts every key length")]
        Hmac::<Sha256>::new_from_slice(self.key.expose().as_bytes()).expect("any key length")
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.hmac();
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller of a request: a role (if any) and a share link's scope (if any).
#[derive(Debug, Clone)]
pub struct Caller {
    role: Option<Role>,
    share: Option<Scope>,
}

impl Caller {
    /// Operators only.
    pub fn operator(&self) -> Result<(), ApiError> {
        match self.role {
            Some(Role::Operator) => Ok(()),
            Some(Role::Viewer) => Err(ApiError::Forbidden("this needs an operator token".into())),
            None => Err(ApiError::Unauthorized(
                "this needs an operator token".into(),
            )),
        }
    }

    /// Anyone who may read everything.
    pub fn viewer(&self) -> Result<(), ApiError> {
        if self.role.is_some() {
            Ok(())
        } else {
            Err(ApiError::Unauthorized(
                "reading needs a viewer token or a share link".into(),
            ))
        }
    }

    /// Readers, or a share link for exactly `scope`.
    pub fn reader_of(&self, scope: &Scope) -> Result<(), ApiError> {
        if self.role.is_some() || self.share.as_ref().is_some_and(|s| s.covers(scope)) {
            Ok(())
        } else if self.share.is_some() {
            Err(ApiError::Forbidden(
                "the share link opens something else".into(),
            ))
        } else {
            self.viewer()
        }
    }

    /// `operator`, `viewer` or `none`.
    #[must_use]
    pub fn role_name(&self) -> &'static str {
        match self.role {
            Some(Role::Operator) => "operator",
            Some(Role::Viewer) => "viewer",
            None => "none",
        }
    }
}

/// Which `Host` a request must name. In local mode the console trusts everyone who reaches it, so
/// it answers only requests addressed to it by a loopback name or address: a web page on another
/// origin whose name was rebound to 127.0.0.1 (DNS rebinding) names its own host and is refused.
#[derive(Debug, Clone, Copy)]
pub struct HostRule {
    /// `None` when tokens guard the console and any name may reach it.
    local_to: Option<SocketAddr>,
}

impl HostRule {
    #[must_use]
    pub fn new(local_mode: bool, bound: SocketAddr) -> Self {
        Self {
            local_to: local_mode.then_some(bound),
        }
    }

    /// Whether a request with this `Host` header may be answered.
    #[must_use]
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(bound) = self.local_to else {
            return true;
        };
        let Some(host) = host else {
            return false;
        };
        let name = host_name(host);
        if crate::targets::is_loopback_host(name)
            || name.to_ascii_lowercase().ends_with(".localhost")
        {
            return true;
        }
        name.parse::<IpAddr>().is_ok_and(|ip| ip == bound.ip())
    }
}

/// The name of a `Host` header without its port (`[::1]:8080` → `::1`).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Middleware: refuses requests whose `Host` the [`HostRule`] does not allow (421).
pub async fn check_host(
    axum::extract::State(rule): axum::extract::State<HostRule>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(ToString::to_string));
    if rule.allows(host.as_deref()) {
        return next.run(request).await;
    }
    ApiError::Misdirected(format!(
        "this console is in local mode (no operator tokens) and answers only requests addressed \
         to localhost or a loopback address, not `{}`; configure access.operator_tokens to serve \
         it under another name",
        host.as_deref().unwrap_or("(no Host header)")
    ))
    .into_response()
}

/// `uri` as logs may show it: the values of `token` and `share` replaced by `***`.
#[must_use]
pub fn redacted(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key @ ("token" | "share"), _)) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

/// `?token=` and `?share=` as a browser sends them: percent-encoded (`+` as `%2B`, `/` as `%2F`).
#[derive(Debug, Default, Deserialize)]
struct QueryCredentials {
    token: Option<String>,
    share: Option<String>,
}

impl QueryCredentials {
    /// The decoded values; a query that does not decode carries none.
    fn of(parts: &Parts) -> Self {
        axum::extract::Query::<Self>::try_from_uri(&parts.uri)
            .map(|query| query.0)
            .unwrap_or_default()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let access = state.access();
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let query = QueryCredentials::of(parts);
        let token = bearer.or(query.token.as_deref().filter(|t| !t.is_empty()));
        let role = access.role_of(token)?;
        let share = query
            .share
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| access.verify(s))
            .transpose()?;
        Ok(Self { role, share })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(operators: &[&str], viewers_need_token: bool) -> Access {
        Access::new(AccessConfig {
            operator_tokens: operators.iter().map(|t| Secret::new(*t)).collect(),
            viewer_tokens: vec![Secret::new("viewer-token-0123456789")],
            viewers_need_token,
            share_secret: Some(Secret::new("share-secret-0123456789")),
        })
    }

    #[test]
    fn local_mode_makes_everyone_an_operator() {
        assert_eq!(
            access(&[], true).role_of(None).unwrap(),
            Some(Role::Operator)
        );
    }

    #[test]
    fn tokens_decide_roles() {
        let a = access(&["operator-token-0123456789"], true);
        assert_eq!(
            a.role_of(Some("operator-token-0123456789")).unwrap(),
            Some(Role::Operator)
        );
        assert_eq!(
            a.role_of(Some("viewer-token-0123456789")).unwrap(),
            Some(Role::Viewer)
        );
        assert_eq!(a.role_of(None).unwrap(), None);
        assert!(a.role_of(Some("guess")).is_err());
        let open = access(&["operator-token-0123456789"], false);
        assert_eq!(open.role_of(None).unwrap(), Some(Role::Viewer));
    }

    #[test]
    fn share_links_are_signed_scoped_and_expire() {
        let a = access(&["operator-token-0123456789"], true);
        let scope = Scope::Run { id: "abc".into() };
        let token = a.sign(scope.clone(), None);
        assert_eq!(a.verify(&token).unwrap(), scope);
        let expired = a.sign(scope.clone(), Some(1));
        assert!(
            a.verify(&expired)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        // Changing the payload breaks the signature.
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_payload = B64.encode(
            serde_json::to_vec(&Claims {
                scope: Scope::Run { id: "other".into() },
                expires_at: None,
            })
            .unwrap(),
        );
        assert_ne!(payload, forged_payload);
        assert!(a.verify(&format!("{forged_payload}.{signature}")).is_err());
        // Another console's key does not verify it.
        let other = Access::new(AccessConfig::default());
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn a_comparison_link_reads_its_two_runs_and_nothing_else() {
        let link = Scope::Compare {
            base: "a".into(),
            head: "b".into(),
        };
        let run = |id: &str| Scope::Run { id: id.into() };
        assert!(link.covers(&link.clone()));
        assert!(link.covers(&run("a")) && link.covers(&run("b")));
        assert!(!link.covers(&run("c")));
        assert!(!run("a").covers(&link));
        assert!(!link.covers(&Scope::Compare {
            base: "a".into(),
            head: "c".into()
        }));
    }

    #[test]
    fn logged_uris_mask_tokens_and_share_links() {
        let uri: axum::http::Uri = "/api/runs/x/events?token=s3cret&limit=5&share=abc.def"
            .parse()
            .unwrap();
        assert_eq!(
            redacted(&uri),
            "/api/runs/x/events?token=***&limit=5&share=***"
        );
        assert_eq!(redacted(&"/api/runs".parse().unwrap()), "/api/runs");
    }

    #[test]
    fn local_mode_answers_loopback_names_only() {
        let bound = SocketAddr::from(([127, 0, 0, 1], 8080));
        let local = HostRule::new(true, bound);
        for host in [
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:8080",
            "127.0.0.1:8080",
            "127.0.0.2",
            "[::1]:8080",
        ] {
            assert!(local.allows(Some(host)), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "10.0.0.1:8080",
            "[2001:db8::1]:8080",
        ] {
            assert!(!local.allows(Some(host)), "{host}");
        }
        assert!(!local.allows(None));
        let guarded = HostRule::new(false, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert!(guarded.allows(Some("lifeguard.internal")));
    }

    #[test]
    fn query_credentials_are_percent_decoded() {
        let (parts, ()) = axum::http::Request::builder()
            .uri("/api/runs?token=a%2Bb%2Fc%3D&share=x.y")
            .body(())
            .unwrap()
            .into_parts();
        let query = QueryCredentials::of(&parts);
        assert_eq!(query.token.as_deref(), Some("a+b/c="));
        assert_eq!(query.share.as_deref(), Some("x.y"));
    }
}
