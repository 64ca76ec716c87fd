//! The accounts service: `GET /authorize` (consent, auto-approve for scripts) and
//! `POST /api/token` (authorization-code and refresh-token grants), with Spotify's rules
//! for redirect URIs, PKCE and single-use codes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use crate::auth::{AuthCode, CODE_TTL_MS, RefreshFailure, pkce_matches};
use crate::errors::AccountsError;
use crate::server::ClientNote;
use crate::state::AppState;

/// Scopes Spotify knows; anything else is `invalid_scope`.
const SCOPES: &[&str] = &[
    "app-remote-control",
    "playlist-read-private",
    "playlist-read-collaborative",
    "playlist-modify-public",
    "playlist-modify-private",
    "user-library-read",
    "user-library-modify",
    "user-read-private",
    "user-read-email",
    "user-follow-read",
    "user-follow-modify",
    "user-top-read",
    "user-read-playback-position",
    "user-read-playback-state",
    "user-read-recently-played",
    "user-read-currently-playing",
    "user-modify-playback-state",
    "ugc-image-upload",
    "streaming",
    "user-read-birthdate",
    "user-personalized",
];

/// Spotify's rule since November 2025: HTTPS, or plain HTTP only to a loopback IP literal
/// (`localhost` is refused).
pub(crate) fn redirect_uri_allowed(uri: &str) -> Result<(), &'static str> {
    let url = Url::parse(uri).map_err(|_| "not a URL")?;
    let host = url.host_str().ok_or("no host")?;
    if host.eq_ignore_ascii_case("localhost") {
        return Err("localhost is not allowed, use a loopback IP literal");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
            if ip.is_some_and(|ip| ip.is_loopback()) {
                Ok(())
            } else {
                Err("http is only allowed for loopback addresses")
            }
        }
        // Custom schemes (mobile apps) are allowed by Spotify.
        _ => Ok(()),
    }
}

fn query_map(query: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn error_page(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><title>Error - Spotify</title></head>\
<body><h1>Oops! Something went wrong, please try again or check out our help area.</h1>\
<p id=\"error\">{}</p></body></html>",
            html_escape(message)
        ))
}

fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page("INVALID_CLIENT: Invalid redirect URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

/// `GET /authorize`.
pub(crate) async fn authorize(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = query_map(req.query_string());
    let get = |k: &str| params.get(k).map(String::as_str);
    let Some(app) = get("client_id").and_then(|id| state.config.app(id)) else {
        return error_page("INVALID_CLIENT: Invalid client");
    };
    req.extensions_mut().insert(ClientNote {
        client_id: Arc::from(app.client_id.as_str()),
        user_id: None,
    });
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page("INVALID_CLIENT: Invalid redirect URI");
    };
    if !app.redirect_uris.iter().any(|r| r == redirect_uri) {
        return error_page("INVALID_CLIENT: Invalid redirect URI");
    }
    if redirect_uri_allowed(redirect_uri).is_err() {
        return error_page("INVALID_CLIENT: Insecure redirect URI");
    }
    let state_param = get("state").unwrap_or("");
    let fail = |error: &str, description: Option<&str>| {
        let mut pairs = vec![("error", error)];
        if let Some(d) = description {
            pairs.push(("error_description", d));
        }
        if !state_param.is_empty() {
            pairs.push(("state", state_param));
        }
        redirect(redirect_uri, &pairs)
    };
    match get("response_type") {
        Some("code") => {}
        Some(_) => return fail("unsupported_response_type", None),
        None => return fail("invalid_request", Some("response_type must be code")),
    }
    let challenge = match (get("code_challenge_method"), get("code_challenge")) {
        (None, None) => None,
        (Some("S256"), Some(c))
            if (43..=128).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(c.to_owned())
        }
        (Some("S256"), _) => {
            return fail(
                "invalid_request",
                Some("code_challenge must be a base64url S256 challenge"),
            );
        }
        (Some(_), _) => {
            return fail(
                "invalid_request",
                Some("code_challenge_method must be S256"),
            );
        }
        (None, Some(_)) => {
            return fail("invalid_request", Some("code_challenge_method is required"));
        }
    };
    let scope = get("scope").unwrap_or("");
    let scopes: Vec<&str> = scope.split([' ', '+']).filter(|s| !s.is_empty()).collect();
    if scopes.iter().any(|s| !SCOPES.contains(s)) {
        return fail("invalid_scope", None);
    }
    if get("deny").is_some_and(|d| d == "1" || d == "true") {
        return fail("access_denied", None);
    }
    let Some(user_id) = get("user") else {
        return picker_page(&state, &params);
    };
    let Some(user) = state.users.get(user_id) else {
        return error_page("Unknown user");
    };
    let code = state.auth.write().issue_code(AuthCode {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        user_id: Arc::from(user.profile.id.as_str()),
        scope: Arc::from(scopes.join(" ")),
        challenge,
        expires_at_ms: state.clock.now_ms() + CODE_TTL_MS,
    });
    state.changed();
    tracing::debug!(client_id = %app.client_id, user = %user.profile.id, "authorization approved");
    let mut pairs = vec![("code", code.as_str())];
    if !state_param.is_empty() {
        pairs.push(("state", state_param));
    }
    redirect(redirect_uri, &pairs)
}

/// The consent page: one button per named user, and Cancel.
fn picker_page(state: &AppState, params: &HashMap<String, String>) -> HttpResponse {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k.as_str() != "user" && k.as_str() != "deny")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let buttons: String = state
        .users
        .named()
        .iter()
        .map(|u| {
            let plan = if u.profile.premium { "Premium" } else { "Free" };
            format!(
                "<li><button type=\"submit\" name=\"user\" value=\"{id}\">{name}</button> <small>{id} · {plan}</small></li>",
                id = html_escape(&u.profile.id),
                name = html_escape(&u.profile.display_name),
            )
        })
        .collect();
    let app = params.get("client_id").map(String::as_str).unwrap_or("");
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Log in - Spotify (emulator)</title>\
<style>body{{font-family:sans-serif;background:#121212;color:#fff;max-width:28rem;margin:3rem auto}}\
button{{background:#1db954;border:0;border-radius:2rem;padding:.6rem 1.4rem;font-weight:bold;margin:.3rem 0;cursor:pointer}}\
ul{{list-style:none;padding:0}}small{{color:#aaa}}</style></head><body>\
<h1>Spotify emulator</h1><p>App <code>{app}</code> wants to access your account. Log in as:</p>\
<form method=\"get\" action=\"/authorize\">{hidden}<ul>{buttons}</ul>\
<button type=\"submit\" name=\"deny\" value=\"1\">Cancel</button></form></body></html>",
        app = html_escape(app),
    ))
}

/// Client id and secret from `Authorization: Basic …` (each part form-decoded, RFC 6749 2.3.1).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    url::form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// `POST /api/token`.
pub(crate) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AccountsError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(AccountsError::invalid_request(
                "Unsupported content type, use application/x-www-form-urlencoded",
            ));
        }
    }
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|_| AccountsError::invalid_request("Malformed form body"))?
            .into_iter()
            .collect();
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());

    // Client authentication: Basic header, or client_id + client_secret in the body
    // (confidential), or client_id alone (public, PKCE).
    let (client_id, secret) = match basic_credentials(req.headers()) {
        Some((id, secret)) => (id, Some(secret)),
        None => match get("client_id") {
            Some(id) => (id.to_owned(), get("client_secret").map(str::to_owned)),
            None => return Err(AccountsError::invalid_client("Invalid client")),
        },
    };
    let app = state
        .config
        .app(&client_id)
        .ok_or_else(|| AccountsError::invalid_client("Invalid client"))?;
    req.extensions_mut().insert(ClientNote {
        client_id: Arc::from(client_id.as_str()),
        user_id: None,
    });
    let authenticated = match secret {
        Some(secret) if secret == app.client_secret => true,
        Some(_) => return Err(AccountsError::invalid_client("Invalid client secret")),
        None => false,
    };
    let now = state.clock.now_ms();
    let ttl = state.token_ttl_ms();
    // Code exchanges and refreshes change the credentials, even when they fail.
    let _changed = state.change_on_drop();

    let (issued, user_id) = match get("grant_type") {
        None => {
            return Err(AccountsError::new(
                "unsupported_grant_type",
                "grant_type parameter is missing",
            ));
        }
        Some("authorization_code") => {
            let code = get("code")
                .ok_or_else(|| AccountsError::invalid_request("code must be supplied"))?;
            let redirect_uri = get("redirect_uri")
                .ok_or_else(|| AccountsError::invalid_request("redirect_uri must be supplied"))?;
            let grant = state
                .auth
                .write()
                .take_code(code)
                .filter(|c| c.client_id == app.client_id)
                .ok_or_else(|| AccountsError::invalid_grant("Invalid authorization code"))?;
            if now >= grant.expires_at_ms {
                return Err(AccountsError::invalid_grant("Authorization code expired"));
            }
            if grant.redirect_uri != redirect_uri {
                return Err(AccountsError::invalid_grant("Invalid redirect URI"));
            }
            match (&grant.challenge, get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if !pkce_matches(verifier, challenge) {
                        return Err(AccountsError::invalid_grant("code_verifier was incorrect"));
                    }
                }
                (Some(_), None) => {
                    return Err(AccountsError::invalid_request("code_verifier required"));
                }
                (None, _) if !authenticated => {
                    return Err(AccountsError::invalid_client("Invalid client"));
                }
                (None, _) => {}
            }
            let issued = state.auth.write().issue_pair(
                &app.client_id,
                Arc::clone(&grant.user_id),
                Arc::clone(&grant.scope),
                !authenticated,
                now,
                ttl,
            );
            (issued, grant.user_id)
        }
        Some("refresh_token") => {
            let token = get("refresh_token")
                .ok_or_else(|| AccountsError::invalid_request("refresh_token must be supplied"))?;
            let mut auth = state.auth.write();
            if !authenticated && auth.refresh_is_public(token) == Some(false) {
                return Err(AccountsError::invalid_client("Invalid client secret"));
            }
            let user_id = auth.refresh_user(token);
            let issued = auth
                .refresh(token, &app.client_id, now, ttl)
                .map_err(|f| match f {
                    RefreshFailure::Expired => {
                        AccountsError::invalid_grant("Refresh token revoked")
                    }
                    RefreshFailure::Unknown | RefreshFailure::WrongClient => {
                        AccountsError::invalid_grant("Invalid refresh token")
                    }
                })?;
            (issued, user_id.unwrap_or_else(|| Arc::from("")))
        }
        Some("client_credentials") if authenticated => {
            return Err(AccountsError::new(
                "unauthorized_client",
                "client_credentials is not supported by the emulator",
            ));
        }
        Some(_) => {
            return Err(AccountsError::new(
                "unsupported_grant_type",
                "grant_type must be client_credentials, authorization_code or refresh_token",
            ));
        }
    };
    req.extensions_mut().insert(ClientNote {
        client_id: Arc::from(client_id.as_str()),
        user_id: Some(user_id),
    });
    let mut answer = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": state.config.token_ttl.as_secs(),
        "scope": &*issued.scope,
    });
    if let Some(refresh) = issued.refresh_token {
        answer["refresh_token"] = serde_json::Value::String(refresh);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules_follow_spotify() {
        assert!(redirect_uri_allowed("https://sesh.example/callback").is_ok());
        assert!(redirect_uri_allowed("http://127.0.0.1:8080/callback").is_ok());
        assert!(redirect_uri_allowed("http://[::1]:8080/callback").is_ok());
        assert!(redirect_uri_allowed("http://localhost:8080/callback").is_err());
        assert!(redirect_uri_allowed("https://localhost/callback").is_err());
        assert!(redirect_uri_allowed("http://sesh.example/callback").is_err());
        assert!(redirect_uri_allowed("http://192.168.1.2/callback").is_err());
    }
}
