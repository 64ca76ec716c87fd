//! Saving a session's played tracks as a private playlist in a member's own Spotify account
//! (`POST /api/sessions/{id}/playlist`).
//!
//! The tracks are the recap's plays in play order, each entry once. The playlist is created
//! once per member and session (`POST /v1/me/playlists`), then filled with
//! `POST /v1/playlists/{id}/items`, at most 100 items a call — never the old `/tracks` routes.
//! After each call the number of plays the playlist holds is stored, so a save cut short (an
//! error, a restart) resumes where it stopped, and saving again later adds only what played
//! since. A `429` between calls is waited out (up to [`MAX_WAIT`] in all). The
//! `playlist-modify-private` scope is not part of the login: a member without it is told
//! `consent_required` and sent through the login once more with it
//! (`/auth/login?consent=playlist`). Every call draws from the app's Spotify budget and counts
//! against the member's own limit of Spotify-reaching requests.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use parking_lot::Mutex;
use serde::Serialize;
use sesh_session::{SessionId, UserId};
use sesh_spotify::{PLAYLIST_ITEMS_PER_CALL, PLAYLIST_MODIFY_PRIVATE, SpotifyError};

use crate::{
    db::SavedPlaylist, error::ApiError, hub::HubRegistry, state::Core, wire::recap::RecapView,
};

/// The longest a save waits for Spotify's `Retry-After`s, in all, before it answers
/// `rate_limited` (the next save resumes).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// `POST /api/sessions/{id}/playlist` → 200.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SaveAnswer {
    /// Spotify's id of the playlist.
    pub playlist_id: String,
    /// Its page on Spotify.
    pub url: String,
    /// Tracks this save added (0: nothing new since the last save).
    pub added: usize,
    /// Tracks of the session the playlist holds now.
    pub total: usize,
}

/// The saves under way, one per member and session at a time.
#[derive(Debug, Default)]
pub struct SavesInFlight(Mutex<HashSet<(UserId, SessionId)>>);

/// Removes a save from [`SavesInFlight`] however it ends.
struct InFlight<'a> {
    saves: &'a SavesInFlight,
    key: (UserId, SessionId),
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.saves.0.lock().remove(&self.key);
    }
}

/// Saves (or brings up to date) `user`'s playlist of session `id`.
pub async fn save(
    core: &Core,
    hubs: &HubRegistry,
    saves: &SavesInFlight,
    user: &UserId,
    id: SessionId,
) -> Result<SaveAnswer, ApiError> {
    let recap = crate::recap::load(core, hubs, user, id).await?;
    let mut seen = HashSet::new();
    let uris: Vec<String> = recap
        .tracks
        .iter()
        .filter(|t| seen.insert(t.entry_id))
        .map(|t| t.track.uri.as_str().to_owned())
        .collect();
    if uris.is_empty() {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "nothing_played",
            "nothing has played in this session yet",
        ));
    }
    let auth = core.accounts.auth(user).await.map_err(ApiError::from)?;
    if !auth.current().has_scope(PLAYLIST_MODIFY_PRIVATE) {
        return Err(consent_required());
    }
    let key = (user.clone(), id);
    if !saves.0.lock().insert(key.clone()) {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            "save_in_progress",
            "this playlist is being saved already",
        ));
    }
    let _in_flight = InFlight { saves, key };
    core.limits.check_spotify_call(user)?;

    let mut waited = Duration::ZERO;
    let saved = match core.db.saved_playlist(id, user).await? {
        Some(saved) => saved,
        None => {
            let name = playlist_name(&recap);
            let description = format!(
                "What played at a Sesh session, in play order ({} tracks when saved).",
                uris.len()
            );
            let playlist = with_retries(core, user, &mut waited, |spotify, auth| {
                let (name, description) = (name.clone(), description.clone());
                async move {
                    spotify
                        .create_playlist(&auth, &name, Some(&description), false)
                        .await
                }
            })
            .await?;
            let url = playlist.url().map_or_else(
                || format!("https://open.spotify.com/playlist/{}", playlist.id),
                str::to_owned,
            );
            core.db
                .insert_playlist(id, user, &playlist.id, &url)
                .await?;
            tracing::info!(session = %id, user = %user, playlist = %playlist.id, "created a session playlist");
            SavedPlaylist {
                playlist_id: playlist.id,
                url,
                added: 0,
            }
        }
    };
    let before = saved.added.min(uris.len());
    let mut added = before;
    while added < uris.len() {
        let chunk: Arc<[String]> =
            uris[added..uris.len().min(added + PLAYLIST_ITEMS_PER_CALL)].into();
        let playlist_id = saved.playlist_id.clone();
        with_retries(core, user, &mut waited, |spotify, auth| {
            let (chunk, playlist_id) = (chunk.clone(), playlist_id.clone());
            async move {
                spotify
                    .add_playlist_items(&auth, &playlist_id, &chunk)
                    .await
            }
        })
        .await?;
        added += chunk.len();
        core.db.set_playlist_added(id, user, added).await?;
    }
    Ok(SaveAnswer {
        playlist_id: saved.playlist_id,
        url: saved.url,
        added: added - before,
        total: added,
    })
}

/// "Sesh · {session name} · {date}" (the date the session was created, UTC).
fn playlist_name(recap: &RecapView) -> String {
    let session = &recap.session;
    let name = session.name.as_ref().map_or_else(
        || format!("{}’s session", session.host.display_name),
        |n| n.as_str().to_owned(),
    );
    let created = std::time::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(session.created_at_ms).unwrap_or(0));
    let date: String = humantime::format_rfc3339(created)
        .to_string()
        .chars()
        .take(10)
        .collect();
    format!("Sesh · {name} · {date}")
}

fn consent_required() -> ApiError {
    ApiError::client(
        StatusCode::FORBIDDEN,
        "consent_required",
        "Sesh needs your permission to create playlists in your Spotify: log in once more to give it",
    )
}

/// One Spotify call for `user` through the app's budget, its `Retry-After`s waited out while
/// `waited` stays within [`MAX_WAIT`].
async fn with_retries<T, Fut>(
    core: &Core,
    user: &UserId,
    waited: &mut Duration,
    call: impl Fn(sesh_spotify::SpotifyClient, sesh_spotify::UserAuth) -> Fut,
) -> Result<T, ApiError>
where
    Fut: Future<Output = Result<T, SpotifyError>>,
{
    loop {
        core.budget
            .acquire(
                crate::budget::Priority::Background,
                std::time::Instant::now(),
            )
            .await;
        match core.accounts.call(&core.spotify, user, &call).await {
            Ok(value) => return Ok(value),
            Err(crate::accounts::CallError::Spotify(SpotifyError::RateLimited {
                retry_after,
                ..
            })) if *waited + retry_after <= MAX_WAIT => {
                tracing::info!(user = %user, ?retry_after, "Spotify asked to wait while saving a playlist");
                *waited += retry_after;
                tokio::time::sleep(retry_after).await;
            }
            Err(crate::accounts::CallError::Spotify(SpotifyError::InsufficientScope {
                ..
            })) => {
                return Err(consent_required());
            }
            Err(e) => return Err(e.into()),
        }
    }
}
