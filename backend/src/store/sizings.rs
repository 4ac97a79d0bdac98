//! Sizing sweeps: the request and the sizing as far as it got, rewritten after every point, so a
//! cancelled, failed or interrupted sweep keeps the points it measured.

use lifeguard_shared::sizing::{Sizing, SizingDetail, SizingRequest, SizingState};
use sqlx::Row as _;

use super::{Store, StoreError, from_db, query_error, to_db};

fn corrupt(id: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        run: format!("sizing {id}"),
        detail: error.to_string(),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// Stores a new sizing, `running`.
    pub async fn create_sizing(
        &self,
        id: &str,
        created_at: u64,
        request: &SizingRequest,
        sizing: &Sizing,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sizings (id, created_at, state, request, sizing) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(to_db(created_at))
        .bind(SizingState::Running.as_str())
        .bind(json(request))
        .bind(json(sizing))
        .execute(&self.pool)
        .await
        .map_err(query_error("storing a sizing"))?;
        Ok(())
    }

    /// Rewrites a sizing: its state, what it found so far, and why it ended when it failed.
    pub async fn update_sizing(
        &self,
        id: &str,
        state: SizingState,
        sizing: &Sizing,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sizings SET state = $1, sizing = $2, error = $3 WHERE id = $4")
            .bind(state.as_str())
            .bind(json(sizing))
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("updating a sizing"))?;
        Ok(())
    }

    /// One sizing, when stored.
    pub async fn sizing(&self, id: &str) -> Result<Option<SizingDetail>, StoreError> {
        let row =
            sqlx::query("SELECT id, created_at, state, sizing, error FROM sizings WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error("reading a sizing"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.try_get("state").map_err(|e| corrupt(id, e))?;
        let sizing: String = row.try_get("sizing").map_err(|e| corrupt(id, e))?;
        Ok(Some(SizingDetail {
            id: id.to_owned(),
            state: SizingState::parse(&state)
                .ok_or_else(|| corrupt(id, format!("unknown state `{state}`")))?,
            created_at: from_db(row.try_get("created_at").map_err(|e| corrupt(id, e))?),
            error: row.try_get("error").map_err(|e| corrupt(id, e))?,
            sizing: serde_json::from_str(&sizing).map_err(|e| corrupt(id, e))?,
        }))
    }

    /// Marks sizings a stopped console left `running` as `interrupted`; how many.
    pub async fn interrupt_unfinished_sizings(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sizings SET state = 'interrupted', \
             error = 'the console stopped while this sizing ran' WHERE state = 'running'",
        )
        .execute(&self.pool)
        .await
        .map_err(query_error("marking interrupted sizings"))?;
        Ok(done.rows_affected())
    }
}
