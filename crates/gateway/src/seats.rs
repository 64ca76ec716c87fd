//! The app's Spotify seats as the API shows them, and who owns the instance.
//!
//! Spotify serves an app in development mode to five allow-listed users; `SESH_SPOTIFY_SEATS`
//! says how many distinct Spotify users this instance may serve (0: no limit). The owner —
//! a user named in `SESH_ADMINS`, else the first who logged in — sees who holds a seat and
//! frees one.

use sesh_session::UserId;

use crate::{
    db::{DbError, Seating},
    state::Core,
};

/// How the seats stand now.
pub async fn seating(core: &Core) -> Result<Seating, DbError> {
    Ok(Seating {
        limit: core.config.spotify_seats,
        used: core.db.seats_used().await?,
    })
}

/// Whether `user` owns this instance.
pub async fn is_owner(core: &Core, user: &UserId) -> Result<bool, DbError> {
    if !core.config.admins.is_empty() {
        return Ok(core.config.admins.contains(user));
    }
    Ok(core.db.first_user().await?.as_ref() == Some(user))
}

/// Frees `user`'s seat: their tokens and logins are gone, in the database and in memory.
/// Whether they held one.
pub async fn free(core: &Core, user: &UserId) -> Result<bool, DbError> {
    let freed = core.db.free_seat(user).await?;
    if freed {
        core.accounts.forget(user).await;
        tracing::info!(user = %user, "Spotify seat freed");
    }
    Ok(freed)
}
