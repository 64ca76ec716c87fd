//! Members' top tracks, the raw material of a session's queue: fetched from Spotify in the
//! background when a user logs in, stored, and read back when they create or join a session, so
//! that a join normally waits on SQLite only, not on Spotify.

use std::{sync::Arc, time::Duration};

use sesh_session::{Track, UserId};
use sesh_spotify::TimeRange;

use crate::{
    accounts::CallError,
    db::{DbError, now_ms},
    state::Core,
    wire::track_from_spotify,
};

/// Tracks per member that go into the queue.
const TOP_TRACKS: u32 = 5;
/// Stored top tracks younger than this are reused instead of asking Spotify again.
const FRESH: Duration = Duration::from_secs(3600);

/// The user's top tracks: stored ones when fresh, else Spotify's `short_term` (falling back to
/// `medium_term`), stored for Start. Spotify trouble never blocks a join: the stored (or no)
/// tracks are used and the failure is logged.
pub async fn for_user(core: &Core, user: &UserId) -> Result<Vec<Arc<Track>>, DbError> {
    core.top_tracks
        .run(user, stored_or_fetched(core, user))
        .await
}

async fn stored_or_fetched(core: &Core, user: &UserId) -> Result<Vec<Arc<Track>>, DbError> {
    let stored = core.db.top_tracks(user).await?;
    if let Some((tracks, fetched_at)) = &stored
        && is_fresh(*fetched_at)
        && !tracks.is_empty()
    {
        return Ok(core.tracks.share_all(tracks.iter().cloned()));
    }
    let tracks = match fetch(core, user).await {
        Ok((tracks, range)) => {
            core.db.save_top_tracks(user, &tracks, range).await?;
            tracks
        }
        Err(e) => {
            tracing::warn!(user = %user, error = %e, "could not fetch top tracks; using stored ones");
            stored.map(|(t, _)| t).unwrap_or_default()
        }
    };
    Ok(core.tracks.share_all(tracks))
}

/// Refreshes the user's stored top tracks in the background unless they are fresh (called at
/// login: a friend who logs in from an invite link joins a moment later, and that join then
/// needs no Spotify call). A failure is only logged; the join tries again.
pub fn prefetch(core: &Arc<Core>, user: &UserId) {
    let (core, user) = (core.clone(), user.clone());
    core.runtime.clone().spawn(async move {
        if let Err(e) = for_user(&core, &user).await {
            tracing::warn!(user = %user, error = %e, "could not prefetch top tracks");
        }
    });
}

fn is_fresh(fetched_at_ms: i64) -> bool {
    now_ms() - fetched_at_ms < FRESH.as_millis() as i64
}

async fn fetch(core: &Core, user: &UserId) -> Result<(Vec<Track>, &'static str), CallError> {
    for (range, name) in [
        (TimeRange::ShortTerm, "short_term"),
        (TimeRange::MediumTerm, "medium_term"),
    ] {
        // Interactive: a create or join waits on it, also on a login's prefetch (it waits for
        // the prefetch to finish), and behind the polls of a busy instance it would wait for
        // as long as they keep the budget spent.
        core.budget
            .acquire(
                crate::budget::Priority::Interactive,
                std::time::Instant::now(),
            )
            .await;
        let page = core
            .accounts
            .call(&core.spotify, user, |spotify, auth| async move {
                spotify.top_tracks(&auth, range, TOP_TRACKS, 0).await
            })
            .await?;
        let tracks: Vec<Track> = page.items.iter().filter_map(track_from_spotify).collect();
        if !tracks.is_empty() {
            return Ok((tracks, name));
        }
    }
    Ok((Vec::new(), "medium_term"))
}
