//! The JSON API: the caller, their devices and sessions; creating, joining, viewing, leaving,
//! kicking, ending, starting and controlling sessions.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use sesh_session::{
    InviteCode, NewMember, Session, SessionId, SessionName, Settings, ShuffleMode, UserId,
};

use super::parse_session_id;
use crate::hub::{HandOverOutcome, HubHandle};
use crate::{
    app::AppState,
    db::now_ms,
    error::{ApiError, ErrorBody},
    request::{CurrentUser, MaybeUser, OptionalJsonBody, client_ip},
    top_tracks,
    wire::{MemberView, Page, SeatsLeft, SessionView, UserRef},
};

/// `GET /api/config`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigView {
    /// Demo mode: a simulated Spotify where anyone may pick any account.
    pub demo: bool,
    /// Sesh's version.
    pub version: &'static str,
}

/// `GET /api/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    /// Spotify user id.
    pub id: UserId,
    /// Display name.
    pub display_name: String,
    /// Spotify revoked the login: log in again.
    pub needs_reauth: bool,
    /// A spectator (no Spotify login): the one session this browser spectates; else `null`.
    #[schema(value_type = Option<String>)]
    pub spectating: Option<SessionId>,
    /// The owner of this Sesh (`SESH_ADMINS`, else the first user): sees and frees the
    /// Spotify seats (`/api/admin/seats`).
    pub owner: bool,
}

/// `GET /api/me/login`: whether the caller is logged in, and as whom.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginStatusView {
    /// Whether the request carries a live login cookie.
    pub logged_in: bool,
    /// Spotify user id (only when logged in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<UserId>,
    /// Display name (only when logged in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Spotify revoked the login: log in again (only when logged in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_reauth: Option<bool>,
    /// A spectator's session (only when logged in; `null` for a Spotify login).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub spectating: Option<Option<SessionId>>,
    /// The owner of this Sesh (only when logged in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<bool>,
}

/// One of `GET /api/me/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MySession {
    /// Session id.
    pub id: SessionId,
    /// `lobby` or `playing`.
    pub state: String,
    /// The caller's role: `host` or `guest`.
    pub role: String,
    /// The host.
    pub host: UserRef,
    /// Members right now.
    pub member_count: i64,
}

/// `POST /api/sessions/{id}/invite`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedInvite {
    /// The new code.
    pub invite_code: String,
    /// `{public_url}/j/{invite_code}`.
    pub join_url: String,
}

/// `GET /api/config` (public).
#[utoipa::path(
    get,
    path = "/api/config",
    tag = "meta",
    summary = "Public configuration of this server",
    responses(
        (status = 200, description = "Demo mode and version", body = ConfigView),
    ),
)]
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ConfigView {
        demo: state.core.demo,
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /api/me`.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "me",
    summary = "The logged-in user",
    responses(
        (status = 200, body = MeView),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn me(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    let owner = is_owner(&state, &user).await?;
    Ok(HttpResponse::Ok().json(MeView {
        id: user.id,
        display_name: user.display_name,
        needs_reauth: user.needs_reauth,
        spectating: user.spectating,
        owner,
    }))
}

/// Whether `user` owns this Sesh (never a spectator).
pub(super) async fn is_owner(state: &AppState, user: &CurrentUser) -> Result<bool, ApiError> {
    Ok(user.spectating.is_none() && crate::seats::is_owner(&state.core, &user.id).await?)
}

/// `GET /api/me/login` → whether the caller is logged in: the question every page asks first,
/// answered without an error (a logged-out visitor is not a failure to show in the console).
#[utoipa::path(
    get,
    path = "/api/me/login",
    tag = "me",
    summary = "Whether the caller is logged in, and as whom",
    responses(
        (status = 200, description = "`{\"logged_in\": false}`, or `true` with the user's `id`, `display_name` and `needs_reauth`", body = LoginStatusView),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database does not answer", body = ErrorBody),
    ),
    security((), ("login_cookie" = [])),
)]
pub async fn login_status(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(match user {
        Some(user) => LoginStatusView {
            logged_in: true,
            owner: Some(is_owner(&state, &user).await?),
            spectating: Some(user.spectating),
            id: Some(user.id),
            display_name: Some(user.display_name),
            needs_reauth: Some(user.needs_reauth),
        },
        None => LoginStatusView {
            logged_in: false,
            id: None,
            display_name: None,
            needs_reauth: None,
            spectating: None,
            owner: None,
        },
    }))
}

/// A device as the API lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceOut {
    id: Option<String>,
    name: String,
    #[serde(rename = "type")]
    device_type: String,
    is_active: bool,
    is_restricted: bool,
    volume_percent: Option<u32>,
}

/// `GET /api/me/devices` → the caller's Spotify devices.
#[utoipa::path(
    get,
    path = "/api/me/devices",
    tag = "me",
    summary = "The caller's Spotify devices",
    responses(
        (status = 200, body = Vec<DeviceOut>),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`premium_required` or another refusal on the account", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's `SESH_SPOTIFY_USER_RATE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 502, description = "`spotify_error`: Spotify refused for another reason", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` (Spotify down or timing out) or `unavailable`", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn devices(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    user.require_spotify()?;
    state.core.limits.check_spotify_call(&user.id)?;
    let core = &state.core;
    let devices = core
        .accounts
        .call(&core.spotify, &user.id, |spotify, auth| async move {
            spotify.devices(&auth).await
        })
        .await?;
    let out: Vec<DeviceOut> = devices
        .into_iter()
        .map(|d| DeviceOut {
            id: d.id,
            name: d.name,
            device_type: d.device_type,
            is_active: d.is_active,
            is_restricted: d.is_restricted,
            volume_percent: d.volume_percent,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/me/sessions` → the caller's live sessions.
#[utoipa::path(
    get,
    path = "/api/me/sessions",
    tag = "me",
    summary = "The caller's live sessions",
    responses(
        (status = 200, body = Vec<MySession>),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn my_sessions(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.core.db.sessions_of_user(&user.id).await?;
    let out: Vec<MySession> = sessions
        .into_iter()
        .map(|s| MySession {
            id: s.id,
            state: s.state,
            role: s.role,
            host: UserRef {
                id: UserId::new(s.host_id),
                display_name: s.host_name,
            },
            member_count: s.member_count,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Optional body of `POST /api/sessions`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    shuffle_mode: Option<ShuffleMode>,
    capacity: Option<usize>,
    /// What to call the session (see `POST /api/sessions/{id}/name`); empty or absent: no name.
    name: Option<String>,
}

impl CreateSession {
    /// The session settings asked for (`400 invalid_capacity` outside `1..=max_capacity`, the
    /// `SESH_MAX_CAPACITY` setting; `400 invalid_name`).
    pub fn settings(&self, max_capacity: usize) -> Result<Settings, ApiError> {
        let mut settings = Settings::default();
        if let Some(name) = &self.name {
            settings.name = parse_name(name)?;
        }
        if let Some(mode) = self.shuffle_mode {
            settings.shuffle_mode = mode;
        }
        if let Some(capacity) = self.capacity {
            if capacity == 0 || capacity > max_capacity {
                return Err(ApiError::bad_request(
                    "invalid_capacity",
                    format!("capacity must be between 1 and {max_capacity}"),
                ));
            }
            settings.capacity = capacity;
        }
        Ok(settings)
    }
}

/// `POST /api/sessions` → 201 with the new session; the caller is host.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions",
    tag = "sessions",
    summary = "Create a session; the caller is its host",
    request_body(content = Option<CreateSession>, description = "Optional settings", content_type = "application/json"),
    responses(
        (status = 201, description = "The snapshot (`Cache-Control: no-store`)", body = SessionView),
        (status = 400, description = "`invalid_capacity`, `invalid_name`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site", body = ErrorBody),
        (status = 409, description = "`too_many_sessions`: the caller hosts `SESH_MAX_LIVE_SESSIONS` live sessions", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_SESSIONS_PER_HOUR`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn create_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: OptionalJsonBody<CreateSession>,
) -> Result<HttpResponse, ApiError> {
    user.require_spotify()?;
    let settings = body
        .0
        .unwrap_or_default()
        .settings(state.core.config.max_capacity)?;
    let core = &state.core;
    let hosting = core
        .db
        .sessions_of_user(&user.id)
        .await?
        .iter()
        .filter(|s| s.role == "host")
        .count();
    if hosting >= core.config.max_live_sessions_per_user {
        return Err(ApiError::client(
            actix_web::http::StatusCode::CONFLICT,
            "too_many_sessions",
            format!("you already host {hosting} live sessions: end one before starting another"),
        ));
    }
    state.core.limits.check_creation(&user.id)?;
    let top = top_tracks::for_user(core, &user.id).await?;
    let session = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rand::rng()),
        NewMember::new(user.id.clone(), user.display_name.clone(), top),
        now_ms(),
        settings,
    );
    let hub = state.hubs.create(session).await?;
    let id = hub.id();
    let view = hub.view(&user.id).await?;
    if state.core.db.ownership().is_some() {
        // Several instances: the session runs where Nginx sends its id, which may be another
        // instance. Its lease is given up before the answer, so that one may claim it at once.
        hub.unload().await?;
    }
    tracing::info!(session = %id, "session created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/sessions/{id}")))
        .insert_header(NO_STORE)
        .json(view))
}

/// `Cache-Control: no-store`, on every answer that carries an invite code or a display key
/// (whoever has one can join or watch: no cache, shared or private, may keep it), and on
/// answers that change by the second (now playing).
pub(super) const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// `GET /api/sessions/{id}` → the snapshot (members only).
#[utoipa::path(
    get,
    path = "/api/sessions/{id}",
    tag = "sessions",
    summary = "The session snapshot (members only)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "`Cache-Control: no-store`", body = SessionView),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn get_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let view = state.hubs.session(id).view(&user.id).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(view))
}

/// `?offset=&limit=` of a paged list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Index of the first entry (default 0).
    #[serde(default)]
    offset: usize,
    /// At most this many (default and maximum [`crate::hub::PAGE_LIMIT_MAX`]).
    #[serde(default = "page_limit_default")]
    limit: usize,
}

fn page_limit_default() -> usize {
    crate::hub::PAGE_LIMIT_MAX
}

impl PageQuery {
    fn checked(&self) -> Result<(usize, usize), ApiError> {
        if self.limit == 0 || self.limit > crate::hub::PAGE_LIMIT_MAX {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be between 1 and {}", crate::hub::PAGE_LIMIT_MAX),
            ));
        }
        Ok((self.offset, self.limit))
    }
}

/// `GET /api/sessions/{id}/members?offset=&limit=` → a page of the members in join order.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/members",
    tag = "sessions",
    summary = "A page of the members in join order",
    params(("id" = String, Path, description = "Session id (a UUID)"), PageQuery),
    responses(
        (status = 200, body = Page<MemberView>),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn members(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<MemberView>>, ApiError> {
    let (id, offset, limit) = page_of(&path, &query)?;
    let page = state
        .hubs
        .session(id)
        .members(&user.id, offset, limit)
        .await?;
    Ok(web::Json(page))
}

/// `GET /api/sessions/{id}/queue?offset=&limit=` → a page of the whole queue.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/queue",
    tag = "sessions",
    summary = "A page of the whole queue",
    params(("id" = String, Path, description = "Session id (a UUID)"), PageQuery),
    responses(
        (status = 200, body = Page<crate::wire::QueueEntryView>),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn queue(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<crate::wire::QueueEntryView>>, ApiError> {
    let (id, offset, limit) = page_of(&path, &query)?;
    let page = state
        .hubs
        .session(id)
        .queue(&user.id, offset, limit)
        .await?;
    Ok(web::Json(page))
}

/// The session and the page a list request asks for.
fn page_of(path: &str, query: &PageQuery) -> Result<(SessionId, usize, usize), ApiError> {
    let id = parse_session_id(path)?;
    let (offset, limit) = query.checked()?;
    Ok((id, offset, limit))
}

/// Looks the invite code of the path up (`invite_code`). A client address blocked for wrong
/// codes is refused before the lookup (so a refused guess learns nothing); a wrong code counts
/// against its address (so guessing is slow); right codes never count. On an id-bearing alias
/// a code of another session is a wrong code; on the id-less route an instance that does not
/// run the session answers 307 to the alias ([`super::serve_here`]).
pub(super) async fn session_of_invite(
    state: &AppState,
    req: &HttpRequest,
) -> Result<SessionId, ApiError> {
    let ip = client_ip(req, &state.trusted_proxies);
    state.core.limits.check_invite(ip)?;
    let found = match super::path_segment(req, "invite_code").parse::<InviteCode>() {
        Ok(code) => state.core.db.session_by_invite(code.as_str()).await?,
        Err(_) => None,
    };
    match found.filter(|id| super::names_session(req, *id)) {
        Some(id) => {
            super::serve_here(state, req, id).await?;
            Ok(id)
        }
        None => {
            state.core.limits.note_wrong_invite(ip)?;
            Err(ApiError::not_found(
                "invite_not_found",
                "this invite link is not valid",
            ))
        }
    }
}

/// The header our pages send with `GET /api/invites/{code}`. A cross-site page can make a
/// browser load that URL (`<img src>`), but never with a custom header: without it the preview
/// is refused before it counts against anyone's invite budget.
pub const PREVIEW_HEADER: &str = "x-requested-with";

/// `GET /api/invites/{code}` (with `X-Requested-With`) → public preview for the join page.
#[utoipa::path(
    get,
    path = "/api/invites/{invite_code}",
    tag = "invites",
    summary = "Public preview of an invite (send `X-Requested-With`)",
    description = "Public: works without a login. With a valid login cookie the answer also has `you` (is the caller a member, were they removed by the host) and `Cache-Control: no-store`.",
    params(("invite_code" = String, Path, description = "The code in the join link"), ("X-Requested-With" = String, Header, description = "Any value; pages of this site send `sesh`")),
    responses(
        (status = 200, description = "The preview; `you` only for a logged-in caller", body = crate::wire::InvitePreview),
        (status = 400, description = "`header_required`: no `X-Requested-With`", body = ErrorBody),
        (status = 404, description = "`invite_not_found`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong codes from this address (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
)]
pub async fn invite_preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<HttpResponse, ApiError> {
    if !req.headers().contains_key(PREVIEW_HEADER) {
        return Err(ApiError::bad_request(
            "header_required",
            "send the X-Requested-With header (this site's pages do)",
        ));
    }
    let id = session_of_invite(&state, &req).await?;
    let viewer = user.map(|u| u.id);
    let personal = viewer.is_some();
    let mut preview = state.hubs.session(id).preview(viewer.as_ref()).await?;
    let seating = crate::seats::seating(&state.core).await?;
    preview.seats = Some(SeatsLeft {
        limit: seating.limit,
        used: seating.used,
        left: seating.left(),
    });
    let mut answer = HttpResponse::Ok();
    if personal {
        // Says where this login stands: no cache may hand it to someone else.
        answer.insert_header(NO_STORE);
    }
    Ok(answer.json(preview))
}

/// `POST /api/join/{code}` → joins (idempotent) and answers the snapshot.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/join/{invite_code}",
    tag = "invites",
    summary = "Join with an invite code (idempotent)",
    params(("invite_code" = String, Path)),
    responses(
        (status = 200, description = "The snapshot (`Cache-Control: no-store`)", body = SessionView),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `banned`: kicked from this session", body = ErrorBody),
        (status = 404, description = "`invite_not_found`", body = ErrorBody),
        (status = 409, description = "`session_full`, `session_ended`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong codes from this address", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn join(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    user.require_spotify()?;
    let id = session_of_invite(&state, &req).await?;
    let top = top_tracks::for_user(&state.core, &user.id).await?;
    let member = NewMember::new(user.id.clone(), user.display_name.clone(), top);
    let view = state.hubs.session(id).join(member).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(view))
}

/// `POST /api/sessions/{id}/leave` → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/leave",
    tag = "sessions",
    summary = "Leave the session",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn leave(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    state.hubs.session(id).leave(&user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/kick/{user_id}` (host) → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/kick/{user_id}",
    tag = "sessions",
    summary = "Remove and ban a member (host)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "Kicked"),
        (status = 400, description = "`invalid_target`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn kick(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (hub, target) = on_member(&state, path)?;
    hub.kick(&user.id, &target).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The session and the member of a host's action on one member (`…/{id}/{action}/{user_id}`).
fn on_member(
    state: &AppState,
    path: web::Path<(String, String)>,
) -> Result<(HubHandle, UserId), ApiError> {
    let (id, target) = path.into_inner();
    let id = parse_session_id(&id)?;
    Ok((state.hubs.session(id), UserId::new(target)))
}

/// `POST /api/sessions/{id}/unban/{user_id}` (host) → 204: a kicked user may join again.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/unban/{user_id}",
    tag = "sessions",
    summary = "Let a kicked user join again (host)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "Unbanned"),
        (status = 400, description = "`invalid_target`: not banned", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn unban(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (hub, target) = on_member(&state, path)?;
    hub.unban(&user.id, &target).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /api/sessions/{id}/members/{user_id}/role`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `co_host` or `guest` (the host role moves only with a hand-over).
    #[schema(value_type = String)]
    role: sesh_session::Role,
}

/// `POST /api/sessions/{id}/members/{user_id}/role` `{"role"}` (host) → 204: `user_id` is a
/// co-host (or a guest again); members get `role_changed`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/members/{user_id}/role",
    tag = "sessions",
    summary = "Make a member a co-host, or a guest again (host)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("user_id" = String, Path)),
    request_body(content = RoleBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done (also when the member had that role); members get `role_changed`"),
        (status = 400, description = "`invalid_target`: `host` (hand the session over instead), or the host's own role; `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden` (not the host: co-hosts may not change roles), `not_a_member` (the caller, or the member named)", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn set_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let (hub, target) = on_member(&state, path)?;
    hub.set_role(&user.id, &target, body.role).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/host/{user_id}` (host, in the lobby) → 204: `user_id` is the host
/// from now on (for a free host: hand the session to a friend with Premium before Start).
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/host/{user_id}",
    tag = "sessions",
    summary = "Hand the host role to another member, before Start (host)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "Handed over; members get `host_changed`"),
        (status = 400, description = "`invalid_target`: already the host", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member` (the caller, or the member handed to)", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`already_started` (a playing session cannot be handed over yet), `session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn hand_over(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (hub, target) = on_member(&state, path)?;
    hub.hand_over(&user.id, &target).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /api/sessions/{id}/handover`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    /// The member who becomes the host.
    #[schema(value_type = String)]
    to: UserId,
    /// One of `to`'s Spotify devices to play on (while playing). Without it the host offers
    /// the session: `to` gets `handover_offered` and accepts with one of their devices.
    device_id: Option<String>,
}

/// `POST /api/sessions/{id}/handover` → 200 `{"handed_over": true}` or 202 `{"offered": true}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandOverAnswer {
    /// `to` is the host now (and, while playing, the music plays on their device).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    handed_over: bool,
    /// `to` was asked to pick one of their devices.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    offered: bool,
}

/// `POST /api/sessions/{id}/handover` `{"to", "device_id"?}`: the host hands the session to a
/// member — while playing, the rest of the queue plays on `to`'s device from the current
/// position and the old host's device pauses; `to` accepts an offer, or takes over a session
/// whose host is gone, with one of their devices.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/handover",
    tag = "sessions",
    operation_id = "hand_over_session",
    summary = "Hand the session to another member, moving the music to their device (host; or the member taking it)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = HandOverBody, content_type = "application/json"),
    responses(
        (status = 200, body = HandOverAnswer, description = "Handed over: members get `host_changed` and `device_changed`"),
        (status = 202, body = HandOverAnswer, description = "Offered: `to` gets `handover_offered`"),
        (status = 400, description = "`invalid_target`, `invalid_device`, `device_required`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`, `premium_required` (Spotify plays only for Premium)", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `spotify_not_found` (no such device)", body = ErrorBody),
        (status = 409, description = "`handover_in_progress`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn hand_over_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<HandOverBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let body = body.into_inner();
    let device = body
        .device_id
        .as_deref()
        .map(super::parse_device_id)
        .transpose()?;
    let outcome = state
        .hubs
        .session(id)
        .hand_over_playing(&user.id, &body.to, device)
        .await?;
    Ok(match outcome {
        HandOverOutcome::Done => HttpResponse::Ok().json(HandOverAnswer {
            handed_over: true,
            offered: false,
        }),
        HandOverOutcome::Offered => HttpResponse::Accepted().json(HandOverAnswer {
            handed_over: false,
            offered: true,
        }),
    })
}

/// `POST /api/sessions/{id}/end` (host) → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/end",
    tag = "sessions",
    summary = "End the session (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn end(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    state.hubs.session(id).end(&user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What the host typed as the session's name: trimmed, empty is "no name" (`400 invalid_name`
/// over 60 characters or with a control character).
fn parse_name(raw: &str) -> Result<Option<SessionName>, ApiError> {
    SessionName::parse_optional(raw)
        .map_err(|e| ApiError::bad_request("invalid_name", format!("invalid session name: {e}")))
}

/// Body of `POST /api/sessions/{id}/name`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    /// The new name (trimmed; at most 60 characters, no control characters); `""` or `null`
    /// takes the name away.
    name: Option<String>,
}

/// `POST /api/sessions/{id}/name` `{"name"}` (host) → 200 the snapshot; members get
/// `settings_changed`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/name",
    tag = "sessions",
    summary = "Name the session, or take its name away (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = RenameBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The snapshot with `settings.name` (`Cache-Control: no-store`)", body = SessionView),
        (status = 400, description = "`invalid_name`: over 60 characters or a control character; `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden` (not the host), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn rename(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<RenameBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let name = parse_name(body.name.as_deref().unwrap_or(""))?;
    let view = state.hubs.session(id).set_name(&user.id, name).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(view))
}

/// `POST /api/sessions/{id}/invite` (host) → 200 `{"invite_code", "join_url"}`: a new invite
/// replaces the old one (which stops working); kicked users stay banned (`unban` lets one back
/// in); members get `invite_rotated`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/invite",
    tag = "sessions",
    summary = "Replace the invite code (host); bans stay",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "`Cache-Control: no-store`", body = RotatedInvite),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn rotate_invite(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let code = InviteCode::generate(&mut rand::rng());
    let view = state.hubs.session(id).rotate_invite(&user.id, code).await?;
    tracing::info!(session = %id, "invite rotated");
    Ok(HttpResponse::Ok()
        .insert_header(NO_STORE)
        .json(RotatedInvite {
            invite_code: view.invite_code,
            join_url: view.join_url,
        }))
}

/// `GET /api/sessions/{id}/qr.svg` → the join link as a QR code (members only).
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/qr.svg",
    tag = "sessions",
    summary = "The join link as a QR code (members)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "SVG (`Cache-Control: no-store`)", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn qr(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let view = state.hubs.session(id).view(&user.id).await?;
    // The image is the invite code.
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(NO_STORE)
        .body(qr_svg(&view.join_url)?))
}

/// `url` as a QR code (SVG).
pub(super) fn qr_svg(url: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(ApiError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}
