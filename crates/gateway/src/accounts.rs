//! Spotify credentials per user: one shared [`UserAuth`] per user (so refreshes are
//! single-flight across every task that calls Spotify for them), loaded from the database on
//! first use, with refreshed tokens written back encrypted.

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use sesh_session::UserId;
use sesh_spotify::{SpotifyError, Tokens, UserAuth};
use tokio::runtime::Handle;

use crate::{db::Database, error::ApiError};

/// The users' Spotify credentials.
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Database,
    runtime: Handle,
    cache: Arc<Mutex<HashMap<UserId, UserAuth>>>,
}

impl Accounts {
    /// Credentials backed by `db`; token watchers run on `runtime`.
    pub fn new(db: Database, runtime: Handle) -> Self {
        Self {
            db,
            runtime,
            cache: Arc::default(),
        }
    }

    /// After a login: remembers the fresh tokens (the database row is written by the caller).
    pub fn install(&self, user: &UserId, tokens: Tokens) -> UserAuth {
        let auth = UserAuth::new(tokens);
        self.watch(user.clone(), &auth);
        self.cache.lock().insert(user.clone(), auth.clone());
        auth
    }

    /// The user's shared credentials, loaded from the database on first use. A user marked as
    /// needing to log in again gets `reauth_required` without a call to Spotify (their refresh
    /// token is dead; retrying it would only spend the app's rate limit) until they log in.
    pub async fn auth(&self, user: &UserId) -> Result<UserAuth, ApiError> {
        if let Some(auth) = self.cache.lock().get(user) {
            return Ok(auth.clone());
        }
        let revoked = self.db.user(user).await?.is_none_or(|u| u.needs_reauth);
        if revoked {
            return Err(ApiError::Spotify(SpotifyError::ReauthRequired));
        }
        let tokens = self
            .db
            .load_tokens(user)
            .await?
            .ok_or(ApiError::Spotify(SpotifyError::ReauthRequired))?;
        let mut cache = self.cache.lock();
        // Another task may have loaded it meanwhile; keep theirs so there is one UserAuth.
        if let Some(auth) = cache.get(user) {
            return Ok(auth.clone());
        }
        let auth = UserAuth::new(tokens);
        self.watch(user.clone(), &auth);
        cache.insert(user.clone(), auth.clone());
        Ok(auth)
    }

    /// Records the outcome of a Spotify call made for `user`: a revoked login marks the user
    /// as needing to log in again.
    pub async fn note_failure(&self, user: &UserId, error: &SpotifyError) {
        if matches!(error, SpotifyError::ReauthRequired) {
            tracing::warn!(user = %user, "Spotify login revoked; the user must log in again");
            self.cache.lock().remove(user);
            if let Err(e) = self.db.set_needs_reauth(user, true).await {
                tracing::error!(error = %e, "could not mark user as needing re-login");
            }
        }
    }

    /// Persists every refresh of `auth` (the refresh token may rotate). The task ends when the
    /// last clone of `auth` is dropped.
    fn watch(&self, user: UserId, auth: &UserAuth) {
        let mut rx = auth.subscribe();
        let db = self.db.clone();
        self.runtime.spawn(async move {
            while rx.changed().await.is_ok() {
                let tokens = rx.borrow_and_update().clone();
                if let Err(e) = db.save_tokens(&user, &tokens).await {
                    tracing::error!(user = %user, error = %e, "could not store refreshed tokens");
                }
            }
        });
    }
}
