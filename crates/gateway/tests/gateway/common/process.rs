//! The real `sesh` binary as a child process, for what an in-process app cannot show: signals
//! (SIGTERM, `kill -9`), the process's memory, a restart of the whole process on the same
//! database. The emulator runs in the test process; settings go in as environment variables.
//!
//! Readiness is awaited by polling `/healthz` (the process needs a moment to open the database),
//! never by a fixed sleep.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use sesh_spotify_emulator::EmulatorHandle;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use super::{Browser, CLIENT_ID, CLIENT_SECRET, WAIT, start_emulator, test_secret_key};

/// A `sesh` child process with its emulator and database directory.
pub struct SeshProcess {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The emulator's base URL.
    pub emulator_url: String,
    /// Plain HTTP client (no cookies) for the emulator's control API and health checks.
    pub http: reqwest::Client,
    /// Extra environment (on top of what [`SeshProcess::spawn`] sets), used on every start.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    /// Its own emulator (none when it uses another's: [`SeshProcess::spawn_on`]).
    _emulator: Option<EmulatorHandle>,
    /// Holds the SQLite file, the data dir and the process's log (`sesh.log`).
    pub dir: TempDir,
}

impl SeshProcess {
    /// Starts an emulator and `sesh` against it with a fresh SQLite file; `env` adds or
    /// overrides settings (`SESH_WS_PING_INTERVAL`, …).
    pub async fn spawn(env: &[(&str, &str)]) -> Self {
        // The emulator must know the redirect URI before Sesh starts, so pick Sesh's port first.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("http://127.0.0.1:{port}");
        let emulator = start_emulator(&address).await;
        let emulator_url = emulator.base_url();
        let mut process = Self::configure(port, &emulator_url, env);
        process._emulator = Some(emulator);
        process.start().await;
        process
    }

    /// Starts `sesh` on `port` against the emulator at `emulator_url` (started by the caller,
    /// which registered the redirect URI the settings make), with a fresh SQLite file unless
    /// `env` says otherwise.
    pub async fn spawn_on(port: u16, emulator_url: &str, env: &[(&str, &str)]) -> Self {
        let mut process = Self::configure(port, emulator_url, env);
        process.start().await;
        process
    }

    fn configure(port: u16, emulator_url: &str, env: &[(&str, &str)]) -> Self {
        let address = format!("http://127.0.0.1:{port}");
        let emulator_url = emulator_url.to_owned();
        let dir = tempfile::tempdir().expect("tempdir");
        let key = test_secret_key();
        let mut all: Vec<(String, String)> = vec![
            ("SESH_LISTEN".into(), format!("127.0.0.1:{port}")),
            (
                "SESH_DATABASE_URL".into(),
                format!("sqlite://{}", dir.path().join("sesh.db").display()),
            ),
            (
                "SESH_DATA_DIR".into(),
                dir.path().join("data").display().to_string(),
            ),
            ("SPOTIFY_CLIENT_ID".into(), CLIENT_ID.into()),
            ("SPOTIFY_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
            ("SESH_SPOTIFY_ACCOUNTS_URL".into(), emulator_url.clone()),
            ("SESH_SPOTIFY_API_URL".into(), emulator_url.clone()),
            ("SESH_SECRET_KEY".into(), key),
            ("SESH_WORKERS".into(), "2".into()),
            ("SESH_SPOTIFY_SEATS".into(), "0".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self {
            address,
            emulator_url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(WAIT)
                .build()
                .expect("client"),
            env: all,
            child: None,
            _emulator: None,
            dir,
        }
    }

    /// Starts the binary (again) and waits until `/healthz` answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("sesh.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sesh"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("sesh starts");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            let health = self
                .http
                .get(format!("{}/healthz", self.address))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("sesh exited during start-up ({status}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "sesh not ready:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("sesh is running")
    }

    /// Resident memory of the process in KiB (`VmRSS` from `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// Sends SIGTERM (what `docker stop` / systemd do).
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Sends `signal` (`-STOP`, `-CONT`, …).
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }

    /// SIGKILL, no chance to clean up; waits until the process is gone.
    pub async fn kill9(&mut self) {
        let mut child = self.child.take().expect("sesh is running");
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
    }

    /// Waits up to `limit` for the process to exit after a signal; its exit status.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("sesh is running");
        let status = tokio::time::timeout(limit, child.wait()).await.ok()?;
        self.child = None;
        Some(status.expect("wait"))
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("sesh.db")
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sesh.log")).unwrap_or_default()
    }

    /// A browser logged in as emulator user `user`.
    pub async fn login(&self, user: &str) -> Browser {
        Browser::login_at(&self.address, &self.emulator_url, user).await
    }

    /// `GET` on the emulator's control API.
    pub async fn emulator_get(&self, path: &str) -> serde_json::Value {
        super::emulator_get(&self.http, &self.emulator_url, path).await
    }

    /// `POST` on the emulator's control API.
    pub async fn emulator_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        super::emulator_post(&self.http, &self.emulator_url, path, body).await
    }
}

/// Stops a server started with `std::process::Command` (Nginx, PostgreSQL): `signal`, the one
/// that makes its main process stop its own children (a SIGKILLed master leaves them running,
/// orphaned), up to 5 s for it to exit, then SIGKILL.
pub fn stop_server(child: &mut std::process::Child, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
