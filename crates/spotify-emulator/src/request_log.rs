//! The log of Spotify-facing requests (accounts and Web API) the emulator received: totals
//! per endpoint, per client id and per user, plus the most recent requests with timestamps.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use serde::Serialize;

/// The most recent requests kept individually; older ones only count in the totals.
const RECENT_CAP: usize = 100_000;

/// One logged request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoggedRequest {
    /// Real Unix milliseconds at arrival.
    pub at_ms: i64,
    pub method: String,
    /// Path without query string or trailing slash.
    pub path: String,
    /// The raw query string of a Web API request (empty for the accounts service, whose
    /// parameters are not needed to tell requests apart and may be credentials).
    pub query: String,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub status: u16,
}

/// Totals for one key.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tally {
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Tally {
    fn record(entry: Option<&mut Tally>, at_ms: i64) -> Option<Tally> {
        match entry {
            Some(t) => {
                t.count += 1;
                t.last_ms = at_ms;
                None
            }
            None => Some(Tally {
                count: 1,
                first_ms: at_ms,
                last_ms: at_ms,
            }),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    total: u64,
    by_endpoint: BTreeMap<(String, String), Tally>,
    by_client: BTreeMap<String, Tally>,
    by_user: BTreeMap<String, Tally>,
    recent: VecDeque<LoggedRequest>,
}

/// The request log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    inner: Mutex<Inner>,
}

/// Filters for [`RequestLog::snapshot`].
#[derive(Debug, Default)]
pub(crate) struct LogFilter {
    pub method: Option<String>,
    pub path: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub since_ms: Option<i64>,
}

impl LogFilter {
    fn keeps(&self, r: &LoggedRequest) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
            && self.path.as_deref().is_none_or(|p| p == r.path)
            && self
                .client_id
                .as_deref()
                .is_none_or(|c| Some(c) == r.client_id.as_deref())
            && self
                .user_id
                .as_deref()
                .is_none_or(|u| Some(u) == r.user_id.as_deref())
            && self.since_ms.is_none_or(|s| r.at_ms >= s)
    }
}

impl RequestLog {
    pub fn record(&self, request: LoggedRequest) {
        let mut inner = self.inner.lock();
        inner.total += 1;
        let at = request.at_ms;
        let key = (request.method.clone(), request.path.clone());
        if let Some(new) = Tally::record(inner.by_endpoint.get_mut(&key), at) {
            inner.by_endpoint.insert(key, new);
        }
        if let Some(client) = &request.client_id
            && let Some(new) = Tally::record(inner.by_client.get_mut(client), at)
        {
            inner.by_client.insert(client.clone(), new);
        }
        if let Some(user) = &request.user_id
            && let Some(new) = Tally::record(inner.by_user.get_mut(user), at)
        {
            inner.by_user.insert(user.clone(), new);
        }
        if inner.recent.len() == RECENT_CAP {
            inner.recent.pop_front();
        }
        inner.recent.push_back(request);
    }

    pub fn clear(&self) {
        *self.inner.lock() = Inner::default();
    }

    /// The log as served by `GET /_emulator/requests`.
    pub fn snapshot(&self, filter: &LogFilter, include_requests: bool) -> serde_json::Value {
        let inner = self.inner.lock();
        let by_endpoint: Vec<_> = inner
            .by_endpoint
            .iter()
            .map(|((method, path), t)| {
                serde_json::json!({
                    "method": method, "path": path,
                    "count": t.count, "first_ms": t.first_ms, "last_ms": t.last_ms,
                })
            })
            .collect();
        let tallies = |map: &BTreeMap<String, Tally>, key: &str| -> Vec<serde_json::Value> {
            map.iter()
                .map(|(k, t)| {
                    serde_json::json!({
                        key: k, "count": t.count, "first_ms": t.first_ms, "last_ms": t.last_ms,
                    })
                })
                .collect()
        };
        let requests: Vec<&LoggedRequest> = if include_requests {
            inner.recent.iter().filter(|r| filter.keeps(r)).collect()
        } else {
            Vec::new()
        };
        serde_json::json!({
            "total": inner.total,
            "by_endpoint": by_endpoint,
            "by_client": tallies(&inner.by_client, "client_id"),
            "by_user": tallies(&inner.by_user, "user_id"),
            "requests": requests,
        })
    }
}
