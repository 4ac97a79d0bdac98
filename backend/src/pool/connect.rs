//! Opening one server connection with a deadline on the whole of it. tokio-postgres bounds only
//! the TCP connect with `connect_timeout`; a server (or a proxy) that accepts and then never
//! answers the startup handshake would hold the caller forever. Every connection lifeguard opens
//! to a target (pools, observer, probe, seeding) comes through here.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::error::describe;

/// A target's deadline when its configuration names none (`connect_timeout_s`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no answer within {} (connect_timeout_s)", seconds(*.0))]
    TimedOut(Duration),
    /// No socket could be opened to any of the configured hosts.
    #[error("error connecting to server: {0}")]
    Socket(std::io::Error),
    #[error("{}", describe(.0))]
    Failed(tokio_postgres::Error),
}

impl ConnectError {
    /// The server refused another client (SQLSTATE 53300).
    #[must_use]
    pub fn is_too_many_clients(&self) -> bool {
        matches!(self, Self::Failed(error) if super::error::is_too_many_clients(error))
    }
}

/// The deadline `config` asks for, else [`DEFAULT_CONNECT_TIMEOUT`].
#[must_use]
pub fn timeout_of(config: &tokio_postgres::Config) -> Duration {
    config
        .get_connect_timeout()
        .copied()
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
}

/// Opens a connection within [`timeout_of`]`(config)` and drives it on a task of its own.
pub async fn connect(config: &tokio_postgres::Config) -> Result<Client, ConnectError> {
    let timeout = timeout_of(config);
    let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
        .await
        .map_err(|_elapsed| ConnectError::TimedOut(timeout))?
        .map_err(ConnectError::Failed)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "server connection ended");
        }
    });
    Ok(client)
}

/// `1 s`, `0.5 s`.
#[must_use]
pub fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_accepts_and_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                sockets.push(socket);
            }
        });
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(port)
            .user("u")
            .connect_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let error = connect(&config).await.unwrap_err();
        assert!(matches!(error, ConnectError::TimedOut(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            error.to_string(),
            "no answer within 0.3 s (connect_timeout_s)"
        );
        held.abort();
    }
}
