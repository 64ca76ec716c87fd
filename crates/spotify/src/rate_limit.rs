//! Remembers Spotify's 429s so that a request is not sent again before `Retry-After` is up.
//!
//! Blocks are kept per endpoint (method + path template, e.g. `GET /tracks/{id}`) and, for
//! `QUOTA_EXCEEDED`, for the whole app. The gate lives in the [`SpotifyClient`](crate::SpotifyClient)
//! (one per app) and is shared by its clones and by all users, because Spotify counts per app.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::SpotifyError;

/// Used when a 429 carries no readable `Retry-After`: long enough not to hammer Spotify, short
/// enough not to stall a session.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Reads `Retry-After` as Spotify sends it: whole seconds.
///
/// Returns `None` when the header is missing or not a number of seconds (HTTP dates are not
/// used by Spotify); callers fall back to [`DEFAULT_RETRY_AFTER`].
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

#[derive(Clone, Copy, Debug)]
struct Block {
    until: Instant,
    quota_exceeded: bool,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimitGate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    app: Option<Block>,
    endpoints: HashMap<String, Block>,
}

impl RateLimitGate {
    /// `Err(RateLimited)` with the time left when `endpoint` (or the whole app) is blocked.
    pub(crate) fn check(&self, endpoint: &str, now: Instant) -> Result<(), SpotifyError> {
        let mut state = self.state.lock();
        state.endpoints.retain(|_, block| block.until > now);
        if state.app.is_some_and(|block| block.until <= now) {
            state.app = None;
        }
        let longest = [state.app, state.endpoints.get(endpoint).copied()]
            .into_iter()
            .flatten()
            .max_by_key(|block| block.until);
        match longest {
            Some(block) => Err(SpotifyError::RateLimited {
                retry_after: block.until - now,
                quota_exceeded: block.quota_exceeded,
            }),
            None => Ok(()),
        }
    }

    /// Records a 429 for `endpoint`; an exhausted quota blocks every endpoint.
    pub(crate) fn record(
        &self,
        endpoint: &str,
        retry_after: Duration,
        quota_exceeded: bool,
        now: Instant,
    ) {
        let block = Block {
            until: now + retry_after,
            quota_exceeded,
        };
        let mut state = self.state.lock();
        let slot = state.endpoints.entry(endpoint.to_owned()).or_insert(block);
        if slot.until < block.until {
            *slot = block;
        }
        if quota_exceeded && state.app.is_none_or(|app| app.until < block.until) {
            state.app = Some(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(
            parse_retry_after(&headers("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(&headers(" 30 ")),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after(&headers("0")), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&headers("soon")), None);
        assert_eq!(parse_retry_after(&headers("-1")), None);
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn endpoint_block_expires() {
        let gate = RateLimitGate::default();
        let t0 = Instant::now();
        gate.record("GET /v1/me/player", Duration::from_secs(2), false, t0);

        let err = gate
            .check("GET /v1/me/player", t0 + Duration::from_millis(500))
            .unwrap_err();
        match err {
            SpotifyError::RateLimited {
                retry_after,
                quota_exceeded,
            } => {
                assert_eq!(retry_after, Duration::from_millis(1500));
                assert!(!quota_exceeded);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Other endpoints are not blocked by a plain 429.
        gate.check("GET /v1/me", t0).unwrap();
        gate.check("GET /v1/me/player", t0 + Duration::from_secs(2))
            .unwrap();
    }

    #[test]
    fn quota_blocks_the_whole_app() {
        let gate = RateLimitGate::default();
        let t0 = Instant::now();
        gate.record("GET /v1/search", Duration::from_secs(60), true, t0);
        let err = gate.check("PUT /v1/me/player/play", t0).unwrap_err();
        assert!(matches!(
            err,
            SpotifyError::RateLimited {
                quota_exceeded: true,
                ..
            }
        ));
        gate.check("PUT /v1/me/player/play", t0 + Duration::from_secs(61))
            .unwrap();
    }

    #[test]
    fn a_shorter_block_does_not_shorten_a_longer_one() {
        let gate = RateLimitGate::default();
        let t0 = Instant::now();
        gate.record("GET /v1/me", Duration::from_secs(10), false, t0);
        gate.record("GET /v1/me", Duration::from_secs(1), false, t0);
        assert!(
            gate.check("GET /v1/me", t0 + Duration::from_secs(5))
                .is_err()
        );
    }
}
