//! The playlist endpoints: create (`POST /me/playlists`), read (`GET /playlists/{id}`,
//! `GET /playlists/{id}/items`) and add items (`POST /playlists/{id}/items`), with Spotify's
//! scope, ownership and size rules; and the removed `/playlists/{id}/tracks`, which answers
//! 403 to every method as Spotify has since its 2026 change.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::player::parse_body;
use super::{Authed, int_param, json_created, json_ok, params};
use crate::catalog::TrackIdx;
use crate::errors::ApiError;
use crate::ids::is_base62_id;
use crate::playlists::{MAX_URIS_PER_CALL, NewPlaylist, Playlist, PlaylistError};
use crate::state::AppState;

pub(super) const MODIFY_PUBLIC: &str = "playlist-modify-public";
pub(super) const MODIFY_PRIVATE: &str = "playlist-modify-private";
const READ_PRIVATE: &str = "playlist-read-private";

/// Spotify's answer to the removed `/tracks` routes, as clients saw it after March 2026.
const TRACKS_REMOVED: &str = "Forbidden";

impl Authed {
    /// Passes when the token has every one of `scopes`.
    fn require_all(&self, scopes: &[&str]) -> Result<(), ApiError> {
        scopes
            .iter()
            .try_for_each(|scope| self.require_any(&[scope]))
    }

    /// The scopes changing a playlist of this visibility needs: Spotify asks for
    /// `playlist-modify-public` for public ones, `playlist-modify-private` for private ones,
    /// and both to make a collaborative one.
    fn require_modify(&self, public: bool, collaborative: bool) -> Result<(), ApiError> {
        match (public, collaborative) {
            (_, true) => self.require_all(&[MODIFY_PRIVATE, MODIFY_PUBLIC]),
            (true, false) => self.require_any(&[MODIFY_PUBLIC]),
            (false, false) => self.require_any(&[MODIFY_PRIVATE]),
        }
    }
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
    description: Option<String>,
    public: Option<bool>,
    collaborative: Option<bool>,
}

/// `POST /me/playlists`: 201 with the new, empty playlist.
pub(super) async fn create(
    auth: Authed,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[MODIFY_PUBLIC, MODIFY_PRIVATE])?;
    let body: CreateBody =
        parse_body(&body)?.ok_or_else(|| ApiError::bad_request("Missing required field: name"))?;
    // Spotify's default is public.
    let public = body.public.unwrap_or(true);
    let collaborative = body.collaborative.unwrap_or(false);
    auth.require_modify(public, collaborative)?;
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing required field: name"))?;
    if public && collaborative {
        return Err(ApiError::bad_request(
            "Collaborative playlists can only be private",
        ));
    }
    let new = NewPlaylist {
        name,
        description: body.description.filter(|d| !d.is_empty()),
        public,
        collaborative,
    };
    let playlist = state
        .playlists
        .create(&auth.user.profile.id, new)
        .map_err(refusal)?;
    state.changed();
    Ok(json_created(&state.renderer().playlist(
        &playlist,
        &auth.user.profile,
        true,
    )))
}

/// `GET /playlists/{id}`: the playlist; its `items` only for those who may edit it, as the
/// spec says of the field.
pub(super) async fn get(
    path: web::Path<String>,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = playlist_id(&path)?;
    let user = &auth.user.profile.id;
    state
        .playlists
        .read(id, |p| {
            let owner = state.users.get(&p.owner)?;
            let json = state
                .renderer()
                .playlist(p, &owner.profile, p.editable_by(user));
            Some(json_ok(&json))
        })
        .flatten()
        .ok_or_else(not_found)
}

/// `GET /playlists/{id}/items?limit(1–50, 20)&offset`: one page of items, for the owner
/// and collaborators only (`market`, `fields` and `additional_types` are ignored).
pub(super) async fn items(
    req: HttpRequest,
    path: web::Path<String>,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[READ_PRIVATE])?;
    let id = playlist_id(&path)?;
    let params = params(&req);
    let limit = int_param(&params, "limit", 20, 1..=50)?;
    let offset = int_param(&params, "offset", 0, 0..=usize::MAX)?;
    let user = &auth.user.profile.id;
    state
        .playlists
        .read(id, |p| {
            if !p.editable_by(user) {
                return Err(ApiError::forbidden("Forbidden"));
            }
            Ok(json_ok(&state.renderer().playlist_items(p, offset, limit)))
        })
        .ok_or_else(not_found)?
}

#[derive(Deserialize)]
struct AddBody {
    uris: Option<Vec<String>>,
    position: Option<i64>,
}

/// `POST /playlists/{id}/items` with `{"uris", "position"?}` (or `?uris=a,b&position=n`; the
/// query's `uris` win, as the spec says): 201 `{"snapshot_id"}`. Checked in order: scope,
/// playlist id, the playlist (404), the scope its visibility needs, ownership, the uris,
/// the position, the size limit.
pub(super) async fn add(
    req: HttpRequest,
    path: web::Path<String>,
    auth: Authed,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[MODIFY_PUBLIC, MODIFY_PRIVATE])?;
    let id = playlist_id(&path)?;
    let user = &auth.user.profile.id;
    let (public, editable) = state
        .playlists
        .read(id, |p: &Playlist| (p.public, p.editable_by(user)))
        .ok_or_else(not_found)?;
    auth.require_modify(public, false)?;
    if !editable {
        return Err(ApiError::forbidden(
            "You cannot add tracks to a playlist you don't own.",
        ));
    }
    let params = params(&req);
    let body: Option<AddBody> = parse_body(&body)?;
    let uris: Vec<String> = match params.get("uris") {
        Some(list) => list.split(',').map(|u| u.trim().to_owned()).collect(),
        None => body
            .as_ref()
            .and_then(|b| b.uris.clone())
            .unwrap_or_default(),
    };
    if uris.is_empty() {
        return Err(ApiError::bad_request("Missing required field: uris"));
    }
    if uris.len() > MAX_URIS_PER_CALL {
        return Err(ApiError::bad_request(format!(
            "You can add a maximum of {MAX_URIS_PER_CALL} tracks per request."
        )));
    }
    let tracks = uris
        .iter()
        .map(|uri| item_uri(&state, uri))
        .collect::<Result<Vec<_>, _>>()?;
    let position = position(&params, body.as_ref())?;
    let snapshot_id = state
        .playlists
        .add(id, user, &tracks, position, state.clock.now_ms())
        .map_err(refusal)?;
    state.changed();
    Ok(json_created(
        &serde_json::json!({ "snapshot_id": snapshot_id }),
    ))
}

/// Every method of `/playlists/{id}/tracks`: 403, after authentication, as Spotify answers
/// since the endpoint was removed (the request log still records the call).
pub(super) async fn tracks_removed(_auth: Authed) -> Result<HttpResponse, ApiError> {
    Err(ApiError::forbidden(TRACKS_REMOVED))
}

fn playlist_id(id: &str) -> Result<&str, ApiError> {
    if is_base62_id(id) {
        Ok(id)
    } else {
        Err(ApiError::bad_request("Invalid base62 id"))
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("Not found.")
}

/// A track of the catalog by its uri: 400 `Invalid track uri` unless a well-formed track or
/// episode uri, 400 `Payload contains a non-existing ID` for one that names nothing (every
/// episode: the emulator has none), as Spotify answers.
fn item_uri(state: &AppState, uri: &str) -> Result<TrackIdx, ApiError> {
    let invalid = || ApiError::bad_request(format!("Invalid track uri: {uri}"));
    let (kind, id) = uri
        .strip_prefix("spotify:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid)?;
    if !matches!(kind, "track" | "episode") || !is_base62_id(id) {
        return Err(invalid());
    }
    let missing = || ApiError::bad_request("Payload contains a non-existing ID");
    match kind {
        "track" => state.catalog.track_by_id(id).ok_or_else(missing),
        _ => Err(missing()),
    }
}

/// `position` from the query, else from the body; `None` appends.
fn position(
    params: &HashMap<String, String>,
    body: Option<&AddBody>,
) -> Result<Option<usize>, ApiError> {
    let raw = match params.get("position") {
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| ApiError::bad_request("Invalid position"))?,
        ),
        None => body.and_then(|b| b.position),
    };
    raw.map(|p| usize::try_from(p).map_err(|_| ApiError::bad_request("Index out of bounds")))
        .transpose()
}

fn refusal(error: PlaylistError) -> ApiError {
    match error {
        PlaylistError::NotFound => not_found(),
        PlaylistError::NotEditable => {
            ApiError::forbidden("You cannot add tracks to a playlist you don't own.")
        }
        PlaylistError::PositionOutOfRange { .. } => ApiError::bad_request("Index out of bounds"),
        PlaylistError::Full => ApiError::forbidden("Playlist size limit reached"),
        PlaylistError::TooManyPlaylists => ApiError::forbidden("Playlist limit reached"),
    }
}
