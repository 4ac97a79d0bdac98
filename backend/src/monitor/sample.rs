//! One look at a PostgreSQL server for a monitor: a single query over `pg_stat_activity` on the
//! monitor's own connection (its backend left out), so a sample costs the target one cheap query.
//! The monitoring role needs `pg_monitor` (or `pg_read_all_stats`) to see other roles' sessions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lifeguard_shared::monitor::MonitorSample;
use tokio_postgres::{Client, Statement};

use crate::pool::connect::{self, ConnectError};

/// The query: counts by state, the oldest idle-in-transaction session and transaction, backends
/// started since `$1`, and the busiest wait event types, applications and roles, as of one
/// snapshot of `pg_stat_activity`.
const QUERY: &str = "
WITH a AS (
    SELECT state, wait_event_type, application_name, usename, backend_start, state_change,
           xact_start
      FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
), top AS (
    SELECT 'app' AS kind, coalesce(application_name, '') AS name, count(*) AS n
      FROM a GROUP BY 2
    UNION ALL
    SELECT 'user', coalesce(usename, ''), count(*) FROM a GROUP BY 2
    UNION ALL
    SELECT 'wait', wait_event_type, count(*) FROM a
     WHERE state = 'active' AND wait_event_type IS NOT NULL AND wait_event_type <> 'Client'
     GROUP BY 2
)
SELECT current_setting('max_connections')::int4,
       (SELECT count(*) FROM a)::int4,
       (SELECT count(*) FROM a WHERE state = 'active')::int4,
       (SELECT count(*) FROM a WHERE state = 'idle')::int4,
       (SELECT count(*) FROM a WHERE state LIKE 'idle in transaction%')::int4,
       coalesce((SELECT extract(epoch FROM now() - min(state_change)) FROM a
                  WHERE state LIKE 'idle in transaction%'), 0)::float8,
       coalesce((SELECT extract(epoch FROM now() - min(xact_start)) FROM a), 0)::float8,
       (SELECT count(*) FROM a WHERE backend_start > $1)::int4,
       coalesce((SELECT string_agg(kind || ' ' || n || ' ' || name, E'\\n') FROM top), ''),
       now()";

/// Most applications and roles a sample names.
const BUSIEST: usize = 10;

/// The monitor's connection to one target, with the query prepared once: planned on every sample
/// it would cost the server more than it costs to run.
#[derive(Debug)]
pub struct Sampler {
    client: Client,
    query: Statement,
    /// The server's clock at the previous sample, and when it was read here.
    previous: Option<(SystemTime, Instant)>,
}

impl Sampler {
    /// Connects as `lifeguard-monitor:<target>` (one connection, kept for the monitor's life).
    pub async fn connect(
        target: &str,
        config: &tokio_postgres::Config,
    ) -> Result<Self, ConnectError> {
        let mut config = config.clone();
        config.application_name(format!("lifeguard-monitor:{target}"));
        let client = connect::connect(&config).await?;
        // Prepared within the connection's deadline too: a server that accepts and never
        // answers does not hold the monitor.
        let within = connect::timeout_of(&config);
        let query = tokio::time::timeout(within, client.prepare(QUERY))
            .await
            .map_err(|_elapsed| ConnectError::TimedOut(within))?
            .map_err(ConnectError::Failed)?;
        Ok(Self {
            client,
            query,
            previous: None,
        })
    }

    /// Whether the connection is gone (the monitor then connects again).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Reads one sample.
    pub async fn sample(&mut self) -> Result<MonitorSample, tokio_postgres::Error> {
        let since = self.previous.map_or_else(SystemTime::now, |(at, _)| at);
        let row = self.client.query_one(&self.query, &[&since]).await?;
        let now: SystemTime = row.try_get(9)?;
        let read = Instant::now();
        let new_backends = count(row.try_get(7)?);
        let per_s = self.previous.map(|(_, before)| {
            let seconds = read.duration_since(before).max(Duration::from_millis(1));
            f64::from(new_backends) / seconds.as_secs_f64()
        });
        self.previous = Some((now, read));
        let (applications, users, waiting) = busiest(&row.try_get::<_, String>(8)?);
        Ok(MonitorSample {
            at_ms: now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            max_connections: count(row.try_get(0)?),
            backends: count(row.try_get(1)?),
            active: count(row.try_get(2)?),
            idle: count(row.try_get(3)?),
            idle_in_transaction: count(row.try_get(4)?),
            oldest_idle_in_transaction_s: row.try_get::<_, f64>(5)?.max(0.0),
            longest_transaction_s: row.try_get::<_, f64>(6)?.max(0.0),
            waiting,
            new_backends_per_s: per_s,
            applications,
            users,
            pool: None,
            requests: None,
        })
    }
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

type Counts = BTreeMap<String, u32>;

/// The `kind n name` lines of the query: the busiest applications and roles, and every wait
/// event type.
fn busiest(lines: &str) -> (Counts, Counts, Counts) {
    let (mut applications, mut users, mut waiting) = (Vec::new(), Vec::new(), Counts::new());
    for line in lines.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(kind), Some(n), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        match kind {
            "app" => applications.push((name.to_owned(), n)),
            "user" => users.push((name.to_owned(), n)),
            _ => {
                waiting.insert(name.to_owned(), n);
            }
        }
    }
    let top = |mut all: Vec<(String, u32)>| {
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.into_iter().take(BUSIEST).collect()
    };
    (top(applications), top(users), waiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_ten_are_kept_and_names_keep_their_spaces() {
        let mut lines: Vec<String> = (1..=12).map(|n| format!("app {n} svc {n}")).collect();
        lines.push("user 3 auth".into());
        lines.push("wait 2 Lock".into());
        let (applications, users, waiting) = busiest(&lines.join("\n"));
        assert_eq!(applications.len(), 10);
        assert_eq!(applications.get("svc 12"), Some(&12));
        assert!(!applications.contains_key("svc 1"));
        assert_eq!(users, Counts::from([("auth".into(), 3)]));
        assert_eq!(waiting, Counts::from([("Lock".into(), 2)]));
    }
}
