//! The `auth-flow` workload's knobs: what one virtual user's request does with the pool, including
//! the analysed defects reproduced on purpose.

use serde::{Deserialize, Serialize};

use crate::invalid::{self, Invalid};

/// Knobs of the `auth-flow` workload; every one has a default, so `{}` is a healthy workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, try_from = "RawAuthFlow")]
pub struct AuthFlow {
    /// Users seeded in lifeguard's schema on the target (each with one live session).
    pub users: u32,
    /// Share of requests that are logins (user by email, insert a session) instead of validations.
    pub login_ratio: f64,
    /// Simulated application work with the connection checked out, in milliseconds.
    pub hold_ms: u32,
    /// On the error path the connection is never returned (the analysed missing `finally`).
    pub leak_on_error: bool,
    /// Share of requests that take the error path.
    pub error_rate: f64,
    /// When the primary path fails in any way (a failed or timed-out checkout, a database or
    /// application error), do the request again on the secondary pool (the analysed
    /// `get_current_user()` fallback, which caught every exception).
    pub sync_fallback: bool,
    /// Share of validations answered from a token cache, without the database.
    pub token_cache_hit_ratio: f64,
}

impl Default for AuthFlow {
    fn default() -> Self {
        Self {
            users: 10_000,
            login_ratio: 0.1,
            hold_ms: 0,
            leak_on_error: false,
            error_rate: 0.0,
            sync_fallback: false,
            token_cache_hit_ratio: 0.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuthFlow {
    users: u32,
    login_ratio: f64,
    hold_ms: u32,
    leak_on_error: bool,
    error_rate: f64,
    sync_fallback: bool,
    token_cache_hit_ratio: f64,
}

impl Default for RawAuthFlow {
    fn default() -> Self {
        let d = AuthFlow::default();
        Self {
            users: d.users,
            login_ratio: d.login_ratio,
            hold_ms: d.hold_ms,
            leak_on_error: d.leak_on_error,
            error_rate: d.error_rate,
            sync_fallback: d.sync_fallback,
            token_cache_hit_ratio: d.token_cache_hit_ratio,
        }
    }
}

impl TryFrom<RawAuthFlow> for AuthFlow {
    type Error = Invalid;

    fn try_from(raw: RawAuthFlow) -> Result<Self, Invalid> {
        let flow = Self {
            users: raw.users,
            login_ratio: raw.login_ratio,
            hold_ms: raw.hold_ms,
            leak_on_error: raw.leak_on_error,
            error_rate: raw.error_rate,
            sync_fallback: raw.sync_fallback,
            token_cache_hit_ratio: raw.token_cache_hit_ratio,
        };
        flow.validate()?;
        Ok(flow)
    }
}

impl AuthFlow {
    /// The knob names, as `--workload KEY=VALUE` and the API spell them.
    pub const KEYS: [&'static str; 7] = [
        "users",
        "login_ratio",
        "hold_ms",
        "leak_on_error",
        "error_rate",
        "sync_fallback",
        "token_cache_hit_ratio",
    ];

    /// The rules: at least one user, shares between 0 and 1, at most a minute of hold.
    pub fn validate(&self) -> Result<(), Invalid> {
        invalid::at_least("users", self.users, 1)?;
        invalid::share("login_ratio", self.login_ratio)?;
        invalid::share("error_rate", self.error_rate)?;
        invalid::share("token_cache_hit_ratio", self.token_cache_hit_ratio)?;
        if self.hold_ms > 60_000 {
            return Err(Invalid::new(
                "hold_ms",
                format!("must be at most 60000, got {}", self.hold_ms),
            ));
        }
        Ok(())
    }

    /// Applies one `KEY=VALUE` override; the error names the key and the rule.
    pub fn set(&mut self, assignment: &str) -> Result<(), Invalid> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(Invalid::new(
                "workload",
                format!("expects KEY=VALUE, got `{assignment}`"),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let field = format!("workload.{key}");
        let number = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| Invalid::new(&field, format!("must be a number, got `{v}`")))
        };
        let count = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| Invalid::new(&field, format!("must be a whole number, got `{v}`")))
        };
        let flag = |v: &str| match v {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(Invalid::new(
                &field,
                format!("must be true or false, got `{v}`"),
            )),
        };
        match key {
            "users" => self.users = count(value)?,
            "login_ratio" => self.login_ratio = number(value)?,
            "hold_ms" => self.hold_ms = count(value)?,
            "leak_on_error" => self.leak_on_error = flag(value)?,
            "error_rate" => self.error_rate = number(value)?,
            "sync_fallback" => self.sync_fallback = flag(value)?,
            "token_cache_hit_ratio" => self.token_cache_hit_ratio = number(value)?,
            _ => {
                return Err(Invalid::new(
                    field,
                    format!(
                        "is not a workload setting (known: {})",
                        Self::KEYS.join(", ")
                    ),
                ));
            }
        }
        self.validate().map_err(|e| e.under("workload"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_are_checked() {
        let mut flow = AuthFlow::default();
        flow.set("hold_ms=20").unwrap();
        flow.set("leak_on_error=true").unwrap();
        flow.set("error_rate = 0.2").unwrap();
        assert_eq!(flow.hold_ms, 20);
        assert!(flow.leak_on_error);
        assert!((flow.error_rate - 0.2).abs() < f64::EPSILON);
        let error = flow.set("error_rate=2").unwrap_err().to_string();
        assert_eq!(
            error,
            "`workload.error_rate` must be between 0 and 1, got 2"
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_the_known_ones() {
        let error = AuthFlow::default().set("hold=5").unwrap_err().to_string();
        assert!(
            error.starts_with("`workload.hold` is not a workload setting"),
            "{error}"
        );
        assert!(error.contains("hold_ms"), "{error}");
    }

    #[test]
    fn json_with_an_unknown_key_or_a_bad_share_is_refused() {
        assert!(serde_json::from_str::<AuthFlow>(r#"{"hold":1}"#).is_err());
        let error = serde_json::from_str::<AuthFlow>(r#"{"login_ratio":-0.5}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`login_ratio` must be between 0 and 1"),
            "{error}"
        );
        assert_eq!(
            serde_json::from_str::<AuthFlow>("{}").unwrap(),
            AuthFlow::default()
        );
    }
}
