//! Injected faults: the next `count` requests matching a method and path fail with a chosen
//! status, or are slowed down, so clients can be tested against a misbehaving Spotify.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// A fault rule, as posted to `POST /_emulator/faults`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fault {
    /// HTTP method to match; absent or `*` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path to match exactly (no query, no trailing slash); a `*` segment matches any one
    /// segment (`/v1/playlists/*/items`), a trailing `*` matches a prefix (`/v1/*`).
    pub path: String,
    /// Status to answer with; absent means "answer normally" (with `delay_ms`, a slow answer).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds for 429 and 503 answers.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Spotify `reason` in the error body, e.g. `QUOTA_EXCEEDED` with 429.
    #[serde(default)]
    pub reason: Option<String>,
    /// Milliseconds to wait before answering (or failing).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many matching requests it applies to; default 1.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match self.method.as_deref() {
            None | Some("*") => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok && path_matches(&self.path, path)
    }
}

/// Whether `path` fits `pattern` (see [`Fault::path`]), segment by segment.
fn path_matches(pattern: &str, path: &str) -> bool {
    let segment_ok = |(want, got): (&&str, &&str)| *want == "*" || want == got;
    let got: Vec<&str> = path.split('/').collect();
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            let want: Vec<&str> = prefix.split('/').collect();
            // The last, possibly partial, segment is a prefix of the path's; more may follow.
            let Some((last, init)) = want.split_last() else {
                return true;
            };
            got.len() >= want.len()
                && init.iter().zip(&got).all(segment_ok)
                && got[init.len()].starts_with(last)
        }
        None => {
            let want: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
            want.len() == got.len() && want.iter().zip(&got).all(segment_ok)
        }
    }
}

/// The armed faults, first match wins.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Fault>>,
}

impl Faults {
    pub fn add(&self, fault: Fault) {
        if fault.count > 0 {
            self.rules.lock().push(fault);
        }
    }

    pub fn list(&self) -> Vec<Fault> {
        self.rules.lock().clone()
    }

    pub fn clear(&self) {
        self.rules.lock().clear();
    }

    /// Consumes one use of the first rule matching the request, if any.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock();
        let index = rules.iter().position(|f| f.matches(method, path))?;
        let rule = &mut rules[index];
        rule.count -= 1;
        let fired = rule.clone();
        if rule.count == 0 {
            rules.remove(index);
        }
        Some(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_count_times_on_matching_requests() {
        let faults = Faults::default();
        faults.add(Fault {
            method: Some("GET".into()),
            path: "/v1/me/player".into(),
            status: Some(503),
            retry_after: None,
            reason: None,
            delay_ms: None,
            count: 2,
        });
        assert!(faults.take("PUT", "/v1/me/player").is_none());
        assert!(faults.take("GET", "/v1/me/player/devices").is_none());
        assert_eq!(
            faults.take("get", "/v1/me/player").and_then(|f| f.status),
            Some(503)
        );
        assert!(faults.take("GET", "/v1/me/player").is_some());
        assert!(faults.take("GET", "/v1/me/player").is_none());
        faults.add(Fault {
            method: None,
            path: "/v1/*".into(),
            status: Some(500),
            retry_after: None,
            reason: None,
            delay_ms: None,
            count: 1,
        });
        assert!(faults.take("POST", "/v1/me/player/next").is_some());
    }

    #[test]
    fn a_star_segment_stands_for_one_segment() {
        for (pattern, path, matches) in [
            ("/v1/playlists/*/items", "/v1/playlists/abc/items", true),
            ("/v1/playlists/*/items", "/v1/playlists/abc/tracks", false),
            ("/v1/playlists/*/items", "/v1/playlists/abc", false),
            ("/v1/playlists/*/items", "/v1/playlists/a/b/items", false),
            ("/v1/playlists/*", "/v1/playlists/abc/items", true),
            ("/v1/*", "/v1/me", true),
            ("/v1/*", "/v1", false),
            ("/v1/me*", "/v1/me/player", true),
            ("/v1/me/player/", "/v1/me/player", true),
            ("/v1/me/player", "/v1/me/player/devices", false),
            ("*", "/anything", true),
        ] {
            assert_eq!(path_matches(pattern, path), matches, "{pattern} vs {path}");
        }
    }
}
