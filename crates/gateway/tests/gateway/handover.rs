//! Handing a playing session over through the real server and the emulator (issue 19): the
//! new host's device plays the current track from where it was, the old host's pauses, and the
//! poller follows the new host; an offer is accepted by the member it was made to; a host gone
//! past `SESH_HOST_TIMEOUT` is succeeded by the co-host, or, without one, the music pauses and
//! any member takes over.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sesh_gateway::settings::HumanDuration;

use crate::common::{Browser, TestApp, party, spawn_app, spawn_app_with};

fn position(player: &Value) -> i64 {
    player["position_ms"].as_i64().unwrap()
}

/// `POST …/handover` with `body` as `who`.
async fn handover(who: &Browser, id: &str, body: Value) -> (StatusCode, Value) {
    who.post(&format!("/api/sessions/{id}/handover"), Some(body))
        .await
}

/// Whether `user`'s player pauses within two seconds (the pause is sent in the background).
async fn paused_soon(app: &TestApp, user: &str) -> bool {
    for _ in 0..40 {
        if app.emulator_player(user).await["is_playing"] == false {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn polls_of(app: &TestApp, user: &str) -> usize {
    app.player_polls(user).await
}

#[tokio::test]
async fn the_host_hands_a_playing_session_to_bob_who_plays_on_from_the_same_place() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = app.emulator_player("alice").await;
    let bob_device = p.guests[0].device_id().await;

    // Carol may not hand it to anyone; nothing changes.
    let (status, body) = handover(
        &p.guests[1],
        &id,
        json!({ "to": "carol", "device_id": bob_device }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, body) = handover(
        &p.host,
        &id,
        json!({ "to": "bob", "device_id": bob_device }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handed_over"], true);
    let bobs = app.emulator_player("bob").await;
    assert_eq!(bobs["is_playing"], true, "{bobs}");
    assert_eq!(bobs["current_uri"], before["current_uri"], "the same track");
    let drift = (position(&bobs) - position(&before)).abs();
    assert!(
        drift <= 2_000,
        "bob's position {} vs alice's {}: off by {drift} ms",
        position(&bobs),
        position(&before)
    );
    for ws in &mut p.sockets {
        let changed = ws.next_of_type("host_changed").await;
        assert_eq!(changed["host"], "bob");
    }
    // The old host's device is paused (in the background, right after).
    assert!(
        paused_soon(&app, "alice").await,
        "alice's device still plays"
    );
    // From now on the poller reads bob's player, not alice's (watched between track ends
    // every SESH_POLL_WATCH_INTERVAL).
    app.emulator_clear_requests().await;
    tokio::time::sleep(app.settings.poll_watch_interval.get() + Duration::from_millis(1500)).await;
    assert!(polls_of(&app, "bob").await > 0);
    assert_eq!(polls_of(&app, "alice").await, 0);
    let (_, view) = p.guests[1].get(&format!("/api/sessions/{id}")).await;
    assert_eq!(view["device"], bob_device, "{view}");
    // Alice is a guest now: she may not hand it on.
    let (status, _) = handover(&p.host, &id, json!({ "to": "alice" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_offer_is_accepted_only_by_the_member_it_was_made_to() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();
    let (status, body) = handover(&p.host, &id, json!({ "to": "bob" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["offered"], true);
    let offer = p.sockets[1].next_of_type("handover_offered").await;
    assert_eq!(
        (&offer["from"], &offer["to"]),
        (&json!("alice"), &json!("bob"))
    );

    // Carol cannot take what was offered to bob; bob must name a device.
    let carol_device = p.guests[1].device_id().await;
    let (status, _) = handover(
        &p.guests[1],
        &id,
        json!({ "to": "carol", "device_id": carol_device }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = handover(&p.guests[0], &id, json!({ "to": "bob" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("device_required"))
    );
    let bob_device = p.guests[0].device_id().await;
    let (status, body) = handover(
        &p.guests[0],
        &id,
        json!({ "to": "bob", "device_id": bob_device }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.emulator_player("bob").await["is_playing"], true);
    let (_, view) = p.guests[1].get(&format!("/api/sessions/{id}")).await;
    assert_eq!(
        view["host"]["id"].as_str().or(view["host"].as_str()),
        Some("bob"),
        "{view}"
    );
}

#[tokio::test]
async fn a_host_gone_past_the_timeout_is_succeeded_by_the_co_host() {
    let app = spawn_app_with(|s| s.host_timeout = HumanDuration(Duration::from_secs(1))).await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();
    let (status, _) = p
        .host
        .post(
            &format!("/api/sessions/{id}/members/carol/role"),
            Some(json!({ "role": "co_host" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let uri = app.emulator_player("alice").await["current_uri"].clone();
    // Alice's page goes away.
    let mut sockets = std::mem::take(&mut p.sockets);
    drop(sockets.remove(0));
    let changed = sockets[0].next_of_type("host_changed").await;
    assert_eq!(changed["host"], "carol");
    let carols = app.emulator_player("carol").await;
    assert_eq!(
        (&carols["is_playing"], &carols["current_uri"]),
        (&json!(true), &uri),
        "{carols}"
    );
}

#[tokio::test]
async fn without_a_co_host_the_music_pauses_and_any_member_takes_over() {
    let app = spawn_app_with(|s| s.host_timeout = HumanDuration(Duration::from_secs(1))).await;
    let mut p = party(&app, &["bob"]).await;
    let id = p.id.clone();
    let mut sockets = std::mem::take(&mut p.sockets);
    drop(sockets.remove(0));
    let away = sockets[0].next_of_type("host_away").await;
    assert!(away["since_ms"].as_i64().is_some(), "{away}");
    assert!(
        paused_soon(&app, "alice").await,
        "the gone host's music still plays"
    );
    let bob_device = p.guests[0].device_id().await;
    let (status, body) = handover(
        &p.guests[0],
        &id,
        json!({ "to": "bob", "device_id": bob_device }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = sockets[0].next_of_type("host_changed").await;
    assert_eq!(changed["host"], "bob");
    assert_eq!(app.emulator_player("bob").await["is_playing"], true);
}
