//! HTTP routes and the middleware around them (security headers, CSRF, request log).

pub mod api;
pub mod auth;
pub mod chat;
pub mod displays;
pub mod health;
pub mod listen;
pub mod openapi;
pub mod pages;
pub mod player;
pub mod playlist;
pub mod queue;
pub mod recap;
pub mod search;
pub mod seats;
pub mod ws;

use actix_web::{
    Error, HttpMessage, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};

use crate::{
    app::AppState,
    error::ApiError,
    request::{client_ip, origin_of, same_origin_request},
    state::Core,
};

/// Pages, assets and the health check also answer `HEAD` (monitors and link checkers use
/// it); actix-http drops the body of a `HEAD` answer and keeps its headers.
fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", get_or_head().to(health::healthz))
        .route("/", get_or_head().to(pages::index))
        .route("/j/{invite_code}", get_or_head().to(pages::join_page))
        .route("/s/{session_id}", get_or_head().to(pages::session_page))
        .route("/s/{session_id}/recap", get_or_head().to(pages::recap_page))
        .route("/s/{id}/recap.json", web::get().to(recap::download))
        .route("/tv/{key}", get_or_head().to(pages::tv_page))
        .route("/overlay/{key}", get_or_head().to(pages::overlay_page))
        .route("/d/{key}/events", web::get().to(displays::events))
        .route(
            "/d/{key}/nowplaying.json",
            get_or_head().to(displays::now_playing_json),
        )
        .route(
            "/d/{key}/nowplaying.txt",
            get_or_head().to(displays::now_playing_text),
        )
        .route("/d/{key}/join-qr.svg", get_or_head().to(displays::qr))
        .route("/assets/{path:.*}", get_or_head().to(pages::asset))
        .route("/auth/login", web::get().to(auth::login))
        .route("/auth/callback", web::get().to(auth::callback))
        .route("/auth/logout", web::post().to(auth::logout))
        .route(
            "/auth/logout-everywhere",
            web::post().to(auth::logout_everywhere),
        )
        .route("/ws/sessions/{id}", web::get().to(ws::connect))
        .service(
            web::scope("/api")
                .route("/config", web::get().to(api::config))
                .route("/openapi.json", web::get().to(openapi::openapi_json))
                .route("/me", web::get().to(api::me))
                .route("/me/login", web::get().to(api::login_status))
                .route("/me/devices", web::get().to(api::devices))
                .route("/me/sessions", web::get().to(api::my_sessions))
                .route("/sessions", web::post().to(api::create_session))
                .route("/sessions/{id}", web::get().to(api::get_session))
                .route("/sessions/{id}/members", web::get().to(api::members))
                .route("/sessions/{id}/queue", web::get().to(api::queue))
                .route("/sessions/{id}/recap", web::get().to(recap::recap))
                .route("/sessions/{id}/playlist", web::post().to(playlist::save))
                .route("/sessions/{id}/queue", web::post().to(queue::add))
                .route(
                    "/sessions/{id}/queue/{entry_id}",
                    web::delete().to(queue::remove),
                )
                .route(
                    "/sessions/{id}/queue/{entry_id}/ban",
                    web::post().to(queue::ban),
                )
                .route(
                    "/sessions/{id}/queue/{entry_id}/vote",
                    web::post().to(queue::vote),
                )
                .route("/sessions/{id}/skip-vote", web::post().to(queue::skip_vote))
                .route("/sessions/{id}/settings", web::patch().to(queue::settings))
                .route("/sessions/{id}/leave", web::post().to(api::leave))
                .route("/sessions/{id}/kick/{user_id}", web::post().to(api::kick))
                .route("/sessions/{id}/unban/{user_id}", web::post().to(api::unban))
                .route(
                    "/sessions/{id}/members/{user_id}/role",
                    web::post().to(api::set_role),
                )
                .route(
                    "/sessions/{id}/host/{user_id}",
                    web::post().to(api::hand_over),
                )
                .route("/sessions/{id}/end", web::post().to(api::end))
                .route(
                    "/sessions/{id}/handover",
                    web::post().to(api::hand_over_session),
                )
                .route("/sessions/{id}/invite", web::post().to(api::rotate_invite))
                .route("/sessions/{id}/name", web::post().to(api::rename))
                .route("/sessions/{id}/start", web::post().to(player::start))
                .route("/sessions/{id}/listen", web::post().to(listen::listen))
                .route("/sessions/{id}/listen", web::delete().to(listen::unlisten))
                .route("/sessions/{id}/player/seek", web::post().to(player::seek))
                .route(
                    "/sessions/{id}/player/volume",
                    web::post().to(player::volume),
                )
                .route(
                    "/sessions/{id}/player/repeat",
                    web::post().to(player::repeat),
                )
                .route(
                    "/sessions/{id}/player/transfer",
                    web::post().to(player::transfer),
                )
                .route(
                    "/sessions/{id}/player/{command}",
                    web::post().to(player::player),
                )
                .route("/sessions/{id}/qr.svg", web::get().to(api::qr))
                .route("/sessions/{id}/displays", web::post().to(displays::create))
                .route("/sessions/{id}/displays", web::get().to(displays::list))
                .route(
                    "/sessions/{id}/displays/{key}",
                    web::delete().to(displays::revoke),
                )
                .route("/sessions/{id}/search", web::get().to(search::search))
                .route("/sessions/{id}/chat", web::post().to(chat::post))
                .route("/sessions/{id}/chat", web::get().to(chat::page))
                .route(
                    "/sessions/{id}/chat/{message_id}",
                    web::delete().to(chat::delete),
                )
                .route(
                    "/sessions/{id}/chat/{message_id}/reactions",
                    web::post().to(chat::react),
                )
                .route(
                    "/sessions/{id}/track-reactions",
                    web::post().to(chat::react_track),
                )
                .route(
                    "/sessions/{id}/members/{user_id}/mute",
                    web::post().to(chat::mute),
                )
                // The id-bearing aliases of the routes bound to a session by an invite code or
                // a display key (`SESSION_ALIASES`): the same handlers.
                .route(
                    "/sessions/{id}/invites/{invite_code}",
                    web::get().to(api::invite_preview),
                )
                .route(
                    "/sessions/{id}/join/{invite_code}",
                    web::post().to(api::join),
                )
                .route(
                    "/sessions/{id}/join/{invite_code}/spectator",
                    web::post().to(seats::spectate),
                )
                .route(
                    "/sessions/{id}/displays/{key}/events",
                    web::get().to(displays::events),
                )
                .route(
                    "/sessions/{id}/displays/{key}/nowplaying.json",
                    get_or_head().to(displays::now_playing_json),
                )
                .route(
                    "/sessions/{id}/displays/{key}/nowplaying.txt",
                    get_or_head().to(displays::now_playing_text),
                )
                .route(
                    "/sessions/{id}/displays/{key}/join-qr.svg",
                    get_or_head().to(displays::qr),
                )
                .route("/join/{invite_code}", web::post().to(api::join))
                .route(
                    "/join/{invite_code}/spectator",
                    web::post().to(seats::spectate),
                )
                .route("/admin/seats", web::get().to(seats::list))
                .route("/admin/seats/{user_id}", web::delete().to(seats::free))
                .route("/invites/{invite_code}", web::get().to(api::invite_preview)),
        )
        .default_service(web::to(not_found));
}

/// A session id from a path; an id that is not one answers like an unknown session (404).
pub fn parse_session_id(raw: &str) -> Result<sesh_session::SessionId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::from(crate::hub::HubError::NotFound))
}

/// The routes bound to a session by an invite code or a display key rather than its id, each
/// with its id-bearing alias (the same handler; `docs/cluster.md`): in a cluster Nginx routes
/// by the id in the path, so an instance that does not run the session answers the first with
/// a 307 to the second ([`serve_here`]).
pub const SESSION_ALIASES: [(&str, &str); 7] = [
    (
        "/api/invites/{invite_code}",
        "/api/sessions/{id}/invites/{invite_code}",
    ),
    (
        "/api/join/{invite_code}",
        "/api/sessions/{id}/join/{invite_code}",
    ),
    (
        "/api/join/{invite_code}/spectator",
        "/api/sessions/{id}/join/{invite_code}/spectator",
    ),
    (
        "/d/{key}/events",
        "/api/sessions/{id}/displays/{key}/events",
    ),
    (
        "/d/{key}/nowplaying.json",
        "/api/sessions/{id}/displays/{key}/nowplaying.json",
    ),
    (
        "/d/{key}/nowplaying.txt",
        "/api/sessions/{id}/displays/{key}/nowplaying.txt",
    ),
    (
        "/d/{key}/join-qr.svg",
        "/api/sessions/{id}/displays/{key}/join-qr.svg",
    ),
];

/// A segment of the matched route (`invite_code`, `key`): the handlers of [`SESSION_ALIASES`]
/// serve both shapes, so they read it by name rather than by position.
pub(super) fn path_segment<'r>(req: &'r HttpRequest, name: &str) -> &'r str {
    req.match_info().get(name).unwrap_or_default()
}

/// Whether the session a code or key opens is the one the path names, on an alias (always, on
/// the id-less route). A mismatch answers like a wrong code or key.
pub(super) fn names_session(req: &HttpRequest, found: sesh_session::SessionId) -> bool {
    req.match_info()
        .get("id")
        .is_none_or(|named| named.parse() == Ok(found))
}

/// Whether this instance serves a request bound to session `id` by a code or key: on an
/// alias, with one instance (SQLite), while it runs the session, or while nobody does and
/// the ring (`SESH_CLUSTER_NODES`, if set) prefers it. Otherwise (several instances on
/// PostgreSQL) 307 `session_moved` to the alias, which Nginx sends to the session's instance:
/// a random instance must not take a session over because an id-less request happened to
/// land on it.
pub(super) async fn serve_here(
    state: &AppState,
    req: &HttpRequest,
    id: sesh_session::SessionId,
) -> Result<(), ApiError> {
    let Some(own) = state.core.db.ownership() else {
        return Ok(());
    };
    if req.match_info().get("id").is_some() || own.valid(id).is_some() {
        return Ok(());
    }
    let preferred_elsewhere = state
        .ring
        .as_ref()
        .is_some_and(|ring| ring.preferred(&id).address() != own.node());
    if !preferred_elsewhere && !state.core.db.runs_elsewhere(id).await? {
        return Ok(());
    }
    let mut location = alias_of(req.path(), id);
    if !req.query_string().is_empty() {
        location.push('?');
        location.push_str(req.query_string());
    }
    Err(ApiError::Moved { location })
}

/// The alias path of an id-less route's path (see [`SESSION_ALIASES`]).
fn alias_of(path: &str, id: sesh_session::SessionId) -> String {
    match path.strip_prefix("/d/") {
        Some(rest) => format!("/api/sessions/{id}/displays/{rest}"),
        None => format!(
            "/api/sessions/{id}/{}",
            path.strip_prefix("/api/").unwrap_or(path)
        ),
    }
}

/// Validates a client-sent device id (`400 invalid_device`).
pub fn parse_device_id(device_id: &str) -> Result<sesh_session::DeviceId, ApiError> {
    use sesh_session::DeviceId;
    device_id
        .parse::<DeviceId>()
        .ok()
        .filter(|_| device_id.len() <= 256)
        .ok_or_else(|| ApiError::bad_request("invalid_device", "device_id is not a device id"))
}

/// Every address no route serves ([`pages::not_found`]: a page for browsers, JSON otherwise).
async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    pages::not_found(&req)
}

/// Refuses state-changing requests that do not come from our own pages (CSRF): the `Origin`
/// (or, without one, the `Referer`) must be the public URL's origin.
pub async fn csrf_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let allowed = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| same_origin_request(req.request(), &origin_of(&s.core.public_url)));
        if !allowed {
            let error = ApiError::client(
                actix_web::http::StatusCode::FORBIDDEN,
                "csrf",
                "cross-site request refused: the Origin header must be this site",
            );
            return Ok(req.error_response(error).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The path as it may be logged: invite codes are credentials (whoever has one can join), so
/// the routes that carry one log `…` in its place. Query strings are never logged (OAuth codes).
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    // Display keys are credentials too (whoever has one sees the session); the aliases of
    // the invite routes carry a code after the id.
    if let Some(rest) = path.strip_prefix("/api/sessions/") {
        for segment in ["/displays/", "/invites/", "/join/"] {
            if let Some(at) = rest.find(segment) {
                let after = &rest[at + segment.len()..];
                let tail = after.find('/').map_or("", |i| &after[i..]);
                return format!("/api/sessions/{}{segment}…{tail}", &rest[..at]).into();
            }
        }
    }
    for prefix in [
        "/j/",
        "/api/invites/",
        "/api/join/",
        "/d/",
        "/tv/",
        "/overlay/",
    ] {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{tail}").into();
        }
    }
    path.into()
}

/// Logs each request (method, path, status, duration, client address) at debug level, and
/// failures at info. Query strings and invite codes are left out ([`loggable_path`]). With
/// several instances, a plain request answered here also marks this instance reached
/// ([`crate::db::Ownership::reached`]: the others may hand it sessions back).
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = loggable_path(req.path()).into_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let ip = state
        .as_ref()
        .and_then(|s| client_ip(req.request(), &s.trusted_proxies));
    req.extensions_mut().insert(ClientAddr(ip));
    // Health checks come from the orchestrator, not through Nginx; a WebSocket or an event
    // stream completes only when it closes, and only a completed request makes Nginx count an
    // instance up.
    let plain = req.path() != "/healthz" && !req.path().ends_with("/events");
    let response = next.call(req).await?;
    let status = response.status();
    if plain
        && status != actix_web::http::StatusCode::SWITCHING_PROTOCOLS
        && let Some(own) = state.as_ref().and_then(|s| s.core.db.ownership())
    {
        own.reached();
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let client = ip.map(|ip| ip.to_string()).unwrap_or_default();
    if status.is_server_error() || status.is_client_error() {
        tracing::info!(%method, %path, status = status.as_u16(), elapsed_ms, %client, "request");
    } else {
        tracing::debug!(%method, %path, status = status.as_u16(), elapsed_ms, %client, "request");
    }
    Ok(response)
}

/// The client's address as resolved by [`request_log`] (behind trusted proxies).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

/// Where album covers come from: Spotify's image CDN, or — against the emulator (demo mode,
/// tests) — the emulator itself, which serves its own covers.
pub fn image_origins(spotify_api_url: &url::Url) -> Vec<String> {
    if spotify_api_url.host_str() == Some("api.spotify.com") {
        vec!["https://i.scdn.co".to_owned()]
    } else {
        vec![origin_of(spotify_api_url)]
    }
}

/// The `Content-Security-Policy` of every response: our own scripts and styles only, images
/// from us and the Spotify image origins, the WebSocket to our origin, never framed.
pub fn content_security_policy(public_url: &url::Url, image_origins: &[String]) -> String {
    let host = public_url.host_str().unwrap_or("127.0.0.1");
    let host = match public_url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let ws = if public_url.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' {images}; \
         connect-src 'self' {ws}://{host}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        images = image_origins.join(" ")
    )
}

/// Security headers for every response (pages, assets, API, errors).
pub fn security_headers(core: &Core) -> actix_web::middleware::DefaultHeaders {
    let public_url = &core.public_url;
    let csp = content_security_policy(public_url, &image_origins(&core.spotify.config().api_url));
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add(("Content-Security-Policy", csp))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if public_url.scheme() == "https" {
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
    }
    headers
}

/// The limits and answers of every `web::Json` body: our JSON error shape, with the statuses
/// of [`crate::request::decode_json`] (which the one optional body, `POST /api/sessions`, still
/// uses: actix's `Option<Json<T>>` turns a malformed body into `None`, which would create a
/// session with defaults instead of refusing the typo).
pub fn json_config() -> web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    web::JsonConfig::default()
        .limit(crate::request::MAX_JSON_BODY)
        .error_handler(|err, _| {
            let error = match err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => {
                    ApiError::body_too_large(crate::request::MAX_JSON_BODY)
                }
                JsonPayloadError::ContentType => ApiError::client(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as Content-Type: application/json",
                ),
                other => {
                    ApiError::bad_request("invalid_json", format!("invalid JSON body: {other}"))
                }
            };
            error.into()
        })
}

/// See [`json_config`].
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_, _| ApiError::not_found("not_found", "no such resource").into())
}

/// See [`json_config`].
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
    })
}

/// A plain `HttpResponse` for an [`ApiError`] (for middleware).
pub fn error_response(error: &ApiError) -> HttpResponse {
    actix_web::ResponseError::error_response(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_are_not_logged() {
        assert_eq!(loggable_path("/j/AbCd1234"), "/j/…");
        assert_eq!(loggable_path("/api/invites/AbCd1234"), "/api/invites/…");
        assert_eq!(loggable_path("/api/join/AbCd1234"), "/api/join/…");
        assert_eq!(loggable_path("/api/join/AbCd1234/x"), "/api/join/…/x");
        assert_eq!(loggable_path("/d/AbCd1234/events"), "/d/…/events");
        assert_eq!(loggable_path("/tv/AbCd1234"), "/tv/…");
        assert_eq!(loggable_path("/overlay/AbCd1234"), "/overlay/…");
        assert_eq!(
            loggable_path("/api/sessions/1/displays/AbCd1234"),
            "/api/sessions/1/displays/…"
        );
        assert_eq!(
            loggable_path("/api/sessions/1/displays"),
            "/api/sessions/1/displays"
        );
        assert_eq!(
            loggable_path("/api/sessions/1/start"),
            "/api/sessions/1/start"
        );
        assert_eq!(loggable_path("/j/"), "/j/");
        for (route, alias) in SESSION_ALIASES {
            let path = alias
                .replace("{id}", "1")
                .replace("{invite_code}", "AbCd1234")
                .replace("{key}", "AbCd1234");
            assert!(!loggable_path(&path).contains("AbCd"), "{route} → {path}");
        }
    }

    #[test]
    fn each_id_less_route_moves_to_its_alias() {
        let id: sesh_session::SessionId = "6f7f9c4e-3d52-4a8e-9b7a-2f0c1f5e8d11".parse().unwrap();
        for (route, alias) in SESSION_ALIASES {
            let fill = |t: &str| {
                t.replace("{id}", &id.to_string())
                    .replace("{invite_code}", "AbCd1234")
                    .replace("{key}", "EfGh5678")
            };
            assert_eq!(alias_of(&fill(route), id), fill(alias), "{route}");
        }
    }
}
