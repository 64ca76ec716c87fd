//! Members who listen along on their own device (`hub/listening.rs`), one row each: stored
//! before members are told, loaded when a session's hub starts, so a restart resumes them.

use sesh_session::{DeviceId, SessionId, UserId};
use sqlx::Row;

use super::{Database, DbError, now_ms};
use crate::wire::ListeningState;

fn state_name(state: ListeningState) -> &'static str {
    match state {
        ListeningState::InSync => "in_sync",
        ListeningState::Detached => "detached",
    }
}

impl Database {
    /// The session's listeners: who, on which device, in sync or detached.
    pub async fn load_listeners(
        &self,
        session: SessionId,
    ) -> Result<Vec<(UserId, DeviceId, ListeningState)>, DbError> {
        let rows = sqlx::query(
            "SELECT user_id, device_id, state FROM session_listeners WHERE session_id = ?1
             ORDER BY user_id",
        )
        .bind(session.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let state = match r.try_get::<&str, _>(2)? {
                    "in_sync" => ListeningState::InSync,
                    "detached" => ListeningState::Detached,
                    other => return Err(DbError::Corrupt(format!("listening state `{other}`"))),
                };
                Ok((
                    UserId::new(r.try_get::<String, _>(0)?),
                    DeviceId::new(r.try_get::<String, _>(1)?),
                    state,
                ))
            })
            .collect()
    }

    /// Stores that `user` listens along on `device` (`None`: the device stays as stored),
    /// `state`.
    pub async fn set_listener(
        &self,
        session: SessionId,
        user: &UserId,
        device: Option<&DeviceId>,
        state: ListeningState,
    ) -> Result<(), DbError> {
        match device {
            Some(device) => {
                sqlx::query(
                    "INSERT INTO session_listeners (session_id, user_id, device_id, state, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (session_id, user_id) DO UPDATE SET
                        device_id = excluded.device_id, state = excluded.state,
                        updated_at_ms = excluded.updated_at_ms",
                )
                .bind(session.to_string())
                .bind(user.as_str())
                .bind(device.as_str())
                .bind(state_name(state))
                .bind(now_ms())
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE session_listeners SET state = ?3, updated_at_ms = ?4
                     WHERE session_id = ?1 AND user_id = ?2",
                )
                .bind(session.to_string())
                .bind(user.as_str())
                .bind(state_name(state))
                .bind(now_ms())
                .execute(&self.writer)
                .await?;
            }
        }
        Ok(())
    }

    /// `user` no longer listens along (`None`: nobody in the session does, it ended).
    pub async fn remove_listener(
        &self,
        session: SessionId,
        user: Option<&UserId>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "DELETE FROM session_listeners WHERE session_id = ?1 AND (?2 IS NULL OR user_id = ?2)",
        )
        .bind(session.to_string())
        .bind(user.map(UserId::as_str))
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
