//! The accounts service's memory: authorization codes, access tokens and refresh tokens,
//! with Spotify's lifetimes and single-use rules. Times are virtual milliseconds.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Authorization codes are good for ten minutes.
pub(crate) const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// Refresh tokens die six months after the user authorized; refreshing does not extend them.
pub(crate) const REFRESH_TTL_MS: i64 = 183 * 24 * 3600 * 1000;
/// Expired access tokens are remembered this long so they answer "expired", not "invalid".
const EXPIRED_MEMORY_MS: i64 = 24 * 3600 * 1000;

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: Arc<str>,
    pub scope: Arc<str>,
    /// The PKCE `code_challenge` (S256), when the flow used PKCE.
    pub challenge: Option<String>,
    pub expires_at_ms: i64,
}

/// What an access token grants.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub client_id: Arc<str>,
    pub user_id: Arc<str>,
    pub scope: Arc<str>,
    pub expires_at_ms: i64,
}

/// What a refresh token grants.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: Arc<str>,
    pub user_id: Arc<str>,
    pub scope: Arc<str>,
    pub authorized_at_ms: i64,
    /// Issued to a PKCE (public) client: refreshing rotates it.
    pub public_client: bool,
}

/// A fresh token pair (or a refreshed access token).
#[derive(Debug)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: Arc<str>,
}

/// Why a refresh failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefreshFailure {
    Unknown,
    Expired,
    WrongClient,
}

/// How an access token looks up.
#[derive(Debug)]
pub(crate) enum AccessLookup {
    Valid(AccessGrant),
    Expired,
    Invalid,
}

/// Every credential the accounts service has handed out.
#[derive(Debug, Default)]
pub(crate) struct AuthStore {
    codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    issued_since_prune: usize,
}

/// The credentials as the state file holds them, keyed by token. A revoked refresh token
/// is simply absent (it answers `invalid_grant` either way).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SavedAuth {
    pub codes: HashMap<String, SavedCode>,
    pub access: HashMap<String, SavedAccess>,
    pub refresh: HashMap<String, SavedRefresh>,
}

/// An unredeemed authorization code in the state file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scope: String,
    pub challenge: Option<String>,
    pub expires_at_ms: i64,
}

/// An access token's grant in the state file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedAccess {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub expires_at_ms: i64,
}

/// A refresh token's grant in the state file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedRefresh {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub authorized_at_ms: i64,
    pub public_client: bool,
}

impl AuthStore {
    /// Every live credential, for the state file. Codes past their ten minutes are left
    /// out: they could only ever answer `invalid_grant`.
    pub fn save(&self, now_ms: i64) -> SavedAuth {
        SavedAuth {
            codes: self
                .codes
                .iter()
                .filter(|(_, c)| c.expires_at_ms > now_ms)
                .map(|(k, c)| {
                    let code = SavedCode {
                        client_id: c.client_id.clone(),
                        redirect_uri: c.redirect_uri.clone(),
                        user_id: c.user_id.to_string(),
                        scope: c.scope.to_string(),
                        challenge: c.challenge.clone(),
                        expires_at_ms: c.expires_at_ms,
                    };
                    (k.clone(), code)
                })
                .collect(),
            access: self
                .access
                .iter()
                .map(|(k, g)| {
                    let grant = SavedAccess {
                        client_id: g.client_id.to_string(),
                        user_id: g.user_id.to_string(),
                        scope: g.scope.to_string(),
                        expires_at_ms: g.expires_at_ms,
                    };
                    (k.clone(), grant)
                })
                .collect(),
            refresh: self
                .refresh
                .iter()
                .map(|(k, g)| {
                    let grant = SavedRefresh {
                        client_id: g.client_id.to_string(),
                        user_id: g.user_id.to_string(),
                        scope: g.scope.to_string(),
                        authorized_at_ms: g.authorized_at_ms,
                        public_client: g.public_client,
                    };
                    (k.clone(), grant)
                })
                .collect(),
        }
    }

    /// The store a state file describes.
    pub fn restore(saved: SavedAuth) -> Self {
        let codes = saved
            .codes
            .into_iter()
            .map(|(k, c)| {
                let code = AuthCode {
                    client_id: c.client_id,
                    redirect_uri: c.redirect_uri,
                    user_id: Arc::from(c.user_id),
                    scope: Arc::from(c.scope),
                    challenge: c.challenge,
                    expires_at_ms: c.expires_at_ms,
                };
                (k, code)
            })
            .collect();
        let access = saved
            .access
            .into_iter()
            .map(|(k, g)| {
                let grant = AccessGrant {
                    client_id: Arc::from(g.client_id),
                    user_id: Arc::from(g.user_id),
                    scope: Arc::from(g.scope),
                    expires_at_ms: g.expires_at_ms,
                };
                (k, grant)
            })
            .collect();
        let refresh = saved
            .refresh
            .into_iter()
            .map(|(k, g)| {
                let grant = RefreshGrant {
                    client_id: Arc::from(g.client_id),
                    user_id: Arc::from(g.user_id),
                    scope: Arc::from(g.scope),
                    authorized_at_ms: g.authorized_at_ms,
                    public_client: g.public_client,
                };
                (k, grant)
            })
            .collect();
        Self {
            codes,
            access,
            refresh,
            issued_since_prune: 0,
        }
    }

    /// How many access and refresh tokens are stored.
    pub fn counts(&self) -> (usize, usize) {
        (self.access.len(), self.refresh.len())
    }

    /// Stores a new authorization code and returns it.
    pub fn issue_code(&mut self, code: AuthCode) -> String {
        let value = random_token(32);
        self.codes.insert(value.clone(), code);
        value
    }

    /// Takes a code out for redemption; codes are single-use even when redemption fails.
    pub fn take_code(&mut self, code: &str) -> Option<AuthCode> {
        self.codes.remove(code)
    }

    /// Issues an access token and a refresh token after a code exchange.
    pub fn issue_pair(
        &mut self,
        client_id: &str,
        user_id: Arc<str>,
        scope: Arc<str>,
        public_client: bool,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Issued {
        let client_id: Arc<str> = Arc::from(client_id);
        let refresh_token = random_token(64);
        self.refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                client_id: Arc::clone(&client_id),
                user_id: Arc::clone(&user_id),
                scope: Arc::clone(&scope),
                authorized_at_ms: now_ms,
                public_client,
            },
        );
        let access_token =
            self.issue_access(client_id, user_id, Arc::clone(&scope), now_ms, ttl_ms);
        Issued {
            access_token,
            refresh_token: Some(refresh_token),
            scope,
        }
    }

    /// Redeems a refresh token. Confidential clients keep theirs (the answer omits it);
    /// PKCE clients get a rotated one and the old one stops working.
    pub fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Issued, RefreshFailure> {
        let grant = self
            .refresh
            .get(refresh_token)
            .ok_or(RefreshFailure::Unknown)?
            .clone();
        if &*grant.client_id != client_id {
            return Err(RefreshFailure::WrongClient);
        }
        if now_ms >= grant.authorized_at_ms.saturating_add(REFRESH_TTL_MS) {
            self.refresh.remove(refresh_token);
            return Err(RefreshFailure::Expired);
        }
        let rotated = if grant.public_client {
            self.refresh.remove(refresh_token);
            let new = random_token(64);
            self.refresh.insert(new.clone(), grant.clone());
            Some(new)
        } else {
            None
        };
        let access_token = self.issue_access(
            grant.client_id,
            grant.user_id,
            Arc::clone(&grant.scope),
            now_ms,
            ttl_ms,
        );
        Ok(Issued {
            access_token,
            refresh_token: rotated,
            scope: grant.scope,
        })
    }

    /// The user a refresh token belongs to.
    pub fn refresh_user(&self, refresh_token: &str) -> Option<Arc<str>> {
        self.refresh
            .get(refresh_token)
            .map(|g| Arc::clone(&g.user_id))
    }

    /// Whether `refresh_token` was issued to a PKCE (public) client.
    pub fn refresh_is_public(&self, refresh_token: &str) -> Option<bool> {
        self.refresh.get(refresh_token).map(|g| g.public_client)
    }

    /// Looks up a bearer token.
    pub fn access(&self, token: &str, now_ms: i64) -> AccessLookup {
        match self.access.get(token) {
            Some(grant) if now_ms < grant.expires_at_ms => AccessLookup::Valid(grant.clone()),
            Some(_) => AccessLookup::Expired,
            None => AccessLookup::Invalid,
        }
    }

    /// The user revoked the app: every token of theirs stops working.
    /// Returns how many refresh tokens died.
    pub fn revoke_user(&mut self, user_id: &str, access_too: bool) -> usize {
        let before = self.refresh.len();
        self.refresh.retain(|_, g| &*g.user_id != user_id);
        if access_too {
            self.access.retain(|_, g| &*g.user_id != user_id);
        }
        before - self.refresh.len()
    }

    /// Makes every current access token of `user_id` expired (answers "The access token
    /// expired"), as if their hour were up. Returns how many there were.
    pub fn expire_user_access(&mut self, user_id: &str, now_ms: i64) -> usize {
        let mut n = 0;
        for grant in self.access.values_mut() {
            if &*grant.user_id == user_id && grant.expires_at_ms > now_ms {
                grant.expires_at_ms = now_ms;
                n += 1;
            }
        }
        n
    }

    fn issue_access(
        &mut self,
        client_id: Arc<str>,
        user_id: Arc<str>,
        scope: Arc<str>,
        now_ms: i64,
        ttl_ms: i64,
    ) -> String {
        self.issued_since_prune += 1;
        if self.issued_since_prune >= 4096 {
            // Bound memory under long load runs: forget tokens expired a day ago.
            self.issued_since_prune = 0;
            self.access
                .retain(|_, g| g.expires_at_ms.saturating_add(EXPIRED_MEMORY_MS) > now_ms);
            self.codes.retain(|_, c| c.expires_at_ms > now_ms);
        }
        let token = random_token(96);
        self.access.insert(
            token.clone(),
            AccessGrant {
                client_id,
                user_id,
                scope,
                expires_at_ms: now_ms.saturating_add(ttl_ms),
            },
        );
        token
    }
}

/// Whether `verifier` matches an S256 `challenge` (RFC 7636).
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest) == challenge
}

/// A URL-safe random token of `bytes` random bytes, from the OS-seeded CSPRNG.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_example() {
        // Appendix B of RFC 7636.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "wrong",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn public_refresh_tokens_rotate_and_confidential_ones_stay() {
        let mut store = AuthStore::default();
        let pair = store.issue_pair("app", "alice".into(), "s".into(), true, 0, 1000);
        let old = pair.refresh_token.unwrap();
        let refreshed = store.refresh(&old, "app", 10, 1000).unwrap();
        let new = refreshed.refresh_token.unwrap();
        assert_eq!(
            store.refresh(&old, "app", 20, 1000).unwrap_err(),
            RefreshFailure::Unknown
        );
        assert!(store.refresh(&new, "app", 30, 1000).is_ok());

        let pair = store.issue_pair("app", "bob".into(), "s".into(), false, 0, 1000);
        let token = pair.refresh_token.unwrap();
        assert!(
            store
                .refresh(&token, "app", 10, 1000)
                .unwrap()
                .refresh_token
                .is_none()
        );
        assert!(store.refresh(&token, "app", 20, 1000).is_ok());
        assert_eq!(
            store.refresh(&token, "other", 20, 1000).unwrap_err(),
            RefreshFailure::WrongClient
        );
        assert_eq!(
            store
                .refresh(&token, "app", REFRESH_TTL_MS, 1000)
                .unwrap_err(),
            RefreshFailure::Expired
        );
    }

    #[test]
    fn access_tokens_expire_and_revoke() {
        let mut store = AuthStore::default();
        let pair = store.issue_pair("app", "alice".into(), "s".into(), false, 0, 1000);
        assert!(matches!(
            store.access(&pair.access_token, 999),
            AccessLookup::Valid(_)
        ));
        assert!(matches!(
            store.access(&pair.access_token, 1000),
            AccessLookup::Expired
        ));
        assert!(matches!(store.access("nope", 0), AccessLookup::Invalid));
        assert_eq!(store.revoke_user("alice", true), 1);
        assert!(matches!(
            store.access(&pair.access_token, 0),
            AccessLookup::Invalid
        ));
    }
}
