//! Members' saved playlists of a session (`session_playlists`): which Spotify playlist, and how
//! many of the session's plays it holds.

use sesh_session::{SessionId, UserId};

use super::{Database, DbError, execute, now_ms, on};

/// A member's playlist of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlaylist {
    /// Spotify's playlist id.
    pub playlist_id: String,
    /// Its page on Spotify.
    pub url: String,
    /// How many of the session's plays (in play order) it holds.
    pub added: usize,
}

impl Database {
    /// `user`'s playlist of `session`, if they saved one.
    pub async fn saved_playlist(
        &self,
        session: SessionId,
        user: &UserId,
    ) -> Result<Option<SavedPlaylist>, DbError> {
        let row: Option<(String, String, i64)> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT playlist_id, url, added FROM session_playlists
                 WHERE session_id = $1 AND user_id = $2",
            )
            .bind(session.to_string())
            .bind(user.as_str())
            .fetch_optional(c)
            .await
        })?;
        Ok(row.map(|(playlist_id, url, added)| SavedPlaylist {
            playlist_id,
            url,
            added: usize::try_from(added).unwrap_or(0),
        }))
    }

    /// Records `user`'s new, empty playlist of `session`.
    pub async fn insert_playlist(
        &self,
        session: SessionId,
        user: &UserId,
        playlist_id: &str,
        url: &str,
    ) -> Result<(), DbError> {
        let now = now_ms();
        execute!(
            self.writer(),
            sqlx::query(
                "INSERT INTO session_playlists (session_id, user_id, playlist_id, url, added,
                                                created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 0, $5, $5)",
            )
            .bind(session.to_string())
            .bind(user.as_str())
            .bind(playlist_id)
            .bind(url)
            .bind(now)
        )?;
        Ok(())
    }

    /// Records that `user`'s playlist of `session` now holds the first `added` plays.
    pub async fn set_playlist_added(
        &self,
        session: SessionId,
        user: &UserId,
        added: usize,
    ) -> Result<(), DbError> {
        execute!(
            self.writer(),
            sqlx::query(
                "UPDATE session_playlists SET added = $3, updated_at = $4
                 WHERE session_id = $1 AND user_id = $2",
            )
            .bind(session.to_string())
            .bind(user.as_str())
            .bind(i64::try_from(added).unwrap_or(i64::MAX))
            .bind(now_ms())
        )?;
        Ok(())
    }
}
