//! Invite codes: the secret part of a join link.
//!
//! 128 random bits from a CSPRNG, written as unpadded URL-safe base64 (22 characters), so
//! a code can go straight into a URL and cannot be guessed or enumerated.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

/// Random bytes in a code (128 bits; the issue asks for at least 96).
pub const INVITE_CODE_BYTES: usize = 16;
/// Characters in a code: 16 bytes in unpadded base64.
pub const INVITE_CODE_LEN: usize = 22;

/// The secret in a join link. Serialized as its text; parsing checks the exact form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InviteCode(String);

/// Why a piece of text is not an invite code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteCodeError {
    /// Too short or too long (often a link cut off while copying).
    #[error("an invite code has {INVITE_CODE_LEN} characters, this one has {actual}")]
    WrongLength {
        /// Characters received.
        actual: usize,
    },
    /// A character outside `A–Z a–z 0–9 - _`.
    #[error("an invite code contains only letters, digits, '-' and '_'")]
    InvalidCharacter,
    /// Right alphabet and length, but not a code we could have generated.
    #[error("this is not a valid invite code")]
    Malformed,
}

impl InviteCode {
    /// A fresh code from a cryptographically secure generator (e.g. `rand::rng()`).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(generate_token(rng))
    }

    /// The code as text, as it appears in a join link.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 128 fresh random bits from `rng` as unpadded URL-safe base64: the form of invite codes and
/// display keys.
pub(crate) fn generate_token<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; INVITE_CODE_BYTES];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks that `text` is a token [`generate_token`] could have made.
pub(crate) fn check_token(text: &str) -> Result<(), InviteCodeError> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !text.bytes().all(url_safe) {
        return Err(InviteCodeError::InvalidCharacter);
    }
    if text.len() != INVITE_CODE_LEN {
        return Err(InviteCodeError::WrongLength { actual: text.len() });
    }
    // The last character carries 4 padding bits that must be zero; the strict decoder
    // rejects other values, so every token has exactly one spelling.
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(bytes) if bytes.len() == INVITE_CODE_BYTES => Ok(()),
        _ => Err(InviteCodeError::Malformed),
    }
}

impl FromStr for InviteCode {
    type Err = InviteCodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_token(text).map(|()| Self(text.to_owned()))
    }
}

impl TryFrom<String> for InviteCode {
    type Error = InviteCodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<InviteCode> for String {
    fn from(code: InviteCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn generated_codes_parse_back_and_differ() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = InviteCode::generate(&mut rng);
        let b = InviteCode::generate(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), INVITE_CODE_LEN);
        assert_eq!(a.as_str().parse::<InviteCode>(), Ok(a.clone()));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<InviteCode>(&json).unwrap(), a);
    }

    #[test]
    fn bad_codes_get_clear_errors() {
        assert_eq!(
            "abc".parse::<InviteCode>(),
            Err(InviteCodeError::WrongLength { actual: 3 })
        );
        assert_eq!(
            "abcdefghijklmnopqrstu+".parse::<InviteCode>(),
            Err(InviteCodeError::InvalidCharacter)
        );
        // 'B' as the last character sets a padding bit: right shape, never generated.
        assert_eq!(
            "AAAAAAAAAAAAAAAAAAAAAB".parse::<InviteCode>(),
            Err(InviteCodeError::Malformed)
        );
        assert!(serde_json::from_str::<InviteCode>("\"short\"").is_err());
    }
}
