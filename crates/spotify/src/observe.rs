//! A hook that sees every HTTP exchange with Spotify, so an application can count and time
//! them (the gateway turns them into Prometheus metrics) without this crate depending on a
//! metrics library.

use std::{fmt, sync::Arc, time::Duration};

/// What one HTTP exchange with Spotify came to. Every attempt is one exchange: a GET retried
/// after a 5xx is two, a call refused by the local rate-limit gate is none (nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo {
    /// The endpoint as a fixed name, method and path template without the API version:
    /// `"GET /me/player"`, `"POST /playlists/{playlist_id}/items"`, `"POST /api/token"`.
    pub endpoint: &'static str,
    /// The HTTP status Spotify answered, or why there was none.
    pub outcome: CallOutcome,
    /// From sending the request to the answer's head.
    pub duration: Duration,
    /// For a 429: the `Retry-After` Spotify asked for (or the default when it named none).
    pub retry_after: Option<Duration>,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Spotify answered with this status.
    Status(u16),
    /// No answer: a timeout, a connection error, or the HTTP runtime stopping.
    Error,
}

/// The callback [`ClientOptions::observer`](crate::ClientOptions::observer) holds. It runs
/// on the task that made the call, after each exchange: keep it short and non-blocking.
#[derive(Clone)]
pub struct CallObserver(Arc<dyn Fn(CallInfo) + Send + Sync>);

impl CallObserver {
    /// Wraps `observe`.
    pub fn new(observe: impl Fn(CallInfo) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }

    pub(crate) fn observe(&self, info: CallInfo) {
        (self.0)(info);
    }
}

impl fmt::Debug for CallObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallObserver")
    }
}

/// Calls `observer`, if any, with what one exchange came to.
pub(crate) fn report(
    observer: Option<&CallObserver>,
    endpoint: &'static str,
    outcome: CallOutcome,
    duration: Duration,
    retry_after: Option<Duration>,
) {
    if let Some(observer) = observer {
        observer.observe(CallInfo {
            endpoint,
            outcome,
            duration,
            retry_after,
        });
    }
}
