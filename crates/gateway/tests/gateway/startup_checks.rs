//! Start-up refusals that protect a deployment: demo mode reachable from other machines
//! without `SESH_DEMO=1`, and secrets given both inline and as a `_FILE`. Checked in process
//! (`Application::build`) and through the real `sesh` binary, so the environment variable
//! names are the ones a self-hoster types.

use std::{
    net::{SocketAddr, TcpListener},
    process::Stdio,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use sesh_gateway::{Application, Settings, StartupError};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::common;

/// Settings for demo mode (no client id, no key) in a fresh directory.
fn demo_settings(dir: &TempDir) -> Settings {
    let db_url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut settings = Settings::for_tests(db_url, dir.path().join("data"));
    settings.spotify_client_id = None;
    settings.spotify_client_secret = None;
    settings.secret_key = None;
    settings
}

fn all_interfaces() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_on_a_non_loopback_address_needs_sesh_demo() {
    let dir = tempfile::tempdir().unwrap();

    // A forgotten SPOTIFY_CLIENT_ID on 0.0.0.0: refused, saying what to set.
    let mut settings = demo_settings(&dir);
    settings.listen = all_interfaces();
    let err = Application::build(settings).await.unwrap_err();
    assert!(
        matches!(err, StartupError::DemoNotConfirmed { addr } if addr.ip().is_unspecified()),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("set SPOTIFY_CLIENT_ID") && message.contains("SESH_DEMO=1"),
        "{message}"
    );
    // Nothing was started or written before the refusal.
    assert!(!dir.path().join("data").exists());

    // The demo's simulated Spotify (whose control API lets anyone act as anyone) counts too.
    let mut settings = demo_settings(&dir);
    settings.demo_spotify_listen = all_interfaces();
    let err = Application::build(settings).await.unwrap_err();
    assert!(
        matches!(err, StartupError::DemoNotConfirmed { .. }),
        "{err:?}"
    );

    // With SESH_DEMO it starts on 0.0.0.0 and is in demo mode.
    let mut settings = demo_settings(&dir);
    settings.listen = all_interfaces();
    settings.demo = true;
    let app = Application::build(settings)
        .await
        .expect("demo mode starts");
    serves_demo_mode_then_stops(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_on_loopback_starts_without_sesh_demo() {
    // What `cargo run` does: only this machine can reach it.
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(demo_settings(&dir))
        .await
        .expect("demo mode on loopback starts");
    serves_demo_mode_then_stops(app).await;
}

/// Runs `app`, checks over loopback that it answers in demo mode, and shuts it down.
async fn serves_demo_mode_then_stops(app: Application) {
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let config: serde_json::Value = reqwest::get(format!("{base}/api/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["demo"], true);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// The `sesh` binary with only the given environment (plus `PATH`), output captured.
fn sesh(env: &[(&str, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sesh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sesh starts")
}

/// Waits for a `sesh` that must refuse to start; its output (stdout + stderr).
async fn refused(child: Child) -> String {
    let output = tokio::time::timeout(common::WAIT, child.wait_with_output())
        .await
        .expect("sesh should have refused to start, but it is still running")
        .expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "sesh started:\n{text}");
    text
}

/// Waits until the `sesh` at `port` answers `/healthz`, then stops it.
async fn starts(mut child: Child, port: u16) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + common::WAIT;
    loop {
        let health = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if health.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().await.unwrap();
            panic!(
                "sesh exited during start-up ({status}): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(Instant::now() < deadline, "sesh not ready in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap();
}

fn free_port(host: [u8; 4]) -> u16 {
    TcpListener::bind(SocketAddr::from((host, 0)))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Database, data directory and a free demo-emulator port, as environment.
fn base_env(dir: &TempDir, listen: String) -> Vec<(&'static str, String)> {
    vec![
        ("SESH_LISTEN", listen),
        (
            "SESH_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("sesh.db").display()),
        ),
        (
            "SESH_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("SESH_DEMO_SPOTIFY_LISTEN", "127.0.0.1:0".to_owned()),
        ("SESH_WORKERS", "1".to_owned()),
    ]
}

#[tokio::test]
async fn the_binary_refuses_demo_mode_on_all_interfaces_until_sesh_demo_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port([0, 0, 0, 0]);
    let env = base_env(&dir, format!("0.0.0.0:{port}"));

    let output = refused(sesh(&env)).await;
    assert!(
        output.contains("set SPOTIFY_CLIENT_ID") && output.contains("SESH_DEMO=1"),
        "{output}"
    );
    let mut off = env.clone();
    off.push(("SESH_DEMO", "0".to_owned()));
    refused(sesh(&off)).await;

    let mut on = env.clone();
    on.push(("SESH_DEMO", "1".to_owned()));
    starts(sesh(&on), port).await;
}

#[tokio::test]
async fn the_binary_reads_secrets_from_files_and_refuses_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port([127, 0, 0, 1]);
    let mut env = base_env(&dir, format!("127.0.0.1:{port}"));
    env.push(("SPOTIFY_CLIENT_ID", common::CLIENT_ID.to_owned()));
    let key = common::test_secret_key();
    let key_file = dir.path().join("secret_key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let client_secret_file = dir.path().join("spotify_client_secret");
    std::fs::write(&client_secret_file, "client-secret-in-a-file\n").unwrap();

    // Both forms of the key: refused, and neither value is printed.
    let mut both = env.clone();
    both.push(("SESH_SECRET_KEY", key.clone()));
    both.push(("SESH_SECRET_KEY_FILE", key_file.display().to_string()));
    let output = refused(sesh(&both)).await;
    assert!(
        output.contains("both SESH_SECRET_KEY and SESH_SECRET_KEY_FILE are set"),
        "{output}"
    );
    assert!(!output.contains(&key), "{output}");

    // A file that is not there: refused, naming the path.
    let mut missing = env.clone();
    let nowhere = dir.path().join("nowhere");
    missing.push(("SESH_SECRET_KEY_FILE", nowhere.display().to_string()));
    let output = refused(sesh(&missing)).await;
    assert!(
        output.contains("cannot read SESH_SECRET_KEY_FILE")
            && output.contains(&nowhere.display().to_string()),
        "{output}"
    );

    // Files only (what systemd's LoadCredential gives): starts, the key decodes despite the
    // newline, and no secret reaches the log.
    let mut files = env.clone();
    files.push(("SESH_SECRET_KEY_FILE", key_file.display().to_string()));
    files.push((
        "SPOTIFY_CLIENT_SECRET_FILE",
        client_secret_file.display().to_string(),
    ));
    let mut child = sesh(&files);
    let stderr = child.stderr.take().unwrap();
    starts(child, port).await;
    let mut log = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut tokio::io::BufReader::new(stderr), &mut log)
        .await
        .unwrap();
    assert!(log.contains("Sesh is ready"), "{log}");
    assert!(
        !log.contains(&key) && !log.contains("client-secret-in-a-file"),
        "{log}"
    );
}
