//! `EmulatorConfig::state_file`: a restarted emulator continues where the last one left off
//! (tokens, players, devices, clock), whether it was stopped cleanly, dropped, or killed
//! with SIGKILL after the debounced writer flushed; an unusable file starts fresh with a
//! warning; a missing one is a first start.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TestEmulator, Tokens, pkce_pair};

const FORMAT: &str = "sesh-spotify-emulator-state";
/// How a warning of the persistence module starts in the captured log.
const PERSIST_WARNING: &str = "WARN sesh_spotify_emulator::persist";

async fn start_at(file: &Path) -> TestEmulator {
    let file = file.to_owned();
    common::start_with(move |c| c.state_file = Some(file)).await
}

/// The state file once `ready` holds for its JSON; polls the file (the writer flushes
/// within 200 ms of a change), failing after 10 s.
async fn wait_for_file(file: &Path, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(value) = serde_json::from_str::<Value>(&text)
            && ready(&value)
        {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "state file {} never reached the expected state",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(unix)]
fn assert_owner_only(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[cfg(not(unix))]
fn assert_owner_only(_: &Path) {}

async fn refresh(emu: &TestEmulator, basic: bool, refresh_token: &str) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if !basic {
        form.push(("client_id", CLIENT_ID));
    }
    emu.token_request(basic, &form).await
}

/// Logs `user` in as a public (PKCE) client: refresh tokens rotate.
async fn login_pkce(emu: &TestEmulator, user: &str) -> Tokens {
    let (verifier, challenge) = pkce_pair();
    let code = emu
        .code_for(
            user,
            &[
                ("code_challenge_method", "S256"),
                ("code_challenge", &challenge),
            ],
        )
        .await;
    let response = emu
        .token_request(
            false,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn position(player: &Value) -> i64 {
    player["position_ms"].as_i64().unwrap()
}

fn now(player: &Value) -> i64 {
    player["now_ms"].as_i64().unwrap()
}

/// The player fields that must survive a restart unchanged.
fn same_playback(before: &Value, after: &Value) {
    for field in [
        "device_id",
        "is_playing",
        "ended",
        "current_uri",
        "from_queue",
        "index",
        "uris",
        "queue",
        "context_uri",
        "duration_ms",
        "changed_at_ms",
    ] {
        assert_eq!(before[field], after[field], "{field} changed");
    }
}

#[tokio::test]
async fn a_cleanly_stopped_emulator_continues_with_tokens_players_devices_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spotify.json");
    let emu = start_at(&file).await;
    let alice = emu.login("alice").await;
    let device = emu.device_id(&alice.access).await;
    let uris = emu.top_uris(&alice.access, 3).await;
    emu.play(&alice.access, &device, &uris).await;
    let queued = emu.top_uris(&alice.access, 10).await[9].clone();
    let response = emu
        .api(
            Method::POST,
            &alice.access,
            &format!("/v1/me/player/queue?uri={queued}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = emu
        .api(
            Method::PUT,
            &alice.access,
            "/v1/me/player/volume?volume_percent=30",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/users/alice/devices/00000000000000000000000000000000000000aa",
            Some(json!({ "name": "Studio", "type": "Speaker" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    emu.advance(20_000).await;
    let before = emu.raw_player("alice").await;
    assert_eq!(before["is_playing"], true);
    assert_eq!(before["current_uri"], uris[0].as_str());
    let stopped_at = Instant::now();
    emu.handle.unwrap().shutdown().await;
    assert_owner_only(&file);

    let emu = start_at(&file).await;
    let elapsed = i64::try_from(stopped_at.elapsed().as_millis()).unwrap();
    let after = emu.raw_player("alice").await;
    same_playback(&before, &after);
    assert_eq!(after["queue"], json!([queued]));
    // Anchored to the (virtual) wall clock: it kept playing through the downtime.
    let advanced = position(&after) - position(&before);
    assert_eq!(advanced, now(&after) - now(&before));
    assert!(
        advanced >= elapsed,
        "advanced {advanced} ms, {elapsed} ms passed"
    );

    let me = emu.get_json(&alice.access, "/v1/me").await;
    assert_eq!(me["id"], "alice");
    let playback = emu.get_json(&alice.access, "/v1/me/player").await;
    assert_eq!(playback["item"]["uri"], uris[0].as_str());
    assert_eq!(playback["is_playing"], true);
    assert_eq!(playback["device"]["id"], device.as_str());
    assert_eq!(playback["device"]["volume_percent"], 30);
    let devices = emu.get_json(&alice.access, "/v1/me/player/devices").await;
    let names: Vec<&str> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice's MacBook", "Alice's iPhone", "Studio"]);
    let (_, clock) = emu.control(Method::GET, "/_emulator/clock", None).await;
    assert_eq!(clock["offset_ms"], 20_000);

    // The confidential client's refresh token still refreshes, and the new token works.
    let response = refresh(&emu, true, &alice.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let fresh = body["access_token"].as_str().unwrap();
    assert_eq!(emu.get_json(fresh, "/v1/me").await["id"], "alice");
    // Other users were not touched and are left out of the file.
    assert_eq!(emu.raw_player("bob").await["current_uri"], Value::Null);
    let saved = wait_for_file(&file, |_| true).await;
    assert_eq!(saved["format"], FORMAT);
    assert!(saved["users"].get("bob").is_none());
}

#[tokio::test]
async fn a_dropped_emulator_continues_from_the_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    // The directory does not exist yet: the writer creates it.
    let file = dir.path().join("nested").join("state.json");
    let emu = start_at(&file).await;
    let bob = login_pkce(&emu, "bob").await;
    // Rotate once: only the rotated refresh token may work after the restart.
    let response = refresh(&emu, false, &bob.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let device = emu.device_id(&access).await;
    let uris = emu.top_uris(&access, 2).await;
    emu.play(&access, &device, &uris).await;
    emu.advance(5_000).await;
    let response = emu
        .api(Method::PUT, &access, "/v1/me/player/pause", None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let before = emu.raw_player("bob").await;

    // Wait until the debounced writer has the paused player on disk, then drop.
    wait_for_file(&file, |state| {
        let player = &state["users"]["bob"]["player"];
        player["current_uri"] == uris[0].as_str() && player["is_playing"] == false
    })
    .await;
    drop(emu);

    let emu = start_at(&file).await;
    let after = emu.raw_player("bob").await;
    same_playback(&before, &after);
    // Paused: the position did not move during the downtime.
    assert_eq!(position(&after), position(&before));
    assert_eq!(emu.get_json(&access, "/v1/me").await["id"], "bob");
    let response = refresh(&emu, false, &bob.refresh).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "old token rotated away"
    );
    let response = refresh(&emu, false, &rotated).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Starts the binary on `file` and returns it with its base URL.
fn spawn_binary(file: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesh-spotify-emulator"))
        .args(["--listen", "127.0.0.1:0", "--control-api"])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--redirect-uri", REDIRECT_URI])
        .arg("--state-file")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    // The first stdout line is printed once the socket listens.
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (child, line.trim().to_owned())
}

#[tokio::test]
async fn a_binary_killed_with_sigkill_keeps_what_was_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let path: PathBuf = file.clone();
    let (mut child, base) = tokio::task::spawn_blocking(move || spawn_binary(&path))
        .await
        .unwrap();
    let emu = TestEmulator::connect(base);
    let carol = emu.login("carol").await;
    let device = emu.device_id(&carol.access).await;
    let uris = emu.top_uris(&carol.access, 2).await;
    emu.play(&carol.access, &device, &uris).await;
    let before = emu.raw_player("carol").await;
    wait_for_file(&file, |state| {
        state["users"]["carol"]["player"]["current_uri"] == uris[0].as_str()
    })
    .await;
    assert_owner_only(&file);
    child.kill().unwrap(); // SIGKILL: no chance to save anything more.
    child.wait().unwrap();

    let path = file.clone();
    let (mut child, base) = tokio::task::spawn_blocking(move || spawn_binary(&path))
        .await
        .unwrap();
    let emu = TestEmulator::connect(base);
    let after = emu.raw_player("carol").await;
    same_playback(&before, &after);
    assert_eq!(
        position(&after) - position(&before),
        now(&after) - now(&before)
    );
    let playback = emu.get_json(&carol.access, "/v1/me/player").await;
    assert_eq!(playback["item"]["uri"], uris[0].as_str());
    let response = refresh(&emu, true, &carol.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Collects log output of the current thread (the emulator loads its file in `start`).
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Starts on `file` with the log captured.
async fn start_logged(file: &Path) -> (TestEmulator, String) {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let emu = {
        let _guard = tracing::subscriber::set_default(subscriber);
        start_at(file).await
    };
    (emu, log.text())
}

#[tokio::test]
async fn an_unusable_file_is_moved_aside_and_the_emulator_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let aside = dir.path().join("state.json.bad");
    let cases: [(&[u8], &str); 3] = [
        (b"{ \"format\": \"sesh-spotify-emu", "not valid JSON"),
        (
            br#"{"format": "sesh-spotify-emulator-state", "version": 999}"#,
            "version 999",
        ),
        (
            br#"{"format": "sesh-spotify-emulator-state", "version": 1, "saved_at_ms": 0,
                 "clock_offset_ms": 0, "auth": {"codes": {}, "access": {}, "refresh": {}},
                 "users": {"mallory": {"devices": [], "player": {
                     "device": null, "context_uri": null, "uris": [], "index": 0,
                     "current_uri": null, "from_queue": false, "queue": [],
                     "is_playing": false, "ended": false, "position_ms": 0,
                     "anchor_ms": 0, "changed_at_ms": 0}}}}"#,
            "unknown user mallory",
        ),
    ];
    for (content, expected) in cases {
        std::fs::write(&file, content).unwrap();
        let (emu, log) = start_logged(&file).await;
        assert!(log.contains(PERSIST_WARNING), "{log}");
        assert!(log.contains("starting fresh"), "{log}");
        assert!(log.contains(expected), "{log}");
        assert_eq!(std::fs::read(&aside).unwrap(), content);
        assert!(!file.exists());
        // Fresh: nothing plays, and the new world is saved over the bad one.
        assert_eq!(emu.raw_player("alice").await["current_uri"], Value::Null);
        let alice = emu.login("alice").await;
        assert_eq!(emu.get_json(&alice.access, "/v1/me").await["id"], "alice");
        let saved = wait_for_file(&file, |state| state["format"] == FORMAT).await;
        assert_eq!(saved["version"], 1);
        emu.handle.unwrap().shutdown().await;
    }
}

#[tokio::test]
async fn a_missing_file_is_a_first_start_and_is_created_on_the_first_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let (emu, log) = start_logged(&file).await;
    assert!(!log.contains(PERSIST_WARNING), "{log}");
    assert!(!file.exists(), "nothing changed yet, nothing written");
    assert_eq!(emu.raw_player("alice").await["current_uri"], Value::Null);
    let old = emu.login("dave").await;
    let saved = wait_for_file(&file, |state| {
        state["auth"]["access"]
            .as_object()
            .is_some_and(|tokens| tokens.contains_key(&old.access))
    })
    .await;
    assert_eq!(saved["format"], FORMAT);
    assert_owner_only(&file);
    // No temporary files are left next to it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.json"]);
    emu.handle.unwrap().shutdown().await;
}

#[tokio::test]
async fn playlists_survive_a_restart_and_keep_growing_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spotify.json");
    let emu = start_at(&file).await;
    let alice = emu.login("alice").await;
    let uris = emu.top_uris(&alice.access, 6).await;
    let response = emu
        .api(
            Method::POST,
            &alice.access,
            "/v1/me/playlists",
            Some(json!({ "name": "Kept", "public": false })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let items = format!("/v1/playlists/{id}/items");
    let response = emu
        .api(
            Method::POST,
            &alice.access,
            &items,
            Some(json!({ "uris": uris[..4] })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, before) = emu
        .control(Method::GET, "/_emulator/users/alice/playlists", None)
        .await;
    // Written without waiting for a stop: the writer flushes within its interval.
    let saved = wait_for_file(&file, |v| {
        v["playlists"]["playlists"][0]["items"]
            .as_array()
            .is_some_and(|i| i.len() == 4)
    })
    .await;
    assert_eq!(saved["playlists"]["playlists"][0]["id"], id.as_str());
    emu.handle.unwrap().shutdown().await;

    let emu = start_at(&file).await;
    let (_, after) = emu
        .control(Method::GET, "/_emulator/users/alice/playlists", None)
        .await;
    assert_eq!(after, before);
    let response = emu
        .api(
            Method::POST,
            &alice.access,
            &items,
            Some(json!({ "uris": uris[4..] })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, grown) = emu
        .control(Method::GET, "/_emulator/users/alice/playlists", None)
        .await;
    assert_eq!(grown["playlists"][0]["uris"], json!(uris));
    // A new playlist after the restart gets a new id.
    let response = emu
        .api(
            Method::POST,
            &alice.access,
            "/v1/me/playlists",
            Some(json!({ "name": "Kept", "public": false })),
        )
        .await;
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["id"], id.as_str());
}
