//! The current user's profile (`GET /v1/me`, Spotify's `PrivateUserObject`).

use serde::{Deserialize, Serialize};

use super::catalog::{ExternalUrls, Image};

/// The logged-in user. Since the February 2026 development-mode change Spotify no longer
/// sends `product`, `email` or `country` to most apps; Premium is discovered from the 403 on
/// a player command instead.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct User {
    /// The Spotify user id (stable; Sesh's user key).
    pub id: String,
    /// The name shown in Spotify; users may not have set one.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Profile pictures, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
    /// `spotify:user:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
    /// API link to the public profile.
    #[serde(default)]
    pub href: Option<String>,
    /// Link to the profile in the Spotify app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
    /// Deprecated: `premium`, `free`, ... when sent at all.
    #[serde(default)]
    pub product: Option<String>,
    /// Deprecated: ISO 3166-1 alpha-2 country.
    #[serde(default)]
    pub country: Option<String>,
    /// Deprecated: needs the `user-read-email` scope, which Sesh does not ask for.
    #[serde(default)]
    pub email: Option<String>,
    /// Deprecated follower count.
    #[serde(default)]
    pub followers: Option<Followers>,
}

impl User {
    /// `display_name`, or the id when the user has none.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Whether Spotify said the account is Premium; `None` when it did not say.
    pub fn is_premium(&self) -> Option<bool> {
        self.product.as_deref().map(|p| p == "premium")
    }
}

/// Deprecated follower information.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Followers {
    /// Always null in practice.
    #[serde(default)]
    pub href: Option<String>,
    /// Number of followers.
    #[serde(default)]
    pub total: u64,
}
