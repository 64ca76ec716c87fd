//! A user's OAuth tokens and the shared handle through which every call for that user reads
//! and refreshes them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, watch};

/// Refresh this long before `expires_at`, so a token never expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A user's Spotify tokens. `Debug` shows only the expiry and the scope.
#[derive(Clone)]
pub struct Tokens {
    /// The bearer token for Web API calls.
    pub access: SecretString,
    /// The long-lived token to get new access tokens; Spotify may rotate it on refresh.
    pub refresh: Option<SecretString>,
    /// When `access` stops working.
    pub expires_at: SystemTime,
    /// Space-separated scopes granted by the user.
    pub scope: String,
}

impl Tokens {
    /// Whether `access` expires within `margin` from now (or already has).
    pub fn expires_within(&self, margin: Duration) -> bool {
        match self.expires_at.duration_since(SystemTime::now()) {
            Ok(left) => left <= margin,
            Err(_) => true,
        }
    }

    /// Whether the user granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"[redacted]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// One user's tokens, shared by every task that calls Spotify for that user (clone freely).
///
/// [`SpotifyClient`](crate::SpotifyClient) refreshes through it when the access token is
/// within [`REFRESH_MARGIN`] of expiry or was answered with 401. Refresh is single-flight:
/// concurrent calls wait for the one refresh in progress and then use its token.
#[derive(Clone)]
pub struct UserAuth {
    inner: Arc<Inner>,
}

struct Inner {
    /// Holds the current tokens; its receivers are how the gateway learns of refreshes.
    tokens: watch::Sender<Tokens>,
    /// Held for the duration of a refresh; the single-flight gate. Owned guards let the
    /// refresh finish in its own task even when the caller is cancelled.
    refresh_gate: Arc<Mutex<()>>,
}

impl UserAuth {
    /// Wraps tokens from a code exchange or from storage.
    pub fn new(tokens: Tokens) -> Self {
        let (tokens, _) = watch::channel(tokens);
        Self {
            inner: Arc::new(Inner {
                tokens,
                refresh_gate: Arc::new(Mutex::new(())),
            }),
        }
    }

    /// The tokens as they are now.
    pub fn current(&self) -> Tokens {
        self.inner.tokens.borrow().clone()
    }

    /// A receiver that is marked changed after every refresh, so the gateway can persist the
    /// new tokens (the refresh token may have rotated).
    pub fn subscribe(&self) -> watch::Receiver<Tokens> {
        self.inner.tokens.subscribe()
    }

    /// Whether `other` is this very login (a clone of it), not merely equal tokens: a caller
    /// that failed with one login can tell whether the user has logged in again since.
    pub fn same_as(&self, other: &UserAuth) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Waits for the refresh gate; see [`RefreshGuard`].
    pub(crate) async fn lock_refresh(&self) -> RefreshGuard {
        RefreshGuard {
            auth: self.clone(),
            _gate: Arc::clone(&self.inner.refresh_gate).lock_owned().await,
        }
    }

    /// Whether `access` is still the current access token (compared without printing it).
    pub(crate) fn is_current(&self, access: &SecretString) -> bool {
        self.inner.tokens.borrow().access.expose_secret() == access.expose_secret()
    }
}

impl fmt::Debug for UserAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self.inner.tokens.borrow();
        f.debug_struct("UserAuth")
            .field("expires_at", &tokens.expires_at)
            .field("scope", &tokens.scope)
            .finish_non_exhaustive()
    }
}

/// Proof that the caller holds the refresh gate; only the holder may store new tokens.
pub(crate) struct RefreshGuard {
    auth: UserAuth,
    _gate: tokio::sync::OwnedMutexGuard<()>,
}

impl RefreshGuard {
    /// Stores refreshed tokens and notifies subscribers.
    pub(crate) fn store(&self, tokens: Tokens) {
        self.auth.inner.tokens.send_replace(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(expires_in: Duration) -> Tokens {
        Tokens {
            access: SecretString::from("access-secret-123"),
            refresh: Some(SecretString::from("refresh-secret-456")),
            expires_at: SystemTime::now() + expires_in,
            scope: "user-top-read user-read-playback-state".to_owned(),
        }
    }

    #[test]
    fn debug_redacts_tokens() {
        let t = tokens(Duration::from_secs(3600));
        let printed = format!("{t:?}");
        assert!(!printed.contains("access-secret-123"), "{printed}");
        assert!(!printed.contains("refresh-secret-456"), "{printed}");
        assert!(printed.contains("user-top-read"), "{printed}");
        let auth = UserAuth::new(t);
        let printed = format!("{auth:?}");
        assert!(!printed.contains("secret"), "{printed}");
    }

    #[test]
    fn expiry_margin() {
        assert!(!tokens(Duration::from_secs(3600)).expires_within(REFRESH_MARGIN));
        assert!(tokens(Duration::from_secs(59)).expires_within(REFRESH_MARGIN));
        let expired = Tokens {
            expires_at: SystemTime::now() - Duration::from_secs(5),
            ..tokens(Duration::ZERO)
        };
        assert!(expired.expires_within(Duration::ZERO));
    }

    #[test]
    fn scopes() {
        let t = tokens(Duration::from_secs(10));
        assert!(t.has_scope("user-top-read"));
        assert!(!t.has_scope("user-top"));
    }

    #[tokio::test]
    async fn store_notifies_subscribers() {
        let auth = UserAuth::new(tokens(Duration::from_secs(10)));
        let mut rx = auth.subscribe();
        assert!(!rx.has_changed().unwrap());
        let newer = Tokens {
            access: SecretString::from("new-access"),
            ..tokens(Duration::from_secs(3600))
        };
        auth.lock_refresh().await.store(newer);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().access.expose_secret(), "new-access");
        assert!(auth.is_current(&SecretString::from("new-access")));
    }
}
