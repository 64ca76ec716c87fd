//! Per-app rate limiting over a rolling 30-second window, as Spotify does it. Requests are
//! counted in 100 ms buckets so memory stays bounded whatever the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

/// Spotify's window.
pub(crate) const WINDOW_MS: i64 = 30_000;
const BUCKET_MS: i64 = 100;

#[derive(Debug, Default)]
struct Window {
    /// `(bucket start, requests)`, oldest first.
    buckets: VecDeque<(i64, u32)>,
    total: u64,
}

/// Counts each client id's requests; over the limit, says how long to wait.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<Arc<str>, Window>>,
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `client_id` at real time `now_ms`, or returns the seconds to
    /// wait (`Retry-After`) until the window has room. Refused requests do not count.
    pub fn check(&self, client_id: &Arc<str>, now_ms: i64) -> Result<(), u64> {
        let mut windows = self.windows.lock();
        let window = windows.entry(Arc::clone(client_id)).or_default();
        while let Some(&(start, count)) = window.buckets.front() {
            if start + BUCKET_MS <= now_ms - WINDOW_MS {
                window.total -= u64::from(count);
                window.buckets.pop_front();
            } else {
                break;
            }
        }
        if window.total >= u64::from(self.limit) {
            let oldest = window.buckets.front().map_or(now_ms, |&(start, _)| start);
            let wait_ms = (oldest + BUCKET_MS + WINDOW_MS - now_ms).max(1);
            return Err(u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1));
        }
        let bucket = now_ms - now_ms.rem_euclid(BUCKET_MS);
        match window.buckets.back_mut() {
            Some((start, count)) if *start == bucket => *count += 1,
            _ => window.buckets.push_back((bucket, 1)),
        }
        window.total += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_window_and_recovers_after_it() {
        let limiter = RateLimiter::new(3);
        let app: Arc<str> = Arc::from("app");
        let other: Arc<str> = Arc::from("other");
        for t in [0, 10_000, 20_000] {
            assert!(limiter.check(&app, t).is_ok());
        }
        let wait = limiter.check(&app, 25_000).unwrap_err();
        assert_eq!(wait, 6, "oldest request leaves the window at ~30.1 s");
        assert!(
            limiter.check(&other, 25_000).is_ok(),
            "limits are per client id"
        );
        assert!(limiter.check(&app, 30_100).is_ok());
        assert!(limiter.check(&app, 30_200).is_err());
    }
}
