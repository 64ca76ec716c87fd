//! Members who listen along on their own device (`hub/listening.rs`), one row each: stored
//! before members are told, loaded when a session's hub starts, so a restart resumes them.

use super::{Database, DbError, fenced_execute, now_ms, on};
use crate::wire::ListeningState;
use sesh_session::{DeviceId, SessionId, UserId};

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
        let rows: Vec<(String, String, String)> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT user_id, device_id, state FROM session_listeners WHERE session_id = $1
                 ORDER BY user_id",
            )
            .bind(session.to_string())
            .fetch_all(c)
            .await
        })?;
        rows.into_iter()
            .map(|(user, device, state)| {
                let state = match state.as_str() {
                    "in_sync" => ListeningState::InSync,
                    "detached" => ListeningState::Detached,
                    other => return Err(DbError::Corrupt(format!("listening state `{other}`"))),
                };
                Ok((UserId::new(user), DeviceId::new(device), state))
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
                fenced_execute!(
                    self,
                    session,
                    sqlx::query(
                        "INSERT INTO session_listeners (session_id, user_id, device_id, state,
                                                        updated_at_ms)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (session_id, user_id) DO UPDATE SET
                            device_id = excluded.device_id, state = excluded.state,
                            updated_at_ms = excluded.updated_at_ms",
                    )
                    .bind(session.to_string())
                    .bind(user.as_str())
                    .bind(device.as_str())
                    .bind(state_name(state))
                    .bind(now_ms())
                )?;
            }
            None => {
                fenced_execute!(
                    self,
                    session,
                    sqlx::query(
                        "UPDATE session_listeners SET state = $3, updated_at_ms = $4
                         WHERE session_id = $1 AND user_id = $2",
                    )
                    .bind(session.to_string())
                    .bind(user.as_str())
                    .bind(state_name(state))
                    .bind(now_ms())
                )?;
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
        fenced_execute!(
            self,
            session,
            sqlx::query(
                "DELETE FROM session_listeners
                 WHERE session_id = $1 AND ($2 IS NULL OR user_id = $2)",
            )
            .bind(session.to_string())
            .bind(user.map(UserId::as_str))
        )?;
        Ok(())
    }
}
