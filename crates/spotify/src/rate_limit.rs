//! Remembers Spotify's 429s so that a request is not sent again before `Retry-After` is up.
//!
//! Blocks are kept per endpoint (method + path template, e.g. `GET /tracks/{id}`) and, for
//! `QUOTA_EXCEEDED`, for the whole app. The gate lives in the [`SpotifyClient`](crate::SpotifyClient)
//! (one per app) and is shared by its clones and by all users, because Spotify counts per app.
//! Several processes of one app share Spotify's count too: each 429 a process sees is announced
//! as a [`RateLimitNotice`] ([`SpotifyClient::rate_limit_notices`](crate::SpotifyClient::rate_limit_notices)),
//! which the others apply with [`SpotifyClient::pause_endpoint`](crate::SpotifyClient::pause_endpoint).

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

/// A 429 this process saw: `endpoint` (or, with `quota_exceeded`, the whole app) may not be
/// called for `retry_after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitNotice {
    /// Method and path template, e.g. `GET /me/player`, or `POST /api/token`.
    pub endpoint: String,
    /// Spotify's `Retry-After` (or [`DEFAULT_RETRY_AFTER`]).
    pub retry_after: Duration,
    /// Spotify said `QUOTA_EXCEEDED`: every endpoint waits.
    pub quota_exceeded: bool,
}

/// Notices not yet read by a slow subscriber beyond this are dropped (it misses the oldest).
const NOTICES: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Block {
    until: Instant,
    quota_exceeded: bool,
}

#[derive(Debug)]
pub(crate) struct RateLimitGate {
    state: Mutex<GateState>,
    notices: tokio::sync::broadcast::Sender<RateLimitNotice>,
}

impl Default for RateLimitGate {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            notices: tokio::sync::broadcast::Sender::new(NOTICES),
        }
    }
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

    /// Records a 429 this process saw for `endpoint` (an exhausted quota blocks every
    /// endpoint), and announces it to [`RateLimitGate::subscribe`]rs.
    pub(crate) fn record(
        &self,
        endpoint: &str,
        retry_after: Duration,
        quota_exceeded: bool,
        now: Instant,
    ) {
        self.block(endpoint, retry_after, quota_exceeded, now);
        // Nobody subscribed is fine: one process alone.
        let _ = self.notices.send(RateLimitNotice {
            endpoint: endpoint.to_owned(),
            retry_after,
            quota_exceeded,
        });
    }

    /// The notices of [`RateLimitGate::record`] from now on.
    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RateLimitNotice> {
        self.notices.subscribe()
    }

    /// Blocks `endpoint` as a 429 would, without announcing it (another process saw it).
    pub(crate) fn block(
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

    #[test]
    fn a_recorded_429_is_announced_and_a_blocked_one_is_not() {
        let gate = RateLimitGate::default();
        let mut notices = gate.subscribe();
        let now = Instant::now();
        gate.block("GET /me/player", Duration::from_secs(3), false, now);
        assert!(
            notices.try_recv().is_err(),
            "a remote block is not announced again"
        );
        assert!(gate.check("GET /me/player", now).is_err());
        gate.record("GET /tracks/{id}", Duration::from_secs(2), true, now);
        assert_eq!(
            notices.try_recv().unwrap(),
            RateLimitNotice {
                endpoint: "GET /tracks/{id}".to_owned(),
                retry_after: Duration::from_secs(2),
                quota_exceeded: true,
            }
        );
        // The quota blocks everything, here as where it was seen.
        assert!(gate.check("GET /search", now).is_err());
        assert!(
            gate.check("GET /search", now + Duration::from_secs(3))
                .is_ok()
        );
    }

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
