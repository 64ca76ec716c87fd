//! Deterministic Spotify-style identifiers: 22-character base62 ids and 40-hex device ids.

use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 22-character base62 id derived from `seed`, stable across runs and builds so that
/// ids seen in one test run (or copied from a log) mean the same thing in the next.
pub(crate) fn base62_id(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    // 22 base62 digits hold ~131 bits; the first 17 bytes of the digest are plenty.
    let mut n = u128::from_be_bytes(take16(&digest));
    let mut out = [0u8; 22];
    for slot in out.iter_mut().rev() {
        // `n % 62` is below 62, so the index is in range.
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// A 40-hex-digit device id derived from `seed`, like Spotify Connect device ids.
pub(crate) fn device_id(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    hex::encode(&digest[..20])
}

/// Whether `id` looks like a Spotify base62 id.
pub(crate) fn is_base62_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A small deterministic hash for picking colours, durations and such from a seed.
pub(crate) fn hash64(seed: &str) -> u64 {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

fn take16(digest: &[u8]) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_well_formed() {
        let a = base62_id("track:1");
        assert_eq!(a, base62_id("track:1"));
        assert_ne!(a, base62_id("track:2"));
        assert!(is_base62_id(&a), "{a}");
        let d = device_id("alice:phone");
        assert_eq!(d.len(), 40);
        assert!(d.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
