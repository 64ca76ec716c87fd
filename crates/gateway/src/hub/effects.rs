//! Spotify calls, off the hub's loop. A hub never awaits Spotify: it spawns the call here and
//! goes on serving joins, connects and snapshots; the result comes back to it as a command
//! (or, for a call whose outcome changes nothing in the session, straight to the caller).
//!
//! Every call goes through `Accounts::call`, the one place the "credentials → call → note a
//! revoked login" sequence is written, and takes a token from the app-wide request budget
//! first, at its priority: Spotify limits the app, whoever the call is for.

use std::{future::Future, sync::Arc};

use sesh_session::UserId;
use sesh_spotify::{SpotifyClient, UserAuth};
use tokio::sync::mpsc;

use super::{HubError, command::Command};
use crate::{budget::Priority, state::Core};

/// Calls Spotify for `user` (see `Accounts::call`, where the credentials → call → note a
/// revoked login sequence is written once).
pub async fn call<T, Fut>(
    core: &Core,
    user: &UserId,
    call: impl FnOnce(SpotifyClient, UserAuth) -> Fut,
) -> Result<T, HubError>
where
    Fut: Future<Output = Result<T, sesh_spotify::SpotifyError>>,
{
    Ok(core.accounts.call(&core.spotify, user, call).await?)
}

/// Runs a hub's Spotify calls in the background and reports their results to it.
#[derive(Debug, Clone)]
pub(super) struct Effects {
    core: Arc<Core>,
    hub: mpsc::Sender<Command>,
}

impl Effects {
    pub(super) fn new(core: Arc<Core>, hub: mpsc::Sender<Command>) -> Self {
        Self { core, hub }
    }

    /// Calls Spotify for `user` off the hub's loop; `done` turns the result into the command
    /// the hub gets back (none: the result went elsewhere, e.g. straight to the caller). For a
    /// call someone waits on (a member's command): it takes its token from the app-wide budget
    /// before every other waiting call.
    pub(super) fn spawn<T, Fut>(
        &self,
        user: UserId,
        request: impl FnOnce(SpotifyClient, UserAuth) -> Fut + Send + 'static,
        done: impl FnOnce(Result<T, HubError>) -> Option<Command> + Send + 'static,
    ) where
        T: Send + 'static,
        Fut: Future<Output = Result<T, sesh_spotify::SpotifyError>> + Send + 'static,
    {
        self.spawn_call(user, Priority::Interactive, request, done);
    }

    /// [`Effects::spawn`] at another `priority` in the app-wide budget: [`Priority::Feed`] for
    /// a call the music depends on (the next entry handed to Spotify's queue, the fallback
    /// `play`), [`Priority::Background`] for one nobody waits on (a listener's check).
    pub(super) fn spawn_with<T, Fut>(
        &self,
        priority: Priority,
        user: UserId,
        request: impl FnOnce(SpotifyClient, UserAuth) -> Fut + Send + 'static,
        done: impl FnOnce(Result<T, HubError>) -> Option<Command> + Send + 'static,
    ) where
        T: Send + 'static,
        Fut: Future<Output = Result<T, sesh_spotify::SpotifyError>> + Send + 'static,
    {
        self.spawn_call(user, priority, request, done);
    }

    fn spawn_call<T, Fut>(
        &self,
        user: UserId,
        priority: Priority,
        request: impl FnOnce(SpotifyClient, UserAuth) -> Fut + Send + 'static,
        done: impl FnOnce(Result<T, HubError>) -> Option<Command> + Send + 'static,
    ) where
        T: Send + 'static,
        Fut: Future<Output = Result<T, sesh_spotify::SpotifyError>> + Send + 'static,
    {
        let (core, hub) = (self.core.clone(), self.hub.clone());
        self.core.runtime.spawn(async move {
            // One token per effect: the few that make two or three calls (a start, a skip
            // that commits first) are rare next to polls.
            core.budget
                .acquire(priority, std::time::Instant::now())
                .await;
            let result = call(&core, &user, request).await;
            if let Some(command) = done(result) {
                // A hub that unloaded meanwhile has nobody left to tell.
                let _ = hub.send(command).await;
            }
        });
    }
}
