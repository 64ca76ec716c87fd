//! The Spotify login dance: `/auth/login` → Spotify → `/auth/callback` → cookie; and logout.

use std::time::Duration;

use actix_web::{
    HttpResponse,
    cookie::{Cookie, SameSite, time},
    http::header,
    web,
};
use serde::Deserialize;
use sesh_session::UserId;

use crate::{
    crypto::{opaque_token, sha256_hex},
    error::ApiError,
    request::{CurrentUser, cookie_name, safe_next},
    state::AppState,
    top_tracks,
};

/// How long a pending authorization may take.
const STATE_TTL: Duration = Duration::from_secs(600);
/// How long a login lasts.
const LOGIN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// `?next=/path`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /auth/login?next=/path` → 302 to Spotify's authorize page.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
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
    let request = state.core.spotify.authorize_url();
    state
        .core
        .db
        .save_oauth_state(
            &sha256_hex(&request.state),
            &request.pkce_verifier,
            &next,
            STATE_TTL,
        )
        .await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, request.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `?code&state` (or `?error&state` when the user declined).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback` → exchanges the code, stores the user, sets the login cookie, 302 to `next`.
#[tracing::instrument(skip_all)]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(oauth_state) = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
    else {
        return Ok(login_failed("The login link is incomplete."));
    };
    let Some(pending) = state
        .core
        .db
        .take_oauth_state(&sha256_hex(oauth_state))
        .await?
    else {
        return Ok(login_failed(
            "This login link has expired or was already used.",
        ));
    };
    if let Some(error) = &query.error {
        tracing::info!(error = %error, "Spotify login declined");
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
            tracing::info!(error = %error, "code exchange refused");
            return Ok(login_failed(
                "Spotify did not accept this login; please try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let auth = sesh_spotify::UserAuth::new(tokens.clone());
    let profile = core.spotify.me(&auth).await?;
    let user = UserId::new(profile.id.clone());
    let display_name = profile
        .display_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| profile.id.clone());
    core.db.upsert_user(&user, &display_name, &tokens).await?;
    core.accounts.install(&user, tokens);
    top_tracks::prefetch(core, &user);

    let sid = opaque_token();
    core.db
        .create_login(&sha256_hex(&sid), &user, LOGIN_TTL)
        .await?;
    tracing::info!(user = %user, "logged in");
    let cookie = Cookie::build(cookie_name(&core.public_url), sid)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(core.public_url.scheme() == "https")
        .max_age(time::Duration::seconds(LOGIN_TTL.as_secs() as i64))
        .finish();
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, pending.next_path))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
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

/// `POST /auth/logout` → forgets the login, clears the cookie; 204.
pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state.core.db.delete_login(&user.login_hash).await?;
    let mut cookie = Cookie::build(cookie_name(&state.core.public_url), "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.core.public_url.scheme() == "https")
        .finish();
    cookie.make_removal();
    Ok(HttpResponse::NoContent().cookie(cookie).finish())
}
