//! The app-wide Spotify request budget: one scheduler every Spotify call Sesh makes on its own
//! draws from (polls, listen-along checks, playlist saves, searches), so many sessions slow
//! down together instead of tripping Spotify's per-app rate limit.
//!
//! - **Priorities.** While requests wait, the next token goes to the most important one:
//!   [`Priority::Interactive`] (a member waits on it), then [`Priority::Feed`] (what keeps the
//!   music playing: the poll in a track's commit window, handing Spotify the next entry, the
//!   fallback `play`), then [`Priority::Boundary`] (a poll just after a track's predicted end,
//!   or one confirming a command), then [`Priority::Watch`] (a check between boundaries), then
//!   [`Priority::Background`]. Feeding goes before boundaries: when it is late the music stops,
//!   and every stopped session then costs a boundary poll, a fallback `play` and a confirming
//!   poll more, which would starve the feeding of the others (measured: at 2,000 sessions with
//!   boundaries first, most track ends stopped the music). Within a priority the stalest
//!   goes first (the longest since that session's previous poll), so when demand exceeds the
//!   budget staleness grows evenly across sessions instead of in arrival order, and no session
//!   starves: the longer it waits, the further ahead it goes.
//! - **AIMD.** A `429` halves the rate (at most once per [`DECREASE_GAP`], never below
//!   [`MIN_RATE`]); it then grows back by a twentieth of the configured rate every
//!   [`INCREASE_EVERY`], up to the configured `SESH_SPOTIFY_BUDGET`. An operator who set it
//!   too high is corrected by Spotify's answers instead of tripping them again. (Which endpoint
//!   to hold back for how long — `Retry-After` — is the client's, per endpoint.)
//! - **Several instances** of one app share `SESH_SPOTIFY_BUDGET`: each runs on its share,
//!   in proportion to the session leases it holds ([`RequestBudget::set_share`], set by the
//!   lease keeper), so the app's calls stay within the budget however the sessions spread.
//!
//! A request takes a token at once while the bucket has one and nobody waits; otherwise it
//! joins the waiters, and one dispatcher task hands tokens out as they refill.

use std::{
    cmp::Ordering,
    collections::BinaryHeap,
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// The slowest the budget adapts down to, requests per second.
pub const MIN_RATE: f64 = 1.0;
/// At most one halving per this long: one burst of 429s is one signal.
pub const DECREASE_GAP: Duration = Duration::from_secs(5);
/// How often the rate grows back by a twentieth of the configured rate.
pub const INCREASE_EVERY: Duration = Duration::from_secs(10);

/// How much a request matters when requests wait for the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Nobody waits on it (listen-along checks, playlist saves, top tracks).
    Background,
    /// A poll between track boundaries, for changes made outside Sesh.
    Watch,
    /// A poll at a predicted track boundary or confirming a command: late, members see the
    /// change late.
    Boundary,
    /// What keeps the music playing: the poll inside a track's commit window (its answer hands
    /// Spotify the next entry), that hand-over itself, the fallback `play`, and the polls of a
    /// session nobody watches. Late past its window, the music stops.
    Feed,
    /// A member waits on the answer (a search).
    Interactive,
}

impl Priority {
    /// Its name (for logs and metrics).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Background => "background",
            Self::Watch => "watch",
            Self::Boundary => "boundary",
            Self::Feed => "feed",
            Self::Interactive => "interactive",
        }
    }
}

/// A request waiting for a token.
#[derive(Debug)]
struct Waiter {
    priority: Priority,
    /// Since when the thing it serves has waited (a session's previous poll).
    stale_since: Instant,
    /// Arrival order, the last tie-breaker.
    seq: u64,
    grant: oneshot::Sender<()>,
}

impl Waiter {
    fn key(&self) -> (Priority, std::cmp::Reverse<Instant>, std::cmp::Reverse<u64>) {
        (
            self.priority,
            std::cmp::Reverse(self.stale_since),
            std::cmp::Reverse(self.seq),
        )
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// The greatest is served first: higher priority, then staler, then earlier.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[derive(Debug)]
struct Bucket {
    /// `SESH_SPOTIFY_BUDGET` and its burst: the whole app's.
    configured: (f64, f64),
    /// This instance's share of them ([`RequestBudget::set_share`]; 1 alone).
    share: f64,
    /// `configured` × `share`: the rate AIMD grows back to.
    max_rate: f64,
    /// The most tokens saved up (the burst × `share`).
    burst: f64,
    /// Requests per second now (AIMD moves it between [`MIN_RATE`] and `max_rate`).
    rate: f64,
    tokens: f64,
    at: Instant,
    last_decrease: Option<Instant>,
    last_increase: Instant,
    waiters: BinaryHeap<Waiter>,
    seq: u64,
    dispatching: bool,
}

/// The app-wide Spotify request budget (see the module docs). Clones share one bucket.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    /// Shared with the dispatcher task while requests wait.
    state: Arc<Mutex<Bucket>>,
}

impl Bucket {
    /// Tokens since the last look, and the additive increase.
    fn refill(&mut self, now: Instant) {
        while self.rate < self.max_rate
            && now.saturating_duration_since(self.last_increase) >= INCREASE_EVERY
        {
            self.last_increase += INCREASE_EVERY;
            self.rate = (self.rate + self.max_rate / 20.0).min(self.max_rate);
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }
}

impl RequestBudget {
    /// `per_sec` requests per second on average (`SESH_SPOTIFY_BUDGET`), bursts of up to
    /// `burst`.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let max_rate = f64::from(per_sec.max(1));
        let now = Instant::now();
        Self {
            state: Arc::new(Mutex::new(Bucket {
                configured: (max_rate, f64::from(burst.max(1))),
                share: 1.0,
                max_rate,
                burst: f64::from(burst.max(1)),
                rate: max_rate,
                tokens: f64::from(burst.max(1)),
                at: now,
                last_decrease: None,
                last_increase: now,
                waiters: BinaryHeap::new(),
                seq: 0,
                dispatching: false,
            })),
        }
    }

    /// The rate now, requests per second.
    pub fn rate(&self) -> f64 {
        let mut bucket = self.state.lock();
        bucket.refill(Instant::now());
        bucket.rate
    }

    /// Tokens in the bucket now (what may go out at once).
    pub fn available(&self) -> f64 {
        let mut bucket = self.state.lock();
        bucket.refill(Instant::now());
        bucket.tokens
    }

    /// How many requests wait for a token.
    pub fn waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }

    /// Waits for a token for a request of `priority` serving something stale since
    /// `stale_since`.
    pub async fn acquire(&self, priority: Priority, stale_since: Instant) {
        let granted = {
            let mut bucket = self.state.lock();
            bucket.refill(Instant::now());
            if bucket.waiters.is_empty() && bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                crate::metrics::budget_acquired(Duration::ZERO);
                return;
            }
            let (grant, granted) = oneshot::channel();
            bucket.seq += 1;
            let seq = bucket.seq;
            bucket.waiters.push(Waiter {
                priority,
                stale_since,
                seq,
                grant,
            });
            if !bucket.dispatching {
                bucket.dispatching = true;
                self.spawn_dispatcher();
            }
            granted
        };
        let asked = Instant::now();
        // The dispatcher drops a grant only when the budget goes away (shutdown): go on.
        let _ = granted.await;
        crate::metrics::budget_acquired(asked.elapsed());
    }

    /// Makes this instance's budget `share` (0–1) of `SESH_SPOTIFY_BUDGET` and its burst, at
    /// least [`MIN_RATE`] (several instances of one app: Spotify counts their calls
    /// together). The rate AIMD reached scales with it, so a halving after a `429` keeps.
    pub fn set_share(&self, share: f64) {
        let share = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let mut bucket = self.state.lock();
        bucket.refill(Instant::now());
        if (bucket.share - share).abs() < 1e-9 {
            return;
        }
        let (rate, burst) = bucket.configured;
        let max_rate = (rate * share).max(MIN_RATE);
        bucket.rate = (bucket.rate * max_rate / bucket.max_rate).clamp(MIN_RATE, max_rate);
        bucket.max_rate = max_rate;
        bucket.burst = (burst * share).max(1.0);
        bucket.tokens = bucket.tokens.min(bucket.burst);
        bucket.share = share;
    }

    /// This instance's share of the app's budget.
    pub fn share(&self) -> f64 {
        self.state.lock().share
    }

    /// Spotify answered `429` (seen by the client's observer, so only answers Spotify really
    /// gave, not calls the client held back while a `Retry-After` runs): halve the rate (once
    /// per [`DECREASE_GAP`]).
    pub fn note_rate_limited(&self) {
        let now = Instant::now();
        let mut bucket = self.state.lock();
        bucket.refill(now);
        if bucket
            .last_decrease
            .is_some_and(|at| now.saturating_duration_since(at) < DECREASE_GAP)
        {
            return;
        }
        let before = bucket.rate;
        bucket.rate = (bucket.rate / 2.0).max(MIN_RATE);
        bucket.last_decrease = Some(now);
        bucket.last_increase = now;
        // What was saved up at the old rate is spent at the new one.
        bucket.tokens = bucket.tokens.min(1.0);
        tracing::warn!(
            from = before,
            to = bucket.rate,
            "Spotify rate-limited the app: the request budget adapts down"
        );
    }

    /// Hands tokens to the waiters as they refill, best first; ends when nobody waits.
    fn spawn_dispatcher(&self) {
        let state = Arc::clone(&self.state);
        tokio::spawn(async move {
            loop {
                let wait = {
                    let mut bucket = state.lock();
                    bucket.refill(Instant::now());
                    while bucket.tokens >= 1.0 {
                        let Some(waiter) = bucket.waiters.pop() else {
                            break;
                        };
                        // A waiter that gave up (its poller stopped) costs nothing.
                        if waiter.grant.send(()).is_ok() {
                            bucket.tokens -= 1.0;
                        }
                    }
                    if bucket.waiters.is_empty() {
                        bucket.dispatching = false;
                        return;
                    }
                    Duration::from_secs_f64((1.0 - bucket.tokens).max(0.0) / bucket.rate)
                };
                tokio::time::sleep(wait.max(Duration::from_micros(100))).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_share_scales_the_rate_and_the_burst_and_keeps_what_aimd_did() {
        let budget = RequestBudget::new(30, 60);
        budget.set_share(1.0 / 3.0);
        assert!((budget.rate() - 10.0).abs() < 1e-6, "{}", budget.rate());
        assert!(budget.available() <= 20.0 + 1e-6);
        budget.note_rate_limited();
        assert!((budget.rate() - 5.0).abs() < 1e-6);
        // Twice the share: twice the halved rate, not the full one.
        budget.set_share(2.0 / 3.0);
        assert!((budget.rate() - 10.0).abs() < 1e-6, "{}", budget.rate());
        // Never below the floor, never above the whole.
        budget.set_share(0.0);
        assert!((budget.rate() - MIN_RATE).abs() < 1e-6);
        budget.set_share(7.0);
        assert!((budget.share() - 1.0).abs() < 1e-9);
    }

    /// The order in which `waiters`, queued at once, get their tokens.
    async fn order_of(
        budget: &Arc<RequestBudget>,
        waiters: Vec<(Priority, Instant, &'static str)>,
    ) -> Vec<&'static str> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (priority, stale_since, name) in waiters {
            let (budget, tx) = (Arc::clone(budget), tx.clone());
            tasks.push(tokio::spawn(async move {
                budget.acquire(priority, stale_since).await;
                tx.send(name).unwrap();
            }));
            // Every waiter is queued before the first token refills.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        while let Some(name) = rx.recv().await {
            out.push(name);
        }
        out
    }

    #[tokio::test]
    async fn a_burst_goes_at_once_and_the_next_request_waits() {
        let budget = RequestBudget::new(1, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(
                budget
                    .acquire(Priority::Watch, now)
                    .now_or_never()
                    .is_some()
            );
        }
        assert!(
            budget
                .acquire(Priority::Interactive, now)
                .now_or_never()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_most_important_then_the_stalest_request_goes_first() {
        // 50 ms a token: far longer than queueing five waiters takes.
        let budget = Arc::new(RequestBudget::new(20, 1));
        let now = Instant::now();
        let old = now - Duration::from_secs(60);
        // Use up the one token so everyone below waits.
        budget.acquire(Priority::Watch, now).await;
        let order = order_of(
            &budget,
            vec![
                (Priority::Background, old, "background"),
                (Priority::Watch, now, "fresh watch"),
                (Priority::Watch, old, "stale watch"),
                (Priority::Feed, old, "stale feed"),
                (Priority::Boundary, now, "boundary"),
                (Priority::Interactive, now, "search"),
            ],
        )
        .await;
        assert_eq!(
            order,
            [
                "search",
                "stale feed",
                "boundary",
                "stale watch",
                "fresh watch",
                "background"
            ]
        );
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_costs_no_token() {
        let budget = Arc::new(RequestBudget::new(100, 1));
        let now = Instant::now();
        budget.acquire(Priority::Watch, now).await;
        let gone = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move { budget.acquire(Priority::Interactive, now).await })
        };
        tokio::task::yield_now().await;
        gone.abort();
        // The token refills, the dispatcher finds nobody to give it to and keeps it.
        while budget.waiting() > 0 || budget.state.lock().dispatching {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            budget
                .acquire(Priority::Background, now)
                .now_or_never()
                .is_some()
        );
    }

    #[test]
    fn a_429_halves_the_rate_once_per_gap_and_it_grows_back_slowly() {
        let budget = RequestBudget::new(20, 40);
        budget.note_rate_limited();
        assert_eq!(budget.rate(), 10.0);
        budget.note_rate_limited();
        assert_eq!(budget.rate(), 10.0, "one burst of 429s is one signal");
        {
            let mut bucket = budget.state.lock();
            bucket.last_decrease = Some(Instant::now() - DECREASE_GAP);
        }
        budget.note_rate_limited();
        assert_eq!(budget.rate(), 5.0);
        // A minute later: six increases of one request per second.
        {
            let mut bucket = budget.state.lock();
            bucket.last_increase -= INCREASE_EVERY * 6;
        }
        assert_eq!(budget.rate(), 11.0);
        // Never past the configured rate, never below the floor.
        {
            let mut bucket = budget.state.lock();
            bucket.last_increase -= INCREASE_EVERY * 100;
        }
        assert_eq!(budget.rate(), 20.0);
        for _ in 0..10 {
            let mut bucket = budget.state.lock();
            bucket.last_decrease = None;
            drop(bucket);
            budget.note_rate_limited();
        }
        assert_eq!(budget.rate(), MIN_RATE);
    }
}
