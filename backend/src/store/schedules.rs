//! Firings of scheduled runs: which run each firing queued and how it compared with the
//! schedule's baseline. The row's key (schedule, due time) claims a firing, so consoles sharing a
//! store fire it once.

use lifeguard_shared::compare::Verdict;
use lifeguard_shared::schedule::ScheduleFiring;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, from_db, query_error, to_db};

fn corrupt(name: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        run: format!("schedule {name}"),
        detail: error.to_string(),
    }
}

fn firing(name: &str, row: &AnyRow) -> Result<ScheduleFiring, StoreError> {
    let verdict: Option<String> = row.try_get("verdict").map_err(|e| corrupt(name, e))?;
    let verdict = match verdict {
        None => None,
        Some(text) => Some(
            Verdict::ALL
                .into_iter()
                .find(|v| v.name() == text)
                .ok_or_else(|| corrupt(name, format!("unknown verdict `{text}`")))?,
        ),
    };
    Ok(ScheduleFiring {
        due_at: from_db(row.try_get("due_at").map_err(|e| corrupt(name, e))?),
        fired_at: from_db(row.try_get("fired_at").map_err(|e| corrupt(name, e))?),
        run_id: row.try_get("run_id").map_err(|e| corrupt(name, e))?,
        verdict,
        note: row.try_get("note").map_err(|e| corrupt(name, e))?,
    })
}

impl Store {
    /// Claims the firing of schedule `name` due at `due_at`: `false` when it was already claimed
    /// (by this console before a restart, or by another console on the same store).
    pub async fn claim_firing(
        &self,
        name: &str,
        due_at: u64,
        fired_at: u64,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO schedule_runs (name, due_at, fired_at, note) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, due_at) DO NOTHING",
        )
        .bind(name)
        .bind(to_db(due_at))
        .bind(to_db(fired_at))
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(query_error("claiming a schedule's firing"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the run a claimed firing queued.
    pub async fn set_firing_run(
        &self,
        name: &str,
        due_at: u64,
        run_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE schedule_runs SET run_id = $1 WHERE name = $2 AND due_at = $3")
            .bind(run_id)
            .bind(name)
            .bind(to_db(due_at))
            .execute(&self.pool)
            .await
            .map_err(query_error("recording a scheduled run"))?;
        Ok(())
    }

    /// Records how a firing ended: its verdict against the baseline, or why there is none.
    pub async fn set_firing_outcome(
        &self,
        name: &str,
        due_at: u64,
        verdict: Option<Verdict>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE schedule_runs SET verdict = $1, note = COALESCE($2, note) \
             WHERE name = $3 AND due_at = $4",
        )
        .bind(verdict.map(Verdict::name))
        .bind(note)
        .bind(name)
        .bind(to_db(due_at))
        .execute(&self.pool)
        .await
        .map_err(query_error("recording a scheduled run's verdict"))?;
        Ok(())
    }

    /// When schedule `name` was last due, of the firings recorded; `None` if it never fired.
    pub async fn last_due(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT MAX(due_at) AS due_at FROM schedule_runs WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("reading a schedule's last firing"))?;
        let due: Option<i64> = row.try_get("due_at").map_err(|e| corrupt(name, e))?;
        Ok(due.map(from_db))
    }

    /// The newest `limit` firings of schedule `name`, newest first.
    pub async fn firings(&self, name: &str, limit: u64) -> Result<Vec<ScheduleFiring>, StoreError> {
        let rows = sqlx::query(
            "SELECT due_at, fired_at, run_id, verdict, note FROM schedule_runs \
             WHERE name = $1 ORDER BY due_at DESC LIMIT $2",
        )
        .bind(name)
        .bind(to_db(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("listing a schedule's firings"))?;
        rows.iter().map(|row| firing(name, row)).collect()
    }
}
