//! lifeguard's own schema on the target: users and their sessions, created and seeded
//! idempotently (an advisory lock keeps two runs from seeding at once).

use tokio_postgres::Client;

/// The seeded session token of user `id` (1-based), so users pick tokens without a query.
#[must_use]
pub fn seeded_token(id: u32) -> String {
    format!("seed-{id}")
}

/// The seeded email of user `id`.
#[must_use]
pub fn seeded_email(id: u32) -> String {
    format!("user{id}@lifeguard.test")
}

/// Creates the schema when missing and seeds users `1..=users`, each with one live session.
/// Running it again changes nothing; a larger `users` adds the missing ones.
pub async fn ensure(client: &Client, users: u32) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(
            "SELECT pg_advisory_lock(hashtext('lifeguard-schema'));
             CREATE SCHEMA IF NOT EXISTS lifeguard;
             CREATE TABLE IF NOT EXISTS lifeguard.users (
                 id bigint PRIMARY KEY,
                 email text NOT NULL UNIQUE,
                 password_hash text NOT NULL,
                 created_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE IF NOT EXISTS lifeguard.sessions (
                 token text PRIMARY KEY,
                 user_id bigint NOT NULL REFERENCES lifeguard.users (id),
                 created_at timestamptz NOT NULL DEFAULT now(),
                 last_seen_at timestamptz NOT NULL DEFAULT now(),
                 expires_at timestamptz NOT NULL);
             CREATE INDEX IF NOT EXISTS sessions_user_id ON lifeguard.sessions (user_id);",
        )
        .await?;
    let seeded = async {
        let users = i64::from(users);
        let missing: i64 = client
            .query_one(
                "SELECT $1::bigint - count(*) FROM lifeguard.users WHERE id <= $1",
                &[&users],
            )
            .await?
            .get(0);
        if missing > 0 {
            client
                .execute(
                    "INSERT INTO lifeguard.users (id, email, password_hash)
                     SELECT g, 'user' || g || '@lifeguard.test', md5('password' || g)
                     FROM generate_series(1, $1::bigint) g ON CONFLICT DO NOTHING",
                    &[&users],
                )
                .await?;
            client
                .execute(
                    "INSERT INTO lifeguard.sessions (token, user_id, expires_at)
                     SELECT 'seed-' || g, g, now() + interval '10 years'
                     FROM generate_series(1, $1::bigint) g ON CONFLICT DO NOTHING",
                    &[&users],
                )
                .await?;
            client
                .batch_execute("ANALYZE lifeguard.users; ANALYZE lifeguard.sessions;")
                .await?;
        }
        Ok(())
    }
    .await;
    let unlocked = client
        .batch_execute("SELECT pg_advisory_unlock(hashtext('lifeguard-schema'))")
        .await;
    seeded.and(unlocked)
}
