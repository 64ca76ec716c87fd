//! Displays (docs/displays.md): the host's display keys (`/api/sessions/{id}/displays`), and
//! what a key opens without a login — the Server-Sent Events stream `/d/{key}/events`, the
//! now-playing JSON and text for tools that poll, and the join QR code where the host allows
//! it. Everything a display reads comes from the session's hub: no Spotify call, no write.

use std::{
    net::IpAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

/// One Server-Sent Event of a display's stream, as the OpenAPI document describes each event of
/// `text/event-stream` (the fields of the SSE wire format; `data` is the event's JSON).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SseEvent {
    /// The event's name: `snapshot`, `playback`, `queue`, `members`, `session`, `join`, `session_ended`.
    pub event: Option<String>,
    /// Its JSON (docs/displays.md).
    pub data: Option<String>,
    /// Its `seq`, for `Last-Event-ID` (on the last event of a change only).
    pub id: Option<String>,
    /// How long to wait before reconnecting, in ms (sent once, first).
    pub retry: Option<u64>,
}

use actix_web::{
    HttpRequest, HttpResponse, Responder, ResponseError,
    http::{StatusCode, header},
    web,
};
use actix_web_lab::sse;
use futures_util::Stream;
use serde::Deserialize;
use sesh_session::{DisplayKey, SessionError, SessionId, SessionName};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::{api::NO_STORE, parse_session_id};
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    hub::{
        DisplayFrame, DisplayState, HubError, NewConnection, NowPlaying, Outbound, OutboundRx,
        Registration, Subscriber, WorkerHandle, outbound_queue,
    },
    limits::DisplaySlot,
    request::{CurrentUser, OptionalJsonBody, client_ip},
    wire::{DisplayList, DisplayView},
};

/// How long a browser waits before reconnecting a dropped stream (`retry:`).
pub const RETRY: Duration = Duration::from_secs(2);

// ---- the host's keys ---------------------------------------------------------------------

/// Body of `POST /api/sessions/{id}/displays` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDisplay {
    /// What to call it ("Living room TV"): trimmed, at most 60 characters, no control
    /// characters; `""` or absent for none.
    label: Option<String>,
    /// Let its displays show the join link and its QR code (default `false`).
    #[serde(default)]
    show_join: bool,
}

/// `POST /api/sessions/{id}/displays` (host) → 201 the new key and its links.
#[utoipa::path(
    post,
    operation_id = "create_display",
    path = "/api/sessions/{id}/displays",
    tag = "displays",
    summary = "Make a display key (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = Option<CreateDisplay>, content_type = "application/json"),
    responses(
        (status = 201, description = "The key and its links (`Cache-Control: no-store`)", body = DisplayView),
        (status = 400, description = "`invalid_label`: over 60 characters or a control character; `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden` (not the host), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`too_many_displays` (20 keys), `session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: OptionalJsonBody<CreateDisplay>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let body = body.0.unwrap_or_default();
    let label = SessionName::parse_optional(body.label.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request("invalid_label", format!("invalid label: {e}")))?;
    let view = state
        .hubs
        .session(id)
        .create_display(&user.id, label, body.show_join)
        .await?;
    tracing::info!(session = %id, show_join = view.show_join, "display key created");
    Ok(HttpResponse::Created().insert_header(NO_STORE).json(view))
}

/// `GET /api/sessions/{id}/displays` (host) → the keys, oldest first.
#[utoipa::path(
    get,
    operation_id = "list_displays",
    path = "/api/sessions/{id}/displays",
    tag = "displays",
    summary = "List the display keys (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "The keys with their links and open streams (`Cache-Control: no-store`)", body = DisplayList),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`forbidden` (not the host), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let displays = state.hubs.session(id).displays(&user.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(NO_STORE)
        .json(DisplayList { displays }))
}

/// `DELETE /api/sessions/{id}/displays/{key}` (host) → 204; the key's streams end.
#[utoipa::path(
    delete,
    operation_id = "revoke_display",
    path = "/api/sessions/{id}/displays/{key}",
    tag = "displays",
    summary = "Revoke a display key (host); its open streams end",
    params(
        ("id" = String, Path, description = "Session id (a UUID)"),
        ("key" = String, Path, description = "The display key"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden` (not the host), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`display_not_found`, `session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let id = parse_session_id(&id)?;
    let key: DisplayKey = key
        .parse()
        .map_err(|_| ApiError::from(SessionError::DisplayNotFound))?;
    state
        .hubs
        .session(id)
        .revoke_display(&user.id, &key)
        .await?;
    tracing::info!(session = %id, "display key revoked");
    Ok(HttpResponse::NoContent().finish())
}

// ---- what a key opens --------------------------------------------------------------------

/// The one answer to a key that opens nothing: malformed, unknown or revoked alike.
fn invalid_key() -> ApiError {
    ApiError::client(
        StatusCode::FORBIDDEN,
        "display_key_invalid",
        "this display link was revoked, or never existed",
    )
}

/// A display's key and session, after the per-address rate: `403 display_key_invalid` for any
/// key that opens nothing.
///
/// On an id-bearing alias a key of another session is an invalid key; on the id-less route an
/// instance that does not run the session answers 307 to the alias ([`super::serve_here`]).
async fn open(
    ip: Option<IpAddr>,
    state: &AppState,
    req: &HttpRequest,
) -> Result<(SessionId, DisplayKey), ApiError> {
    state.core.limits.check_display(ip)?;
    let key: DisplayKey = super::path_segment(req, "key")
        .parse()
        .map_err(|_| invalid_key())?;
    let id = state
        .core
        .db
        .session_by_display(key.as_str())
        .await?
        .filter(|id| super::names_session(req, *id))
        .ok_or_else(invalid_key)?;
    super::serve_here(state, req, id).await?;
    Ok((id, key))
}

/// A hub's refusal of a display: a key the session no longer has (or a session that is gone)
/// is an invalid key.
fn display_error(e: HubError) -> ApiError {
    match e {
        HubError::NotFound | HubError::Session(SessionError::DisplayNotFound) => invalid_key(),
        other => other.into(),
    }
}

async fn state_of(req: &HttpRequest, state: &AppState) -> Result<DisplayState, ApiError> {
    let (id, key) = open(client_ip(req, &state.trusted_proxies), state, req).await?;
    state
        .hubs
        .session(id)
        .display_state(&key)
        .await
        .map_err(display_error)
}

/// `GET /d/{key}/events` → the display's Server-Sent Events.
#[utoipa::path(
    get,
    operation_id = "display_events",
    path = "/d/{key}/events",
    tag = "displays",
    summary = "A display's live stream (Server-Sent Events; docs/displays.md)",
    params(
        ("key" = String, Path, description = "The display key"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last event id seen, to resume"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `snapshot`, then `playback`, `queue`, `members`, `session`, `join`, `session_ended`", content_type = "text/event-stream", body = SseEvent),
        (status = 404, description = "`not_found`: no such route (a key with a `/`)", body = ErrorBody),
        (status = 403, description = "`display_key_invalid`: unknown or revoked key", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_DISPLAY_RATE`, or `SESH_DISPLAYS_PER_IP` streams open", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`too_many_displays`: `SESH_DISPLAYS_PER_SESSION` streams open; `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req, &state.trusted_proxies);
    let (id, key) = open(ip, &state, &req).await?;
    let slot = state.core.limits.acquire_display_stream(ip)?;
    // A resume: a browser's EventSource sends the last id it saw by itself.
    let since = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Cancelled when the queue overflows (a display that stops reading) and on shutdown.
    let stop = state.core.shutdown.child_token();
    let (tx, rx) = outbound_queue(state.core.config.ws_queue);
    let conn = NewConnection {
        subscriber: Subscriber::Display(key),
        tx,
        overflow: stop.clone(),
        worker: WorkerHandle::current(),
    };
    let registration = state
        .hubs
        .session(id)
        .connect(conn, since)
        .await
        .map_err(display_error)?;
    tracing::debug!(session = %id, conn_id = registration.conn_id(), resumed = since.is_some(), "display connected");
    let stream = DisplayStream {
        rx,
        stop: Box::pin(stop.cancelled_owned()),
        done: false,
        _registration: registration,
        _slot: slot,
    };
    let mut response = sse::Sse::from_infallible_stream(stream)
        // A comment as often as sockets are pinged (`SESH_WS_PING_INTERVAL`, 15 s): a proxy's
        // idle timeout above one is above the other.
        .with_keep_alive(state.core.config.ws_ping_interval)
        .with_retry_duration(RETRY)
        .respond_to(&req);
    let headers = response.headers_mut();
    // Over actix-web-lab's `no-cache`: nothing of a stream may be kept.
    headers.insert(NO_STORE.0, header::HeaderValue::from_static(NO_STORE.1));
    headers.insert(
        header::HeaderName::from_static("x-accel-buffering"),
        header::HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// A display's events from its queue, until the hub closes it, it overflows or the server
/// shuts down. Holds the display's registration and its address's slot: both end with the
/// stream (when the client goes away, actix drops the body).
struct DisplayStream {
    rx: OutboundRx,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
    _registration: Registration,
    _slot: DisplaySlot,
}

impl Stream for DisplayStream {
    type Item = sse::Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<sse::Event>> {
        if self.done || self.stop.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(None);
        }
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Outbound::Display(frame)) => return Poll::Ready(Some(event(frame))),
                // Members' frames never reach a display's queue.
                Poll::Ready(Outbound::Frame(_)) => {}
                Poll::Ready(Outbound::Close(..)) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

fn event(frame: DisplayFrame) -> sse::Event {
    let mut data = sse::Data::new(frame.data).event(frame.event);
    if let Some(id) = frame.id {
        data.set_id(id);
    }
    sse::Event::Data(data)
}

/// `GET /d/{key}/nowplaying.json` → what plays (for OBS tools and scripts).
#[utoipa::path(
    get,
    operation_id = "display_now_playing_json",
    path = "/d/{key}/nowplaying.json",
    tag = "displays",
    summary = "What plays, as JSON (any origin may read it)",
    params(("key" = String, Path, description = "The display key")),
    responses(
        (status = 200, description = "`Access-Control-Allow-Origin: *`, `Cache-Control: no-store`", body = Object),
        (status = 404, description = "`not_found`: no such route (a key with a `/`)", body = ErrorBody),
        (status = 403, description = "`display_key_invalid`: unknown or revoked key", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_DISPLAY_RATE`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn now_playing_json(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let mut response = match state_of(&req, &state).await {
        Ok(display) => HttpResponse::Ok()
            .insert_header(NO_STORE)
            .json(display.now_playing),
        Err(e) => e.error_response(),
    };
    // Any page may read it (an overlay served from elsewhere), its errors included.
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// `GET /d/{key}/nowplaying.txt` → `Artist — Title`.
#[utoipa::path(
    get,
    operation_id = "display_now_playing_text",
    path = "/d/{key}/nowplaying.txt",
    tag = "displays",
    summary = "What plays, as `Artist — Title` (empty when nothing plays)",
    params(("key" = String, Path, description = "The display key")),
    responses(
        (status = 200, description = "UTF-8 text, `Cache-Control: no-store`", content_type = "text/plain", body = String),
        (status = 404, description = "`not_found`: no such route (a key with a `/`)", body = ErrorBody),
        (status = 403, description = "`display_key_invalid`: unknown or revoked key", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_DISPLAY_RATE`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn now_playing_text(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let display = state_of(&req, &state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(NO_STORE)
        .body(NowPlaying::as_text(&display.now_playing)))
}

/// `GET /d/{key}/join-qr.svg` → the join link as a QR code, for keys that show it.
#[utoipa::path(
    get,
    operation_id = "display_join_qr",
    path = "/d/{key}/join-qr.svg",
    tag = "displays",
    summary = "The join link as a QR code (keys made with `show_join`)",
    params(("key" = String, Path, description = "The display key")),
    responses(
        (status = 200, description = "SVG (`Cache-Control: no-store`)", content_type = "image/svg+xml", body = String),
        (status = 404, description = "`not_found`: no such route (a key with a `/`)", body = ErrorBody),
        (status = 403, description = "`display_key_invalid`: unknown or revoked key; `join_hidden`: the key does not show the join link", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_DISPLAY_RATE`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
)]
pub async fn qr(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let display = state_of(&req, &state).await?;
    let Some(url) = display.join_url else {
        return Err(ApiError::client(
            StatusCode::FORBIDDEN,
            "join_hidden",
            "the host did not let this display show the join link",
        ));
    };
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(NO_STORE)
        .body(super::api::qr_svg(&url)?))
}
