//! The app-wide Spotify request budget: a token bucket every poller draws from, so many
//! sessions slow down together instead of tripping Spotify's per-app rate limit.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A token bucket that hands out reservations in arrival order: an acquirer takes a token even
/// when the bucket is empty (going into debt) and waits until its token would have been refilled.
/// That keeps waiting fair (first come, first served) without a queue.
#[derive(Debug)]
pub struct RequestBudget {
    per_sec: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RequestBudget {
    /// `per_sec` requests per second on average, bursts of up to `burst`.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let per_sec = f64::from(per_sec.max(1));
        let burst = f64::from(burst.max(1));
        Self {
            per_sec,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }),
        }
    }

    /// Reserves one request and returns how long the caller must wait before sending it.
    pub fn reserve(&self) -> Duration {
        let mut bucket = self.state.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.burst);
        bucket.at = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.per_sec)
        }
    }

    /// Tokens in the bucket now; negative while callers wait for reservations they took.
    pub fn available(&self) -> f64 {
        let bucket = self.state.lock();
        let elapsed = bucket.at.elapsed().as_secs_f64();
        (bucket.tokens + elapsed * self.per_sec).min(self.burst)
    }

    /// Waits for a reservation.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        crate::metrics::budget_acquired(wait);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_spaces_requests_at_the_rate() {
        let budget = RequestBudget::new(10, 3);
        for _ in 0..3 {
            assert_eq!(budget.reserve(), Duration::ZERO);
        }
        let fourth = budget.reserve();
        let fifth = budget.reserve();
        assert!(fourth > Duration::from_millis(80) && fourth <= Duration::from_millis(100));
        assert!(fifth > Duration::from_millis(180) && fifth <= Duration::from_millis(200));
    }
}
