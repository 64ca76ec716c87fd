//! `GET /api/openapi.json`: the HTTP API as an OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` attributes and the wire types' schemas (so it cannot drift from
//! the code without a test failing: every route `configure` registers must be in it).

use std::sync::OnceLock;

use actix_web::{HttpResponse, http::header};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};

use super::{
    api, auth, chat, displays, health, listen, pages, player, playlist, queue, recap, search,
    seats, ws,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sesh",
        description = "Self-hosted listening sessions for Spotify. Errors are `{\"error\": {\"code\", \"message\", \"retry_after_s\"?}}`; the codes each operation can answer are in its responses. The live protocol is in docs/websocket.md.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        health::healthz,
        pages::index,
        pages::join_page,
        pages::session_page,
        pages::recap_page,
        pages::tv_page,
        pages::overlay_page,
        pages::asset,
        auth::login,
        auth::callback,
        auth::logout,
        auth::logout_everywhere,
        ws::connect,
        api::config,
        api::me,
        api::login_status,
        api::devices,
        api::my_sessions,
        api::create_session,
        api::get_session,
        api::members,
        api::queue,
        recap::recap,
        recap::download,
        playlist::save,
        api::leave,
        api::kick,
        api::unban,
        api::set_role,
        api::hand_over,
        api::hand_over_session,
        api::end,
        api::rotate_invite,
        api::rename,
        player::start,
        listen::listen,
        listen::unlisten,
        player::player,
        player::seek,
        player::volume,
        player::repeat,
        player::transfer,
        queue::add,
        queue::remove,
        queue::ban,
        queue::vote,
        queue::skip_vote,
        queue::settings,
        api::qr,
        displays::create,
        displays::list,
        displays::revoke,
        displays::events,
        displays::now_playing_json,
        displays::now_playing_text,
        displays::qr,
        search::search,
        chat::post,
        chat::page,
        chat::delete,
        chat::react,
        chat::react_track,
        chat::mute,
        api::join,
        seats::spectate,
        api::invite_preview,
        seats::list,
        seats::free,
        openapi_json,
    ),
    components(schemas(player::SimpleCommand)),
    modifiers(&LoginCookie, &SessionAliases),
    tags(
        (name = "sessions", description = "Creating, viewing and running sessions"),
        (name = "player", description = "The host's Spotify player"),
        (name = "queue", description = "The collaborative queue: adding, votes, skip votes"),
        (name = "chat", description = "The session's chat: messages, reactions, moderation"),
        (name = "invites", description = "Invite links, and joining with one (as a member or a spectator)"),
        (name = "admin", description = "The instance's owner: the app's Spotify seats"),
        (name = "login", description = "The Spotify login"),
        (name = "me", description = "The caller"),
        (name = "live", description = "The WebSocket"),
        (name = "displays", description = "Read-only displays: the host's keys, the Server-Sent Events stream, now playing for tools (docs/displays.md)"),
        (name = "pages", description = "The web app"),
        (name = "meta", description = "Health, configuration and this document"),
    ),
)]
pub struct ApiDoc;

/// The `sesh_sid` login cookie (`__Host-sesh_sid` over https) as a security scheme.
struct LoginCookie;

impl Modify for LoginCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "login_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sesh_sid",
                "Set by /auth/callback; `__Host-sesh_sid` when the server's public URL is https. \
                 State-changing requests also need an `Origin` (or `Referer`) of this site.",
            ))),
        );
    }
}

/// The id-bearing alias of each route bound to a session by an invite code or a display key
/// ([`super::SESSION_ALIASES`]): the same operation with the session id first among its
/// parameters, and on the id-less route the 307 that leads there.
struct SessionAliases;

impl Modify for SessionAliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            Object, Type,
            header::Header,
            path::{ParameterBuilder, ParameterIn},
            response::Response,
        };
        let paths = &mut openapi.paths.paths;
        for (route, alias) in super::SESSION_ALIASES {
            let Some(item) = paths.get_mut(route) else {
                continue;
            };
            let mut aliased = item.clone();
            let moved = Response::builder()
                .description(
                    "`session_moved`: another instance runs the session (several instances on \
                     PostgreSQL): `Location` is this operation's id-bearing alias, where Nginx \
                     sends it (docs/cluster.md)",
                )
                .header("Location", Header::default())
                .build();
            for operation in operations(item) {
                operation
                    .responses
                    .responses
                    .insert("307".to_owned(), moved.clone().into());
            }
            for operation in operations(&mut aliased) {
                operation.operation_id = operation
                    .operation_id
                    .take()
                    .map(|id| format!("{id}_at_session"));
                operation.summary = operation
                    .summary
                    .take()
                    .map(|s| format!("{s} (at the session's id)"));
                let id = ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(utoipa::openapi::Required::True)
                    .description(Some(
                        "Session id (a UUID): the session the code or key opens",
                    ))
                    .schema(Some(Object::with_type(Type::String)))
                    .build();
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .insert(0, id);
            }
            paths.insert(alias.to_owned(), aliased);
        }
    }
}

/// The operations of a path (the aliased routes answer GET, HEAD or POST).
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<&mut utoipa::openapi::path::Operation> {
    [&mut item.get, &mut item.post, &mut item.head]
        .into_iter()
        .flatten()
        .collect()
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(METHOD, path)` of every route `routes::configure` registers, read from its source:
    /// a route added there without a `#[utoipa::path]` in [`ApiDoc`] fails the test below.
    fn registered() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let configure = &source[source.find("pub fn configure").unwrap()..];
        let configure = &configure[..configure.find("\n}\n").unwrap()];
        let scope = configure.find("web::scope(\"/api\")").unwrap();
        let mut routes = BTreeSet::new();
        let mut rest = configure;
        while let Some(at) = rest.find(".route(") {
            let offset = configure.len() - rest.len() + at;
            let call = &rest[at + ".route(".len()..];
            let open = call.find('"').unwrap();
            let close = open + 1 + call[open + 1..].find('"').unwrap();
            let mut path = call[open + 1..close].to_owned();
            // `{path:.*}` is `{path}` in OpenAPI.
            if let Some(colon) = path.find(':') {
                let end = path[colon..].find('}').unwrap() + colon;
                path.replace_range(colon..end, "");
            }
            if offset > scope {
                path = format!("/api{path}");
            }
            let handler = &call[close..call.find(".to(").unwrap()];
            let method = if handler.contains("post()") {
                "POST"
            } else if handler.contains("delete()") {
                "DELETE"
            } else if handler.contains("patch()") {
                "PATCH"
            } else {
                "GET"
            };
            routes.insert((method.to_owned(), path));
            rest = &call[close..];
        }
        routes
    }

    #[test]
    fn every_registered_route_is_in_the_document_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let registered = registered();
        assert!(registered.len() >= 28, "{registered:?}");
        let missing: Vec<_> = registered.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "registered but not documented: {missing:?}"
        );
        let extra: Vec<_> = documented.difference(&registered).collect();
        assert!(extra.is_empty(), "documented but not registered: {extra:?}");
    }

    #[test]
    fn every_operation_documents_its_errors_with_the_error_object() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let has_error_body =
                            response["content"]["application/json"]["schema"]["$ref"]
                                .as_str()
                                .is_some_and(|r| r.ends_with("/ErrorBody"));
                        let is_page = response["content"]["text/html"].is_object();
                        assert!(has_error_body || is_page, "{method} {path} {status}");
                        let description = response["description"].as_str().unwrap();
                        assert!(
                            description.contains('`') || is_page,
                            "{method} {path} {status}: name the codes"
                        );
                    }
                }
            }
        }
    }

    /// Tools that follow the document by operation id (API fuzzers, client generators) need
    /// each to name one operation: two handlers with one function name (`qr`) would share it.
    #[test]
    fn operation_ids_are_unique() {
        let document: serde_json::Value = serde_json::from_str(document()).unwrap();
        let mut seen = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    !id.is_empty() && seen.insert(id.to_owned()),
                    "{method} {path}: operation id {id:?} is missing or taken"
                );
            }
        }
    }
}
