//! Spectators and the app's Spotify seats: joining a session with a display name and no
//! Spotify login (`POST /api/join/{code}/spectator`), and the owner's view of who holds a seat
//! (`GET /api/admin/seats`, `DELETE /api/admin/seats/{user_id}`).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use sesh_session::{NewMember, UserId};

use super::api::{NO_STORE, session_of_invite};
use super::auth::{LOGIN_TTL, login_cookie};
use crate::{
    app::AppState,
    crypto::{opaque_token, sha256_hex},
    error::{ApiError, ErrorBody},
    request::{CurrentUser, MaybeUser, client_ip, spectator_cookie_name},
    seats,
    wire::SessionView,
};

/// The longest spectator name, in characters.
pub const DISPLAY_NAME_MAX: usize = 40;

/// `POST /api/join/{invite_code}/spectator` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpectatorBody {
    /// The name the others see: 1–40 characters after trimming, no control characters.
    pub display_name: String,
}

/// A spectator's name as given, or `invalid_display_name`.
fn parse_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > DISPLAY_NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            format!("a name is 1 to {DISPLAY_NAME_MAX} characters on one line"),
        ));
    }
    Ok(name.to_owned())
}

/// `POST /api/join/{invite_code}/spectator` `{"display_name"}` → joins as a spectator and
/// answers the snapshot, with the spectator cookie.
#[tracing::instrument(skip_all)]
#[utoipa::path(
    post,
    path = "/api/join/{invite_code}/spectator",
    tag = "invites",
    summary = "Join with an invite code as a spectator (no Spotify login)",
    params(("invite_code" = String, Path)),
    request_body(content = SpectatorBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The snapshot (`Cache-Control: no-store`); sets the `sesh_spectator` cookie (`__Host-sesh_spectator` over HTTPS), bound to this session. A browser already spectating this session joins again as the same spectator", body = SessionView),
        (status = 400, description = "`invalid_display_name`, `invalid_json`", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `banned`: kicked from this session", body = ErrorBody),
        (status = 404, description = "`invite_not_found`", body = ErrorBody),
        (status = 409, description = "`session_full`, `session_ended`, `already_logged_in` (this browser is logged in with Spotify: join with `POST /api/join/{code}`)", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong codes or new spectators from this address (`SESH_INVITE_RATE`, `SESH_LOGIN_RATE`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
)]
pub async fn spectate(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    body: web::Json<SpectatorBody>,
) -> Result<HttpResponse, ApiError> {
    let display_name = parse_display_name(&body.display_name)?;
    let id = session_of_invite(&state, &req).await?;
    let hub = state.hubs.session(id);
    match user {
        Some(user) if user.spectating.is_none() => {
            return Err(ApiError::client(
                StatusCode::CONFLICT,
                "already_logged_in",
                "you are logged in with Spotify: join the session as yourself",
            ));
        }
        // The same spectator again (a kicked one stays kicked).
        Some(user) if user.spectating == Some(id) => {
            let member = NewMember::new(user.id.clone(), user.display_name, Vec::new());
            let view = hub.join_spectator(member).await?;
            return Ok(HttpResponse::Ok().insert_header(NO_STORE).json(view));
        }
        _ => {}
    }
    // A new spectator is a new login: the login limit per address applies.
    state
        .core
        .limits
        .check_login(client_ip(&req, &state.trusted_proxies))?;
    let user = UserId::new(format!("spectator:{}", uuid::Uuid::new_v4().simple()));
    let sid = opaque_token();
    state
        .core
        .db
        .create_spectator(&user, &display_name, id, &sha256_hex(&sid), LOGIN_TTL)
        .await?;
    let joined = hub
        .join_spectator(NewMember::new(user.clone(), display_name, Vec::new()))
        .await;
    let view = match joined {
        Ok(view) => view,
        // Refused (full, ended, ...): the spectator and its login go again.
        Err(e) => {
            state.core.db.delete_spectator(&user).await?;
            return Err(e.into());
        }
    };
    tracing::info!(session = %id, spectator = %user, "spectator joined");
    let login = login_cookie(&state, spectator_cookie_name(&state.core.public_url), sid);
    Ok(HttpResponse::Ok()
        .insert_header(NO_STORE)
        .cookie(login)
        .json(view))
}

/// `GET /api/admin/seats`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatsView {
    /// `SESH_SPOTIFY_SEATS` (0: no limit).
    pub limit: u32,
    /// Who holds one, longest-held first.
    pub used: Vec<SeatView>,
}

/// One held seat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatView {
    /// Spotify user id.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Display name.
    pub display_name: String,
    /// Their latest request (ms since the epoch).
    pub last_seen_ms: i64,
}

/// The owner, or `403 forbidden`.
async fn owner(state: &AppState, user: &CurrentUser) -> Result<(), ApiError> {
    if super::api::is_owner(state, user).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the owner of this Sesh sees and frees its Spotify seats",
        ))
    }
}

/// `GET /api/admin/seats` (owner) → who holds the app's Spotify seats.
#[utoipa::path(
    get,
    path = "/api/admin/seats",
    tag = "admin",
    summary = "Who holds the app's Spotify seats (the owner only)",
    responses(
        (status = 200, description = "`Cache-Control: no-store`", body = SeatsView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not the owner (`SESH_ADMINS`, else the first user)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    owner(&state, &user).await?;
    let used = state
        .core
        .db
        .seat_holders()
        .await?
        .into_iter()
        .map(|seat| SeatView {
            user_id: seat.user_id,
            display_name: seat.display_name,
            last_seen_ms: seat.last_seen_ms,
        })
        .collect();
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(SeatsView {
        limit: state.core.config.spotify_seats,
        used,
    }))
}

/// `DELETE /api/admin/seats/{user_id}` (owner) → frees that user's seat; 204.
#[utoipa::path(
    delete,
    path = "/api/admin/seats/{user_id}",
    tag = "admin",
    summary = "Free a Spotify seat (the owner only): the user's Spotify login in Sesh ends",
    params(("user_id" = String, Path, description = "Spotify user id")),
    responses(
        (status = 204, description = "Freed: their tokens are dropped, their logins end and their sockets close (4003); they take a seat again at their next login if one is free"),
        (status = 400, description = "`invalid_target`: the owner's own seat", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`: not the owner", body = ErrorBody),
        (status = 404, description = "`seat_not_found`: this user holds no seat", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn free(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    owner(&state, &user).await?;
    let target = UserId::new(path.into_inner());
    if target == user.id {
        return Err(ApiError::bad_request(
            "invalid_target",
            "the owner keeps their own seat",
        ));
    }
    if !seats::free(&state.core, &target).await? {
        return Err(ApiError::not_found(
            "seat_not_found",
            "this user holds no Spotify seat",
        ));
    }
    crate::cluster::bus::close_sockets(&state.core, state.bus.as_deref(), &target, None).await;
    Ok(HttpResponse::NoContent().finish())
}
