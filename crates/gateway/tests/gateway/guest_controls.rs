//! Guest controls through the real server (issue 19): the host switches what guests may do
//! with `PATCH …/settings {"permissions": {…}}`; a guest's refused action changes nothing
//! and says which switch is off, over HTTP and over the socket; a switch turned on works at
//! once, without a reconnect.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Browser, party, spawn_app};

async fn patch(who: &Browser, id: &str, body: Value) -> (StatusCode, Value) {
    who.send(
        Method::PATCH,
        &format!("/api/sessions/{id}/settings"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_guest_pauses_only_once_the_host_allows_it_and_at_once() {
    let mut app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();

    // The snapshot carries the switches, with pausing off for guests by default.
    let (_, view) = p.guests[0].get(&format!("/api/sessions/{id}")).await;
    let controls = &view["settings"]["permissions"];
    assert_eq!(controls["pause"], false, "{view}");
    assert_eq!(controls["add"], true);
    assert_eq!(controls["chat"], true);
    assert_eq!(controls.as_object().unwrap().len(), 11, "{controls}");
    assert_eq!(
        (&controls["spectators_vote"], &controls["spectators_add"]),
        (&json!(true), &json!(false))
    );

    // Refused over HTTP: 403 forbidden naming the switch; Spotify and the database untouched.
    let before = app.dump().await;
    app.emulator_clear_requests().await;
    let (status, body) = p.guests[0]
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["permission"], "pause");
    // … and over the socket: an error frame with the same code and switch.
    p.sockets[1].send(json!({ "type": "pause" })).await;
    let refused = p.sockets[1].next_of_type("error").await;
    assert_eq!(
        (&refused["code"], &refused["permission"]),
        (&json!("forbidden"), &json!("pause")),
        "{refused}"
    );
    assert_eq!(app.emulator_player("alice").await["is_playing"], true);
    assert_eq!(app.dump().await, before);

    // Neither a guest nor a co-host may switch the controls; nothing changes.
    let (status, _) = p
        .host
        .post(
            &format!("/api/sessions/{id}/members/carol/role"),
            Some(json!({ "role": "co_host" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let before = app.dump().await;
    for who in [&p.guests[0], &p.guests[1]] {
        let (status, body) = patch(who, &id, json!({ "permissions": { "pause": true } })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // An unknown switch or a wrong type is refused whole.
    for bad in [
        json!({ "permissions": { "teleport": true } }),
        json!({ "permissions": { "pause": "yes" } }),
    ] {
        let (status, body) = patch(&p.host, &id, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(app.dump().await, before);

    // The host turns pausing on: the answer and every member's settings_changed say so.
    let (status, body) = patch(&p.host, &id, json!({ "permissions": { "pause": true } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["permissions"]["pause"], true, "{body}");
    assert!(
        body["settings"]["guest_permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("pause_resume")),
        "{body}"
    );
    for ws in &mut p.sockets {
        let changed = ws.next_of_type("settings_changed").await;
        assert_eq!(
            changed["settings"]["permissions"]["pause"], true,
            "{changed}"
        );
        assert_eq!(changed["settings"]["permissions"]["add"], true, "{changed}");
    }

    // The same socket, no reconnect: bob's pause goes through to Spotify.
    p.sockets[1].send(json!({ "type": "pause" })).await;
    p.sockets[1]
        .next_matching(|f| f["type"] == "playback" && f["is_playing"] == false)
        .await;
    assert_eq!(app.emulator_player("alice").await["is_playing"], false);
    // And over HTTP.
    let (status, body) = p.guests[0]
        .post(&format!("/api/sessions/{id}/player/play"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Stored: after a restart the switch is still on; turning it off refuses again.
    app.restart().await;
    let (_, view) = p.guests[0].get(&format!("/api/sessions/{id}")).await;
    assert_eq!(view["settings"]["permissions"]["pause"], true, "{view}");
    let (status, _) = patch(
        &p.host,
        &id,
        json!({ "permissions": { "pause": false, "add": false } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = p.guests[0]
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["permission"], "pause");
    let (status, body) = p.guests[0]
        .post(
            &format!("/api/sessions/{id}/queue"),
            Some(json!({ "uri": "spotify:track:4uLU6hMCjMI75M1A2tKUQC" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["permission"], "add");
}
