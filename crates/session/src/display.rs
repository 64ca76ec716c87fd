//! Displays: read-only views of a session — a TV in the room, a stream overlay — that the
//! host lets in with a [`DisplayKey`]. A key grants seeing, never joining: it is separate from
//! the invite code, and revoking it ([`crate::Session::revoke_display`]) takes the sight away.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::invite::{InviteCodeError, check_token, generate_token};
use crate::settings::SessionName;

/// Most display keys one session holds at once.
pub const MAX_DISPLAYS: usize = 20;

/// The secret in a display's links: 128 random bits as unpadded URL-safe base64 (22
/// characters), like an invite code but never one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayKey(String);

impl DisplayKey {
    /// A fresh key from a cryptographically secure generator (e.g. `rand::rng()`).
    pub fn generate<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(generate_token(rng))
    }

    /// The key as text, as it appears in a display's links.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DisplayKey {
    type Err = InviteCodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_token(text).map(|()| Self(text.to_owned()))
    }
}

impl TryFrom<String> for DisplayKey {
    type Error = InviteCodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<DisplayKey> for String {
    fn from(key: DisplayKey) -> Self {
        key.0
    }
}

/// One display key of a session, as the host made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDisplay {
    /// The key.
    pub key: DisplayKey,
    /// What the host called it ("Living room TV"), if anything.
    pub label: Option<SessionName>,
    /// Whether displays with this key see the join link (and show its QR code).
    pub show_join: bool,
    /// When the host made it (Unix ms).
    pub created_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn keys_are_random_tokens_that_parse_back() {
        let mut rng = StdRng::seed_from_u64(3);
        let a = DisplayKey::generate(&mut rng);
        assert_ne!(a, DisplayKey::generate(&mut rng));
        assert_eq!(a.as_str().len(), crate::invite::INVITE_CODE_LEN);
        assert_eq!(a.as_str().parse::<DisplayKey>(), Ok(a.clone()));
        assert!("not a key".parse::<DisplayKey>().is_err());
        assert!(serde_json::from_str::<DisplayKey>("\"AAAAAAAAAAAAAAAAAAAAAB\"").is_err());
    }
}
