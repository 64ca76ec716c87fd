//! Starting and stopping the HTTP server, the route table, and the gate every Spotify-facing
//! request passes: request log, injected faults, per-app rate limit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, NormalizePath, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, ResponseError, web};
use tokio::task::JoinHandle;

use crate::auth::AccessLookup;
use crate::clock::wall_ms;
use crate::config::EmulatorConfig;
use crate::errors::{AccountsError, ApiError, known_reason};
use crate::faults::Fault;
use crate::persist::StateWriter;
use crate::request_log::LoggedRequest;
use crate::state::AppState;
use crate::{accounts, control, dev_mode, web_api};

/// Which app (and user) a request was made for, noted by whoever first knows it so the
/// request log can attribute it.
#[derive(Debug, Clone)]
pub(crate) struct ClientNote {
    pub client_id: Arc<str>,
    pub user_id: Option<Arc<str>>,
}

/// The emulator. See the crate docs.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen` and starts serving; returns once the socket listens.
    /// Must be called within a Tokio runtime (the server task is spawned on it).
    pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        for app in &config.apps {
            for uri in &app.redirect_uris {
                if let Err(why) = accounts::redirect_uri_allowed(uri) {
                    tracing::warn!(client_id = %app.client_id, %uri, "registered redirect URI will be refused: {why}");
                }
            }
        }
        if let Some(users) = &config.dev_mode_users
            && users.len() > dev_mode::MAX_USERS
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "development mode allow-lists at most {} users, not {}",
                    dev_mode::MAX_USERS,
                    users.len()
                ),
            ));
        }
        let listener = std::net::TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let host = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        let base_url = format!("http://{}", SocketAddr::new(host, addr.port()));
        let workers = config.workers.max(1);
        let control_api = config.control_api;
        let state = web::Data::new(AppState::new(config, base_url.clone()));
        // Restore before the first request can see the fresh world.
        if let Some(persist) = &state.persist {
            persist.load(&state);
        }
        let writer = StateWriter::spawn(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| ApiError::not_found("Resource not found").into()),
                )
                .configure(|cfg| routes(cfg, control_api))
                .default_service(web::to(not_found))
                .wrap(from_fn(gate))
                .wrap(NormalizePath::trim())
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let server_handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(%base_url, control_api, "Spotify emulator listening");
        Ok(EmulatorHandle {
            base_url,
            addr,
            server: server_handle,
            task: Some(task),
            writer,
        })
    }
}

/// A running emulator. Dropping it stops the server (and saves the state file, as
/// [`EmulatorHandle::stop`] does).
#[derive(Debug)]
pub struct EmulatorHandle {
    base_url: String,
    addr: SocketAddr,
    server: ServerHandle,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Saves the state file, when there is one.
    writer: Option<StateWriter>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`: accounts endpoints at the root (`/authorize`, `/api/token`),
    /// the Web API under `/v1`, the control API under `/_emulator`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server without waiting for it (open connections are dropped). With a
    /// state file, pending changes are saved before this returns.
    pub fn stop(mut self) {
        self.signal_stop();
    }

    /// Stops the server and waits until it has stopped and, with a state file, until the
    /// final state is saved.
    pub async fn shutdown(mut self) {
        let stopped = self.server.stop(false);
        stopped.await;
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "emulator server task failed");
        }
        if let Some(writer) = self.writer.take() {
            writer.finish().await;
        }
    }

    fn signal_stop(&mut self) {
        if self.task.take().is_some() {
            // The stop command is sent when `stop` is called; awaiting only waits for it.
            drop(self.server.stop(false));
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.stop_now();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// A resource whose other methods answer 405 in Spotify's error shape.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

fn routes(cfg: &mut web::ServiceConfig, control_api: bool) {
    cfg.service(resource("/authorize").route(web::get().to(accounts::authorize)))
        .service(resource("/api/token").route(web::post().to(accounts::token)))
        .service(resource("/_img/album/{id}/{size}").route(web::get().to(web_api::album_image)))
        .service(resource("/_img/user/{id}").route(web::get().to(web_api::user_image)));
    web_api::routes(cfg);
    if control_api {
        control::routes(cfg);
    }
}

async fn not_found() -> HttpResponse {
    ApiError::service_not_found().error_response()
}

async fn method_not_allowed() -> HttpResponse {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").error_response()
}

/// Whether a path is part of the emulated Spotify (logged, faultable) rather than the
/// emulator's own extras (control API, images).
fn is_spotify_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/") || path == "/api/token" || path == "/authorize"
}

/// The gate in front of every request: logs Spotify-facing ones, fires injected faults and
/// enforces the per-app rate limit before the handler runs.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_owned();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if !is_spotify_path(&path) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let at_ms = wall_ms();
    let method = req.method().as_str().to_owned();
    let is_web_api = path.starts_with("/v1");
    let query = if is_web_api {
        req.query_string().to_owned()
    } else {
        String::new()
    };

    // Who is calling: a valid bearer token names app and user; Basic auth names the app.
    let mut note = None;
    if let Some(token) = bearer_token(req.headers().get(header::AUTHORIZATION)) {
        if let AccessLookup::Valid(grant) = state.auth.read().access(token, state.clock.now_ms()) {
            note = Some(ClientNote {
                client_id: Arc::clone(&grant.client_id),
                user_id: Some(Arc::clone(&grant.user_id)),
            });
        }
    } else if let Some((client_id, _)) = accounts::basic_credentials(req.headers()) {
        note = Some(ClientNote {
            client_id: Arc::from(client_id),
            user_id: None,
        });
    }
    if let Some(note) = &note {
        req.extensions_mut().insert(note.clone());
    }

    let response = if let Some(fault) = state.faults.take(&method, &path) {
        if let Some(delay) = fault.delay_ms.filter(|&ms| ms > 0) {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        match fault.status.and_then(|s| StatusCode::from_u16(s).ok()) {
            Some(status) => req.into_response(fault_response(&fault, status, is_web_api)),
            None => next.call(req).await?.map_into_boxed_body(),
        }
    } else if let Some(Err(retry_after)) = note
        .as_ref()
        .filter(|_| is_web_api)
        .map(|n| state.limiter.check(&n.client_id, at_ms))
    {
        req.into_response(ApiError::rate_limited(retry_after).error_response())
    } else {
        next.call(req).await?.map_into_boxed_body()
    };

    // Handlers that learn the app later (PKCE token requests) note it themselves.
    let note = response
        .request()
        .extensions()
        .get::<ClientNote>()
        .cloned()
        .or(note);
    state.log.record(LoggedRequest {
        at_ms,
        method,
        path,
        query,
        client_id: note.as_ref().map(|n| n.client_id.to_string()),
        user_id: note.and_then(|n| n.user_id).map(|u| u.to_string()),
        status: response.status().as_u16(),
    });
    Ok(response)
}

/// The answer an injected fault gives, in the shape the endpoint would use.
fn fault_response(fault: &Fault, status: StatusCode, is_web_api: bool) -> HttpResponse {
    let mut response = if is_web_api {
        let message = match status.as_u16() {
            401 => "The access token expired",
            429 => "API rate limit exceeded",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        let mut error = ApiError::new(status, message);
        error.reason = fault.reason.as_deref().and_then(known_reason);
        error.error_response()
    } else {
        let (code, description) = match status.as_u16() {
            400 => ("invalid_grant", "Invalid refresh token"),
            401 => ("invalid_client", "Invalid client"),
            429 => ("temporarily_unavailable", "Too many requests"),
            _ => ("server_error", "Server error"),
        };
        let mut error = AccountsError::new(code, description);
        error.status = status;
        error.error_response()
    };
    if let Some(seconds) = fault.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer_token(value: Option<&HeaderValue>) -> Option<&str> {
    let value = value?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
