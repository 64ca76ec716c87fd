//! The Spotify login dance: `/auth/login` → Spotify → `/auth/callback` → cookie; and logout
//! (of this browser, or everywhere).
//!
//! A login is bound to the browser that started it (RFC 9700 §4.7, login CSRF): `/auth/login`
//! sets a one-time cookie whose hash is stored with the OAuth state, and the callback must
//! bring it back. Someone who stops at their own callback URL and sends it to a victim logs
//! nobody in. Both routes are anonymous, so they are rate-limited per client address, and the
//! number of pending authorizations is capped.

use std::time::Duration;

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time},
    http::header,
    web,
};
use serde::Deserialize;
use sesh_session::UserId;

use crate::{
    app::AppState,
    cluster::bus::close_sockets,
    crypto::{opaque_token, sha256_hex},
    db::OAuthTake,
    error::{ApiError, ErrorBody},
    request::{CurrentUser, client_ip, cookie_name, login_cookie_name, safe_next},
    top_tracks,
};

/// How long a pending authorization may take.
const STATE_TTL: Duration = Duration::from_secs(600);
/// How long a login lasts at most (an unused one ends sooner: `SESH_LOGIN_IDLE_TIMEOUT`).
pub const LOGIN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most authorizations pending at once (all clients together); more logins wait.
const MAX_PENDING_LOGINS: u64 = 10_000;
/// What a login refused for [`MAX_PENDING_LOGINS`] is told to wait.
const PENDING_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The browser's login-binding value: the one it already holds (so logins started in two
/// tabs both complete), or a new one.
fn browser_nonce(req: &HttpRequest, name: &str) -> String {
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(opaque_token)
}

/// A cookie of ours with the attributes every one has (`HttpOnly`, `SameSite=Lax`, path `/`,
/// `Secure` over https).
fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.core.public_url.scheme() == "https")
        .finish()
}

/// A login's cookie named `name` (the login's or a spectator's), lasting [`LOGIN_TTL`].
pub(super) fn login_cookie<'a>(state: &AppState, name: &'a str, sid: String) -> Cookie<'a> {
    let mut login = cookie(state, name, sid);
    login.set_max_age(time::Duration::seconds(LOGIN_TTL.as_secs() as i64));
    login
}

fn removal<'a>(state: &AppState, name: &'a str) -> Cookie<'a> {
    let mut cookie = cookie(state, name, String::new());
    cookie.make_removal();
    cookie
}

/// The callback's `error` parameter as it may be logged: RFC 6749's codes are short
/// `snake_case` words; anything else is someone's text and is not written to our log.
fn loggable_oauth_error(error: &str) -> &str {
    if !error.is_empty()
        && error.len() <= 40
        && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        error
    } else {
        "unrecognized"
    }
}

/// `?next=/path&consent=playlist`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Ask Spotify for more than the login needs: `playlist` (create private playlists, for
    /// saving a session's tracks). Asked for only when the user first needs it.
    consent: Option<String>,
}

/// `GET /auth/login?next=/path` → 302 to Spotify's authorize page, with the login-binding
/// cookie set.
#[tracing::instrument(skip_all)]
#[utoipa::path(
    get,
    path = "/auth/login",
    tag = "login",
    summary = "Start the Spotify login",
    params(
        ("next" = Option<String>, Query, description = "A path on this site to return to"),
        ("consent" = Option<String>, Query, description = "`playlist`: also ask for permission to create private playlists"),
    ),
    responses(
        (status = 302, description = "To Spotify's authorize page; sets the one-time `sesh_login` cookie"),
        (status = 400, description = "`invalid_next`, `invalid_consent`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: `SESH_LOGIN_RATE`, or too many pending logins", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    state
        .core
        .limits
        .check_login(client_ip(&req, &state.trusted_proxies))?;
    let next = match query.next.as_deref() {
        None | Some("") => "/".to_owned(),
        Some(next) if safe_next(next) => next.to_owned(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_next",
                "next must be a path on this site, like /j/CODE",
            ));
        }
    };
    let extra: &[&str] = match query.consent.as_deref() {
        None | Some("") => &[],
        Some("playlist") => &[sesh_spotify::PLAYLIST_MODIFY_PRIVATE],
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_consent",
                "consent must be `playlist`",
            ));
        }
    };
    let db = &state.core.db;
    if db.pending_oauth_states().await? >= MAX_PENDING_LOGINS {
        tracing::warn!("too many logins in progress; refusing new ones for a while");
        return Err(ApiError::RateLimited {
            message: "too many logins are in progress; try again in a minute".into(),
            retry_after: PENDING_RETRY_AFTER,
        });
    }
    let name = login_cookie_name(&state.core.public_url);
    let nonce = browser_nonce(&req, name);
    let request = state.core.spotify.authorize_url_with_scopes(extra);
    db.save_oauth_state(
        &sha256_hex(&request.state),
        &sha256_hex(&nonce),
        &request.pkce_verifier,
        &next,
        STATE_TTL,
    )
    .await?;
    let mut binding = cookie(&state, name, nonce);
    binding.set_max_age(time::Duration::seconds(STATE_TTL.as_secs() as i64));
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, request.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(binding)
        .finish())
}

/// `?code&state` (or `?error&state` when the user declined).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback` → exchanges the code, stores the user, sets the login cookie, 302 to
/// `next`; only in the browser that started the login.
#[tracing::instrument(skip_all)]
#[utoipa::path(
    get,
    path = "/auth/callback",
    tag = "login",
    summary = "Finish the Spotify login (in the browser that started it)",
    params(("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses(
        (status = 302, description = "Logged in: the `sesh_sid` cookie, to `next`. Or nothing stored, to `next` with `login=not_registered` (the account is not on the app's development-mode allow-list), `login=no_seats` (every `SESH_SPOTIFY_SEATS` seat is taken) or `login=expired` (Spotify refused the fresh token: log in again)"),
        (status = 400, description = "An HTML page: incomplete, expired, reused or foreign login, or declined", content_type = "text/html", body = String),
        (status = 429, description = "`rate_limited`: `SESH_LOGIN_RATE`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable`, `unavailable`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    state
        .core
        .limits
        .check_login(client_ip(&req, &state.trusted_proxies))?;
    let Some(oauth_state) = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
    else {
        return Ok(login_failed("The login link is incomplete."));
    };
    let binding_name = login_cookie_name(&state.core.public_url);
    let browser = req.cookie(binding_name).map(|c| sha256_hex(c.value()));
    let pending = match state
        .core
        .db
        .take_oauth_state(&sha256_hex(oauth_state), browser.as_deref())
        .await?
    {
        OAuthTake::Taken(pending) => pending,
        OAuthTake::Missing => {
            return Ok(login_failed(
                "This login link has expired or was already used.",
            ));
        }
        OAuthTake::OtherBrowser => {
            tracing::warn!("a login callback came back to a browser that did not start it");
            return Ok(login_failed(
                "This login was started in another browser. Start it again here.",
            ));
        }
    };
    if let Some(error) = &query.error {
        tracing::info!(
            error = loggable_oauth_error(error),
            "Spotify login declined"
        );
        return Ok(login_failed("Spotify did not grant access."));
    }
    let Some(code) = query.code.as_deref() else {
        return Ok(login_failed("Spotify sent no authorization code."));
    };
    let core = &state.core;
    let tokens = match core
        .spotify
        .exchange_code(code, &pending.pkce_verifier)
        .await
    {
        Ok(tokens) => tokens,
        // A forged, reused or expired code: the user can only start over.
        Err(sesh_spotify::SpotifyError::OAuth { error, .. }) => {
            tracing::info!(
                error = loggable_oauth_error(&error),
                "code exchange refused"
            );
            return Ok(login_failed(
                "Spotify did not accept this login; please try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let auth = sesh_spotify::UserAuth::new(tokens.clone());
    let profile = match core.spotify.me(&auth).await {
        Ok(profile) => profile,
        // The app is in development mode and its owner has not listed this account: nothing
        // is stored, and the page explains it and offers to spectate.
        Err(sesh_spotify::SpotifyError::NotRegistered { .. }) => {
            tracing::info!("login of a Spotify user not on the app's allow-list");
            return Ok(not_seated(
                &state,
                &pending.next_path,
                "not_registered",
                binding_name,
            ));
        }
        // A token refused at once: log in again (never the allow-list's message).
        Err(
            sesh_spotify::SpotifyError::Unauthorized { .. }
            | sesh_spotify::SpotifyError::ReauthRequired,
        ) => {
            return Ok(not_seated(
                &state,
                &pending.next_path,
                "expired",
                binding_name,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let user = UserId::new(profile.id.clone());
    let display_name = profile
        .display_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| profile.id.clone());
    let seated = core
        .accounts
        .logged_in(&user, &display_name, tokens, core.config.spotify_seats)
        .await?;
    if seated.is_none() {
        tracing::info!(user = %user, seats = core.config.spotify_seats, "login refused: every Spotify seat is taken");
        return Ok(not_seated(
            &state,
            &pending.next_path,
            "no_seats",
            binding_name,
        ));
    }
    top_tracks::prefetch(core, &user);

    let sid = opaque_token();
    core.db
        .create_login(&sha256_hex(&sid), &user, LOGIN_TTL)
        .await?;
    tracing::info!(user = %user, "logged in");
    let login = login_cookie(&state, cookie_name(&core.public_url), sid);
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, pending.next_path))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(login)
        .cookie(removal(&state, binding_name))
        .finish())
}

/// A login that stored nothing because Sesh cannot serve this Spotify account (`why`:
/// `not_registered`, `no_seats`, `expired`): back to the page it started from, which explains
/// and offers to join as a spectator.
fn not_seated(state: &AppState, next: &str, why: &str, binding_name: &str) -> HttpResponse {
    let separator = if next.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{next}{separator}login={why}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(removal(state, binding_name))
        .finish()
}

fn login_failed(reason: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Login failed · Sesh</title>\
         <h1>Login failed</h1><p>{}</p><p><a href=\"/auth/login\">Try again</a></p></html>",
        html_escape(reason)
    );
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `POST /auth/logout` → forgets this browser's login, closes its sockets, clears the cookie;
/// 204.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "login",
    summary = "Log this browser out (its sockets close with 4003)",
    responses(
        (status = 204, description = "Logged out; cookie cleared"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state.core.db.delete_login(&user.login_hash).await?;
    let closed = close_sockets(
        &state.core,
        state.bus.as_deref(),
        &user.id,
        Some(&user.login_hash),
    )
    .await;
    tracing::info!(user = %user.id, sockets = closed, "logged out");
    Ok(logged_out(&state))
}

/// `POST /auth/logout-everywhere` → forgets every login of the user (all browsers), closes all
/// their sockets, clears this browser's cookie; 204.
#[utoipa::path(
    post,
    path = "/auth/logout-everywhere",
    tag = "login",
    summary = "End every login of the user (all their sockets close with 4003)",
    responses(
        (status = 204, description = "Logged out everywhere; cookie cleared"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn logout_everywhere(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let logins = state.core.db.delete_logins_of(&user.id).await?;
    let closed = close_sockets(&state.core, state.bus.as_deref(), &user.id, None).await;
    tracing::info!(user = %user.id, logins, sockets = closed, "logged out everywhere");
    Ok(logged_out(&state))
}

/// 204 clearing the login cookie and a spectator's (a spectator's login ends the same way).
fn logged_out(state: &AppState) -> HttpResponse {
    HttpResponse::NoContent()
        .cookie(removal(state, cookie_name(&state.core.public_url)))
        .cookie(removal(
            state,
            crate::request::spectator_cookie_name(&state.core.public_url),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_oauth_error_codes_are_logged() {
        assert_eq!(loggable_oauth_error("access_denied"), "access_denied");
        assert_eq!(
            loggable_oauth_error("x\n2026-12-03T00:00:00Z INFO admin logged in"),
            "unrecognized"
        );
        assert_eq!(loggable_oauth_error("Access Denied"), "unrecognized");
        assert_eq!(loggable_oauth_error(""), "unrecognized");
    }
}
