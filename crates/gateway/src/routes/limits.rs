//! Sesh's own abuse limits (shared by every worker): invite-code requests per client IP
//! (`governor`, GCRA) and open WebSockets per user. Spotify's limits are the pollers' business
//! (`budget`); WebSocket frames per connection are limited in `ws`.

use std::{collections::HashMap, net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use parking_lot::Mutex;
use sesh_session::UserId;

use crate::{error::ApiError, settings::Settings};

/// Above this many tracked client addresses, idle ones are forgotten (bounded memory under a
/// spray of source addresses).
const MAX_TRACKED_IPS: usize = 10_000;
/// What a refused WebSocket handshake tells the client to wait: a socket of the same user has
/// to close first, which a reload does within a few seconds.
const SOCKET_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The limits, one instance per server (in `AppState`).
#[derive(Debug)]
pub struct Limits {
    /// `None` when `SESH_INVITE_RATE=0`.
    invites: Option<DefaultKeyedRateLimiter<IpAddr>>,
    max_sockets_per_user: usize,
    sockets: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Limits {
    /// Limits from the settings (`SESH_INVITE_RATE`, `SESH_WS_MAX_PER_USER`).
    pub fn new(settings: &Settings) -> Self {
        Self::with(settings.invite_rate_per_min, settings.ws_max_per_user)
    }

    /// `invite_rate_per_min` requests per IP and minute (bursts of as many), 0 = unlimited;
    /// at most `max_sockets_per_user` open sockets per user.
    pub fn with(invite_rate_per_min: u32, max_sockets_per_user: usize) -> Self {
        let invites = NonZeroU32::new(invite_rate_per_min)
            .map(|rate| RateLimiter::keyed(Quota::per_minute(rate).allow_burst(rate)));
        Self {
            invites,
            max_sockets_per_user: max_sockets_per_user.max(1),
            sockets: Arc::default(),
        }
    }

    /// Counts one request with an invite code from `ip`; `429 rate_limited` when the address
    /// used up its budget. Checked before the code is looked up, so a refused guess learns
    /// nothing. Requests without a known address (no peer) share one budget.
    pub fn check_invite(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(limiter) = &self.invites else {
            return Ok(());
        };
        let key = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let result = limiter.check_key(&key);
        if limiter.len() > MAX_TRACKED_IPS {
            limiter.retain_recent();
        }
        result.map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::info!(client = %key, "invite requests rate-limited");
            ApiError::rate_limited(
                "too many invite attempts from your network; wait a little",
                wait,
            )
        })
    }

    /// Reserves one of `user`'s WebSocket slots; the slot is released when the returned guard
    /// drops. `429 rate_limited` when all are in use.
    pub fn acquire_socket(&self, user: &UserId) -> Result<SocketSlot, ApiError> {
        let mut sockets = self.sockets.lock();
        let open = sockets.entry(user.clone()).or_insert(0);
        if *open >= self.max_sockets_per_user {
            return Err(ApiError::rate_limited(
                format!(
                    "at most {} live connections per user; close another tab first",
                    self.max_sockets_per_user
                ),
                SOCKET_RETRY_AFTER,
            ));
        }
        *open += 1;
        Ok(SocketSlot {
            user: user.clone(),
            sockets: self.sockets.clone(),
        })
    }

    /// Open sockets of `user` (for tests and metrics).
    pub fn open_sockets(&self, user: &UserId) -> usize {
        self.sockets.lock().get(user).copied().unwrap_or(0)
    }
}

/// One open WebSocket of a user; dropping it frees the slot.
#[derive(Debug)]
pub struct SocketSlot {
    user: UserId,
    sockets: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self.sockets.lock();
        if let Some(open) = sockets.get_mut(&self.user) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                sockets.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_budget_is_per_address_and_answers_retry_after() {
        let limits = Limits::with(3, 8);
        let a = Some(IpAddr::from([203, 0, 113, 1]));
        let b = Some(IpAddr::from([203, 0, 113, 2]));
        for _ in 0..3 {
            limits.check_invite(a).unwrap();
        }
        let refused = limits.check_invite(a).unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        let wait = refused.retry_after().unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        limits.check_invite(b).unwrap();
        let unlimited = Limits::with(0, 8);
        for _ in 0..1000 {
            unlimited.check_invite(a).unwrap();
        }
    }

    #[test]
    fn socket_slots_are_counted_and_released() {
        let limits = Limits::with(60, 2);
        let alice = UserId::new("alice");
        let one = limits.acquire_socket(&alice).unwrap();
        let two = limits.acquire_socket(&alice).unwrap();
        assert_eq!(
            limits.acquire_socket(&alice).unwrap_err().code(),
            "rate_limited"
        );
        limits.acquire_socket(&UserId::new("bob")).unwrap();
        drop(one);
        let _three = limits.acquire_socket(&alice).unwrap();
        drop(two);
        assert_eq!(limits.open_sockets(&alice), 1);
    }
}
