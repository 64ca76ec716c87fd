//! The `sesh-spotify-emulator` command runs standalone and prints its base URL.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn binary_serves_the_configured_app() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesh-spotify-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--client-id",
            "cli-app",
            "--client-secret",
            "cli-secret",
            "--redirect-uri",
            "http://127.0.0.1:7/a",
            "--redirect-uri",
            "http://127.0.0.1:7/b",
            "--control-api",
            "--rate-limit",
            "100",
            "--token-ttl",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    // The first stdout line is printed once the socket listens.
    let base = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_owned()
    })
    .await
    .unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("client_id", "cli-app"),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:7/b"),
            ("user", "alice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), StatusCode::FOUND);
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = http
        .post(format!("{base}/api/token"))
        .basic_auth("cli-app", Some("cli-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:7/b"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["expires_in"], 60);
    let me = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let control = http
        .get(format!("{base}/_emulator/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status(), StatusCode::OK);

    child.kill().unwrap();
    child.wait().unwrap();
}
