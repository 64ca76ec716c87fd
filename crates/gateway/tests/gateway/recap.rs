//! The recap through the real server (issue 19): members only, live while playing and final
//! after the end, what played in order with who brought it, votes and skips, from the stored
//! plays — and never a Spotify call.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{party, playback_track};

#[tokio::test]
async fn the_recap_tells_what_played_in_order_who_brought_it_and_what_was_skipped() {
    let app = crate::common::spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();
    let (_, view) = p.host.get(&format!("/api/sessions/{id}")).await;
    let queue = view["queue"].as_array().unwrap().clone();
    let first = queue[0]["track"]["id"].as_str().unwrap().to_owned();
    let second = queue[1]["track"]["id"].as_str().unwrap().to_owned();

    // Bob votes the second entry up; alice skips the first a moment after it started.
    let (status, body) = p.guests[0]
        .post(
            &format!("/api/sessions/{id}/queue/{}/vote", queue[1]["id"]),
            Some(json!({ "vote": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{id}/player/next"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    p.sockets[1]
        .next_matching(|f| f["type"] == "playback" && playback_track(f) == Some(second.clone()))
        .await;

    // Live: two plays, the first skipped, the second playing; no Spotify call to make it.
    app.emulator_clear_requests().await;
    let (status, recap) = p.guests[0].get(&format!("/api/sessions/{id}/recap")).await;
    assert_eq!(status, StatusCode::OK, "{recap}");
    let tracks = recap["tracks"].as_array().unwrap();
    let ids: Vec<&str> = tracks
        .iter()
        .map(|t| t["track"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()], "{recap}");
    assert_eq!(tracks[0]["skipped"], true, "{recap}");
    assert_eq!(
        (&tracks[1]["skipped"], &tracks[1]["now_playing"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(tracks[1]["votes"], 1);
    assert_eq!(recap["top_voted"], json!([1]));
    assert_eq!(recap["session"]["final"], false);
    assert_eq!(recap["counts"]["tracks"], 2);
    assert_eq!(recap["counts"]["skipped"], 1);
    for track in tracks {
        let by = &track["brought_by"][0];
        assert!(
            by["display_name"]
                .as_str()
                .is_some_and(|n| !n.is_empty() && n != by["id"]),
            "{track}"
        );
    }
    let bob = member(&recap, "bob");
    assert_eq!(bob["votes_cast"], 1, "{recap}");
    let brought: u64 = recap["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["brought"].as_u64().unwrap())
        .sum();
    assert_eq!(brought, 2);
    let calls = app.emulator_get("/_emulator/requests").await;
    let spotify: Vec<&Value> = calls["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/") && p != "/v1/me/player")
        })
        .collect();
    assert!(
        spotify.is_empty(),
        "the recap made Spotify calls: {spotify:?}"
    );

    // Not a member: refused.
    let dave = app.login("dave").await;
    let (status, body) = dave.get(&format!("/api/sessions/{id}/recap")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_a_member");

    // Ended: final, and it no longer changes; the download is the same recap as a file.
    let (status, _) = p.host.post(&format!("/api/sessions/{id}/end"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, ended) = p.guests[1].get(&format!("/api/sessions/{id}/recap")).await;
    assert_eq!(ended["session"]["final"], true, "{ended}");
    assert!(ended["session"]["ended_at_ms"].as_i64().is_some());
    assert_eq!(ended["tracks"][1]["now_playing"], false);
    assert_eq!(
        ended["tracks"][1]["skipped"], false,
        "the last track was not skipped: {ended}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, again) = p.guests[1].get(&format!("/api/sessions/{id}/recap")).await;
    assert_eq!(again, ended);
    let response = reqwest::Client::new()
        .get(format!("{}/s/{id}/recap.json", app.address))
        .header(reqwest::header::COOKIE, p.host.cookie().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"sesh-recap-"),
        "{disposition}"
    );
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["tracks"], ended["tracks"]);
    // The page is served to anyone (it asks the API, which decides).
    let (status, _) = p.host.get(&format!("/s/{id}/recap")).await;
    assert_eq!(status, StatusCode::OK);
}

fn member<'a>(recap: &'a Value, id: &str) -> &'a Value {
    recap["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or(&Value::Null)
}
