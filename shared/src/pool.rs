//! Pool profiles: SQLAlchemy QueuePool settings as the analysed service uses them.

use serde::{Deserialize, Serialize};

use crate::invalid::{self, Invalid};

/// Which end of the idle queue a checkout takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reuse {
    /// Oldest idle connection first (SQLAlchemy's default): spreads use over all connections.
    #[default]
    Fifo,
    /// Newest idle connection first (`use_lifo=True`): lets surplus connections age out.
    Lifo,
}

/// One QueuePool's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawPoolSettings")]
pub struct PoolSettings {
    /// Connections kept open once created.
    pub pool_size: u32,
    /// Extra connections allowed beyond `pool_size`; closed when returned while `pool_size` wait idle.
    pub max_overflow: u32,
    /// Longest a checkout waits for a connection before failing, in seconds.
    pub pool_timeout_s: f64,
    /// Age in seconds after which a connection is replaced at checkout; `None` never recycles.
    pub pool_recycle_s: Option<f64>,
    /// Check liveness at checkout and replace a dead connection (invalidating older ones).
    pub pre_ping: bool,
    /// Open and verify `pool_size` connections before the load starts.
    pub prewarm: bool,
    /// Idle queue order.
    pub reuse: Reuse,
}

/// The same fields, before their rules are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoolSettings {
    pool_size: u32,
    max_overflow: u32,
    pool_timeout_s: f64,
    #[serde(default)]
    pool_recycle_s: Option<f64>,
    #[serde(default)]
    pre_ping: bool,
    #[serde(default)]
    prewarm: bool,
    #[serde(default)]
    reuse: Reuse,
}

impl TryFrom<RawPoolSettings> for PoolSettings {
    type Error = Invalid;

    fn try_from(raw: RawPoolSettings) -> Result<Self, Invalid> {
        let settings = Self {
            pool_size: raw.pool_size,
            max_overflow: raw.max_overflow,
            pool_timeout_s: raw.pool_timeout_s,
            pool_recycle_s: raw.pool_recycle_s,
            pre_ping: raw.pre_ping,
            prewarm: raw.prewarm,
            reuse: raw.reuse,
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl PoolSettings {
    /// The rules: at least one kept connection, positive finite timeout and recycle age.
    pub fn validate(&self) -> Result<(), Invalid> {
        invalid::at_least("pool_size", self.pool_size, 1)?;
        invalid::positive_seconds("pool_timeout_s", self.pool_timeout_s)?;
        if let Some(recycle) = self.pool_recycle_s {
            invalid::positive_seconds("pool_recycle_s", recycle)?;
        }
        Ok(())
    }

    /// Most connections this pool ever holds open at once.
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.pool_size.saturating_add(self.max_overflow)
    }

    fn analysed(pool_size: u32, max_overflow: u32, timeout_s: f64, recycle_s: f64) -> Self {
        Self {
            pool_size,
            max_overflow,
            pool_timeout_s: timeout_s,
            pool_recycle_s: Some(recycle_s),
            pre_ping: false,
            prewarm: false,
            reuse: Reuse::Fifo,
        }
    }

    fn recommended(pool_size: u32, max_overflow: u32) -> Self {
        Self {
            pre_ping: true,
            prewarm: true,
            ..Self::analysed(pool_size, max_overflow, 30.0, 1800.0)
        }
    }
}

/// Most application instances one run stands in for: each opens its own pools on the target, and
/// a server gives few more connections than this many small pools.
pub const MAX_REPLICAS: u32 = 64;

/// A named pool configuration: the primary ("async") pool the auth flow uses, and optionally the
/// secondary ("sync") pool the analysed `get_current_user()` fell back to — in each of `replicas`
/// application instances, which share one database server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub primary: PoolSettings,
    #[serde(default)]
    pub secondary: Option<PoolSettings>,
    /// Application instances, each with these pools; requests are spread over them in turn.
    #[serde(default = "one_replica", skip_serializing_if = "is_one_replica")]
    pub replicas: u32,
}

fn one_replica() -> u32 {
    1
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_one_replica(replicas: &u32) -> bool {
    *replicas == 1
}

impl PoolProfile {
    /// The rules of both pools and of the replica count.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.primary.validate().map_err(|e| e.under("primary"))?;
        if let Some(secondary) = &self.secondary {
            secondary.validate().map_err(|e| e.under("secondary"))?;
        }
        invalid::at_least("replicas", self.replicas, 1)?;
        if self.replicas > MAX_REPLICAS {
            return Err(Invalid::new(
                "replicas",
                format!("must be at most {MAX_REPLICAS}, got {}", self.replicas),
            ));
        }
        Ok(())
    }

    /// Every kept connection of every replica's pools: what the server holds when the load is
    /// over.
    #[must_use]
    pub fn kept_connections(&self) -> u32 {
        self.replicas.saturating_mul(
            self.primary.pool_size + self.secondary.as_ref().map_or(0, |s| s.pool_size),
        )
    }

    /// Every connection every replica's pools may open at once.
    #[must_use]
    pub fn total_capacity(&self) -> u32 {
        self.replicas.saturating_mul(
            self.primary.capacity() + self.secondary.as_ref().map_or(0, PoolSettings::capacity),
        )
    }

    /// Every replica's primary pool as one: what the run's pool gauges (sums over the replicas)
    /// are measured against.
    #[must_use]
    pub fn primary_fleet(&self) -> PoolSettings {
        PoolSettings {
            pool_size: self.primary.pool_size.saturating_mul(self.replicas),
            max_overflow: self.primary.max_overflow.saturating_mul(self.replicas),
            ..self.primary.clone()
        }
    }

    /// The built-in profiles, from the incident analysis.
    #[must_use]
    pub fn built_in() -> Vec<Self> {
        vec![
            Self {
                name: "current".into(),
                description: "The configuration that ran dry: 10 + 20 overflow, 45 s timeout, \
                              1 h recycle; fallback pool 10 + 15."
                    .into(),
                primary: PoolSettings::analysed(10, 20, 45.0, 3600.0),
                secondary: Some(PoolSettings::analysed(10, 15, 45.0, 3600.0)),
                replicas: 1,
            },
            Self {
                name: "recommended-dev".into(),
                description: "The analysis's development sizing: 15 + 12 and 12 + 8, 30 s \
                              timeout, 30 min recycle, pre-ping and pre-warming."
                    .into(),
                primary: PoolSettings::recommended(15, 12),
                secondary: Some(PoolSettings::recommended(12, 8)),
                replicas: 1,
            },
            Self {
                name: "recommended-prod".into(),
                description: "The analysis's production sizing: 30 + 50 and 24 + 35, 30 s \
                              timeout, 30 min recycle, pre-ping and pre-warming."
                    .into(),
                primary: PoolSettings::recommended(30, 50),
                secondary: Some(PoolSettings::recommended(24, 35)),
                replicas: 1,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_profiles_carry_the_analysis_numbers() {
        let profiles = PoolProfile::built_in();
        let current = &profiles[0];
        assert_eq!(current.name, "current");
        assert_eq!(
            (current.primary.pool_size, current.primary.max_overflow),
            (10, 20)
        );
        assert!((current.primary.pool_timeout_s - 45.0).abs() < f64::EPSILON);
        assert_eq!(current.secondary.as_ref().unwrap().capacity(), 25);
        let prod = &profiles[2];
        assert_eq!(prod.primary.capacity(), 80);
        assert_eq!(prod.kept_connections(), 54);
        for profile in &profiles {
            profile.primary.validate().unwrap();
        }
    }

    #[test]
    fn replicas_multiply_what_the_server_holds_and_default_to_one() {
        let mut prod = PoolProfile::built_in().remove(2);
        let json = serde_json::to_string(&prod).unwrap();
        assert!(
            !json.contains("replicas"),
            "one replica is not written: {json}"
        );
        let read: PoolProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(read.replicas, 1);
        prod.replicas = 4;
        assert_eq!(prod.kept_connections(), 4 * 54);
        assert_eq!(prod.total_capacity(), 4 * (80 + 59));
        assert_eq!(prod.primary_fleet().capacity(), 4 * 80);
        prod.replicas = 0;
        assert_eq!(
            prod.validate().unwrap_err().to_string(),
            "`replicas` must be at least 1, got 0"
        );
        prod.replicas = MAX_REPLICAS + 1;
        assert!(
            prod.validate()
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
    }

    #[test]
    fn a_pool_of_size_zero_does_not_deserialise() {
        let error = serde_json::from_str::<PoolSettings>(
            r#"{"pool_size":0,"max_overflow":1,"pool_timeout_s":1}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("`pool_size` must be at least 1, got 0"),
            "{error}"
        );
    }

    #[test]
    fn a_negative_timeout_does_not_deserialise() {
        let error = serde_json::from_str::<PoolSettings>(
            r#"{"pool_size":2,"max_overflow":1,"pool_timeout_s":-3}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("`pool_timeout_s` must be a positive"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_pool_setting_is_named() {
        let error = serde_json::from_str::<PoolSettings>(
            r#"{"pool_size":2,"max_overflow":1,"pool_timeout_s":3,"pool_sise":4}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("pool_sise"), "{error}");
    }
}
