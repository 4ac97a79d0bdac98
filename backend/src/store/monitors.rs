//! Monitors' samples, their one-minute downsampling and retention, and the alert history.

use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{Alert, Deployment, MonitorMinute, MonitorSample};
use lifeguard_shared::report::Level;
use sqlx::Row as _;

use super::{Store, StoreError, from_db, query_error, to_db};

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        run: what.to_owned(),
        detail: error.to_string(),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

fn level_of(name: &str) -> Option<Level> {
    [Level::Ok, Level::Warning, Level::Critical]
        .into_iter()
        .find(|l| level_name(*l) == name)
}

/// What a retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retained {
    /// Raw samples folded into minutes and removed.
    pub downsampled: u64,
    /// Minutes removed past their retention.
    pub expired: u64,
}

impl Store {
    /// Keeps one sample (a second sample at the same instant is the same sample).
    pub async fn add_monitor_sample(
        &self,
        target: &str,
        sample: &MonitorSample,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(sample).unwrap_or_default();
        sqlx::query(
            "INSERT INTO monitor_samples (target, at_ms, sample) VALUES ($1, $2, $3) \
             ON CONFLICT (target, at_ms) DO NOTHING",
        )
        .bind(target)
        .bind(to_db(sample.at_ms))
        .bind(json)
        .execute(&self.pool)
        .await
        .map_err(query_error("storing a monitor sample"))?;
        Ok(())
    }

    /// The raw samples of `target` in `[from_ms, to_ms)`, oldest first.
    pub async fn monitor_samples(
        &self,
        target: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MonitorSample>, StoreError> {
        let rows = sqlx::query(
            "SELECT sample FROM monitor_samples WHERE target = $1 AND at_ms >= $2 AND at_ms < $3 \
             ORDER BY at_ms",
        )
        .bind(target)
        .bind(to_db(from_ms))
        .bind(to_db(to_ms))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading monitor samples"))?;
        rows.iter()
            .map(|row| {
                let json: String = row.try_get("sample").map_err(|e| corrupt(target, e))?;
                serde_json::from_str(&json).map_err(|e| corrupt(target, e))
            })
            .collect()
    }

    /// The minutes of `target` in `[from_ms, to_ms)`, in order.
    pub async fn monitor_minutes(
        &self,
        target: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<MonitorMinute>, StoreError> {
        let rows = sqlx::query(
            "SELECT minute_ms, metric, samples, min, mean, max FROM monitor_minutes \
             WHERE target = $1 AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms, metric",
        )
        .bind(target)
        .bind(to_db(from_ms))
        .bind(to_db(to_ms))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading monitor minutes"))?;
        rows.iter()
            .map(|row| {
                let bad = |e: sqlx::Error| corrupt(target, e);
                let metric: String = row.try_get("metric").map_err(bad)?;
                Ok(MonitorMinute {
                    minute_ms: from_db(row.try_get("minute_ms").map_err(bad)?),
                    metric: Metric::from_name(&metric)
                        .ok_or_else(|| corrupt(target, format!("unknown metric `{metric}`")))?,
                    samples: u32::try_from(row.try_get::<i64, _>("samples").map_err(bad)?)
                        .unwrap_or(u32::MAX),
                    min: row.try_get("min").map_err(bad)?,
                    mean: row.try_get("mean").map_err(bad)?,
                    max: row.try_get("max").map_err(bad)?,
                })
            })
            .collect()
    }

    /// Folds every raw sample of `target` in a whole minute before `raw_until_ms` into that
    /// minute's min/mean/max (exact: a minute is folded once, from all its samples), removes them,
    /// and removes minutes before `minutes_until_ms`. One transaction: a crash leaves both or
    /// neither.
    pub async fn retain_monitor(
        &self,
        target: &str,
        raw_until_ms: u64,
        minutes_until_ms: u64,
    ) -> Result<Retained, StoreError> {
        let cutoff = raw_until_ms - raw_until_ms % 60_000;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("starting a retention pass"))?;
        let rows = sqlx::query(
            "SELECT sample FROM monitor_samples WHERE target = $1 AND at_ms < $2 ORDER BY at_ms",
        )
        .bind(target)
        .bind(to_db(cutoff))
        .fetch_all(&mut *tx)
        .await
        .map_err(query_error("reading samples to downsample"))?;
        let samples: Vec<MonitorSample> = rows
            .iter()
            .map(|row| {
                let json: String = row.try_get("sample").map_err(|e| corrupt(target, e))?;
                serde_json::from_str(&json).map_err(|e| corrupt(target, e))
            })
            .collect::<Result<_, StoreError>>()?;
        for minute in MonitorMinute::of(&samples) {
            sqlx::query(
                "INSERT INTO monitor_minutes (target, minute_ms, metric, samples, min, mean, max) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (target, minute_ms, metric) DO NOTHING",
            )
            .bind(target)
            .bind(to_db(minute.minute_ms))
            .bind(minute.metric.name())
            .bind(i64::from(minute.samples))
            .bind(minute.min)
            .bind(minute.mean)
            .bind(minute.max)
            .execute(&mut *tx)
            .await
            .map_err(query_error("storing a monitor minute"))?;
        }
        let downsampled =
            sqlx::query("DELETE FROM monitor_samples WHERE target = $1 AND at_ms < $2")
                .bind(target)
                .bind(to_db(cutoff))
                .execute(&mut *tx)
                .await
                .map_err(query_error("removing downsampled samples"))?
                .rows_affected();
        let expired =
            sqlx::query("DELETE FROM monitor_minutes WHERE target = $1 AND minute_ms < $2")
                .bind(target)
                .bind(to_db(minutes_until_ms))
                .execute(&mut *tx)
                .await
                .map_err(query_error("removing expired minutes"))?
                .rows_affected();
        tx.commit()
            .await
            .map_err(query_error("finishing a retention pass"))?;
        Ok(Retained {
            downsampled,
            expired,
        })
    }

    /// Records an alert that just fired.
    pub async fn open_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alerts (id, target, metric, level, value, threshold, fired_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&alert.id)
        .bind(&alert.target)
        .bind(alert.metric.name())
        .bind(level_name(alert.level))
        .bind(alert.value)
        .bind(alert.threshold)
        .bind(to_db(alert.fired_at_ms))
        .execute(&self.pool)
        .await
        .map_err(query_error("storing an alert"))?;
        Ok(())
    }

    /// Moves a standing alert to another level, or resolves it (`resolved_at_ms`).
    pub async fn update_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alerts SET level = $1, value = $2, threshold = $3, resolved_at = $4 \
             WHERE id = $5",
        )
        .bind(level_name(alert.level))
        .bind(alert.value)
        .bind(alert.threshold)
        .bind(alert.resolved_at_ms.map(to_db))
        .bind(&alert.id)
        .execute(&self.pool)
        .await
        .map_err(query_error("updating an alert"))?;
        Ok(())
    }

    /// The alerts of `target` (every target's when `None`), newest first; only standing ones
    /// when `open`.
    pub async fn alerts(
        &self,
        target: Option<&str>,
        open: bool,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, target, metric, level, value, threshold, fired_at, resolved_at \
             FROM alerts WHERE ($1 IS NULL OR target = $1) AND ($2 = 0 OR resolved_at IS NULL) \
             ORDER BY fired_at DESC, id LIMIT $3",
        )
        .bind(target)
        .bind(i64::from(open))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading alerts"))?;
        rows.iter()
            .map(|row| {
                let bad = |e: sqlx::Error| corrupt("alerts", e);
                let metric: String = row.try_get("metric").map_err(bad)?;
                let level: String = row.try_get("level").map_err(bad)?;
                Ok(Alert {
                    id: row.try_get("id").map_err(bad)?,
                    target: row.try_get("target").map_err(bad)?,
                    metric: Metric::from_name(&metric)
                        .ok_or_else(|| corrupt("alerts", format!("unknown metric `{metric}`")))?,
                    level: level_of(&level)
                        .ok_or_else(|| corrupt("alerts", format!("unknown level `{level}`")))?,
                    value: row.try_get("value").map_err(bad)?,
                    threshold: row.try_get("threshold").map_err(bad)?,
                    fired_at_ms: from_db(row.try_get("fired_at").map_err(bad)?),
                    resolved_at_ms: row
                        .try_get::<Option<i64>, _>("resolved_at")
                        .map_err(bad)?
                        .map(from_db),
                })
            })
            .collect()
    }

    /// Records a deployment.
    pub async fn add_deployment(&self, deployment: &Deployment) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO deployments (id, target, version, notes, at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&deployment.id)
        .bind(&deployment.target)
        .bind(&deployment.version)
        .bind(&deployment.notes)
        .bind(to_db(deployment.at_ms))
        .execute(&self.pool)
        .await
        .map_err(query_error("storing a deployment"))?;
        Ok(())
    }

    /// The deployments of `target` (every target's when `None`), newest first.
    pub async fn deployments(
        &self,
        target: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, target, version, notes, at_ms FROM deployments \
             WHERE ($1 IS NULL OR target = $1) ORDER BY at_ms DESC, id LIMIT $2",
        )
        .bind(target)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading deployments"))?;
        rows.iter().map(deployment_of).collect()
    }

    /// One deployment, when recorded.
    pub async fn deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        let row =
            sqlx::query("SELECT id, target, version, notes, at_ms FROM deployments WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error("reading a deployment"))?;
        row.as_ref().map(deployment_of).transpose()
    }
}

fn deployment_of(row: &sqlx::any::AnyRow) -> Result<Deployment, StoreError> {
    let bad = |e: sqlx::Error| corrupt("deployments", e);
    Ok(Deployment {
        id: row.try_get("id").map_err(bad)?,
        target: row.try_get("target").map_err(bad)?,
        version: row.try_get("version").map_err(bad)?,
        notes: row.try_get("notes").map_err(bad)?,
        at_ms: from_db(row.try_get("at_ms").map_err(bad)?),
    })
}
