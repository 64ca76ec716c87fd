//! `GET /ws/sessions/{id}[?since=SEQ]`: the member's live connection. The handshake checks the
//! login cookie, the `Origin` and membership; then one task per socket relays the hub's frames
//! (from a bounded queue), answers client frames, pings, and always deregisters and closes.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, ProtocolError};
use futures_util::StreamExt;
use serde::Deserialize;
use sesh_session::{SessionId, UserId};
use tokio_util::sync::CancellationToken;

use super::{parse_device_id, parse_session_id};
use crate::limits::SocketSlot;
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    hub::{
        NewConnection, Outbound, OutboundRx, OutboundTx, PlayerCommand, Registration, Subscriber,
        WorkerHandle, outbound_queue,
    },
    request::{CurrentUser, origin_allowed, origin_of},
    wire::{ClientFrame, DirectFrame},
};

/// Largest client frame; bigger ones close the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Client frames allowed in a burst, and refilled per second.
const FRAME_BURST: f64 = 20.0;
const FRAMES_PER_SEC: f64 = 10.0;
/// Refused frames (over the rate) in a row tolerated before the socket is closed with 1008.
const MAX_REFUSED_FRAMES: u32 = 20;
/// Close code for a socket whose login logged out (here or everywhere).
const CLOSE_LOGGED_OUT: u16 = 4003;
/// How long a close may wait for a client that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// `?since=SEQ`.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    since: Option<u64>,
}

/// The WebSocket handshake.
#[utoipa::path(
    get,
    path = "/ws/sessions/{id}",
    tag = "live",
    summary = "The member's live WebSocket (docs/websocket.md)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("since" = Option<u64>, Query, description = "Last `seq` seen, to resume")),
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 400, description = "`not_a_websocket`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`forbidden` (foreign `Origin`), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_WS_MAX_PER_USER` sockets open", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    if !origin_allowed(&req, &origin_of(&state.core.public_url)) {
        return Err(ApiError::forbidden(
            "WebSocket connections are only accepted from this site's pages",
        ));
    }
    let id = parse_session_id(&path)?;
    // One token per socket for every way it is told to stop: the hub cancels it when the
    // queue overflows, a logout of its login cancels it, and as a child of the shutdown token
    // it is cancelled on shutdown. Each socket waits on its own token only: thousands of
    // sockets waiting on the one shutdown token would all take its lock on every frame.
    let overflow = state.core.shutdown.child_token();
    // Counted before the upgrade so a refused handshake is a plain 429 the page can show.
    let slot = state
        .core
        .limits
        .acquire_socket(&user.id, &user.login_hash, overflow.clone())?;
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|_| {
        ApiError::bad_request("not_a_websocket", "this endpoint speaks WebSocket only")
    })?;
    let (tx, rx) = outbound_queue(state.core.config.ws_queue);
    let conn = NewConnection {
        subscriber: Subscriber::Member(user.id.clone()),
        tx: tx.clone(),
        overflow: overflow.clone(),
        worker: WorkerHandle::current(),
    };
    let registration = state.hubs.session(id).connect(conn, query.since).await?;
    tracing::debug!(session = %id, user = %user.id, conn_id = registration.conn_id(), "socket connected");
    let socket = Socket {
        state: state.get_ref().clone(),
        session_id: id,
        user: user.id,
        registration,
        tx,
        overflow,
    };
    // actix-ws's stream is tied to this worker's connection, so the task stays on the worker.
    actix_web::rt::spawn(socket.run(session, stream.max_frame_size(MAX_FRAME_BYTES), rx, slot));
    Ok(response)
}

struct Socket {
    state: AppState,
    session_id: SessionId,
    user: UserId,
    /// Deregisters from the hub when dropped: at the end of `finish`, or while unwinding if
    /// the task panics.
    registration: Registration,
    /// Our own queue, for direct answers (`pong`, `error`) in order with events.
    tx: OutboundTx,
    /// Cancelled on overflow (close 1008), logout (4003) or shutdown (close 1001).
    overflow: CancellationToken,
}

impl Socket {
    /// The socket's task. An `async` block rather than an `async fn`: an `async fn` keeps a
    /// second copy of its arguments (~350 bytes here) in its state for the whole connection.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store its arguments twice in every socket's task"
    )]
    fn run(
        self,
        mut session: actix_ws::Session,
        mut stream: actix_ws::MessageStream,
        mut rx: OutboundRx,
        slot: SocketSlot,
    ) -> impl Future<Output = ()> {
        async move {
            // In a block: the waits borrow `self`, which `finish` consumes.
            let close: Option<(u16, &'static str)> = {
                let config = &self.state.core.config;
                let shutdown = &self.state.core.shutdown;
                let mut heartbeat = tokio::time::interval(config.ws_ping_interval);
                heartbeat.tick().await;
                let mut last_heard = Instant::now();
                let mut limiter = FrameLimiter::new();
                // Created once per socket, not once per frame: `cancelled()` registers with its
                // token under a lock.
                let stop = self.overflow.cancelled();
                tokio::pin!(stop);
                let why = || {
                    if shutdown.is_cancelled() {
                        Some((1001, "server going away"))
                    } else if slot.logged_out() {
                        Some((CLOSE_LOGGED_OUT, "logged out"))
                    } else {
                        Some((1008, "too slow: event queue full"))
                    }
                };

                loop {
                    tokio::select! {
                        biased;
                        () = &mut stop => break why(),
                        outbound = rx.recv() => match outbound {
                            Outbound::Frame(frame) => {
                                // A client that stops reading blocks this send; the hub then
                                // fills our queue and signals `overflow`, which must still be
                                // able to end us.
                                tokio::select! {
                                    sent = Box::pin(session.text(frame)) => if sent.is_err() { break None },
                                    () = &mut stop => break why(),
                                }
                            }
                            // Display events go to displays only.
                            Outbound::Display(_) => {}
                            Outbound::Close(code, reason) => break Some((code, reason)),
                        },
                        message = stream.next() => {
                            let message = match message {
                                None => break None,
                                Some(Err(ProtocolError::Overflow)) => break Some((1009, "frame too large")),
                                Some(Err(_)) => break Some((1002, "protocol error")),
                                Some(Ok(message)) => message,
                            };
                            last_heard = Instant::now();
                            // Every frame a client sends counts, whatever its kind: a flood of
                            // binary, ping or continuation frames costs us as much as text.
                            if !matches!(message, Message::Close(_) | Message::Nop) && !limiter.allow() {
                                if limiter.refused > MAX_REFUSED_FRAMES {
                                    break Some((1008, "too many messages"));
                                }
                                if matches!(message, Message::Text(_)) {
                                    self.direct(DirectFrame::error("rate_limited", "too many messages; slow down"));
                                }
                                continue;
                            }
                            match message {
                                Message::Text(text) => self.on_text(&text),
                                Message::Binary(_) => {
                                    self.direct(DirectFrame::error("malformed_frame", "binary frames are not supported"));
                                }
                                Message::Ping(bytes) => {
                                    // Like every send, a pong may wait on a client that stopped reading.
                                    let sent = tokio::select! {
                                        sent = Box::pin(session.pong(&bytes)) => sent.is_ok(),
                                        () = &mut stop => break why(),
                                    };
                                    if !sent {
                                        break None;
                                    }
                                }
                                Message::Close(_) => break Some((1000, "bye")),
                                Message::Pong(_) | Message::Continuation(_) | Message::Nop => {}
                            }
                        }
                        _ = heartbeat.tick() => {
                            if last_heard.elapsed() >= config.ws_client_timeout {
                                break Some((1001, "client timed out"));
                            }
                            let sent = tokio::select! {
                                sent = Box::pin(session.ping(b"")) => sent.is_ok(),
                                () = &mut stop => break why(),
                            };
                            if !sent {
                                break None;
                            }
                        }
                    }
                }
            };
            // Boxed: the close path runs once, and inline its futures (hub send, close frame,
            // timer) would enlarge every idle socket's task for its whole life.
            Box::pin(self.finish(session, slot, close)).await;
        }
    }

    /// Deregisters from the hub, frees the user's slot and sends the close frame (if any).
    async fn finish(
        self,
        session: actix_ws::Session,
        slot: SocketSlot,
        close: Option<(u16, &'static str)>,
    ) {
        let Self {
            state,
            registration,
            ..
        } = self;
        drop(registration);
        // Free the user's slot before the close frame goes out: a client that saw the close may
        // reconnect at once.
        drop(slot);
        if let Some((code, reason)) = close {
            let reason = CloseReason {
                code: CloseCode::from(code),
                description: Some(reason.to_owned()),
            };
            // A client dropped for not reading gets its 1008 (after what was already in
            // flight) if it reads again before it would count as silent; other closes are
            // not worth waiting for.
            let wait = if code == 1008 {
                state.core.config.ws_client_timeout
            } else {
                CLOSE_TIMEOUT
            };
            let _ = tokio::time::timeout(wait, session.close(Some(reason))).await;
        }
    }

    /// Queues a frame for this connection only (never waits; a full queue is the hub's to
    /// handle).
    fn direct(&self, frame: DirectFrame) {
        let _ = self.tx.try_send(Outbound::Frame(frame.to_json().into()));
    }

    fn on_text(&self, text: &str) {
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                self.direct(DirectFrame::error(e.code(), e.to_string()));
                return;
            }
        };
        let hub = self.state.hubs.session(self.session_id);
        let user = self.user.clone();
        let request = match frame {
            ClientFrame::Ping => {
                self.direct(DirectFrame::Pong);
                return;
            }
            ClientFrame::Start { device_id } => match parse_device_id(&device_id) {
                Ok(device) => Request::Start(device),
                Err(e) => {
                    self.direct(error_frame(&e));
                    return;
                }
            },
            ClientFrame::Add { uri } => Request::Add(uri),
            ClientFrame::Remove { entry_id } => {
                Request::Remove(sesh_session::QueueEntryId::new(entry_id))
            }
            ClientFrame::Vote { entry_id, vote } => match super::queue::parse_vote(vote) {
                Ok(vote) => Request::Vote(sesh_session::QueueEntryId::new(entry_id), vote),
                Err(e) => {
                    self.direct(error_frame(&e));
                    return;
                }
            },
            ClientFrame::VoteSkip => Request::VoteSkip,
            ClientFrame::Chat { text } => match super::chat::parse_chat_text(text) {
                Ok(text) => Request::Chat(text),
                Err(e) => {
                    self.direct(error_frame(&e));
                    return;
                }
            },
            ClientFrame::ChatReact { id, reaction } => {
                Request::ChatReact(sesh_session::ChatMessageId::new(id), reaction)
            }
            ClientFrame::TrackReact { reaction } => Request::TrackReact(reaction),
            other => match PlayerCommand::from_frame(other) {
                Some(command) => Request::Player(command),
                None => return,
            },
        };
        // Use cases wait on the hub (and it on Spotify); run them beside the socket so frames
        // keep flowing meanwhile. Failures come back as `error` frames through our queue.
        let tx = self.tx.clone();
        let state = self.state.clone();
        let session = self.session_id;
        self.state.core.runtime.spawn(async move {
            let result: Result<(), ApiError> = match request {
                Request::Start(device) => {
                    hub.start(&user, device).await.map(drop).map_err(Into::into)
                }
                Request::Player(command) => hub.player(&user, command).await.map_err(Into::into),
                Request::Add(uri) => super::queue::add_track(&state, &user, session, &uri)
                    .await
                    .map(drop),
                Request::Remove(entry) => hub.remove_entry(&user, entry).await.map_err(Into::into),
                Request::Vote(entry, vote) => hub
                    .vote(&user, entry, vote)
                    .await
                    .map(drop)
                    .map_err(Into::into),
                Request::VoteSkip => hub.vote_skip(&user).await.map(drop).map_err(Into::into),
                Request::Chat(text) => hub
                    .post_chat(&user, text)
                    .await
                    .map(drop)
                    .map_err(Into::into),
                Request::ChatReact(id, reaction) => hub
                    .react_chat(&user, id, reaction)
                    .await
                    .map(drop)
                    .map_err(Into::into),
                Request::TrackReact(reaction) => hub
                    .react_track(&user, reaction)
                    .await
                    .map(drop)
                    .map_err(Into::into),
            };
            if let Err(e) = result {
                let frame = error_frame(&e);
                let _ = tx.try_send(Outbound::Frame(frame.to_json().into()));
            }
        });
    }
}

/// A use case a client frame asks for.
enum Request {
    Start(sesh_session::DeviceId),
    Player(PlayerCommand),
    Add(String),
    Remove(sesh_session::QueueEntryId),
    Vote(sesh_session::QueueEntryId, Option<sesh_session::Vote>),
    VoteSkip,
    Chat(sesh_session::ChatText),
    ChatReact(sesh_session::ChatMessageId, sesh_session::Reaction),
    TrackReact(sesh_session::Reaction),
}

/// The `error` frame of a refusal: the same code and message as the HTTP API's.
fn error_frame(e: &ApiError) -> DirectFrame {
    let body = e.body().error;
    DirectFrame::Error {
        code: body.code.to_owned(),
        message: body.message,
        retry_after_s: body.retry_after_s,
        permission: body.permission,
    }
}

/// Per-connection token bucket for client frames.
struct FrameLimiter {
    tokens: f64,
    at: Instant,
    refused: u32,
}

impl FrameLimiter {
    fn new() -> Self {
        Self {
            tokens: FRAME_BURST,
            at: Instant::now(),
            refused: 0,
        }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * FRAMES_PER_SEC).min(FRAME_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused = 0;
            true
        } else {
            self.refused += 1;
            false
        }
    }
}
