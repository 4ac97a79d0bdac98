//! The results store: every run (labels, plan, per-second series and histograms, blocks, event
//! log, report) and the baselines with their history, in SQLite by default or PostgreSQL when the
//! store URL says so. One migration set serves both (`backend/migrations`).
//!
//! Layout: [`runs`] (runs, seconds, events, blocks, retention), [`baselines`], `schedules`
//! (firings of scheduled runs), `sizings` (sizing sweeps and the points they measured).

mod baselines;
mod monitors;
mod runs;
mod schedules;
mod sizings;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use monitors::Retained;
pub use runs::{NewRun, RunFilter, StoredEvent};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening the results store: {0}")]
    Open(#[source] sqlx::Error),
    #[error("migrating the results store: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("results store query ({what}): {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("stored data of run {run} is unreadable: {detail}")]
    Corrupt { run: String, detail: String },
    #[error("{0}")]
    NotFound(String),
}

pub(crate) fn query_error(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn to_db(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn from_db(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://PATH` or
    /// `postgres://…`. SQLite runs in WAL mode, so readers never wait for the run being written.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .connect(&url)
            .await
            .map_err(StoreError::Open)?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(query_error("enabling WAL"))?;
        }
        MIGRATIONS.run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
