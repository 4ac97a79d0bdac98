//! Baselines: a named pointer per target and environment to the run that counts as known good,
//! with the history of every change.

use std::collections::BTreeSet;

use lifeguard_shared::run::{Baseline, BaselineChange};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, from_db, now_ms, query_error, to_db};

fn corrupt(name: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        run: format!("baseline {name}"),
        detail: error.to_string(),
    }
}

fn baseline(row: &AnyRow) -> Result<Baseline, StoreError> {
    let name: String = row.try_get("name").map_err(|e| corrupt("?", e))?;
    Ok(Baseline {
        target: row.try_get("target").map_err(|e| corrupt(&name, e))?,
        environment: row.try_get("environment").map_err(|e| corrupt(&name, e))?,
        run_id: row.try_get("run_id").map_err(|e| corrupt(&name, e))?,
        updated_at: from_db(row.try_get("updated_at").map_err(|e| corrupt(&name, e))?),
        history: Vec::new(),
        name,
    })
}

impl Store {
    /// Points baseline `name` at `run_id` (for the run's target and environment) and records the
    /// change. The run must exist and have finished.
    pub async fn set_baseline(
        &self,
        name: &str,
        run_id: &str,
        set_by: &str,
    ) -> Result<Baseline, StoreError> {
        let Some(run) = self.run(run_id).await? else {
            return Err(StoreError::NotFound(format!("no run `{run_id}`")));
        };
        let previous = self.baseline(name).await?;
        let now = now_ms();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("setting a baseline"))?;
        if previous.is_some() {
            sqlx::query(
                "UPDATE baselines SET target = $1, environment = $2, run_id = $3, updated_at = $4 \
                 WHERE name = $5",
            )
            .bind(&run.summary.target)
            .bind(&run.summary.labels.environment)
            .bind(run_id)
            .bind(to_db(now))
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_error("setting a baseline"))?;
        } else {
            sqlx::query(
                "INSERT INTO baselines (name, target, environment, run_id, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(name)
            .bind(&run.summary.target)
            .bind(&run.summary.labels.environment)
            .bind(run_id)
            .bind(to_db(now))
            .execute(&mut *tx)
            .await
            .map_err(query_error("setting a baseline"))?;
        }
        sqlx::query(
            "INSERT INTO baseline_history (name, run_id, previous_run_id, set_at, set_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(run_id)
        .bind(previous.map(|p| p.run_id))
        .bind(to_db(now))
        .bind(set_by)
        .execute(&mut *tx)
        .await
        .map_err(query_error("recording a baseline change"))?;
        tx.commit()
            .await
            .map_err(query_error("setting a baseline"))?;
        self.baseline(name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("baseline `{name}` vanished")))
    }

    /// One baseline with its history, newest change first.
    pub async fn baseline(&self, name: &str) -> Result<Option<Baseline>, StoreError> {
        let row = sqlx::query(
            "SELECT name, target, environment, run_id, updated_at FROM baselines WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error("reading a baseline"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut found = baseline(&row)?;
        found.history = self.history(name).await?;
        Ok(Some(found))
    }

    /// Every baseline with its history.
    pub async fn baselines(&self) -> Result<Vec<Baseline>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, target, environment, run_id, updated_at FROM baselines ORDER BY target, environment, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("listing baselines"))?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut found = baseline(row)?;
            found.history = self.history(&found.name).await?;
            all.push(found);
        }
        Ok(all)
    }

    /// Every run a baseline points to or once pointed to.
    pub async fn baseline_runs(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows =
            sqlx::query("SELECT run_id FROM baselines UNION SELECT run_id FROM baseline_history")
                .fetch_all(&self.pool)
                .await
                .map_err(query_error("reading baselines' runs"))?;
        rows.iter()
            .map(|row| row.try_get("run_id").map_err(|e| corrupt("?", e)))
            .collect()
    }

    async fn history(&self, name: &str) -> Result<Vec<BaselineChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, previous_run_id, set_at, set_by FROM baseline_history \
             WHERE name = $1 ORDER BY set_at DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading baseline history"))?;
        rows.iter()
            .map(|row| {
                Ok(BaselineChange {
                    run_id: row.try_get("run_id").map_err(|e| corrupt(name, e))?,
                    previous_run_id: row
                        .try_get("previous_run_id")
                        .map_err(|e| corrupt(name, e))?,
                    set_at: from_db(row.try_get("set_at").map_err(|e| corrupt(name, e))?),
                    set_by: row.try_get("set_by").map_err(|e| corrupt(name, e))?,
                })
            })
            .collect()
    }
}
