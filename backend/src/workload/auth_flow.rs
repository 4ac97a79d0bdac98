//! The `auth-flow` workload: session validation and logins, as the analysed auth service does them.
//!
//! A validation checks out a connection, begins a transaction, looks up the session and its user,
//! touches `last_seen_at`, holds the connection for the simulated application work and commits. A
//! login looks the user up by email and inserts a session. Statements are prepared once per
//! connection. The knobs reproduce the analysed defects: `leak_on_error` never returns the
//! connection on the error path (it stays idle in transaction), `sync_fallback` does a request
//! whose primary path failed in any way again on the secondary pool, `token_cache_hit_ratio`
//! skips the database.

use std::time::{Duration, Instant};

use lifeguard_shared::workload::AuthFlow;
use rand::Rng as _;
use rand::rngs::SmallRng;

use super::schema::{InlineText, new_token, seeded_email, seeded_token};
use super::{Outcome, Pools, RequestResult, Workload};
use crate::pool::session::{Session, SessionError, Statement};
use crate::pool::{Pool, PooledConn};

/// Statements prepared once on each connection. `BEGIN` and `COMMIT` too: a simple query is
/// parsed and planned by the server each time, a prepared one is not — and pgbench `-M
/// prepared`, the engine's reference, prepares them. Either is one round trip holding the
/// connection, which is what the pool sees.
#[derive(Debug)]
struct Statements {
    begin: Statement,
    commit: Statement,
    session: Statement,
    user: Statement,
    touch: Statement,
    user_by_email: Statement,
    insert_session: Statement,
}

/// The workload, configured by its knobs, on the run's pools.
#[derive(Debug, Clone)]
pub struct AuthFlowWorkload {
    knobs: AuthFlow,
    pools: Pools,
}

/// Why a request's database work stopped.
enum Stop {
    /// The simulated application error (`error_rate`), inside the open transaction.
    AppError,
    Db(SessionError),
}

impl From<SessionError> for Stop {
    fn from(error: SessionError) -> Self {
        Self::Db(error)
    }
}

impl AuthFlowWorkload {
    #[must_use]
    pub fn new(knobs: AuthFlow, pools: Pools) -> Self {
        Self { knobs, pools }
    }

    #[must_use]
    pub fn knobs(&self) -> &AuthFlow {
        &self.knobs
    }

    async fn statements(conn: &mut PooledConn) -> Result<(), SessionError> {
        if conn.extension::<Statements>().is_some() {
            return Ok(());
        }
        let [
            begin,
            commit,
            session,
            user,
            touch,
            user_by_email,
            insert_session,
        ] = conn
            .session()
            .prepare_all([
                "BEGIN",
                "COMMIT",
                "SELECT user_id, expires_at > now() FROM lifeguard.sessions WHERE token = $1",
                "SELECT id, email FROM lifeguard.users WHERE id = $1",
                "UPDATE lifeguard.sessions SET last_seen_at = now() WHERE token = $1",
                "SELECT id, password_hash FROM lifeguard.users WHERE email = $1",
                "INSERT INTO lifeguard.sessions (token, user_id, expires_at) \
                 VALUES ($1, $2, now() + interval '1 day')",
            ])
            .await?;
        conn.set_extension(Statements {
            begin,
            commit,
            session,
            user,
            touch,
            user_by_email,
            insert_session,
        });
        Ok(())
    }

    async fn validate(
        on: &mut Session,
        statements: &Statements,
        token: &str,
        fail: bool,
        hold: Duration,
    ) -> Result<(), Stop> {
        on.execute(&statements.begin, &[]).await?;
        let session = on.query_opt(&statements.session, &[&token]).await?;
        if fail {
            return Err(Stop::AppError);
        }
        if let Some(session) = session {
            let user_id: i64 = session.try_get(0)?;
            on.query_opt(&statements.user, &[&user_id]).await?;
            on.execute(&statements.touch, &[&token]).await?;
        }
        hold_for(hold).await;
        on.execute(&statements.commit, &[]).await?;
        Ok(())
    }

    async fn login(
        on: &mut Session,
        statements: &Statements,
        email: &str,
        new_token: &str,
        fail: bool,
        hold: Duration,
    ) -> Result<(), Stop> {
        on.execute(&statements.begin, &[]).await?;
        let user = on.query_opt(&statements.user_by_email, &[&email]).await?;
        if fail {
            return Err(Stop::AppError);
        }
        if let Some(user) = user {
            let user_id: i64 = user.try_get(0)?;
            on.execute(&statements.insert_session, &[&new_token, &user_id])
                .await?;
        }
        hold_for(hold).await;
        on.execute(&statements.commit, &[]).await?;
        Ok(())
    }
}

async fn hold_for(hold: Duration) {
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
}

impl AuthFlowWorkload {
    /// One try of the request on `pool`: check out, run the login or validation, check in (or
    /// leak, on the error path with `leak_on_error`).
    async fn attempt(&self, pool: &Pool, what: &Attempt, hold: Duration) -> RequestResult {
        let asked = Instant::now();
        let checkout = pool.checkout().await;
        let acquire_wait = asked.elapsed();
        let result = |outcome| RequestResult {
            outcome,
            acquire_wait,
            pool: Some(pool.role()),
        };
        let mut conn = match checkout {
            Ok(conn) => conn,
            Err(error) => return result(Outcome::of_checkout(&error)),
        };
        if Self::statements(&mut conn).await.is_err() {
            conn.mark_broken();
            return result(Outcome::DbError);
        }
        let (on, statements) = conn.session_with::<Statements>();
        let Some(statements) = statements else {
            return result(Outcome::DbError);
        };
        let done = match &what.new_token {
            Some(new_token) => {
                Self::login(
                    on,
                    statements,
                    &seeded_email(what.user),
                    new_token,
                    what.fail,
                    hold,
                )
                .await
            }
            None => Self::validate(on, statements, &seeded_token(what.user), what.fail, hold).await,
        };
        match done {
            Ok(()) => result(Outcome::Ok),
            Err(Stop::AppError) if self.knobs.leak_on_error => {
                conn.leak();
                result(Outcome::Leaked)
            }
            Err(Stop::AppError) => {
                // The `finally` the analysed service lacked: roll back and return the connection.
                if conn.session().batch_execute("ROLLBACK").await.is_err() {
                    conn.mark_broken();
                }
                result(Outcome::AppError)
            }
            Err(Stop::Db(error)) => {
                tracing::debug!(%error, "auth-flow statement failed");
                let on = conn.session();
                if !on.is_usable() || on.batch_execute("ROLLBACK").await.is_err() {
                    conn.mark_broken();
                }
                result(Outcome::DbError)
            }
        }
    }
}

/// What one try of a request does: whose session or login, and whether it takes the error path.
#[derive(Debug)]
struct Attempt {
    user: u32,
    /// A login's new session token; `None` for a validation.
    new_token: Option<InlineText>,
    fail: bool,
}

impl Workload for AuthFlowWorkload {
    fn hold(&self) -> Duration {
        Duration::from_millis(u64::from(self.knobs.hold_ms))
    }

    async fn request(&self, rng: &mut SmallRng, hold: Duration) -> RequestResult {
        let (knobs, pools) = (&self.knobs, &self.pools);
        let login = rng.random_bool(knobs.login_ratio);
        let user = rng.random_range(1..=knobs.users);
        let fail = rng.random_bool(knobs.error_rate);
        if !login && rng.random_bool(knobs.token_cache_hit_ratio) {
            return RequestResult {
                outcome: Outcome::Ok,
                acquire_wait: Duration::ZERO,
                pool: None,
            };
        }
        let new_token = login.then(|| new_token(rng.random(), rng.random()));
        let mut what = Attempt {
            user,
            new_token,
            fail,
        };
        // A request stays on one replica, fallback included, as it would in one process.
        let replica = pools.next();
        let first = self.attempt(&replica.primary, &what, hold).await;
        match &replica.secondary {
            // The analysed `get_current_user()` caught any exception of the primary path — a
            // failed or timed-out checkout, a database error, an application error — and did the
            // work again on the sync pool (whatever the primary path leaked stays leaked).
            Some(secondary) if knobs.sync_fallback && !first.outcome.is_ok() => {
                what.fail = rng.random_bool(knobs.error_rate);
                let second = self.attempt(secondary, &what, hold).await;
                RequestResult {
                    acquire_wait: first.acquire_wait + second.acquire_wait,
                    ..second
                }
            }
            _ => first,
        }
    }
}
