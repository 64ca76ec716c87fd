//! Reading a session's recap for a member (`GET /api/sessions/{id}/recap`,
//! `/s/{id}/recap.json`, the page `/s/{id}/recap`, and the playlist saves): the stored plays,
//! the session's hub (which builds [`RecapView`]), and the users table for the names of people
//! who left — never a Spotify call.

use sesh_session::{SessionId, UserId};

use crate::{error::ApiError, hub::HubRegistry, state::Core, wire::recap::RecapView};

/// Plays a recap reads at most (the newest): about 250 hours of music.
pub const MAX_RECAP_PLAYS: u32 = 5_000;

/// The recap of session `id` as `user` (a member) sees it: the stored plays (the background
/// writer's pending ones first), the hub's session, and the last known names of people who
/// left.
pub async fn load(
    core: &Core,
    hubs: &HubRegistry,
    user: &UserId,
    id: SessionId,
) -> Result<RecapView, ApiError> {
    let db = &core.db;
    let (created_at_ms, last_write_ms) = db
        .session_times(id)
        .await?
        .ok_or_else(|| ApiError::not_found("session_not_found", "no such session"))?;
    core.positions.flush().await;
    let plays = db.plays(id, MAX_RECAP_PLAYS).await?;
    let mut view = hubs
        .session(id)
        .recap(user, plays, created_at_ms, last_write_ms)
        .await?;
    let others = view.unnamed();
    if !others.is_empty() {
        view.name_others(&db.display_names(&others).await?);
    }
    Ok(view)
}
