//! Co-hosts through the real server (issue 19's roles): the host alone makes a member a
//! co-host or a guest again; a co-host moderates and steers the player but may not end the
//! session or change roles, and a refusal leaves the database as it was.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Browser, party, spawn_app};

async fn set_role(who: &Browser, id: &str, target: &str, role: &str) -> (StatusCode, Value) {
    who.post(
        &format!("/api/sessions/{id}/members/{target}/role"),
        Some(json!({ "role": role })),
    )
    .await
}

fn role_of(view: &Value, user: &str) -> Value {
    view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == user)
        .map_or(Value::Null, |m| m["role"].clone())
}

#[tokio::test]
async fn the_host_makes_a_co_host_who_moderates_but_may_not_end_or_appoint() {
    let mut app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let id = p.id.clone();
    let (bob, carol) = (&p.guests[0], &p.guests[1]);

    // A guest may not appoint anyone; nothing changes.
    let before = app.dump().await;
    let (status, body) = set_role(bob, &id, "bob", "co_host").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(app.dump().await, before);

    // The host does: everyone hears it, the snapshot and the database keep it.
    let (status, body) = set_role(&p.host, &id, "bob", "co_host").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for ws in &mut p.sockets {
        let changed = ws.next_of_type("role_changed").await;
        assert_eq!(
            (&changed["user_id"], &changed["role"]),
            (&json!("bob"), &json!("co_host"))
        );
    }
    // The same role again changes nothing and says nothing.
    let (status, _) = set_role(&p.host, &id, "bob", "co_host").await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // What only the host may: end, appoint — refused for the co-host, the database unchanged.
    let before = app.dump().await;
    let (status, body) = bob.post(&format!("/api/sessions/{id}/end"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = set_role(bob, &id, "carol", "co_host").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.dump().await, before);
    let (_, view) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(view["state"], "playing");

    // Not a role one is given, nor the host's own; not a member.
    for (target, role) in [("bob", "host"), ("alice", "guest")] {
        let (status, body) = set_role(&p.host, &id, target, role).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target} {role}: {body}");
        assert_eq!(body["error"]["code"], "invalid_target");
    }
    let (status, body) = set_role(&p.host, &id, "erin", "co_host").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_a_member");
    let (status, _) = p
        .host
        .send(
            Method::POST,
            &format!("/api/sessions/{id}/members/bob/role"),
            Some(json!({ "role": "boss" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // What a co-host may: pause and resume (guests may not by default).
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = carol
        .post(&format!("/api/sessions/{id}/player/play"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Stored: after a restart bob is still a co-host.
    app.restart().await;
    let (_, view) = p.host.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(role_of(&view, "bob"), "co_host", "{view}");

    // A guest again: the pause is the host's once more.
    let (status, _) = set_role(&p.host, &id, "bob", "guest").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = bob
        .post(&format!("/api/sessions/{id}/player/play"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A co-host removes a guest; a co-host may not remove another co-host.
    set_role(&p.host, &id, "bob", "co_host").await;
    set_role(&p.host, &id, "carol", "co_host").await;
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/kick/carol"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_target");
    set_role(&p.host, &id, "carol", "guest").await;
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/kick/carol"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}
