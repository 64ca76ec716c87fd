//! Bare actix-ws broadcast server: actix-web's default workers, one task per socket, the
//! fan-out never awaiting a member (actix-ws's own per-session channel blocks
//! `Session::text().await` when full, so each socket gets a bounded outbox and a task that
//! drains it into the session).

use super::rooms::Rooms;
use super::{Ready, announce, stdin_closed};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use actix_ws::Message;
use bytestring::ByteString;
use std::net::SocketAddr;

type ActixRooms = Rooms<ByteString>;

pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let rooms = ActixRooms::new();
        let data = web::Data::from(rooms.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/ws/rooms/{room}", web::get().to(ws_route))
        })
        .bind(listen)?;
        let ws = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("actix bound no address"))?;
        let control = tokio::net::TcpListener::bind((listen.ip(), 0)).await?;
        let ready = Ready {
            ws,
            control: control.local_addr()?,
        };
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        actix_web::rt::spawn(super::control::serve(control, rooms, ByteString::from));
        announce(&ready)?;
        stdin_closed().await;
        handle.stop(false).await;
        Ok(())
    })
}

async fn ws_route(
    req: HttpRequest,
    body: web::Payload,
    room: web::Path<u32>,
    rooms: web::Data<ActixRooms>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, mut session, mut messages) = actix_ws::handle(&req, body)?;
    let room = room.into_inner();
    let rooms = rooms.into_inner();
    let (id, mut outbox) = rooms.join(room);
    actix_web::rt::spawn(async move {
        if session.text(crate::frame::BASELINE_WELCOME).await.is_ok() {
            loop {
                tokio::select! {
                    frame = outbox.recv() => match frame {
                        Some(frame) => if session.text(frame).await.is_err() { break },
                        None => break,
                    },
                    message = messages.recv() => match message {
                        Some(Ok(Message::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() { break }
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        }
        rooms.leave(room, id);
        let _ = session.close(None).await;
    });
    Ok(response)
}
