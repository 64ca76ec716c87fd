//! Test support shared by the gateway's integration tests (and reusable by later suites):
//! start the real app on a free port against a fresh emulator and SQLite file, log browsers in
//! through the real OAuth redirect dance, and talk WebSocket like a browser does.
//!
//! Nothing here sleeps to wait for a server: ports are bound before anything starts, and every
//! wait is for a concrete event with a timeout.

use std::{net::TcpListener, sync::Arc, time::Duration};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, cookie::CookieStore, header::HeaderValue};
use serde_json::Value;
use sesh_gateway::{Application, Settings, settings::Redacted};
use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig, EmulatorHandle};
use tempfile::TempDir;
use tokio::{net::TcpStream, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest},
};
use tokio_util::sync::CancellationToken;

pub mod postgres;
pub mod process;
pub mod sse;

/// Client id the test emulator registers.
pub const CLIENT_ID: &str = "sesh-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "sesh-test-secret";
/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running app with its emulator and database directory.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`: the public URL (a proxy's, with [`spawn_app_public`]).
    pub address: String,
    /// The app's own port.
    pub port: u16,
    /// The emulator's base URL.
    pub emulator_url: String,
    /// The settings the app runs with (restart uses them again).
    pub settings: Settings,
    /// Plain HTTP client for the emulator's control API.
    pub http: reqwest::Client,
    /// Where `/metrics` is served, when the settings ask for it (`metrics_listen`).
    pub metrics_addr: Option<std::net::SocketAddr>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    emulator: Option<EmulatorHandle>,
    /// Holds the SQLite file and data dir; deleted at drop.
    pub dir: TempDir,
}

/// The emulator every test app talks to: our app registered with `{address}/auth/callback`,
/// control API on, a rate limit no test reaches.
pub async fn start_emulator(address: &str) -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        apps: vec![AppRegistration::new(
            CLIENT_ID,
            CLIENT_SECRET,
            format!("{address}/auth/callback"),
        )],
        control_api: true,
        rate_limit: 1_000_000,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// `SESH_SECRET_KEY` of every test app (base64 of 32 bytes).
pub fn test_secret_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 32])
}

/// Starts emulator + app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts emulator + app; `adjust` may change the settings (intervals, …).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(None, adjust).await
}

/// Starts emulator + app for use behind a reverse proxy that will listen on `public_port`:
/// `SESH_PUBLIC_URL` (and so the redirect URI, join links, `Origin` checks) is
/// `http://127.0.0.1:{public_port}`, and `TestApp::address` points there too, while
/// `TestApp::port` is Sesh's own port for the proxy's upstream. Start the proxy before using
/// `address`.
pub async fn spawn_app_public(public_port: u16, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(Some(public_port), adjust).await
}

async fn spawn(public_port: Option<u16>, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local addr").port();
    let address = format!("http://127.0.0.1:{}", public_port.unwrap_or(port));
    let emulator = start_emulator(&address).await;
    let emulator_url = emulator.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = if on_postgres() {
        postgres::Postgres::shared().await.database().await
    } else {
        format!("sqlite://{}", dir.path().join("sesh.db").display())
    };
    let mut settings = Settings::for_tests(db_url, dir.path().join("data"));
    settings.listen = ([127, 0, 0, 1], port).into();
    settings.spotify_client_id = Some(CLIENT_ID.to_owned());
    settings.spotify_client_secret = Some(Redacted::from(CLIENT_SECRET));
    settings.spotify_accounts_url = emulator_url.parse().expect("url");
    settings.spotify_api_url = emulator_url.parse().expect("url");
    settings.secret_key = Some(Redacted::from(test_secret_key().as_str()));
    if public_port.is_some() {
        settings.public_url = Some(address.parse().expect("url"));
    }
    adjust(&mut settings);
    let mut app = TestApp {
        address,
        port,
        emulator_url,
        settings,
        http: plain_client(),
        metrics_addr: None,
        shutdown: CancellationToken::new(),
        server: None,
        emulator: Some(emulator),
        dir,
    };
    app.start(listener).await;
    app
}

/// A test's own pool on a test app's store ([`TestApp::store`]).
pub enum Store {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$c` bound to the pool of `$store` (a [`Store`]), compiled once per
/// driver: one query text (`$1` parameters, which both take) serves both stores.
macro_rules! on_store {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store {
            $crate::common::Store::Sqlite(pool) => {
                let $c = pool;
                $body
            }
            $crate::common::Store::Postgres(pool) => {
                let $c = pool;
                $body
            }
        }
    };
}
pub(crate) use on_store;

/// Whether the test apps run on PostgreSQL: `SESH_TEST_STORE=postgres` puts each on a fresh
/// database of the test process's throwaway cluster; `sqlite` (the default) on an SQLite file
/// in its temporary directory. Anything else is refused, never read as the default.
pub fn on_postgres() -> bool {
    match std::env::var("SESH_TEST_STORE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(std::env::VarError::NotPresent) => false,
        other => panic!("SESH_TEST_STORE must be `sqlite` or `postgres`, not {other:?}"),
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .expect("client")
}

impl TestApp {
    async fn start(&mut self, listener: TcpListener) {
        let app = Application::build_with_listener(self.settings.clone(), listener)
            .await
            .expect("app builds");
        self.shutdown = app.shutdown_token();
        self.metrics_addr = app.metrics_addr();
        self.server = Some(tokio::spawn(app.run_until_stopped()));
        // Ready once the database answers through the server (directly, not via a proxy).
        let health = self
            .http
            .get(format!("http://127.0.0.1:{}/healthz", self.port))
            .send()
            .await
            .expect("healthz answers");
        assert_eq!(health.status(), StatusCode::OK);
    }

    /// Stops the app gracefully (like SIGTERM) and waits for it to exit.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Stops the app and starts it again on the same port, database and emulator.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("rebind the same port");
        self.start(listener).await;
    }

    /// A browser logged in as emulator user `user` (alice, bob, carol, gen-7, …).
    pub async fn login(&self, user: &str) -> Browser {
        Browser::login(self, user).await
    }

    /// `sql`'s count (one `$1` parameter, `arg`), straight from the app's store, whichever
    /// it is.
    pub async fn count(&self, sql: &str, arg: &str) -> i64 {
        let store = self.store().await;
        let count = on_store!(store, |c| sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_one(c)
            .await
            .expect("the count reads"));
        store.close().await;
        count
    }

    /// A connection pool of its own to the app's store (SQLite's file or PostgreSQL's
    /// database), for tests that look at rows or plant them. Close it when done.
    pub async fn store(&self) -> Store {
        let url = &self.settings.database_url;
        if url.starts_with("postgres") {
            Store::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .expect("the test database opens"),
            )
        } else {
            Store::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .expect("the test database opens"),
            )
        }
    }

    /// Everything its store holds, as bytes, by where it is: SQLite's database file and its
    /// WAL and shared-memory files (the database file must exist); on PostgreSQL every row as
    /// text, and the bytes of each `BYTEA` in it (which PostgreSQL writes as `\x` and hex).
    pub async fn stored_bytes(&self) -> Vec<(String, Vec<u8>)> {
        if !on_postgres() {
            let db = self.dir.path().join("sesh.db");
            assert!(db.exists(), "the database file exists");
            return ["sesh.db", "sesh.db-wal", "sesh.db-shm"]
                .iter()
                .filter_map(|f| Some((f.to_string(), std::fs::read(self.dir.path().join(f)).ok()?)))
                .collect();
        }
        let text = self.dump().await.join("\n");
        let mut bytes = text.clone().into_bytes();
        for run in text.split("\\x").skip(1) {
            let hex: String = run.chars().take_while(char::is_ascii_hexdigit).collect();
            if let Ok(decoded) = hex::decode(&hex[..hex.len() / 2 * 2]) {
                bytes.extend(decoded);
            }
        }
        vec![("the PostgreSQL database".to_owned(), bytes)]
    }

    /// Every row of every table of its store, rendered as text and sorted: equal dumps mean
    /// an unchanged database (on PostgreSQL without the leases and heartbeats, which renewals
    /// change as time passes).
    pub async fn dump(&self) -> Vec<String> {
        match self.store().await {
            Store::Sqlite(pool) => {
                pool.close().await;
                dump(&self.dir.path().join("sesh.db")).await
            }
            Store::Postgres(pool) => {
                // Leases and heartbeats change with time (renewals), not with requests.
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::TEXT FROM information_schema.tables
                     WHERE table_schema = 'public'
                       AND table_name NOT IN ('session_owner', 'nodes')
                     ORDER BY table_name",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                assert!(tables.len() >= 6, "{tables:?}");
                let mut out = Vec::new();
                for table in tables {
                    // A row as PostgreSQL writes a composite value: every column, quoted.
                    let rows: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT t::TEXT FROM \"{table}\" t ORDER BY 1"
                    ))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                    out.push(format!("## {table} ({} rows)", rows.len()));
                    out.extend(rows);
                }
                pool.close().await;
                out
            }
        }
    }

    /// `GET` on the emulator's control API.
    pub async fn emulator_get(&self, path: &str) -> Value {
        emulator_get(&self.http, &self.emulator_url, path).await
    }

    /// Waits until `user`'s top tracks are stored (a login fetches them in the background).
    pub async fn wait_for_top_tracks(&self, user: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let stored = self
                .count("SELECT COUNT(*) FROM top_tracks WHERE user_id = $1", user)
                .await;
            if stored > 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{user}'s top tracks were not stored after the login"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `POST` on the emulator's control API.
    pub async fn emulator_post(&self, path: &str, body: Value) -> Value {
        emulator_post(&self.http, &self.emulator_url, path, body).await
    }

    /// Clears the emulator's request log.
    /// Disarms every fault armed on the emulator.
    pub async fn emulator_clear_faults(&self) {
        let response = self
            .http
            .delete(format!("{}/_emulator/faults", self.emulator_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    pub async fn emulator_clear_requests(&self) {
        let response = self
            .http
            .delete(format!("{}/_emulator/requests", self.emulator_url))
            .send()
            .await
            .expect("emulator answers");
        assert!(response.status().is_success());
    }

    /// The `method path` requests the emulator saw since its log was cleared.
    pub async fn emulator_requests(&self, method: &str, path: &str) -> Vec<Value> {
        let log = self
            .emulator_get(&format!("/_emulator/requests?method={method}&path={path}"))
            .await;
        log["requests"].as_array().expect("a request log").clone()
    }

    /// Waits (at most [`WAIT`]) until the emulator's log has `count` of `method path`.
    pub async fn wait_for_emulator_requests(
        &self,
        method: &str,
        path: &str,
        count: usize,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let log = self.emulator_requests(method, path).await;
            if log.len() >= count {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {count} {method} {path}, saw {}",
                log.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many `GET /v1/me/player` the emulator saw for `user` since the log was cleared.
    pub async fn player_polls(&self, user: &str) -> usize {
        let log = self
            .emulator_get(&format!(
                "/_emulator/requests?method=GET&path=/v1/me/player&user_id={user}"
            ))
            .await;
        log["requests"].as_array().map_or(0, Vec::len)
    }

    /// The emulator's raw player state of `user`.
    pub async fn emulator_player(&self, user: &str) -> Value {
        self.emulator_get(&format!("/_emulator/users/{user}/player"))
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(emulator) = self.emulator.take() {
            emulator.stop();
        }
    }
}

/// A browser: a cookie jar, no automatic redirects, `Origin` set on state-changing requests.
pub struct Browser {
    /// The client (with the jar).
    pub http: reqwest::Client,
    /// The jar.
    pub jar: Arc<reqwest::cookie::Jar>,
    /// The app's address.
    pub address: String,
    /// Emulator user id.
    pub user: String,
}

impl Browser {
    /// This browser (its cookie jar) pointed at another instance at `address`: a cookie is
    /// the host's, whatever the port.
    pub fn at(&self, address: &str) -> Self {
        Self {
            http: self.http.clone(),
            jar: self.jar.clone(),
            address: address.to_owned(),
            user: self.user.clone(),
        }
    }

    /// A browser with an empty jar for the app at `address` (e.g. a [`process::SeshProcess`]).
    pub fn new_at(address: &str, user: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(WAIT)
            .build()
            .expect("client");
        Self {
            http,
            jar,
            address: address.to_owned(),
            user: user.to_owned(),
        }
    }

    /// [`Browser::login`] against any app: the app's `address` and its emulator's URL.
    pub async fn login_at(address: &str, emulator_url: &str, user: &str) -> Self {
        let browser = Self::new_at(address, user);
        let to = browser.log_in_as(emulator_url, user, "/").await;
        assert_eq!(to, "/");
        assert!(browser.cookie().is_some(), "login cookie set");
        browser
    }

    /// The login dance as `user` from `/auth/login?next={next}` → emulator `/authorize?user=`
    /// → `/auth/callback`; where the callback sends the browser (`next`, or `next` with a
    /// `login=` reason when Sesh could not seat the user).
    pub async fn log_in_as(&self, emulator_url: &str, user: &str, next: &str) -> String {
        let address = &self.address;
        let start = self
            .http
            .get(format!("{address}/auth/login?next={next}"))
            .send()
            .await
            .expect("login answers");
        assert_eq!(start.status(), StatusCode::FOUND);
        let authorize = location(&start);
        assert!(authorize.starts_with(emulator_url), "{authorize}");
        let approved = self
            .http
            .get(format!("{authorize}&user={user}"))
            .send()
            .await
            .expect("authorize answers");
        assert_eq!(approved.status(), StatusCode::FOUND, "authorize as {user}");
        let callback = location(&approved);
        assert!(callback.starts_with(address.as_str()), "{callback}");
        let done = self
            .http
            .get(&callback)
            .send()
            .await
            .expect("callback answers");
        assert_eq!(done.status(), StatusCode::FOUND, "callback for {user}");
        location(&done)
    }

    /// A browser with an empty jar.
    pub fn new(app: &TestApp, user: &str) -> Self {
        Self::new_at(&app.address, user)
    }

    /// Logs in through the real dance: `/auth/login` → emulator `/authorize?user=` →
    /// `/auth/callback` → cookie.
    pub async fn login(app: &TestApp, user: &str) -> Self {
        Self::login_at(&app.address, &app.emulator_url, user).await
    }

    /// The `Cookie` header the jar would send.
    pub fn cookie(&self) -> Option<HeaderValue> {
        self.jar.cookies(&self.address.parse().expect("url"))
    }

    /// `GET path` → (status, JSON or Null).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON body (or none) and our `Origin` → (status, JSON or Null).
    pub async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    /// `method path` with a JSON body (or none) and our `Origin` → (status, JSON or Null).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .header("Origin", &self.address);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The first device of this user that playback can be sent to.
    pub async fn device_id(&self) -> String {
        let (status, devices) = self.get("/api/me/devices").await;
        assert_eq!(status, StatusCode::OK, "{devices}");
        devices
            .as_array()
            .expect("array")
            .iter()
            .find(|d| d["is_restricted"] == false)
            .and_then(|d| d["id"].as_str())
            .expect("a usable device")
            .to_owned()
    }

    /// `POST /api/sessions/{session_id}/start` on this user's first usable device → (status,
    /// JSON).
    pub async fn start_on_own_device(&self, session_id: &str) -> (StatusCode, Value) {
        let device = self.device_id().await;
        self.post(
            &format!("/api/sessions/{session_id}/start"),
            Some(serde_json::json!({"device_id": device})),
        )
        .await
    }

    /// Opens the session's WebSocket with this browser's cookie and our `Origin`.
    pub async fn ws(&self, session_id: &str) -> Ws {
        self.ws_with(session_id, None, Some(&self.address.clone()))
            .await
            .expect("websocket opens")
    }

    /// Opens the WebSocket with a `?since=` and a chosen `Origin`; the handshake error on refusal.
    pub async fn ws_with(
        &self,
        session_id: &str,
        since: Option<u64>,
        origin: Option<&str>,
    ) -> Result<Ws, tungstenite::Error> {
        let ws_base = self.address.replacen("http", "ws", 1);
        let url = match since {
            Some(since) => format!("{ws_base}/ws/sessions/{session_id}?since={since}"),
            None => format!("{ws_base}/ws/sessions/{session_id}"),
        };
        let mut request = url.into_client_request().expect("request");
        if let Some(cookie) = self.cookie() {
            request.headers_mut().insert("Cookie", cookie);
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().expect("origin"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { stream })
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned()
}

/// A WebSocket client speaking the Sesh protocol.
pub struct Ws {
    /// The socket.
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What ended a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// A close frame with this code.
    Code(u16),
    /// The stream ended without one.
    Eof,
}

impl Ws {
    /// The next JSON text frame (pings are answered by tungstenite). Panics after [`WAIT`].
    pub async fn next_json(&mut self) -> Value {
        match self.next_frame().await {
            Ok(v) => v,
            Err(closed) => panic!("socket closed while waiting for a frame: {closed:?}"),
        }
    }

    /// The next JSON text frame, or how the socket closed.
    pub async fn next_frame(&mut self) -> Result<Value, Closed> {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("JSON frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(Closed::Eof, |f| Closed::Code(u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(Closed::Eof),
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn next_of_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Skips frames until one matches.
    pub async fn next_matching(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next_json().await;
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// Sends a JSON text frame.
    pub async fn send(&mut self, value: Value) {
        self.stream
            .send(Message::text(value.to_string()))
            .await
            .expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// Waits for the server to close the socket; the close code.
    pub async fn closed(&mut self) -> Closed {
        loop {
            match self.next_frame().await {
                Ok(_) => continue,
                Err(closed) => return closed,
            }
        }
    }
}

/// `POST` `body` to `path` on the control API of the emulator at `emulator_url`; the JSON
/// answer, which must be a success.
/// `GET` on the control API of the emulator at `emulator_url`.
pub async fn emulator_get(http: &reqwest::Client, emulator_url: &str, path: &str) -> Value {
    let response = http.get(format!("{emulator_url}{path}")).send().await;
    emulator_answer(path, response).await
}

pub async fn emulator_post(
    http: &reqwest::Client,
    emulator_url: &str,
    path: &str,
    body: Value,
) -> Value {
    let response = http
        .post(format!("{emulator_url}{path}"))
        .json(&body)
        .send()
        .await;
    emulator_answer(path, response).await
}

/// The JSON of the control API's answer to `path`, which must be a success.
async fn emulator_answer(path: &str, response: reqwest::Result<reqwest::Response>) -> Value {
    let response = response.expect("emulator answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.expect("json")
}

/// The next frame, which must be the `welcome` a fresh connection starts with.
pub async fn welcome(ws: &mut Ws) -> Value {
    let frame = ws.next_json().await;
    assert_eq!(frame["type"], "welcome", "{frame}");
    frame
}

/// The track id a `playback` frame shows.
pub fn playback_track(frame: &Value) -> Option<String> {
    frame["track"]["id"].as_str().map(str::to_owned)
}

/// A playing session hosted by alice with `guests` joined before the start, everyone on a
/// socket (welcomed), and the first track playing.
pub struct Party {
    /// The session's id.
    pub id: String,
    /// Its invite code.
    pub code: String,
    /// alice's browser.
    pub host: Browser,
    /// The guests', in `guests` order.
    pub guests: Vec<Browser>,
    /// Everyone's socket, the host's first.
    pub sockets: Vec<Ws>,
}

pub async fn party(app: &TestApp, guests: &[&str]) -> Party {
    let host = app.login("alice").await;
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let mut joined = Vec::new();
    for name in guests {
        let guest = app.login(name).await;
        let (status, body) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        joined.push(guest);
    }
    let mut sockets = vec![host.ws(&id).await];
    for guest in &joined {
        sockets.push(guest.ws(&id).await);
    }
    for ws in &mut sockets {
        ws.next_of_type("welcome").await;
    }
    let (status, started) = host.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let first = started["queue"][0]["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for ws in &mut sockets {
        ws.next_matching(|f| f["type"] == "playback" && playback_track(f) == Some(first.clone()))
            .await;
    }
    Party {
        id,
        code,
        host,
        guests: joined,
        sockets,
    }
}

/// Catalogue tracks none of `queue`'s entries holds: the top tracks of generated users, read
/// from the emulator at `emulator_url`.
pub async fn fresh_tracks(
    http: &reqwest::Client,
    emulator_url: &str,
    queue: &[Value],
    count: usize,
) -> Vec<String> {
    let taken: Vec<&str> = queue
        .iter()
        .filter_map(|e| e["track"]["uri"].as_str())
        .collect();
    let mut fresh = Vec::new();
    for n in 1.. {
        let user = emulator_get(http, emulator_url, &format!("/_emulator/users/gen-{n}")).await;
        for uri in user["top_tracks"]["medium_term"]
            .as_array()
            .expect("top tracks")
        {
            let uri = uri.as_str().expect("a uri").to_owned();
            if !taken.contains(&uri.as_str()) && !fresh.contains(&uri) {
                fresh.push(uri);
            }
            if fresh.len() == count {
                return fresh;
            }
        }
    }
    unreachable!()
}

/// The sum of metric `name` over its labels in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every row of every table, rendered with SQLite's `quote()` and sorted: equal dumps mean an
/// unchanged database.
pub async fn dump(db_file: &std::path::Path) -> Vec<String> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=ro", db_file.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.len() >= 6, "{tables:?}");
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {row} FROM \"{table}\" ORDER BY 1"))
                .fetch_all(&pool)
                .await
                .unwrap();
        out.push(format!("## {table} ({} rows)", rows.len()));
        out.extend(rows);
    }
    pool.close().await;
    out
}
