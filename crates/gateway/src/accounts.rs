//! Spotify credentials per user: one shared [`UserAuth`] per user (so refreshes are
//! single-flight across every task that calls Spotify for them), loaded from the database on
//! first use, with refreshed tokens written back encrypted.
//!
//! A user may log in again while calls with their old credentials are still in flight. Those
//! calls may fail (the old refresh token was revoked) or refresh (the old chain): neither may
//! touch the new login. So a failure evicts and marks "log in again" only if the failing
//! credentials are still the current ones, and only the current credentials' refreshes are
//! stored. Logins and evictions take one lock, so neither can slip between the other's check
//! and write.

use std::{collections::HashMap, future::Future, sync::Arc};

use parking_lot::Mutex;
use sesh_session::UserId;
use sesh_spotify::{SpotifyClient, SpotifyError, Tokens, UserAuth};
use tokio::runtime::Handle;

use crate::db::{Database, DbError};

/// Why a user's credentials are not at hand.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Never logged in, logged out, or Spotify revoked the login: log in again.
    #[error("the Spotify login must be renewed")]
    ReauthRequired,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] DbError),
}

/// Why a Spotify call made for a user failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Spotify refused or failed (a missing or revoked login is `ReauthRequired`).
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    /// The database failed while loading the credentials.
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl From<AccountError> for CallError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::ReauthRequired => Self::Spotify(SpotifyError::ReauthRequired),
            AccountError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The users' Spotify credentials.
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Database,
    runtime: Handle,
    cache: Arc<Mutex<HashMap<UserId, UserAuth>>>,
    /// Held across a login's write and an eviction's check-and-write (both rare).
    changes: Arc<tokio::sync::Mutex<()>>,
}

impl Accounts {
    /// Credentials backed by `db`; token watchers run on `runtime`.
    pub fn new(db: Database, runtime: Handle) -> Self {
        Self {
            db,
            runtime,
            cache: Arc::default(),
            changes: Arc::default(),
        }
    }

    /// After a login: stores the user with their fresh tokens (clearing "log in again") and
    /// makes these the user's current credentials — if they hold one of the app's `seats`
    /// or one is free (`0`: no limit); `None` (nothing stored) when every seat is taken.
    pub async fn logged_in(
        &self,
        user: &UserId,
        display_name: &str,
        tokens: Tokens,
        seats: u32,
    ) -> Result<Option<UserAuth>, DbError> {
        let _changes = self.changes.lock().await;
        if !self
            .db
            .upsert_user(user, display_name, &tokens, seats)
            .await?
        {
            return Ok(None);
        }
        let auth = UserAuth::new(tokens);
        self.watch(user.clone(), &auth);
        self.cache.lock().insert(user.clone(), auth.clone());
        Ok(Some(auth))
    }

    /// Forgets `user`'s credentials held in memory (their seat was freed: the stored ones
    /// are gone too).
    pub async fn forget(&self, user: &UserId) {
        let _changes = self.changes.lock().await;
        self.cache.lock().remove(user);
    }

    /// The user's shared credentials, loaded from the database on first use. A user marked as
    /// needing to log in again gets `reauth_required` without a call to Spotify (their refresh
    /// token is dead; retrying it would only spend the app's rate limit) until they log in.
    pub async fn auth(&self, user: &UserId) -> Result<UserAuth, AccountError> {
        if let Some(auth) = self.cache.lock().get(user) {
            return Ok(auth.clone());
        }
        let revoked = self.db.user(user).await?.is_none_or(|u| u.needs_reauth);
        if revoked {
            return Err(AccountError::ReauthRequired);
        }
        let tokens = self
            .db
            .load_tokens(user)
            .await?
            .ok_or(AccountError::ReauthRequired)?;
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

    /// Calls Spotify for `user` with their current credentials; a failure that means the
    /// login was revoked marks them as needing to log in again ([`Accounts::note_failure`]).
    /// The one place this sequence is written: the hubs' effects, the poller, top tracks and
    /// the routes that read a user's own Spotify data all call it.
    pub async fn call<T, Fut>(
        &self,
        spotify: &SpotifyClient,
        user: &UserId,
        call: impl FnOnce(SpotifyClient, UserAuth) -> Fut,
    ) -> Result<T, CallError>
    where
        Fut: Future<Output = Result<T, SpotifyError>>,
    {
        let auth = self.auth(user).await?;
        let result = call(spotify.clone(), auth.clone()).await;
        if let Err(e) = &result {
            self.note_failure(user, &auth, e).await;
        }
        Ok(result?)
    }

    /// Records the outcome of a Spotify call made for `user` with the credentials `used`: a
    /// revoked login marks the user as needing to log in again — unless the user has logged
    /// in again since `used` was current (their new login is not the one that failed).
    pub async fn note_failure(&self, user: &UserId, used: &UserAuth, error: &SpotifyError) {
        if !matches!(error, SpotifyError::ReauthRequired) {
            return;
        }
        let _changes = self.changes.lock().await;
        {
            let mut cache = self.cache.lock();
            match cache.get(user) {
                Some(current) if current.same_as(used) => {
                    cache.remove(user);
                }
                // Newer credentials (a login since), or already evicted by another failure.
                _ => {
                    tracing::debug!(user = %user, "a call with replaced credentials failed; ignored");
                    return;
                }
            }
        }
        tracing::warn!(user = %user, "Spotify login revoked; the user must log in again");
        if let Err(e) = self.db.set_needs_reauth(user, true).await {
            tracing::error!(error = %e, "could not mark user as needing re-login");
        }
    }

    /// Persists every refresh of `auth` (the refresh token may rotate) while it is the user's
    /// current credentials: a refresh of replaced ones must not overwrite a newer login's
    /// tokens. The task ends when the last clone of `auth` is dropped.
    fn watch(&self, user: UserId, auth: &UserAuth) {
        let mut rx = auth.subscribe();
        let (db, cache, changes) = (self.db.clone(), self.cache.clone(), self.changes.clone());
        // The watcher must not keep `auth` alive; it recognises it by its refreshed tokens.
        self.runtime.spawn(async move {
            while rx.changed().await.is_ok() {
                let tokens = rx.borrow_and_update().clone();
                let _changes = changes.lock().await;
                let current = cache.lock().get(&user).is_some_and(|auth| {
                    use secrecy::ExposeSecret;
                    auth.current().access.expose_secret() == tokens.access.expose_secret()
                });
                if !current {
                    tracing::debug!(user = %user, "refreshed credentials were replaced; not stored");
                    continue;
                }
                if let Err(e) = db.save_tokens(&user, &tokens).await {
                    tracing::error!(user = %user, error = %e, "could not store refreshed tokens");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use secrecy::{ExposeSecret, SecretString};

    use super::*;
    use crate::crypto::{SecretKey, TokenCipher};

    fn tokens(name: &str) -> Tokens {
        Tokens {
            access: SecretString::from(format!("access-{name}")),
            refresh: Some(SecretString::from(format!("refresh-{name}"))),
            expires_at: SystemTime::now() + Duration::from_secs(3600),
            scope: String::new(),
        }
    }

    async fn accounts() -> (Accounts, Database, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sesh.db").display());
        let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
            .await
            .unwrap();
        (
            Accounts::new(db.clone(), tokio::runtime::Handle::current()),
            db,
            dir,
        )
    }

    #[tokio::test]
    async fn a_failure_with_credentials_replaced_by_a_new_login_undoes_nothing() {
        let (accounts, db, _dir) = accounts().await;
        let alice = UserId::new("alice");
        accounts
            .logged_in(&alice, "Alice", tokens("old"), 0)
            .await
            .unwrap();
        // A call picks up the credentials of the first login…
        let in_flight = accounts.auth(&alice).await.unwrap();
        // …alice logs in again meanwhile…
        let fresh = accounts
            .logged_in(&alice, "Alice", tokens("new"), 0)
            .await
            .unwrap()
            .unwrap();
        // …and the old call's refresh token turns out to be revoked.
        accounts
            .note_failure(&alice, &in_flight, &SpotifyError::ReauthRequired)
            .await;
        assert!(accounts.auth(&alice).await.unwrap().same_as(&fresh));
        assert!(!db.user(&alice).await.unwrap().unwrap().needs_reauth);
        let stored = db.load_tokens(&alice).await.unwrap().unwrap();
        assert_eq!(stored.access.expose_secret(), "access-new");

        // The current credentials failing is a revoked login, as before.
        accounts
            .note_failure(&alice, &fresh, &SpotifyError::ReauthRequired)
            .await;
        assert!(db.user(&alice).await.unwrap().unwrap().needs_reauth);
        assert!(matches!(
            accounts.auth(&alice).await.unwrap_err(),
            AccountError::ReauthRequired
        ));
        // Other failures never evict.
        let again = accounts
            .logged_in(&alice, "Alice", tokens("third"), 0)
            .await
            .unwrap()
            .unwrap();
        accounts
            .note_failure(
                &alice,
                &again,
                &SpotifyError::Unavailable {
                    status: None,
                    source: None,
                },
            )
            .await;
        assert!(accounts.auth(&alice).await.unwrap().same_as(&again));
    }
}
