//! The session's chat in SQLite: its last [`CHAT_HISTORY`] messages (one row each, with their
//! reactions) and the next message id on the session row. How each [`ChatChange`] is stored is
//! [`Database::write_chat`]'s one `match`; the playing track's reactions are kept in memory only.

use sesh_session::{
    CHAT_HISTORY, Chat, ChatChange, ChatMessage, ChatMessageId, ChatText, SessionId, UserId,
};
use sqlx::types::Json;

use super::{Database, DbError, execute, fenced_execute, on};

impl Database {
    /// The stored chat of a session (empty for one that never chatted).
    pub async fn load_chat(&self, id: SessionId) -> Result<Chat, DbError> {
        let mut tx = self.begin_read().await?;
        let next_id: Option<i64> = on!(tx.conn(), |c| {
            sqlx::query_scalar("SELECT chat_next_id FROM listening_sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(c)
                .await
        })?;
        type Row = (i64, String, String, String, i64, Json<serde_json::Value>);
        let rows: Vec<Row> = on!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT id, author, author_name, text, at_ms, reactions FROM chat_messages
                 WHERE session_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(id.to_string())
            .bind(CHAT_HISTORY as i64)
            .fetch_all(c)
            .await
        })?;
        let messages = rows
            .into_iter()
            .map(|(id, author, author_name, text, at_ms, reactions)| {
                Ok(ChatMessage {
                    id: ChatMessageId::new(id.max(0) as u64),
                    author: UserId::new(author),
                    author_name,
                    text: ChatText::try_from(text).map_err(|e| DbError::Corrupt(e.to_string()))?,
                    at_ms,
                    reactions: serde_json::from_value(reactions.0)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        tx.commit().await?;
        Ok(Chat::restore(messages, next_id.unwrap_or(0).max(0) as u64))
    }

    /// Stores a decided change of `session`'s chat, in one transaction: a post inserts its row,
    /// moves the session's next id on and drops the rows beyond the newest [`CHAT_HISTORY`].
    pub async fn write_chat(&self, session: SessionId, change: &ChatChange) -> Result<(), DbError> {
        let id = session.to_string();
        match change {
            ChatChange::Post(message) => {
                let mut tx = self.begin().await?;
                self.fence(&mut tx, session).await?;
                execute!(
                    tx.conn(),
                    sqlx::query(
                        "INSERT INTO chat_messages (session_id, id, author, author_name, text,
                                                    at_ms, reactions)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&id)
                    .bind(message.id.get() as i64)
                    .bind(message.author.as_str())
                    .bind(&message.author_name)
                    .bind(message.text.as_str())
                    .bind(message.at_ms)
                    .bind(Json(&message.reactions))
                )?;
                execute!(
                    tx.conn(),
                    sqlx::query(
                        "UPDATE listening_sessions
                         SET chat_next_id = CASE WHEN chat_next_id > $2 THEN chat_next_id ELSE $2 END
                         WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(message.id.get() as i64 + 1)
                )?;
                execute!(
                    tx.conn(),
                    sqlx::query(
                        "DELETE FROM chat_messages WHERE session_id = $1 AND id NOT IN
                           (SELECT id FROM chat_messages WHERE session_id = $1
                            ORDER BY id DESC LIMIT $2)",
                    )
                    .bind(&id)
                    .bind(CHAT_HISTORY as i64)
                )?;
                tx.commit().await?;
            }
            ChatChange::Delete(message) => {
                fenced_execute!(
                    self,
                    session,
                    sqlx::query("DELETE FROM chat_messages WHERE session_id = $1 AND id = $2")
                        .bind(&id)
                        .bind(message.get() as i64)
                )?;
            }
            ChatChange::React {
                id: message,
                reactions,
            } => {
                fenced_execute!(
                    self,
                    session,
                    sqlx::query(
                        "UPDATE chat_messages SET reactions = $3 WHERE session_id = $1 AND id = $2",
                    )
                    .bind(&id)
                    .bind(message.get() as i64)
                    .bind(Json(reactions))
                )?;
            }
            // A track's reactions last while it plays: not worth a write each.
            ChatChange::ReactTrack { .. } => {}
        }
        Ok(())
    }
}
