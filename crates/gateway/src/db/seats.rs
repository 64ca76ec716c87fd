//! The app's Spotify seats (who holds one, freeing one, who owns the instance) and spectators
//! (a `users` row without Spotify tokens, bound to one session, with its own login).
//!
//! A seat is held by a Spotify user whose login Sesh keeps (`users.seated`); it is taken at
//! login when one is free (see [`Database::upsert_user`]) and freed only by the owner.

use std::time::Duration;

use sesh_session::{SessionId, UserId};
use sqlx::Row;

use super::{Database, DbError, now_ms};

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
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE seated = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    /// Who holds a seat, longest-held first.
    pub async fn seat_holders(&self) -> Result<Vec<SeatHolder>, DbError> {
        let rows = sqlx::query(
            "SELECT u.id, u.display_name,
                    MAX(u.updated_at, COALESCE((SELECT MAX(l.last_seen_at) FROM login_sessions l
                                                WHERE l.user_id = u.id), 0))
             FROM users u WHERE u.seated = 1 ORDER BY u.created_at, u.rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SeatHolder {
                    user_id: UserId::new(row.try_get::<String, _>(0)?),
                    display_name: row.try_get(1)?,
                    last_seen_ms: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Frees `user`'s seat: their tokens are dropped, every login of theirs ends, and they
    /// must log in again (taking a seat if one is free then). Whether they held one.
    pub async fn free_seat(&self, user: &UserId) -> Result<bool, DbError> {
        let mut tx = self.writer.begin().await?;
        let freed = sqlx::query(
            "UPDATE users SET seated = 0, needs_reauth = 1, access_token = X'', refresh_token = NULL,
                              token_expires_at = 0, updated_at = ?2
             WHERE id = ?1 AND seated = 1 AND kind = 'spotify'",
        )
        .bind(user.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if freed {
            sqlx::query("DELETE FROM login_sessions WHERE user_id = ?1")
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
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
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE kind = 'spotify' ORDER BY created_at, rowid LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
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
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, display_name, access_token, refresh_token, token_expires_at,
                                scope, needs_reauth, created_at, updated_at, kind, seated, spectating)
             VALUES (?1, ?2, X'', NULL, 0, '', 1, ?3, ?3, 'spectator', 0, ?4)",
        )
        .bind(id.as_str())
        .bind(display_name)
        .bind(now)
        .bind(session.to_string())
        .execute(&mut *tx)
        .await?;
        super::logins::insert_login(&mut *tx, login_hash, id, ttl).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a spectator who never became a member (the session refused them), with
    /// their login.
    pub async fn delete_spectator(&self, id: &UserId) -> Result<(), DbError> {
        sqlx::query("DELETE FROM users WHERE id = ?1 AND kind = 'spectator'")
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
