//! Scale: thousands of generated users logging in and polling concurrently, as the bench
//! does, all answered correctly.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_generated_users_log_in_and_poll() {
    let emu = common::start_with(|c| c.rate_limit = 1_000_000).await;
    let users = 2_000;
    let results: Vec<(String, StatusCode, StatusCode)> = stream::iter(0..users)
        .map(|n| {
            let emu = &emu;
            async move {
                let user = format!("gen-{n}");
                let tokens = emu.login(&user).await;
                let me = emu.get(&tokens.access, "/v1/me").await;
                let id = me.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let player = emu.get(&tokens.access, "/v1/me/player").await.status();
                let top = emu
                    .get(&tokens.access, "/v1/me/top/tracks?limit=5")
                    .await
                    .status();
                assert_eq!(id, user);
                (id, player, top)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert_eq!(results.len(), users);
    assert!(
        results
            .iter()
            .all(|(_, player, top)| *player == StatusCode::NO_CONTENT && *top == StatusCode::OK)
    );
    let (_, log) = emu
        .control(
            reqwest::Method::GET,
            "/_emulator/requests?requests=false",
            None,
        )
        .await;
    assert_eq!(log["by_user"].as_array().unwrap().len(), users);
}
