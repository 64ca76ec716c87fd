//! Development mode, as Spotify's developer dashboard sets it per app: since February 2026 an
//! app in development mode serves at most [`MAX_USERS`] allow-listed users. Anyone else still
//! completes the OAuth flow (the accounts service does not check), then gets `403` "User not
//! registered in the Developer Dashboard" on every Web API call.
//!
//! Off for every app unless [`crate::EmulatorConfig::dev_mode_users`] or the control API
//! (`PUT /_emulator/apps/{client_id}/dev-mode`) turns it on. Configuration, not world state:
//! the state file does not keep it.

use std::collections::{BTreeSet, HashMap};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// How many users Spotify lets an app in development mode allow-list.
pub const MAX_USERS: usize = 5;

/// One app's development mode: whether it is on, and who is allow-listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DevMode {
    pub enabled: bool,
    pub users: BTreeSet<String>,
}

impl DevMode {
    /// Whether `user_id` may call the Web API through this app.
    pub fn admits(&self, user_id: &str) -> bool {
        !self.enabled || self.users.contains(user_id)
    }
}

/// Every app's development mode, by client id (an app not listed is not in it).
#[derive(Debug, Default)]
pub(crate) struct DevModes(RwLock<HashMap<String, DevMode>>);

impl DevModes {
    /// Apps `client_ids` in development mode with `users` allow-listed.
    pub fn new<'a>(
        client_ids: impl IntoIterator<Item = &'a str>,
        users: Option<&[String]>,
    ) -> Self {
        let Some(users) = users else {
            return Self::default();
        };
        let mode = DevMode {
            enabled: true,
            users: users.iter().cloned().collect(),
        };
        Self(RwLock::new(
            client_ids
                .into_iter()
                .map(|id| (id.to_owned(), mode.clone()))
                .collect(),
        ))
    }

    /// Whether `user_id` may call the Web API through app `client_id`.
    pub fn admits(&self, client_id: &str, user_id: &str) -> bool {
        self.0
            .read()
            .get(client_id)
            .is_none_or(|m| m.admits(user_id))
    }

    /// App `client_id`'s development mode (off when never set).
    pub fn get(&self, client_id: &str) -> DevMode {
        self.0.read().get(client_id).cloned().unwrap_or_default()
    }

    /// Replaces app `client_id`'s development mode.
    pub fn set(&self, client_id: &str, mode: DevMode) {
        self.0.write().insert(client_id.to_owned(), mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allow_listed_users_pass_an_app_in_development_mode() {
        let modes = DevModes::new(["a"], Some(&["alice".to_owned()]));
        assert!(modes.admits("a", "alice"));
        assert!(!modes.admits("a", "bob"));
        assert!(
            modes.admits("b", "bob"),
            "another app is not in development mode"
        );
        modes.set("a", DevMode::default());
        assert!(modes.admits("a", "bob"), "turned off, everyone passes");
        assert!(DevModes::new(["a"], None).admits("a", "bob"));
    }
}
