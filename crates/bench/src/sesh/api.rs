//! Sesh's HTTP API and the emulator's control API, as the benchmark drives them: the
//! real OAuth redirect dance for generated users, sessions, joins, start, and the
//! emulator's player controls and request log.

use serde_json::Value;
use std::time::{Duration, Instant};

/// A failed API call, with enough context to say which step failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Transport failure.
    #[error("{what}: {source}")]
    Http {
        /// The step.
        what: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// An unexpected status.
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        /// The step.
        what: &'static str,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A well-formed answer that lacked what we need.
    #[error("{what}: {detail}")]
    Protocol {
        /// The step.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// What a join took besides its one request ([`SeshApi::join_following`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JoinHops {
    /// 307 `session_moved` answers followed to the session's id-bearing alias.
    pub redirected: u64,
    /// 503 `session_elsewhere` answers, the join sent again.
    pub refused: u64,
}

/// A session as created by the benchmark.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    /// Session id.
    pub id: String,
    /// Invite code for `POST /api/join/{code}`.
    pub invite_code: String,
}

/// The part of the emulator's raw player (`GET /_emulator/users/{id}/player`) the polling
/// scenarios read.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EmulatorPlayer {
    /// Whether it plays.
    #[serde(default)]
    pub is_playing: bool,
    /// The current track, `spotify:track:<id>`.
    #[serde(default)]
    pub current_uri: Option<String>,
    /// Position in the current track at `now_ms`.
    #[serde(default)]
    pub position_ms: u64,
    /// The current track's length.
    #[serde(default)]
    pub duration_ms: u64,
    /// The emulator's clock when it answered (ms since the epoch; wall clock + its offset).
    pub now_ms: i64,
}

impl EmulatorPlayer {
    /// The current track's id (what members' `playback` frames carry).
    pub fn track_id(&self) -> Option<&str> {
        let uri = self.current_uri.as_deref()?;
        Some(uri.rsplit(':').next().unwrap_or(uri))
    }

    /// When the current track ends, in the emulator's clock (ms); `None` while paused.
    pub fn ends_at_ms(&self) -> Option<i64> {
        let left = self.duration_ms.saturating_sub(self.position_ms);
        self.is_playing
            .then(|| self.now_ms + i64::try_from(left).unwrap_or(i64::MAX / 2))
    }
}

/// Client for one Sesh server and its Spotify (emulator).
#[derive(Clone)]
pub struct SeshApi {
    http: reqwest::Client,
    /// Where Sesh listens, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// Sesh's public URL: the `Origin` its CSRF check expects.
    pub public_url: String,
    /// The emulator's base URL (control API at `/_emulator`).
    pub emulator: String,
}

fn http_err(what: &'static str) -> impl FnOnce(reqwest::Error) -> ApiError {
    move |source| ApiError::Http { what, source }
}

async fn expect_success(
    what: &'static str,
    response: reqwest::Response,
) -> Result<Value, ApiError> {
    let status = response.status();
    let body = response.bytes().await.map_err(http_err(what))?;
    if !status.is_success() {
        return Err(ApiError::Status {
            what,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
        });
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::Protocol {
        what,
        detail: format!("invalid JSON: {e}"),
    })
}

fn redirect_target(what: &'static str, response: &reqwest::Response) -> Result<String, ApiError> {
    if !response.status().is_redirection() {
        return Err(ApiError::Status {
            what,
            status: response.status().as_u16(),
            body: "expected a redirect".into(),
        });
    }
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or(ApiError::Protocol {
            what,
            detail: "redirect without Location".into(),
        })
}

/// `name=value` pairs of the response's `Set-Cookie` headers.
fn set_cookies(response: &reqwest::Response) -> impl Iterator<Item = String> + '_ {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_owned())
}

/// Makes a possibly relative `Location` absolute against `base`.
fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{}{}", base.trim_end_matches('/'), location)
    }
}

impl SeshApi {
    /// A client for Sesh at `base` (public URL `public_url`) and the emulator.
    pub fn new(base: String, public_url: String, emulator: String) -> anyhow::Result<SeshApi> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            // Shorter than the servers' 5 s keep-alive (actix's default): a pooled connection
            // is never reused just as the server closes it (a login failed that way once in a
            // 10,000-member run: "error sending request").
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(SeshApi {
            http,
            base,
            public_url,
            emulator,
        })
    }

    /// Logs `user` in through the real redirect dance (Sesh → emulator `/authorize` with
    /// `user=` auto-approval → Sesh callback); returns the `sesh_sid=...` cookie pair.
    pub async fn login(&self, user: &str) -> Result<String, ApiError> {
        let start = self
            .http
            .get(format!("{}/auth/login?next=/", self.base))
            .send()
            .await
            .map_err(http_err("login"))?;
        let authorize = redirect_target("login", &start)?;
        let mut cookies: Vec<String> = set_cookies(&start).collect();
        let separator = if authorize.contains('?') { '&' } else { '?' };
        let approved = self
            .http
            .get(format!("{authorize}{separator}user={user}"))
            .send()
            .await
            .map_err(http_err("authorize"))?;
        let callback = absolute(&self.base, &redirect_target("authorize", &approved)?);
        let mut request = self.http.get(callback);
        if !cookies.is_empty() {
            request = request.header(reqwest::header::COOKIE, cookies.join("; "));
        }
        let done = request.send().await.map_err(http_err("callback"))?;
        if !(done.status().is_redirection() || done.status().is_success()) {
            return Err(ApiError::Status {
                what: "callback",
                status: done.status().as_u16(),
                body: String::new(),
            });
        }
        cookies.extend(set_cookies(&done));
        cookies
            .into_iter()
            .rev()
            .find(|c| c.starts_with("sesh_sid="))
            .ok_or(ApiError::Protocol {
                what: "callback",
                detail: "no sesh_sid cookie".into(),
            })
    }

    fn post(&self, cookie: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .header(reqwest::header::ORIGIN, &self.public_url)
    }

    /// `POST /api/sessions` with room for `capacity` members: the caller becomes host.
    pub async fn create_session(
        &self,
        cookie: &str,
        capacity: usize,
    ) -> Result<CreatedSession, ApiError> {
        let response = self
            .post(cookie, "/api/sessions")
            .json(&serde_json::json!({ "capacity": capacity }))
            .send()
            .await
            .map_err(http_err("create session"))?;
        let body = expect_success("create session", response).await?;
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        match (field("id"), field("invite_code")) {
            (Some(id), Some(invite_code)) => Ok(CreatedSession { id, invite_code }),
            _ => Err(ApiError::Protocol {
                what: "create session",
                detail: "answer lacks id or invite_code".into(),
            }),
        }
    }

    /// The URL of `POST /api/join/{code}`.
    pub fn join_url(&self, invite_code: &str) -> String {
        format!("{}/api/join/{invite_code}", self.base)
    }

    /// `POST /api/join/{code}` as a browser sends it among several instances behind Nginx
    /// (a join carries no session id, so it lands on any of them): a 307 `session_moved` to
    /// the session's id-bearing alias is followed (the same POST there, which Nginx routes by
    /// the id), and a 503 `session_elsewhere` is sent again, up to `attempts` requests in all.
    pub async fn join_following(
        &self,
        cookie: &str,
        invite_code: &str,
        attempts: u64,
    ) -> Result<JoinHops, ApiError> {
        let mut hops = JoinHops::default();
        let mut url = self.join_url(invite_code);
        for _ in 0..attempts.max(1) {
            let response = self
                .http
                .post(&url)
                .header(reqwest::header::COOKIE, cookie)
                .header(reqwest::header::ORIGIN, &self.public_url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .map_err(http_err("join"))?;
            let status = response.status().as_u16();
            if matches!(status, 307 | 308) {
                url = absolute(&self.base, &redirect_target("join", &response)?);
                hops.redirected += 1;
                continue;
            }
            match expect_success("join", response).await {
                Ok(_) => return Ok(hops),
                Err(ApiError::Status {
                    status: 503, body, ..
                }) if body.contains("session_elsewhere") => {
                    // Sent again as it was: an id-less join may land elsewhere this time.
                    hops.refused += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::Protocol {
            what: "join",
            detail: format!("no instance served the join in {attempts} requests ({hops:?})"),
        })
    }

    /// `GET /api/sessions/{id}` (a member): the snapshot.
    pub async fn session(&self, cookie: &str, session: &str) -> Result<Value, ApiError> {
        let response = self
            .http
            .get(format!("{}/api/sessions/{session}", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(http_err("session"))?;
        expect_success("session", response).await
    }

    /// The first unrestricted device of the caller (`GET /api/me/devices`).
    pub async fn first_device(&self, cookie: &str) -> Result<String, ApiError> {
        let response = self
            .http
            .get(format!("{}/api/me/devices", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(http_err("devices"))?;
        let body = expect_success("devices", response).await?;
        let list = body
            .as_array()
            .or_else(|| body.get("devices").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter(|d| {
                !d.get("is_restricted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .find_map(|d| d.get("id").and_then(Value::as_str).map(str::to_owned))
            .ok_or(ApiError::Protocol {
                what: "devices",
                detail: "no unrestricted device".into(),
            })
    }

    /// `POST /api/sessions/{id}/start`; returns how long Sesh took to answer.
    pub async fn start(
        &self,
        cookie: &str,
        session: &str,
        device: &str,
    ) -> Result<Duration, ApiError> {
        let started = Instant::now();
        let response = self
            .post(cookie, &format!("/api/sessions/{session}/start"))
            .json(&serde_json::json!({ "device_id": device }))
            .send()
            .await
            .map_err(http_err("start"))?;
        expect_success("start", response).await?;
        Ok(started.elapsed())
    }

    /// `POST /api/sessions/{id}/end`.
    pub async fn end(&self, cookie: &str, session: &str) -> Result<(), ApiError> {
        let response = self
            .post(cookie, &format!("/api/sessions/{session}/end"))
            .send()
            .await
            .map_err(http_err("end"))?;
        expect_success("end", response).await.map(drop)
    }

    /// `POST /api/sessions/{id}/player/seek {"position_ms"}` (the host): Sesh's own command.
    pub async fn seek(
        &self,
        cookie: &str,
        session: &str,
        position_ms: u64,
    ) -> Result<(), ApiError> {
        let response = self
            .post(cookie, &format!("/api/sessions/{session}/player/seek"))
            .json(&serde_json::json!({ "position_ms": position_ms }))
            .send()
            .await
            .map_err(http_err("seek"))?;
        expect_success("seek", response).await.map(drop)
    }

    /// `POST /api/sessions/{id}/displays` (the host): a display key for the session.
    pub async fn create_display(&self, cookie: &str, session: &str) -> Result<String, ApiError> {
        let response = self
            .post(cookie, &format!("/api/sessions/{session}/displays"))
            .json(&serde_json::json!({ "label": "sesh-bench" }))
            .send()
            .await
            .map_err(http_err("create display"))?;
        let body = expect_success("create display", response).await?;
        body.get("key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ApiError::Protocol {
                what: "create display",
                detail: "answer lacks key".into(),
            })
    }

    /// `GET /api/sessions/{id}/displays` (the host): streams open per key, as the server
    /// counts them.
    pub async fn display_streams(
        &self,
        cookie: &str,
        session: &str,
    ) -> Result<Vec<(String, u64)>, ApiError> {
        let response = self
            .http
            .get(format!("{}/api/sessions/{session}/displays", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(http_err("list displays"))?;
        let body = expect_success("list displays", response).await?;
        Ok(body
            .get("displays")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let key = d.get("key")?.as_str()?.to_owned();
                Some((key, d.get("open_streams")?.as_u64()?))
            })
            .collect())
    }

    /// `GET /api/sessions/{id}/queue?offset=&limit=`: a page of the whole queue.
    pub async fn queue_page(
        &self,
        cookie: &str,
        session: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Value, ApiError> {
        let response = self
            .http
            .get(format!(
                "{}/api/sessions/{session}/queue?offset={offset}&limit={limit}",
                self.base
            ))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(http_err("queue page"))?;
        expect_success("queue page", response).await
    }

    /// `POST /api/sessions/{id}/queue {"uri"}`; returns the new entry's id.
    pub async fn add_track(&self, cookie: &str, session: &str, uri: &str) -> Result<u64, ApiError> {
        let response = self
            .post(cookie, &format!("/api/sessions/{session}/queue"))
            .json(&serde_json::json!({ "uri": uri }))
            .send()
            .await
            .map_err(http_err("add"))?;
        let body = expect_success("add", response).await?;
        body.get("entry")
            .and_then(|e| e.get("id"))
            .and_then(Value::as_u64)
            .ok_or(ApiError::Protocol {
                what: "add",
                detail: "answer lacks entry.id".into(),
            })
    }

    /// `POST /api/sessions/{id}/queue/{entry}/vote {"vote"}`.
    pub async fn vote(
        &self,
        cookie: &str,
        session: &str,
        entry: u64,
        vote: i8,
    ) -> Result<(), ApiError> {
        let response = self
            .post(
                cookie,
                &format!("/api/sessions/{session}/queue/{entry}/vote"),
            )
            .json(&serde_json::json!({ "vote": vote }))
            .send()
            .await
            .map_err(http_err("vote"))?;
        expect_success("vote", response).await.map(drop)
    }

    /// `DELETE /api/sessions/{id}/queue/{entry}`.
    pub async fn remove_entry(
        &self,
        cookie: &str,
        session: &str,
        entry: u64,
    ) -> Result<(), ApiError> {
        let response = self
            .http
            .delete(format!(
                "{}/api/sessions/{session}/queue/{entry}",
                self.base
            ))
            .header(reqwest::header::COOKIE, cookie)
            .header(reqwest::header::ORIGIN, &self.public_url)
            .send()
            .await
            .map_err(http_err("remove"))?;
        expect_success("remove", response).await.map(drop)
    }

    /// Every track URI among the emulator user's top tracks (all three time ranges).
    pub async fn emulator_top_uris(&self, user: &str) -> Result<Vec<String>, ApiError> {
        let response = self
            .http
            .get(format!("{}/_emulator/users/{user}", self.emulator))
            .send()
            .await
            .map_err(http_err("emulator user"))?;
        let body = expect_success("emulator user", response).await?;
        let ranges = body.get("top_tracks").and_then(Value::as_object);
        Ok(ranges
            .into_iter()
            .flat_map(|r| r.values())
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect())
    }

    /// `GET /healthz` answers 200.
    pub async fn healthy(&self) -> bool {
        matches!(
            self.http.get(format!("{}/healthz", self.base)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Acts on `user`'s player as if from their Spotify app (`next`, `pause`, `resume`).
    pub async fn emulator_player(&self, user: &str, action: &str) -> Result<(), ApiError> {
        let response = self
            .http
            .post(format!("{}/_emulator/users/{user}/player", self.emulator))
            .json(&serde_json::json!({ "action": action }))
            .send()
            .await
            .map_err(http_err("emulator player"))?;
        expect_success("emulator player", response).await.map(drop)
    }

    /// `user`'s raw simulated player (`GET /_emulator/users/{id}/player`), read in the
    /// emulator's clock: `position_ms` and `duration_ms` of the current track at `now_ms`.
    pub async fn emulator_player_state(&self, user: &str) -> Result<EmulatorPlayer, ApiError> {
        let what = "emulator player state";
        let response = self
            .http
            .get(format!("{}/_emulator/users/{user}/player", self.emulator))
            .send()
            .await
            .map_err(http_err(what))?;
        let body = expect_success(what, response).await?;
        serde_json::from_value(body).map_err(|e| ApiError::Protocol {
            what,
            detail: e.to_string(),
        })
    }

    /// `GET /v1/me/player` requests in the emulator's log since `since_ms` (its last
    /// 100,000 requests): `(user_id, at_ms)`, oldest first.
    pub async fn emulator_player_polls(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(String, i64)>, ApiError> {
        let what = "emulator player polls";
        let response = self
            .http
            .get(format!(
                "{}/_emulator/requests?method=GET&path=/v1/me/player&since_ms={since_ms}",
                self.emulator
            ))
            .send()
            .await
            .map_err(http_err(what))?;
        let body = expect_success(what, response).await?;
        let requests = body.get("requests").and_then(Value::as_array);
        Ok(requests
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let user = r.get("user_id")?.as_str()?.to_owned();
                Some((user, r.get("at_ms")?.as_i64()?))
            })
            .collect())
    }

    /// How many `GET /v1/me/player` requests the emulator served since its log was last
    /// reset (its per-endpoint totals, which no 100,000-entry cap limits).
    pub async fn emulator_player_poll_total(&self) -> Result<u64, ApiError> {
        let what = "emulator poll total";
        let response = self
            .http
            .get(format!(
                "{}/_emulator/requests?requests=false",
                self.emulator
            ))
            .send()
            .await
            .map_err(http_err(what))?;
        let body = expect_success(what, response).await?;
        let endpoints = body.get("by_endpoint").and_then(Value::as_array);
        Ok(endpoints
            .into_iter()
            .flatten()
            .filter(|e| {
                e.get("method").and_then(Value::as_str) == Some("GET")
                    && e.get("path").and_then(Value::as_str) == Some("/v1/me/player")
            })
            .filter_map(|e| e.get("count").and_then(Value::as_u64))
            .sum())
    }

    /// The emulator's request log (`GET /_emulator/requests`), its list of recent
    /// requests restricted to those made for `user` when given.
    pub async fn emulator_requests(&self, user: Option<&str>) -> Result<Value, ApiError> {
        let filter = user.map(|u| format!("?user_id={u}")).unwrap_or_default();
        let response = self
            .http
            .get(format!("{}/_emulator/requests{filter}", self.emulator))
            .send()
            .await
            .map_err(http_err("emulator requests"))?;
        expect_success("emulator requests", response).await
    }

    /// Clears the emulator's request log.
    pub async fn reset_emulator_requests(&self) -> Result<(), ApiError> {
        let response = self
            .http
            .delete(format!("{}/_emulator/requests", self.emulator))
            .send()
            .await
            .map_err(http_err("emulator reset"))?;
        expect_success("emulator reset", response).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::{EmulatorPlayer, absolute};

    #[test]
    fn a_players_end_is_its_clock_plus_what_is_left() {
        let player: EmulatorPlayer = serde_json::from_value(serde_json::json!({
            "is_playing": true, "current_uri": "spotify:track:abc", "position_ms": 1_000,
            "duration_ms": 200_000, "now_ms": 5_000, "queue": []
        }))
        .unwrap();
        assert_eq!(player.track_id(), Some("abc"));
        assert_eq!(player.ends_at_ms(), Some(204_000));
        let paused = EmulatorPlayer {
            is_playing: false,
            ..player
        };
        assert_eq!(paused.ends_at_ms(), None);
    }

    #[test]
    fn absolute_locations() {
        assert_eq!(
            absolute("http://a:1", "/auth/callback?x"),
            "http://a:1/auth/callback?x"
        );
        assert_eq!(absolute("http://a:1/", "http://b:2/y"), "http://b:2/y");
    }
}
