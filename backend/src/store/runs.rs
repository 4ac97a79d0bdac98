//! Runs: created when queued, their seconds and events appended while they run, their report
//! when they finish; interrupted ones found on start-up; old ones pruned (never a baseline's).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lifeguard_shared::report::{Buckets, RunReport, RunState, SecondSample};
use lifeguard_shared::run::{DeployPhase, RunDetail, RunLabels, RunPage, RunSummary};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Store, StoreError, from_db, now_ms, query_error, to_db};
use crate::stats::blocks::Block;
use crate::stats::histogram::SecondHistograms;

/// A run as it is queued.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub target: String,
    pub suite: String,
    pub profile: String,
    pub labels: RunLabels,
    /// Suite, profile and workload as JSON (no credentials: targets are names).
    pub plan: String,
    pub created_at: u64,
}

/// Which runs a list shows.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub target: Option<String>,
    pub environment: Option<String>,
    pub phase: Option<DeployPhase>,
    pub state: Option<RunState>,
    pub offset: u64,
    pub limit: u64,
}

/// One entry of a run's event log (what its Server-Sent Events replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub at: u64,
    pub kind: String,
    pub data: String,
}

fn parse_state(run: &str, value: &str) -> Result<RunState, StoreError> {
    Ok(match value {
        "queued" => RunState::Queued,
        "running" => RunState::Running,
        "passed" => RunState::Passed,
        "failed" => RunState::Failed,
        "aborted" => RunState::Aborted,
        "interrupted" => RunState::Interrupted,
        other => {
            return Err(StoreError::Corrupt {
                run: run.to_owned(),
                detail: format!("unknown state `{other}`"),
            });
        }
    })
}

const SUMMARY_COLUMNS: &str = "id, target, suite, profile, state, environment, deploy_phase, \
    version, notes, created_at, started_at, finished_at, passed, p95_ms, error";

fn corrupt(run: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        run: run.to_owned(),
        detail: error.to_string(),
    }
}

fn summary(row: &AnyRow) -> Result<RunSummary, StoreError> {
    let get_error = |e: sqlx::Error| corrupt("?", e);
    let id: String = row.try_get("id").map_err(get_error)?;
    let text = |column: &str| {
        row.try_get::<String, _>(column)
            .map_err(|e| corrupt(&id, e))
    };
    let number = |column: &str| {
        row.try_get::<Option<i64>, _>(column)
            .map_err(|e| corrupt(&id, e))
    };
    Ok(RunSummary {
        target: text("target")?,
        suite: text("suite")?,
        profile: text("profile")?,
        state: parse_state(&id, &text("state")?)?,
        passed: number("passed")?.map(|p| p != 0),
        labels: RunLabels {
            environment: text("environment")?,
            phase: DeployPhase::parse("deploy_phase", &text("deploy_phase")?)
                .map_err(|e| corrupt(&id, e))?,
            version: text("version")?,
            notes: text("notes")?,
        },
        created_at: from_db(row.try_get("created_at").map_err(|e| corrupt(&id, e))?),
        started_at: number("started_at")?.map(from_db),
        finished_at: number("finished_at")?.map(from_db),
        p95_ms: row.try_get("p95_ms").map_err(|e| corrupt(&id, e))?,
        error: row.try_get("error").map_err(|e| corrupt(&id, e))?,
        id,
    })
}

impl Store {
    /// Records a queued run.
    pub async fn create_run(&self, run: &NewRun) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO runs (id, target, suite, profile, state, environment, deploy_phase, \
             version, notes, created_at, plan) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)",
        )
        .bind(&run.id)
        .bind(&run.target)
        .bind(&run.suite)
        .bind(&run.profile)
        .bind(&run.labels.environment)
        .bind(run.labels.phase.as_str())
        .bind(&run.labels.version)
        .bind(&run.labels.notes)
        .bind(to_db(run.created_at))
        .bind(&run.plan)
        .execute(&self.pool)
        .await
        .map_err(query_error("creating a run"))?;
        Ok(())
    }

    /// The run started.
    pub async fn mark_running(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET state = 'running', started_at = $1 WHERE id = $2")
            .bind(to_db(now_ms()))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("marking a run running"))?;
        Ok(())
    }

    /// One second of a running run, with the histograms of the phase-seconds that closed with it.
    pub async fn append_second(
        &self,
        id: &str,
        sample: &SecondSample,
        histograms: &[SecondHistograms],
    ) -> Result<(), StoreError> {
        self.append_seconds(id, &[(sample, histograms)]).await
    }

    /// Seconds of a running run, each with the histograms of the phase-seconds that closed with
    /// it, in one transaction (a store that fell behind catches up in few round trips).
    /// Idempotent: a second already stored — a retry after a commit whose answer was lost — is
    /// skipped with its histograms, so each second is stored exactly once.
    pub async fn append_seconds(
        &self,
        id: &str,
        seconds: &[(&SecondSample, &[SecondHistograms])],
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("storing seconds"))?;
        for (sample, histograms) in seconds {
            let json = serde_json::to_string(sample).map_err(|e| corrupt(id, e))?;
            let inserted = sqlx::query(
                "INSERT INTO run_seconds (run_id, t, sample) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_id, t) DO NOTHING",
            )
            .bind(id)
            .bind(i64::from(sample.t))
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(query_error("storing a second"))?;
            if inserted.rows_affected() == 0 {
                continue;
            }
            for h in *histograms {
                sqlx::query(
                    "INSERT INTO run_histograms (run_id, t, phase, latency_histogram, wait_histogram) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(i64::from(h.t))
                .bind(&h.phase)
                .bind(BASE64.encode(&h.latency))
                .bind(BASE64.encode(&h.acquire_wait))
                .execute(&mut *tx)
                .await
                .map_err(query_error("storing histograms"))?;
            }
        }
        tx.commit().await.map_err(query_error("storing seconds"))?;
        Ok(())
    }

    /// Appends to the run's event log.
    pub async fn append_event(&self, id: &str, event: &StoredEvent) -> Result<(), StoreError> {
        self.append_events(id, std::slice::from_ref(event)).await
    }

    /// Appends events to the run's event log in one transaction; idempotent like
    /// [`Store::append_seconds`].
    pub async fn append_events(&self, id: &str, events: &[StoredEvent]) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("storing run events"))?;
        for event in events {
            sqlx::query(
                "INSERT INTO run_events (run_id, seq, at, kind, data) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (run_id, seq) DO NOTHING",
            )
            .bind(id)
            .bind(to_db(event.seq))
            .bind(to_db(event.at))
            .bind(&event.kind)
            .bind(&event.data)
            .execute(&mut *tx)
            .await
            .map_err(query_error("storing a run event"))?;
        }
        tx.commit()
            .await
            .map_err(query_error("storing run events"))?;
        Ok(())
    }

    /// The run's events after `after` (all when `None`), in order.
    pub async fn events_after(
        &self,
        id: &str,
        after: Option<u64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, data FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(id)
        .bind(after.map_or(-1, to_db))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading run events"))?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    seq: from_db(row.try_get("seq").map_err(|e| corrupt(id, e))?),
                    at: from_db(row.try_get("at").map_err(|e| corrupt(id, e))?),
                    kind: row.try_get("kind").map_err(|e| corrupt(id, e))?,
                    data: row.try_get("data").map_err(|e| corrupt(id, e))?,
                })
            })
            .collect()
    }

    /// The run ended with a report: state, verdict, report (its series stays in `run_seconds`,
    /// its buckets go to `run_buckets`) and the blocks comparisons need.
    pub async fn finish_run(
        &self,
        id: &str,
        report: &RunReport,
        blocks: &BTreeMap<String, Vec<Block>>,
    ) -> Result<(), StoreError> {
        let mut stored = report.clone();
        stored.series = Vec::new();
        let buckets = stored.buckets.take();
        let json = serde_json::to_string(&stored).map_err(|e| corrupt(id, e))?;
        let p95 = report.scenarios.last().map(|s| s.latency_ms.p95);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("finishing a run"))?;
        sqlx::query(
            "UPDATE runs SET state = $1, passed = $2, error = $3, finished_at = $4, p95_ms = $5, \
             report = $6 WHERE id = $7",
        )
        .bind(report.state.as_str())
        .bind(i64::from(report.passed))
        .bind(&report.error)
        .bind(to_db(now_ms()))
        .bind(p95)
        .bind(json)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(query_error("finishing a run"))?;
        if let Some(buckets) = buckets {
            let json = serde_json::to_string(&buckets.points).map_err(|e| corrupt(id, e))?;
            sqlx::query(
                "INSERT INTO run_buckets (run_id, resolution_ms, points) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i64::from(buckets.resolution_ms))
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(query_error("storing buckets"))?;
        }
        for (scenario, blocks) in blocks {
            let json = serde_json::to_string(blocks).map_err(|e| corrupt(id, e))?;
            sqlx::query("INSERT INTO run_blocks (run_id, scenario, blocks) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(scenario)
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(query_error("storing blocks"))?;
        }
        tx.commit().await.map_err(query_error("finishing a run"))?;
        Ok(())
    }

    /// The run ended without a report (it could not start, or was cancelled while queued).
    pub async fn end_without_report(
        &self,
        id: &str,
        state: RunState,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET state = $1, passed = 0, error = $2, finished_at = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(to_db(now_ms()))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(query_error("ending a run"))?;
        Ok(())
    }

    /// On start-up: runs left queued or running by a console that stopped are `interrupted`;
    /// their seconds and events stay. Returns how many.
    pub async fn interrupt_unfinished(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET state = 'interrupted', passed = 0, finished_at = $1, \
             error = 'the console stopped while this run was queued or running' \
             WHERE state IN ('queued', 'running')",
        )
        .bind(to_db(now_ms()))
        .execute(&self.pool)
        .await
        .map_err(query_error("marking interrupted runs"))?;
        Ok(done.rows_affected())
    }

    /// One run with its report (without series) when it has one.
    pub async fn run(&self, id: &str) -> Result<Option<RunDetail>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, report FROM runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error("reading a run"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let report: Option<String> = row.try_get("report").map_err(|e| corrupt(id, e))?;
        let report = report
            .map(|json| serde_json::from_str::<RunReport>(&json))
            .transpose()
            .map_err(|e| corrupt(id, e))?;
        Ok(Some(RunDetail {
            summary: summary(&row)?,
            report,
        }))
    }

    /// The finished runs (passed or failed, so with a report) of `target` in `environment` and
    /// `suite` (when `None`, the suite of the newest finished run there: a history never mixes
    /// suites, whose scenarios may share names), and of `profile` when one is given: the newest
    /// `limit`, oldest first, with their reports — a history across runs. A sizing's points
    /// (`phase = sizing`) change the pool or the load on purpose: they are no part of a history.
    pub async fn finished_runs(
        &self,
        target: &str,
        environment: &str,
        suite: Option<&str>,
        profile: Option<&str>,
        limit: u64,
    ) -> Result<Vec<RunDetail>, StoreError> {
        const FINISHED: &str = "target = $1 AND environment = $2 AND state IN ('passed', 'failed') \
                                AND deploy_phase <> 'sizing'";
        let suite = if let Some(suite) = suite {
            suite.to_owned()
        } else {
            let newest = sqlx::query(&format!(
                "SELECT suite FROM runs WHERE {FINISHED} ORDER BY created_at DESC, id DESC LIMIT 1"
            ))
            .bind(target)
            .bind(environment)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("finding the suite of the newest finished run"))?;
            match newest {
                Some(row) => row.try_get("suite").map_err(|e| corrupt("?", e))?,
                None => return Ok(Vec::new()),
            }
        };
        let (profile_clause, limit_slot) = match profile {
            Some(_) => (" AND profile = $4", "$5"),
            None => ("", "$4"),
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, report FROM runs WHERE {FINISHED} AND suite = $3\
             {profile_clause} ORDER BY created_at DESC, id DESC LIMIT {limit_slot}"
        );
        let mut query = sqlx::query(&sql).bind(target).bind(environment).bind(suite);
        if let Some(profile) = profile {
            query = query.bind(profile);
        }
        let rows = query
            .bind(to_db(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a history of runs"))?;
        let mut runs = rows
            .iter()
            .map(|row| {
                let summary = summary(row)?;
                let report: Option<String> =
                    row.try_get("report").map_err(|e| corrupt(&summary.id, e))?;
                let report = report
                    .map(|json| serde_json::from_str::<RunReport>(&json))
                    .transpose()
                    .map_err(|e| corrupt(&summary.id, e))?;
                Ok(RunDetail { summary, report })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        runs.reverse();
        Ok(runs)
    }

    /// The run's plan JSON (suite, profile, workload).
    pub async fn plan(&self, id: &str) -> Result<Option<String>, StoreError> {
        sqlx::query("SELECT plan FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("reading a run's plan"))?
            .map(|row| row.try_get("plan").map_err(|e| corrupt(id, e)))
            .transpose()
    }

    /// Runs matching `filter`, newest first, and how many match in all.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<RunPage, StoreError> {
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut add = |column: &str, value: Option<String>| {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = ${}", values.len()));
            }
        };
        add("target", filter.target.clone());
        add("environment", filter.environment.clone());
        add("deploy_phase", filter.phase.map(|p| p.as_str().to_owned()));
        add("state", filter.state.map(|s| s.as_str().to_owned()));
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let count_sql = format!("SELECT count(*) AS total FROM runs{clause}");
        let mut count = sqlx::query(&count_sql);
        for value in &values {
            count = count.bind(value);
        }
        let total: i64 = count
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("counting runs"))?
            .try_get("total")
            .map_err(|e| corrupt("?", e))?;
        let list_sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM runs{clause} ORDER BY created_at DESC, id DESC \
             LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let mut list = sqlx::query(&list_sql);
        for value in &values {
            list = list.bind(value);
        }
        let rows = list
            .bind(to_db(filter.limit))
            .bind(to_db(filter.offset))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("listing runs"))?;
        Ok(RunPage {
            runs: rows.iter().map(summary).collect::<Result<_, _>>()?,
            total: from_db(total),
            offset: filter.offset,
            limit: filter.limit,
        })
    }

    /// The run's seconds, in order.
    pub async fn series(&self, id: &str) -> Result<Vec<SecondSample>, StoreError> {
        let rows = sqlx::query("SELECT sample FROM run_seconds WHERE run_id = $1 ORDER BY t")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a run's seconds"))?;
        rows.iter()
            .map(|row| {
                let json: String = row.try_get("sample").map_err(|e| corrupt(id, e))?;
                serde_json::from_str(&json).map_err(|e| corrupt(id, e))
            })
            .collect()
    }

    /// The run's series in buckets finer than seconds, when it was short enough to keep them.
    pub async fn buckets(&self, id: &str) -> Result<Option<Buckets>, StoreError> {
        let row = sqlx::query("SELECT resolution_ms, points FROM run_buckets WHERE run_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("reading a run's buckets"))?;
        row.map(|row| {
            let resolution_ms: i64 = row.try_get("resolution_ms").map_err(|e| corrupt(id, e))?;
            let json: String = row.try_get("points").map_err(|e| corrupt(id, e))?;
            Ok(Buckets {
                resolution_ms: u32::try_from(resolution_ms).map_err(|e| corrupt(id, e))?,
                points: serde_json::from_str(&json).map_err(|e| corrupt(id, e))?,
            })
        })
        .transpose()
    }

    /// The run's per-phase, per-second histograms (compressed), in order.
    pub async fn histograms(&self, id: &str) -> Result<Vec<SecondHistograms>, StoreError> {
        let rows = sqlx::query(
            "SELECT t, phase, latency_histogram, wait_histogram FROM run_histograms \
             WHERE run_id = $1 ORDER BY t, phase",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading a run's histograms"))?;
        rows.iter()
            .map(|row| {
                let decode = |column: &str| -> Result<Vec<u8>, StoreError> {
                    let text: String = row.try_get(column).map_err(|e| corrupt(id, e))?;
                    BASE64.decode(text).map_err(|e| corrupt(id, e))
                };
                let t: i64 = row.try_get("t").map_err(|e| corrupt(id, e))?;
                Ok(SecondHistograms {
                    t: u32::try_from(t).unwrap_or(0),
                    phase: row.try_get("phase").map_err(|e| corrupt(id, e))?,
                    latency: decode("latency_histogram")?,
                    acquire_wait: decode("wait_histogram")?,
                })
            })
            .collect()
    }

    /// The run's blocks per scenario.
    pub async fn blocks(&self, id: &str) -> Result<BTreeMap<String, Vec<Block>>, StoreError> {
        let rows = sqlx::query("SELECT scenario, blocks FROM run_blocks WHERE run_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading a run's blocks"))?;
        rows.iter()
            .map(|row| {
                let scenario: String = row.try_get("scenario").map_err(|e| corrupt(id, e))?;
                let json: String = row.try_get("blocks").map_err(|e| corrupt(id, e))?;
                let blocks = serde_json::from_str(&json).map_err(|e| corrupt(id, e))?;
                Ok((scenario, blocks))
            })
            .collect()
    }

    /// Deletes finished runs beyond the newest `keep`, except any run a baseline points to.
    pub async fn prune(&self, keep: u64) -> Result<u64, StoreError> {
        // Newest first; everything past `keep` goes (portable: no `LIMIT ALL` / `LIMIT -1`).
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE state NOT IN ('queued', 'running') \
             AND id NOT IN (SELECT run_id FROM baselines) ORDER BY created_at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("finding runs to prune"))?;
        let ids: Vec<String> = rows
            .iter()
            .skip(usize::try_from(keep).unwrap_or(usize::MAX))
            .map(|row| row.try_get("id").map_err(|e| corrupt("?", e)))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(query_error("pruning a run"))?;
            for table in [
                "run_seconds",
                "run_histograms",
                "run_events",
                "run_blocks",
                "run_buckets",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE run_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(query_error("pruning a run"))?;
            }
            sqlx::query("DELETE FROM runs WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(query_error("pruning a run"))?;
            tx.commit().await.map_err(query_error("pruning a run"))?;
        }
        Ok(ids.len() as u64)
    }
}
