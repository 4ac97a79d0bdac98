//! The one error for input that breaks a rule: it names the field and the rule, so a person can fix
//! the config, the form or the command line without reading code.

use std::fmt;

/// `field` broke `rule`, e.g. `pool.primary.pool_size` / `must be at least 1, got 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted path of the offending field, as it is spelt in TOML and JSON.
    pub field: String,
    /// The rule in plain words, with the value that broke it.
    pub rule: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The same error with `prefix.` in front of its field, as it bubbles up a nested structure.
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.field = format!("{prefix}.{}", self.field);
        }
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.rule)
    }
}

impl std::error::Error for Invalid {}

/// Checks `low <= value <= high` for a share such as `error_rate`.
pub fn share(field: &str, value: f64) -> Result<(), Invalid> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("must be between 0 and 1, got {value}"),
        ))
    }
}

/// Checks `value >= min` for a count.
pub fn at_least(field: &str, value: u32, min: u32) -> Result<(), Invalid> {
    if value >= min {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("must be at least {min}, got {value}"),
        ))
    }
}

/// Checks that a number of seconds is finite and positive.
pub fn positive_seconds(field: &str, value: f64) -> Result<(), Invalid> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("must be a positive number of seconds, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_field_and_rule() {
        let error = at_least("pool_size", 0, 1).unwrap_err().under("primary");
        assert_eq!(
            error.to_string(),
            "`primary.pool_size` must be at least 1, got 0"
        );
    }

    #[test]
    fn shares_and_seconds_have_bounds() {
        assert!(share("error_rate", 0.5).is_ok());
        assert!(share("error_rate", 1.5).is_err());
        assert!(share("error_rate", f64::NAN).is_err());
        assert!(positive_seconds("pool_timeout_s", -1.0).is_err());
        assert!(positive_seconds("pool_timeout_s", f64::INFINITY).is_err());
        assert!(positive_seconds("pool_timeout_s", 0.5).is_ok());
    }
}
