//! Secrets at rest: AES-256-GCM for Spotify tokens, SHA-256 for login-session ids, and the
//! random opaque tokens handed to browsers.

use std::{
    fmt, fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
/// File name of the generated key inside the data directory (demo mode).
pub const DEMO_KEY_FILE: &str = "secret.key";

/// Why the token-encryption key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not base64 or not 32 bytes.
    #[error(
        "SESH_SECRET_KEY must be 32 random bytes in base64 (try `openssl rand -base64 32`); {0}"
    )]
    Malformed(&'static str),
    /// Outside demo mode a key is mandatory.
    #[error(
        "SESH_SECRET_KEY is not set; it encrypts Spotify tokens at rest. Generate one with `openssl rand -base64 32`"
    )]
    Missing,
    /// The demo key file could not be read or written.
    #[error("cannot use the key file {path}: {source}")]
    File {
        /// The key file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
}

/// The 32-byte key that encrypts tokens at rest. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Parses a base64 (standard or URL-safe) encoding of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| KeyError::Malformed("it is not valid base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Malformed("it does not decode to 32 bytes"))?;
        Ok(Self(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Reads `dir/secret.key`, or creates it (mode 0600) with a fresh key when missing.
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(DEMO_KEY_FILE);
        let file_err = |source| KeyError::File {
            path: path.clone(),
            source,
        };
        match fs::read_to_string(&path) {
            Ok(text) => return Self::from_base64(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(e)),
        }
        fs::create_dir_all(dir).map_err(file_err)?;
        let key = Self::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(file_err)?;
        file.write_all(STANDARD.encode(key.0).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(file_err)?;
        Ok(key)
    }
}

/// A secret that cannot be sealed, or a ciphertext that does not open with this key (wrong key,
/// tampering, moved to another row).
#[derive(Debug, thiserror::Error)]
#[error("stored secret cannot be encrypted or decrypted (wrong SESH_SECRET_KEY or corrupted data)")]
pub struct CryptoError;

/// Encrypts and decrypts small secrets with AES-256-GCM. The stored form is
/// `nonce (12 bytes) || ciphertext+tag`; the associated data binds a ciphertext to its row and
/// column so it cannot be moved to another user.
#[derive(Clone)]
pub struct TokenCipher {
    /// Shared: the expanded key is ~1 KB, and every `Database` clone (one in each user's
    /// token watcher, among others) would otherwise carry its own copy.
    cipher: Arc<Aes256Gcm>,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher")
    }
}

impl TokenCipher {
    /// A cipher for this key.
    pub fn new(key: &SecretKey) -> Self {
        Self {
            cipher: Arc::new(Aes256Gcm::new(&key.0.into())),
        }
    }

    /// Encrypts `plaintext`, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ciphertext = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts what [`TokenCipher::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError)
    }
}

/// A random URL-safe token carrying 256 bits (login-session ids, OAuth state).
pub fn opaque_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Hex SHA-256, used to store login-session ids and OAuth states so a leaked database cannot be
/// replayed as cookies.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_bound_to_aad() {
        let cipher = TokenCipher::new(&SecretKey::generate());
        let sealed = cipher.seal(b"token", b"user:alice:access").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"token"));
        assert_eq!(
            cipher.open(&sealed, b"user:alice:access").unwrap(),
            b"token"
        );
        assert!(cipher.open(&sealed, b"user:bob:access").is_err());
        let other = TokenCipher::new(&SecretKey::generate());
        assert!(other.open(&sealed, b"user:alice:access").is_err());
    }

    #[test]
    fn keys_parse_only_when_32_bytes() {
        let good = STANDARD.encode([7u8; 32]);
        assert!(SecretKey::from_base64(&good).is_ok());
        assert!(SecretKey::from_base64(&STANDARD.encode([7u8; 16])).is_err());
        assert!(SecretKey::from_base64("not base64!").is_err());
        assert!(!format!("{:?}", SecretKey::from_base64(&good).unwrap()).contains('7'));
    }

    #[test]
    fn demo_key_is_generated_once_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = SecretKey::load_or_generate(dir.path()).unwrap();
        let b = SecretKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(DEMO_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(opaque_token(), opaque_token());
    }
}
