//! The session's chat over HTTP: write, page back, delete (moderators), react to a message or
//! to the playing track, and mute a guest (moderators). Each route is one line over a use case
//! of the session's [`crate::hub::HubHandle`] (`hub/chatting.rs`); the WebSocket frames `chat`,
//! `chat_react` and `track_react` reach the same use cases.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use sesh_session::{ChatMessageId, ChatText, UserId};

use super::parse_session_id;
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    hub::CHAT_PAGE_MAX,
    request::CurrentUser,
    wire::chat::{
        ChatBody, ChatPage, MessageReactions, MuteBody, Posted, ReactionBody, TrackReactionsView,
        WELCOME_CHAT_MESSAGES,
    },
};

/// What a member typed as a [`ChatText`]; `400 invalid_chat_text` otherwise.
pub fn parse_chat_text(raw: String) -> Result<ChatText, ApiError> {
    ChatText::try_from(raw).map_err(|e| ApiError::bad_request("invalid_chat_text", e.to_string()))
}

fn parse_message_id(raw: &str) -> Result<ChatMessageId, ApiError> {
    raw.parse::<u64>().map(ChatMessageId::new).map_err(|_| {
        ApiError::client(
            StatusCode::NOT_FOUND,
            "message_not_found",
            "the chat has no such message",
        )
    })
}

/// `POST /api/sessions/{id}/chat` `{"text"}` → 201 `{"message"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/chat",
    tag = "chat",
    operation_id = "post_chat_message",
    summary = "Write in the session's chat",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = ChatBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Sent; every member gets a `chat` frame", body = Posted),
        (status = 400, description = "`invalid_chat_text` (empty, over 500 characters, or a control character such as a line break), `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (the host closed the chat to guests: `permission` is `chat`), `muted`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_CHAT_PER_MEMBER` or `SESH_CHAT_PER_SESSION` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn post(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<ChatBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let text = parse_chat_text(body.into_inner().text)?;
    let message = state.hubs.session(id).post_chat(&user.id, text).await?;
    Ok(HttpResponse::Created().json(Posted { message }))
}

/// `?before=&limit=` of the chat's history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChatQuery {
    /// Messages older than this message id (default: the newest).
    before: Option<u64>,
    /// At most this many (default 50, at most 100).
    limit: Option<usize>,
}

/// `GET /api/sessions/{id}/chat?before=&limit=` → a page of the chat.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/chat",
    tag = "chat",
    operation_id = "list_chat_messages",
    summary = "A page of the chat: the newest messages, or those before `before`; oldest first within the page",
    params(("id" = String, Path, description = "Session id (a UUID)"), ChatQuery),
    responses(
        (status = 200, body = ChatPage),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<ChatQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let limit = query.limit.unwrap_or(WELCOME_CHAT_MESSAGES);
    if limit == 0 || limit > CHAT_PAGE_MAX {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {CHAT_PAGE_MAX}"),
        ));
    }
    let before = query.before.map(ChatMessageId::new);
    let page = state.hubs.session(id).chat(&user.id, before, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(super::api::NO_STORE)
        .json(page))
}

/// `DELETE /api/sessions/{id}/chat/{message_id}` → 204.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/chat/{message_id}",
    tag = "chat",
    operation_id = "delete_chat_message",
    summary = "Delete a chat message (host, co-hosts)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("message_id" = u64, Path)),
    responses(
        (status = 204, description = "Deleted (from the database too); members get `chat_deleted`"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (not a moderator), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, message) = path.into_inner();
    let id = parse_session_id(&id)?;
    let message = parse_message_id(&message)?;
    state
        .hubs
        .session(id)
        .delete_chat(&user.id, message)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/chat/{message_id}/reactions` `{"reaction"}` → 200.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/chat/{message_id}/reactions",
    tag = "chat",
    operation_id = "toggle_chat_reaction",
    summary = "Toggle the caller's reaction on a chat message",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("message_id" = u64, Path)),
    request_body(content = ReactionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The message's reactions now; members get `chat_reactions`", body = MessageReactions),
        (status = 400, description = "`invalid_json` (a reaction other than 👍 ❤️ 😂 🔥 🎉)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (`permission`: `chat`), `muted`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `message_not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_REACTIONS_PER_MEMBER` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn react(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: web::Json<ReactionBody>,
) -> Result<web::Json<MessageReactions>, ApiError> {
    let (id, message) = path.into_inner();
    let id = parse_session_id(&id)?;
    let message = parse_message_id(&message)?;
    let answer = state
        .hubs
        .session(id)
        .react_chat(&user.id, message, body.reaction)
        .await?;
    Ok(web::Json(answer))
}

/// `POST /api/sessions/{id}/track-reactions` `{"reaction"}` → 200.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/track-reactions",
    tag = "chat",
    operation_id = "toggle_track_reaction",
    summary = "Toggle the caller's reaction on the playing track",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = ReactionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The playing entry's reactions now; members get `track_reactions`", body = TrackReactionsView),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (`permission`: `chat`), `muted`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`nothing_playing`, `session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_REACTIONS_PER_MEMBER` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn react_track(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<ReactionBody>,
) -> Result<web::Json<TrackReactionsView>, ApiError> {
    let id = parse_session_id(&path)?;
    let answer = state
        .hubs
        .session(id)
        .react_track(&user.id, body.reaction)
        .await?;
    Ok(web::Json(answer))
}

/// `POST /api/sessions/{id}/members/{user_id}/mute` `{"muted"}` → 204.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/members/{user_id}/mute",
    tag = "chat",
    operation_id = "set_member_muted",
    summary = "Mute a guest in the chat, or unmute them (host, co-hosts)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("user_id" = String, Path)),
    request_body(content = MuteBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done (also when nothing changed); members get `member_muted`"),
        (status = 400, description = "`invalid_target` (oneself, the host or a co-host), `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (not a moderator), `not_a_member` (the caller, or the member named)", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn mute(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: web::Json<MuteBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, target) = path.into_inner();
    let id = parse_session_id(&id)?;
    state
        .hubs
        .session(id)
        .mute(&user.id, &UserId::new(target), body.muted)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
