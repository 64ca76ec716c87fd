//! The app's Spotify seats (who holds one, freeing one, who owns the instance) and spectators
//! (a `users` row without Spotify tokens, bound to one session, with its own login).
//!
//! A seat is held by a Spotify user whose login Sesh keeps (`users.seated`); it is taken at
//! login when one is free (see [`Database::upsert_user`]) and freed only by the owner.

use std::time::Duration;

use super::{Database, DbError, Dialects, execute, now_ms, on};
use sesh_session::{SessionId, UserId};

/// Seat holders, the longest seated first, with when each was last seen.
const SEAT_HOLDERS: Dialects = Dialects {
    sqlite: "SELECT u.id, u.display_name,
                    MAX(u.updated_at, COALESCE((SELECT MAX(l.last_seen_at) FROM login_sessions l
                                                WHERE l.user_id = u.id), 0))
             FROM users u WHERE u.seated ORDER BY u.created_at, u.rowid",
    postgres: "SELECT u.id, u.display_name,
                      GREATEST(u.updated_at, COALESCE((SELECT MAX(l.last_seen_at)
                                                       FROM login_sessions l
                                                       WHERE l.user_id = u.id), 0))
               FROM users u WHERE u.seated ORDER BY u.created_at, u.id",
};

/// The first Spotify user (ties in the same millisecond: SQLite's insertion order, PostgreSQL's
/// id order).
const FIRST_USER: Dialects = Dialects {
    sqlite: "SELECT id FROM users WHERE kind = 'spotify' ORDER BY created_at, rowid LIMIT 1",
    postgres: "SELECT id FROM users WHERE kind = 'spotify' ORDER BY created_at, id LIMIT 1",
};

/// Who holds a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatHolder {
    /// Spotify user id.
    pub user_id: UserId,
    /// Display name from Spotify.
    pub display_name: String,
    /// Their latest request through any login (ms since the epoch), else their last login.
    pub last_seen_ms: i64,
}

/// How the seats stand: the limit and how many are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seating {
    /// `SESH_SPOTIFY_SEATS` (0: no limit).
    pub limit: u32,
    /// Held now.
    pub used: u32,
}

impl Seating {
    /// Seats still free (`None`: no limit).
    pub fn left(self) -> Option<u32> {
        (self.limit > 0).then(|| self.limit.saturating_sub(self.used))
    }
}

impl Database {
    /// How many seats are held.
    pub async fn seats_used(&self) -> Result<u32, DbError> {
        let used: i64 = on!(self.reader(), |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE seated")
                .fetch_one(c)
                .await
        })?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    /// Who holds a seat, longest-held first.
    pub async fn seat_holders(&self) -> Result<Vec<SeatHolder>, DbError> {
        let reader = self.reader();
        let sql = reader.pick(&SEAT_HOLDERS);
        let rows: Vec<(String, String, i64)> =
            on!(reader, |c| sqlx::query_as(sql).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, display_name, last_seen_ms)| SeatHolder {
                user_id: UserId::new(id),
                display_name,
                last_seen_ms,
            })
            .collect())
    }

    /// Frees `user`'s seat: their tokens are dropped, every login of theirs ends, and they
    /// must log in again (taking a seat if one is free then). Whether they held one.
    pub async fn free_seat(&self, user: &UserId) -> Result<bool, DbError> {
        let mut tx = self.begin().await?;
        let freed = execute!(
            tx.conn(),
            sqlx::query(
                "UPDATE users SET seated = FALSE, needs_reauth = TRUE, access_token = $3,
                                  refresh_token = NULL, token_expires_at = 0, updated_at = $2
                 WHERE id = $1 AND seated AND kind = 'spotify'",
            )
            .bind(user.as_str())
            .bind(now_ms())
            .bind(Vec::<u8>::new())
        )? == 1;
        if freed {
            execute!(
                tx.conn(),
                sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user.as_str())
            )?;
        }
        tx.commit().await?;
        self.logins.users.forget(user);
        self.logins.logins.clear();
        Ok(freed)
    }

    /// The first Spotify user who logged in to this instance (its owner when `SESH_ADMINS`
    /// names nobody).
    pub async fn first_user(&self) -> Result<Option<UserId>, DbError> {
        if let Some(id) = self.first_user.get() {
            return Ok(Some(id.clone()));
        }
        let reader = self.reader();
        let sql = reader.pick(&FIRST_USER);
        let id: Option<String> = on!(reader, |c| sqlx::query_scalar(sql).fetch_optional(c).await)?;
        Ok(id.map(|id| self.first_user.get_or_init(|| UserId::new(id)).clone()))
    }

    /// A new spectator of `session` named `display_name`, logged in with the cookie whose
    /// hash is `login_hash` for `ttl`: the user row (no tokens, never seated, marked as
    /// needing a login so no Spotify call is ever made for it) and the login, together.
    pub async fn create_spectator(
        &self,
        id: &UserId,
        display_name: &str,
        session: SessionId,
        login_hash: &str,
        ttl: Duration,
    ) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            sqlx::query(
                "INSERT INTO users (id, display_name, access_token, refresh_token, token_expires_at,
                                    scope, needs_reauth, created_at, updated_at, kind, seated,
                                    spectating)
                 VALUES ($1, $2, $5, NULL, 0, '', TRUE, $3, $3, 'spectator', FALSE, $4)",
            )
            .bind(id.as_str())
            .bind(display_name)
            .bind(now)
            .bind(session.to_string())
            .bind(Vec::<u8>::new())
        )?;
        super::logins::insert_login(tx.conn(), login_hash, id, ttl).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a spectator who never became a member (the session refused them), with
    /// their login.
    pub async fn delete_spectator(&self, id: &UserId) -> Result<(), DbError> {
        execute!(
            self.writer(),
            sqlx::query("DELETE FROM users WHERE id = $1 AND kind = 'spectator'").bind(id.as_str())
        )?;
        // Its login rows went with it (ON DELETE CASCADE): so must any cached copy.
        self.logins.users.forget(id);
        self.logins.logins.clear();
        Ok(())
    }
}
