//! lifeguard's own schema on the target: users and their sessions, created and seeded
//! idempotently (an advisory lock keeps two runs from seeding at once).

use tokio_postgres::Client;

/// The seeded session token of user `id` (1-based), so users pick tokens without a query.
#[must_use]
pub fn seeded_token(id: u32) -> InlineText {
    InlineText::from_parts(&[b"seed-", itoa::Buffer::new().format(id).as_bytes()])
}

/// The seeded email of user `id`.
#[must_use]
pub fn seeded_email(id: u32) -> InlineText {
    InlineText::from_parts(&[
        b"user",
        itoa::Buffer::new().format(id).as_bytes(),
        b"@lifeguard.test",
    ])
}

/// A new session token, 32 hex digits after `lg-`, from two random words.
#[must_use]
pub fn new_token(high: u64, low: u64) -> InlineText {
    let mut hex = [0u8; 32];
    for (index, digit) in hex.iter_mut().enumerate() {
        let word = if index < 16 { high } else { low };
        let nibble = (word >> (4 * (15 - index % 16))) & 0xf;
        *digit = b"0123456789abcdef"[usize::try_from(nibble).unwrap_or(0)];
    }
    InlineText::from_parts(&[b"lg-", &hex])
}

/// A short ASCII text (a token, an email) written in place: the auth flow makes one or two per
/// request, and neither allocates nor goes through `format!`.
#[derive(Clone, Copy)]
pub struct InlineText {
    bytes: [u8; 40],
    len: usize,
}

impl InlineText {
    /// The parts one after the other (ASCII, 40 bytes at most; more is cut).
    fn from_parts(parts: &[&[u8]]) -> Self {
        let mut text = Self {
            bytes: [0; 40],
            len: 0,
        };
        for part in parts {
            let room = text.bytes.len() - text.len;
            let part = &part[..part.len().min(room)];
            text.bytes[text.len..text.len + part.len()].copy_from_slice(part);
            text.len += part.len();
        }
        text
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::ops::Deref for InlineText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for InlineText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_new_texts_read_as_the_schema_seeds_them() {
        assert_eq!(&*seeded_token(42), "seed-42");
        assert_eq!(
            &*seeded_email(4_294_967_295),
            "user4294967295@lifeguard.test"
        );
        assert_eq!(
            &*new_token(0x0123_4567_89ab_cdef, 0xf),
            "lg-0123456789abcdef000000000000000f"
        );
    }
}
