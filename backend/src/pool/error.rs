//! Why a checkout failed.

use std::time::Duration;

use super::events::ConnectFailure;

/// A checkout that did not produce a connection.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Worded as SQLAlchemy words it, so people recognise it from their own logs.
    #[error(
        "QueuePool limit of size {size} overflow {overflow} reached, connection timed out, \
         timeout {timeout:.2}",
        timeout = .timeout.as_secs_f64()
    )]
    Timeout {
        size: u32,
        overflow: u32,
        timeout: Duration,
    },
    #[error("the server refused a new connection: {0}")]
    Refused(String),
    #[error("opening a connection: {0}")]
    Connect(String),
    #[error("opening a connection timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("the pool is closed")]
    Closed,
}

impl PoolError {
    /// How a failed connect is classified in events and outcomes.
    #[must_use]
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        match self {
            Self::Refused(_) => Some(ConnectFailure::Refused),
            Self::Connect(_) | Self::ConnectTimeout(_) => Some(ConnectFailure::Other),
            Self::Timeout { .. } | Self::Closed => None,
        }
    }
}

/// Whether a connect error is the server refusing more clients (SQLSTATE 53300).
pub(super) fn is_too_many_clients(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::TOO_MANY_CONNECTIONS)
}

/// A tokio-postgres error in words: the server's message when there is one ("sorry, too many
/// clients already"), else the error and its cause ("error connecting to server: Connection refused").
pub fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_owned();
    }
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}
