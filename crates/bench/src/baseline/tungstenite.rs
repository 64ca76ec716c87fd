//! tokio-tungstenite broadcast server with small buffers: a multi-threaded tokio runtime
//! with one worker per core, one task per socket, a 4 KiB read buffer and writes that go
//! straight to the socket instead of through a 128 KiB write buffer.

use super::rooms::Rooms;
use super::{Ready, announce, stdin_closed};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type TungRooms = Rooms<Utf8Bytes>;

pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let rooms = TungRooms::new();
        let listener = TcpListener::bind(listen).await?;
        let control = TcpListener::bind((listen.ip(), 0)).await?;
        let ready = Ready {
            ws: listener.local_addr()?,
            control: control.local_addr()?,
        };
        tokio::spawn(super::control::serve(
            control,
            rooms.clone(),
            Utf8Bytes::from,
        ));
        tokio::spawn(accept_loop(listener, rooms));
        announce(&ready)?;
        stdin_closed().await;
        Ok(())
    })
}

/// Small buffers: what "tuned" means for an idle-heavy broadcast server.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(16 * 1024))
}

async fn accept_loop(listener: TcpListener, rooms: Arc<TungRooms>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, rooms.clone()));
            }
            Err(err) => tracing::warn!(%err, "accept failed"),
        }
    }
}

fn room_of(path: &str) -> Option<u32> {
    path.strip_prefix("/ws/rooms/")?.parse().ok()
}

async fn handle(stream: TcpStream, rooms: Arc<TungRooms>) {
    let mut room = None;
    // The callback's signature is tungstenite's; its large error type is not ours to box.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        room = room_of(req.uri().path());
        if room.is_some() {
            Ok(resp)
        } else {
            let mut not_found = ErrorResponse::new(Some("no such room".into()));
            *not_found.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
            Err(not_found)
        }
    };
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config())).await
    else {
        return;
    };
    let Some(room) = room else { return };
    let (id, mut outbox) = rooms.join(room);
    if ws
        .send(Message::text(crate::frame::BASELINE_WELCOME))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                frame = outbox.recv() => match frame {
                    Some(frame) => if ws.send(Message::Text(frame)).await.is_err() { break },
                    None => break,
                },
                message = ws.next() => match message {
                    // tungstenite answers pings itself while reading.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    rooms.leave(room, id);
    let _ = ws.close(None).await;
}

#[cfg(test)]
mod tests {
    use super::room_of;

    #[test]
    fn parses_room_paths() {
        assert_eq!(room_of("/ws/rooms/42"), Some(42));
        assert_eq!(room_of("/ws/rooms/"), None);
        assert_eq!(room_of("/other/1"), None);
    }
}
