//! Sesh's own abuse limits (shared by every worker), `governor`'s GCRA where a rate is
//! counted: wrong invite codes and login requests per client address (IPv6 clients by /64,
//! since they rotate addresses inside it freely), requests that reach Spotify on a user's
//! behalf, searches and session creations per user, chat messages per member and per session
//! and reactions per member, and open WebSockets per user. The app-wide Spotify
//! budget is the pollers' business (`budget`); frames per connection are limited in `ws`.

use std::{
    borrow::Cow,
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use parking_lot::Mutex;
use sesh_session::{SessionId, UserId};
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// Above this many tracked client addresses, idle ones are forgotten (bounded memory under a
/// spray of source addresses).
const MAX_TRACKED_IPS: usize = 10_000;
/// What a refused WebSocket handshake tells the client to wait: a socket of the same user has
/// to close first, which a reload does within a few seconds.
const SOCKET_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Bursts of Spotify-reaching requests one user may make (`SESH_SPOTIFY_USER_RATE` is the
/// sustained rate).
const SPOTIFY_USER_BURST: u32 = 10;

/// Most queue changes a member may make at once before `SESH_QUEUE_ACTIONS_PER_MINUTE` paces
/// them (a few quick votes in a row are fine).
pub const QUEUE_ACTIONS_BURST: u32 = 20;

/// A limit refused a request: what was limited, and when a retry can succeed (answered as
/// `429 rate_limited` with `Retry-After`, or a WebSocket `error` frame with `retry_after_s`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitExceeded {
    /// What the user sees.
    pub message: Cow<'static, str>,
    /// How long until a retry can succeed.
    pub retry_after: Duration,
}

impl LimitExceeded {
    fn new(message: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self {
            message: message.into(),
            retry_after,
        }
    }
}

/// The rates the limits are built with (the settings, or a test's own).
#[derive(Debug, Clone, Copy)]
pub struct LimitRates {
    /// Wrong invite codes per client and minute (`SESH_INVITE_RATE`); 0 = unlimited.
    pub invite_per_min: u32,
    /// Login starts and callbacks per client and minute (`SESH_LOGIN_RATE`); 0 = unlimited.
    pub login_per_min: u32,
    /// Spotify-reaching requests per user and minute (`SESH_SPOTIFY_USER_RATE`); 0 = unlimited.
    pub spotify_user_per_min: u32,
    /// Session creations per user and hour (`SESH_SESSIONS_PER_HOUR`); 0 = unlimited.
    pub sessions_per_hour: u32,
    /// Searches per user and minute, answered from the cache or not
    /// (`SESH_SEARCHES_PER_MINUTE`); 0 = unlimited.
    pub searches_per_min: u32,
    /// Changes of the queue per user and minute: adds, removals, bans, votes, skip votes and
    /// queue settings, over HTTP and the WebSocket (`SESH_QUEUE_ACTIONS_PER_MINUTE`); 0 =
    /// unlimited.
    pub queue_actions_per_min: u32,
    /// Chat messages per member and 10 s (`SESH_CHAT_PER_MEMBER`); 0 = unlimited.
    pub chat_per_member: u32,
    /// Chat messages per session and 10 s (`SESH_CHAT_PER_SESSION`); 0 = unlimited.
    pub chat_per_session: u32,
    /// Reactions per member and 10 s (`SESH_REACTIONS_PER_MEMBER`); 0 = unlimited.
    pub reactions_per_member: u32,
    /// Open sockets per user (`SESH_WS_MAX_PER_USER`).
    pub max_sockets_per_user: usize,
    /// Display requests per client and minute (`SESH_DISPLAY_RATE`); 0 = unlimited.
    pub display_per_min: u32,
    /// Open display streams per client (`SESH_DISPLAYS_PER_IP`).
    pub max_displays_per_ip: usize,
}

impl LimitRates {
    /// The rates the settings ask for.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            invite_per_min: settings.invite_rate_per_min,
            login_per_min: settings.login_rate_per_min,
            spotify_user_per_min: settings.spotify_user_rate_per_min,
            sessions_per_hour: settings.sessions_per_hour,
            searches_per_min: settings.searches_per_minute,
            queue_actions_per_min: settings.queue_actions_per_minute,
            chat_per_member: settings.chat_per_member,
            chat_per_session: settings.chat_per_session,
            reactions_per_member: settings.reactions_per_member,
            max_sockets_per_user: settings.ws_max_per_user,
            display_per_min: settings.display_rate_per_min,
            max_displays_per_ip: settings.displays_per_ip,
        }
    }
}

/// The limits, one instance per server (in `Core`).
#[derive(Debug)]
pub struct Limits {
    /// Wrong invite codes; `None` when `SESH_INVITE_RATE=0`.
    invites: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses that spent their wrong-code budget, until when: every invite request from
    /// them is refused before its code is looked up, so a refused guess learns nothing.
    invite_blocked: Mutex<HashMap<IpAddr, Instant>>,
    logins: Option<DefaultKeyedRateLimiter<IpAddr>>,
    spotify_calls: Option<DefaultKeyedRateLimiter<UserId>>,
    creations: Option<DefaultKeyedRateLimiter<UserId>>,
    searches: Option<DefaultKeyedRateLimiter<UserId>>,
    queue_actions: Option<DefaultKeyedRateLimiter<UserId>>,
    chat_members: Option<DefaultKeyedRateLimiter<UserId>>,
    chat_sessions: Option<DefaultKeyedRateLimiter<SessionId>>,
    reactions: Option<DefaultKeyedRateLimiter<UserId>>,
    max_sockets_per_user: usize,
    sockets: Arc<Mutex<SocketMap>>,
    displays: Option<DefaultKeyedRateLimiter<IpAddr>>,
    max_displays_per_ip: usize,
    /// Open display streams by client address.
    display_streams: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// The key an address is counted under: IPv6 addresses by their /64 (one subscriber's
/// network), IPv4 addresses as they are. Requests without a known address share one key.
pub fn client_key(ip: Option<IpAddr>) -> IpAddr {
    match ip.map(|ip| ip.to_canonical()) {
        None => IpAddr::from([0, 0, 0, 0]),
        Some(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(v4) => v4,
    }
}

fn keyed<K: std::hash::Hash + Eq + Clone>(
    rate: u32,
    per: fn(NonZeroU32) -> Quota,
    burst: impl Fn(NonZeroU32) -> NonZeroU32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(rate).map(|rate| RateLimiter::keyed(per(rate).allow_burst(burst(rate))))
}

/// `rate` per 10 seconds, all of it at once (the chat's limits); `None` for 0.
fn per_ten_seconds<K: std::hash::Hash + Eq + Clone>(
    rate: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let quota = Quota::with_period(Duration::from_secs(10) / rate.get())?.allow_burst(rate);
    Some(RateLimiter::keyed(quota))
}

/// `limiter`'s verdict for `key`, as the wait until it admits again.
fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    let result = limiter.check_key(key);
    if limiter.len() > MAX_TRACKED_IPS {
        limiter.retain_recent();
    }
    result.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl Limits {
    /// Limits from the settings.
    pub fn new(settings: &Settings) -> Self {
        Self::with_rates(LimitRates::from_settings(settings))
    }

    /// Limits with these rates.
    pub fn with_rates(rates: LimitRates) -> Self {
        let as_many = |rate| rate;
        Self {
            invites: keyed(rates.invite_per_min, Quota::per_minute, as_many),
            invite_blocked: Mutex::default(),
            logins: keyed(rates.login_per_min, Quota::per_minute, as_many),
            spotify_calls: keyed(rates.spotify_user_per_min, Quota::per_minute, |rate| {
                rate.min(NonZeroU32::new(SPOTIFY_USER_BURST).unwrap_or(rate))
            }),
            creations: keyed(rates.sessions_per_hour, Quota::per_hour, as_many),
            searches: keyed(rates.searches_per_min, Quota::per_minute, as_many),
            queue_actions: keyed(rates.queue_actions_per_min, Quota::per_minute, |rate| {
                rate.min(NonZeroU32::new(QUEUE_ACTIONS_BURST).unwrap_or(rate))
            }),
            chat_members: per_ten_seconds(rates.chat_per_member),
            chat_sessions: per_ten_seconds(rates.chat_per_session),
            reactions: per_ten_seconds(rates.reactions_per_member),
            max_sockets_per_user: rates.max_sockets_per_user.max(1),
            sockets: Arc::default(),
            displays: keyed(rates.display_per_min, Quota::per_minute, as_many),
            max_displays_per_ip: rates.max_displays_per_ip.max(1),
            display_streams: Arc::default(),
        }
    }

    /// Only the invite and socket limits (the others off): for unit tests.
    pub fn with(invite_rate_per_min: u32, max_sockets_per_user: usize) -> Self {
        Self::with_rates(LimitRates {
            invite_per_min: invite_rate_per_min,
            login_per_min: 0,
            spotify_user_per_min: 0,
            sessions_per_hour: 0,
            searches_per_min: 0,
            queue_actions_per_min: 0,
            chat_per_member: 0,
            chat_per_session: 0,
            reactions_per_member: 0,
            max_sockets_per_user,
            display_per_min: 0,
            max_displays_per_ip: 20,
        })
    }

    /// Before an invite code is looked up: `429 rate_limited` while the client's address is
    /// blocked for wrong codes (right and wrong codes alike, so a blocked guesser learns
    /// nothing). Right codes never count: nobody can lock a party's network out by making its
    /// members' browsers load good links.
    pub fn check_invite(&self, ip: Option<IpAddr>) -> Result<(), LimitExceeded> {
        let key = client_key(ip);
        let mut blocked = self.invite_blocked.lock();
        let now = Instant::now();
        match blocked.get(&key) {
            Some(until) if *until > now => Err(invite_refusal(*until - now)),
            Some(_) => {
                blocked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// After an invite code was not found: counts it against the client's address; `429
    /// rate_limited` (and blocked) once the address has used up its budget.
    pub fn note_wrong_invite(&self, ip: Option<IpAddr>) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.invites else {
            return Ok(());
        };
        let key = client_key(ip);
        check(limiter, &key).map_err(|wait| {
            tracing::info!(client = %key, "wrong invite codes rate-limited");
            let mut blocked = self.invite_blocked.lock();
            if blocked.len() >= MAX_TRACKED_IPS {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(key, Instant::now() + wait);
            invite_refusal(wait)
        })
    }

    /// Counts a login start or callback from `ip`; `429 rate_limited` over the budget.
    pub fn check_login(&self, ip: Option<IpAddr>) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.logins else {
            return Ok(());
        };
        let key = client_key(ip);
        check(limiter, &key).map_err(|wait| {
            tracing::info!(client = %key, "login requests rate-limited");
            LimitExceeded::new("too many logins from your network; wait a little", wait)
        })
    }

    /// Counts a request that reaches Spotify on `user`'s behalf (the app's Spotify budget is
    /// shared by everyone); `429 rate_limited` over the user's budget.
    pub fn check_spotify_call(&self, user: &UserId) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.spotify_calls else {
            return Ok(());
        };
        check(limiter, user).map_err(|wait| {
            tracing::info!(user = %user, "Spotify-reaching requests rate-limited");
            LimitExceeded::new("too many player requests; slow down", wait)
        })
    }

    /// Counts a session creation by `user`; `429 rate_limited` over the hourly budget.
    pub fn check_creation(&self, user: &UserId) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.creations else {
            return Ok(());
        };
        check(limiter, user).map_err(|wait| {
            tracing::info!(user = %user, "session creations rate-limited");
            LimitExceeded::new("too many new sessions this hour; reuse one", wait)
        })
    }

    /// Counts a search by `user`, whether the cache answers it or Spotify does (what is limited
    /// is the member's typing, not Spotify's load); `429 rate_limited` over the budget.
    pub fn check_search(&self, user: &UserId) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.searches else {
            return Ok(());
        };
        check(limiter, user).map_err(|wait| {
            tracing::info!(user = %user, "searches rate-limited");
            LimitExceeded::new("too many searches; wait a moment", wait)
        })
    }

    /// Counts a change of the queue by `user` (an add, a removal, a ban, a vote, a skip vote,
    /// the queue settings): each is stored and announced to every member, so a member who
    /// clicks in a loop would make the whole room's traffic; `429 rate_limited` over the
    /// budget (bursts of [`QUEUE_ACTIONS_BURST`]).
    pub fn check_queue_action(&self, user: &UserId) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.queue_actions else {
            return Ok(());
        };
        check(limiter, user).map_err(|wait| {
            tracing::info!(user = %user, "queue changes rate-limited");
            LimitExceeded::new("too many queue changes; slow down", wait)
        })
    }

    /// Counts a chat message by `user` in `session`, against the member's budget first and
    /// then the session's (a member over their own budget spends none of the room's); `429
    /// rate_limited` over either.
    pub fn check_chat(&self, user: &UserId, session: SessionId) -> Result<(), LimitExceeded> {
        if let Some(limiter) = &self.chat_members {
            check(limiter, user).map_err(|wait| {
                tracing::info!(user = %user, "chat messages rate-limited");
                LimitExceeded::new("You're sending too fast; wait a moment", wait)
            })?;
        }
        if let Some(limiter) = &self.chat_sessions {
            check(limiter, &session).map_err(|wait| {
                tracing::info!(session = %session, "a session's chat rate-limited");
                LimitExceeded::new("The chat is very busy; wait a moment", wait)
            })?;
        }
        Ok(())
    }

    /// Counts a reaction toggled by `user`; `429 rate_limited` over the budget.
    pub fn check_reaction(&self, user: &UserId) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.reactions else {
            return Ok(());
        };
        check(limiter, user)
            .map_err(|wait| LimitExceeded::new("Too many reactions; wait a moment", wait))
    }

    /// Reserves one of `user`'s WebSocket slots for a socket of the login `login_hash`, which
    /// `stop` ends; the slot is released when the returned guard drops. `429 rate_limited`
    /// when all are in use.
    pub fn acquire_socket(
        &self,
        user: &UserId,
        login_hash: &str,
        stop: CancellationToken,
    ) -> Result<SocketSlot, LimitExceeded> {
        let mut sockets = self.sockets.lock();
        let open = sockets.entry(user.clone()).or_default();
        if open.len() >= self.max_sockets_per_user {
            return Err(LimitExceeded::new(
                format!(
                    "at most {} live connections per user; close another tab first",
                    self.max_sockets_per_user
                ),
                SOCKET_RETRY_AFTER,
            ));
        }
        let entry = Arc::new(OpenSocket {
            login_hash: login_hash.to_owned(),
            stop,
            logged_out: AtomicBool::new(false),
        });
        open.push(entry.clone());
        Ok(SocketSlot {
            user: user.clone(),
            entry,
            sockets: self.sockets.clone(),
        })
    }

    /// Ends `user`'s open sockets of the login `login_hash` (or of every login: `None`), which
    /// close with "logged out"; how many.
    pub fn close_sockets(&self, user: &UserId, login_hash: Option<&str>) -> usize {
        let sockets = self.sockets.lock();
        let Some(open) = sockets.get(user) else {
            return 0;
        };
        let mut closed = 0;
        for socket in open {
            if login_hash.is_none_or(|hash| hash == socket.login_hash) {
                socket.logged_out.store(true, Ordering::Relaxed);
                socket.stop.cancel();
                closed += 1;
            }
        }
        closed
    }

    /// Every display request (stream, now playing, QR code), before its key is looked up:
    /// `429 rate_limited` past `SESH_DISPLAY_RATE` a minute from the client's address.
    pub fn check_display(&self, ip: Option<IpAddr>) -> Result<(), LimitExceeded> {
        let Some(limiter) = &self.displays else {
            return Ok(());
        };
        check(limiter, &client_key(ip)).map_err(|wait| {
            LimitExceeded::new(
                "too many display requests from your network; wait a little",
                wait,
            )
        })
    }

    /// Reserves one of the client address's display streams, released when the guard drops:
    /// `429 rate_limited` when `SESH_DISPLAYS_PER_IP` are open.
    pub fn acquire_display_stream(&self, ip: Option<IpAddr>) -> Result<DisplaySlot, LimitExceeded> {
        let key = client_key(ip);
        let mut streams = self.display_streams.lock();
        let open = streams.entry(key).or_default();
        if *open >= self.max_displays_per_ip {
            return Err(LimitExceeded::new(
                format!(
                    "at most {} display streams per network; close another display first",
                    self.max_displays_per_ip
                ),
                SOCKET_RETRY_AFTER,
            ));
        }
        *open += 1;
        Ok(DisplaySlot {
            key,
            streams: self.display_streams.clone(),
        })
    }

    /// Open sockets of `user` (for tests and metrics).
    pub fn open_sockets(&self, user: &UserId) -> usize {
        self.sockets.lock().get(user).map_or(0, Vec::len)
    }

    /// Open sockets of every user, and open display streams (for metrics).
    pub fn open_subscribers(&self) -> (usize, usize) {
        let sockets = self.sockets.lock().values().map(Vec::len).sum();
        let displays = self.display_streams.lock().values().sum();
        (sockets, displays)
    }
}

fn invite_refusal(wait: Duration) -> LimitExceeded {
    LimitExceeded::new(
        "too many wrong invite links from your network; wait a little",
        wait,
    )
}

/// Open sockets by user.
type SocketMap = HashMap<UserId, Vec<Arc<OpenSocket>>>;

/// What the limits know of one open socket.
#[derive(Debug)]
struct OpenSocket {
    /// The login it was opened with.
    login_hash: String,
    /// Ends the socket.
    stop: CancellationToken,
    /// Set before `stop` is cancelled by a logout.
    logged_out: AtomicBool,
}

/// One open WebSocket of a user; dropping it frees the slot.
#[derive(Debug)]
pub struct SocketSlot {
    user: UserId,
    entry: Arc<OpenSocket>,
    sockets: Arc<Mutex<SocketMap>>,
}

impl SocketSlot {
    /// Whether the socket is being ended because its login logged out.
    pub fn logged_out(&self) -> bool {
        self.entry.logged_out.load(Ordering::Relaxed)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self.sockets.lock();
        if let Some(open) = sockets.get_mut(&self.user) {
            open.retain(|socket| !Arc::ptr_eq(socket, &self.entry));
            if open.is_empty() {
                sockets.remove(&self.user);
            }
        }
    }
}

/// One open display stream of a client address; dropping it frees the slot.
#[derive(Debug)]
pub struct DisplaySlot {
    key: IpAddr,
    streams: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for DisplaySlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock();
        if let Some(open) = streams.get_mut(&self.key) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    #[test]
    fn only_wrong_invites_count_per_address_and_answer_retry_after() {
        let limits = Limits::with(3, 8);
        let a = Some(IpAddr::from([203, 0, 113, 1]));
        let b = Some(IpAddr::from([203, 0, 113, 2]));
        // Right codes never count.
        for _ in 0..100 {
            limits.check_invite(a).unwrap();
        }
        for _ in 0..3 {
            limits.check_invite(a).unwrap();
            limits.note_wrong_invite(a).unwrap();
        }
        let refused = limits.note_wrong_invite(a).unwrap_err();
        assert_eq!(ApiError::from(refused.clone()).code(), "rate_limited");
        let wait = refused.retry_after;
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Blocked now, whatever the code.
        assert_eq!(
            ApiError::from(limits.check_invite(a).unwrap_err()).code(),
            "rate_limited"
        );
        limits.check_invite(b).unwrap();
        limits.note_wrong_invite(b).unwrap();
        let unlimited = Limits::with(0, 8);
        for _ in 0..1000 {
            unlimited.note_wrong_invite(a).unwrap();
            unlimited.check_invite(a).unwrap();
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(one)), client_key(Some(same_64)));
        assert_ne!(client_key(Some(one)), client_key(Some(other_64)));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), IpAddr::from([203, 0, 113, 7]));
        let limits = Limits::with(2, 8);
        limits.note_wrong_invite(Some(one)).unwrap();
        limits.note_wrong_invite(Some(same_64)).unwrap();
        assert!(limits.note_wrong_invite(Some(same_64)).is_err());
        assert!(limits.check_invite(Some(one)).is_err());
        limits.check_invite(Some(other_64)).unwrap();
    }

    #[test]
    fn logins_spotify_calls_and_creations_are_limited_when_asked() {
        let limits = Limits::with_rates(LimitRates {
            invite_per_min: 0,
            login_per_min: 2,
            spotify_user_per_min: 60,
            sessions_per_hour: 1,
            searches_per_min: 20,
            queue_actions_per_min: 120,
            chat_per_member: 0,
            chat_per_session: 0,
            reactions_per_member: 0,
            max_sockets_per_user: 8,
            display_per_min: 0,
            max_displays_per_ip: 20,
        });
        let ip = Some(IpAddr::from([198, 51, 100, 1]));
        limits.check_login(ip).unwrap();
        limits.check_login(ip).unwrap();
        assert!(limits.check_login(ip).unwrap_err().retry_after > Duration::ZERO);
        let alice = UserId::new("alice");
        for _ in 0..SPOTIFY_USER_BURST {
            limits.check_spotify_call(&alice).unwrap();
        }
        assert_eq!(
            ApiError::from(limits.check_spotify_call(&alice).unwrap_err()).code(),
            "rate_limited"
        );
        limits.check_spotify_call(&UserId::new("bob")).unwrap();
        limits.check_creation(&alice).unwrap();
        let refused = limits.check_creation(&alice).unwrap_err();
        assert!(refused.retry_after > Duration::from_secs(60));
        // Twenty searches at once, then one every three seconds.
        for _ in 0..20 {
            limits.check_search(&alice).unwrap();
        }
        let refused = limits.check_search(&alice).unwrap_err();
        assert_eq!(ApiError::from(refused.clone()).code(), "rate_limited");
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(3),
            "{:?}",
            refused.retry_after
        );
        limits.check_search(&UserId::new("bob")).unwrap();
        let unlimited = Limits::with(0, 8);
        for _ in 0..1000 {
            unlimited.check_search(&alice).unwrap();
        }
    }

    #[test]
    fn socket_slots_are_counted_and_released() {
        let limits = Limits::with(60, 2);
        let alice = UserId::new("alice");
        let open = |user: &UserId| limits.acquire_socket(user, "h", CancellationToken::new());
        let one = open(&alice).unwrap();
        let two = open(&alice).unwrap();
        assert_eq!(
            ApiError::from(open(&alice).unwrap_err()).code(),
            "rate_limited"
        );
        open(&UserId::new("bob")).unwrap();
        drop(one);
        let _three = open(&alice).unwrap();
        drop(two);
        assert_eq!(limits.open_sockets(&alice), 1);
    }

    #[test]
    fn a_logout_ends_the_sockets_of_its_login_and_everywhere_ends_all() {
        let limits = Limits::with(60, 8);
        let alice = UserId::new("alice");
        let (laptop, phone, bob) = (
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        let laptop_slot = limits
            .acquire_socket(&alice, "laptop", laptop.clone())
            .unwrap();
        let phone_slot = limits
            .acquire_socket(&alice, "phone", phone.clone())
            .unwrap();
        let _bob_slot = limits
            .acquire_socket(&UserId::new("bob"), "laptop", bob.clone())
            .unwrap();
        assert_eq!(limits.close_sockets(&alice, Some("laptop")), 1);
        assert!(laptop.is_cancelled() && laptop_slot.logged_out());
        assert!(!phone.is_cancelled() && !phone_slot.logged_out());
        assert_eq!(limits.close_sockets(&alice, None), 2);
        assert!(phone.is_cancelled() && phone_slot.logged_out());
        assert!(!bob.is_cancelled(), "another user's socket is untouched");
    }
}
