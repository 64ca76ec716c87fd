//! Hostile WebSocket frames (issue 15, findings 1 and 5): a multibyte character where an echo
//! is cut, and floods of frames that are not text.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::OpCode};

use super::session_with;
use crate::common::{Closed, spawn_app, welcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multibyte_character_at_byte_64_gets_an_error_frame_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = session_with(&alice, &[&bob]).await;
    let mut host = alice.ws(&id).await;
    welcome(&mut host).await;
    let mut guest = bob.ws(&id).await;
    welcome(&mut guest).await;
    host.next_matching(|f| f["type"] == "presence" && f["user_id"] == "bob" && f["online"] == true)
        .await;

    // 63 ASCII bytes, then "é" (two bytes): byte 64 falls inside it.
    let name = format!("{}é", "x".repeat(63));
    for frame in [
        json!({ "type": name }),
        json!({ "type": "play", name.clone(): 1 }),
    ] {
        guest.send(frame).await;
        let error = guest.next_of_type("error").await;
        assert!(
            error["code"] == "unknown_type" || error["code"] == "invalid_frame",
            "{error}"
        );
        assert!(error["message"].as_str().unwrap().contains(&"x".repeat(63)));
    }
    // Still connected, still answered, and still online for everyone else.
    guest.send(json!({ "type": "ping" })).await;
    assert_eq!(guest.next_of_type("pong").await["type"], "pong");
    let (_, view) = alice.get(&format!("/api/sessions/{id}")).await;
    let bob_view = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_view["online"], true, "{view}");

    // When bob goes, he goes offline: nothing keeps a ghost connection.
    guest.stream.close(None).await.unwrap();
    host.next_matching(|f| {
        f["type"] == "presence" && f["user_id"] == "bob" && f["online"] == false
    })
    .await;
}

/// Sends `count` frames made by `frame` (stopping when the server stops reading) and waits for
/// the close.
async fn flood(ws: &mut crate::common::Ws, count: usize, frame: impl Fn() -> Message) -> Closed {
    for _ in 0..count {
        if ws.stream.send(frame()).await.is_err() {
            break;
        }
    }
    ws.closed().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_binary_ping_and_continuation_frames_close_the_socket_with_1008() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (id, _) = session_with(&alice, &[]).await;

    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let closed = flood(&mut ws, 2_000, || Message::binary(vec![0u8; 16])).await;
    assert_eq!(closed, Closed::Code(1008), "binary flood");

    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let closed = flood(&mut ws, 2_000, || Message::Ping(vec![1, 2, 3].into())).await;
    assert_eq!(closed, Closed::Code(1008), "ping flood");

    // One long fragmented binary message: a first fragment, then continuations.
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let first = std::sync::atomic::AtomicBool::new(true);
    let closed = flood(&mut ws, 2_000, || {
        let opcode = if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
            OpCode::Data(tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Binary)
        } else {
            OpCode::Data(tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Continue)
        };
        Message::Frame(
            tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
                vec![0u8; 4],
                opcode,
                false,
            ),
        )
    })
    .await;
    assert_eq!(closed, Closed::Code(1008), "continuation flood");
}
