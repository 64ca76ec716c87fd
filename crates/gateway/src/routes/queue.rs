//! The collaborative queue over HTTP: add, remove, ban, vote, vote to skip, and the queue
//! settings. Each route is one line over a use case of the session's
//! [`crate::hub::HubHandle`]; the WebSocket frames `add`, `remove`, `vote` and `vote_skip`
//! reach the same use cases.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use sesh_session::{QueueEntryId, QueueSettingsPatch, TrackId, UserId, Vote};

use super::parse_session_id;
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    request::CurrentUser,
    wire::{QueueEntryView, SettingsView, SkipAnswer, VoteAnswer},
};

/// Longest `uri` accepted (a track link with its tracking parameters fits easily).
pub const MAX_URI_CHARS: usize = 300;

/// Body of `POST /api/sessions/{id}/queue` (and the `add` frame).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    /// `spotify:track:<id>` or a track link (`https://open.spotify.com/track/<id>?si=…`).
    pub uri: String,
}

/// Body of `POST /api/sessions/{id}/queue/{entry_id}/vote` (and the `vote` frame's field).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// 1 up, −1 down, 0 withdraw.
    #[schema(minimum = -1, maximum = 1)]
    pub vote: i8,
}

/// `POST /api/sessions/{id}/queue` → 201.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Added {
    /// The new entry, with the adder's vote.
    pub entry: QueueEntryView,
    /// Its index in the whole queue.
    pub index: usize,
}

/// `PATCH /api/sessions/{id}/settings` → 200.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsAnswer {
    /// The session's settings now.
    pub settings: SettingsView,
}

/// The track a client names (`spotify:track:<id>` or an open.spotify.com link, see
/// [`crate::search::track_id_from_link`]); `400 invalid_track_uri` otherwise.
pub fn parse_track_ref(raw: &str) -> Result<TrackId, ApiError> {
    Some(raw)
        .filter(|raw| raw.chars().count() <= MAX_URI_CHARS)
        .and_then(crate::search::track_id_from_link)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_track_uri",
                "give a Spotify track: spotify:track:… or https://open.spotify.com/track/…",
            )
        })
}

/// Adds the track `uri` names for `user`: checked against the session's rules first (every
/// refusal but a too-long track costs no Spotify call), then looked up on Spotify (a track Sesh
/// already holds costs none), then added (checked again, with its length).
pub async fn add_track(
    state: &AppState,
    user: &UserId,
    session: sesh_session::SessionId,
    uri: &str,
) -> Result<(QueueEntryView, usize), ApiError> {
    state.core.limits.check_queue_action(user)?;
    let id = parse_track_ref(uri)?;
    let hub = state.hubs.session(session);
    hub.check_add(user, &id).await?;
    // A spectator's track is looked up with the host's login.
    let payer = hub.payer(user, sesh_session::Action::AddTrack).await?;
    let track = crate::search::resolve_track(&state.core, &payer, &id).await?;
    Ok(hub.add_track(user, track).await?)
}

/// A vote value from a client (`400 invalid_vote` unless 1, 0 or −1).
pub fn parse_vote(value: i8) -> Result<Option<Vote>, ApiError> {
    Vote::from_value(value)
        .map_err(|_| ApiError::bad_request("invalid_vote", "a vote is 1, 0 or -1"))
}

/// An entry id from a path (`404 entry_not_found` when it is not a number).
fn parse_entry_id(raw: &str) -> Result<QueueEntryId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id <= sesh_session::MAX_ENTRY_ID)
        .map(QueueEntryId::new)
        .ok_or_else(|| {
            ApiError::client(
                actix_web::http::StatusCode::NOT_FOUND,
                "entry_not_found",
                "the queue has no such entry",
            )
        })
}

/// `POST /api/sessions/{id}/queue` `{"uri"}` → 201 `{"entry", "index"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/queue",
    tag = "queue",
    summary = "Add a track (by URI or link) to the queue",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = AddBody, content_type = "application/json"),
    responses(
        (status = 201, body = Added, description = "Added; members get an `entry_added` event"),
        (status = 400, description = "`invalid_track_uri`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (permission `add_tracks`), `adding_locked`, `track_banned`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `track_not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `member_queue_full`, `recently_played`, `already_queued`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`track_too_long`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` or `SESH_SPOTIFY_USER_RATE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn add(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<AddBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let (entry, index) = add_track(&state, &user.id, id, &body.uri).await?;
    Ok(HttpResponse::Created().json(Added { entry, index }))
}

/// `DELETE /api/sessions/{id}/queue/{entry_id}` → 204.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/queue/{entry_id}",
    tag = "queue",
    summary = "Remove an upcoming entry (the adder their own; the host and co-hosts any)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("entry_id" = u64, Path)),
    responses(
        (status = 204, description = "Removed; members get an `entry_removed` event"),
        (status = 400, description = "`invalid_target` (the playing or a played entry)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `entry_not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn remove(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, entry) = path.into_inner();
    let id = parse_session_id(&id)?;
    let entry = parse_entry_id(&entry)?;
    state.hubs.session(id).remove_entry(&user.id, entry).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/queue/{entry_id}/ban` → 204.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/queue/{entry_id}/ban",
    tag = "queue",
    summary = "Ban an entry's track: its upcoming entries go, and it cannot be added again (host, co-hosts)",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("entry_id" = u64, Path)),
    responses(
        (status = 204, description = "Banned; members get `entry_removed` events and `track_banned`"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `entry_not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn ban(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, entry) = path.into_inner();
    let id = parse_session_id(&id)?;
    let entry = parse_entry_id(&entry)?;
    state.hubs.session(id).ban_track(&user.id, entry).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/queue/{entry_id}/vote` `{"vote": 1 | -1 | 0}` → 200.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/queue/{entry_id}/vote",
    tag = "queue",
    summary = "Vote an upcoming entry up or down, or withdraw the vote",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("entry_id" = u64, Path)),
    request_body(content = VoteBody, content_type = "application/json"),
    responses(
        (status = 200, body = VoteAnswer, description = "Members get `entry_votes` (and in votes order `entry_moved`)"),
        (status = 400, description = "`invalid_vote`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (permission `vote`), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `entry_not_found`", body = ErrorBody),
        (status = 409, description = "`entry_pinned` (playing, played or up next), `not_started`, `session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn vote(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: web::Json<VoteBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, entry) = path.into_inner();
    let id = parse_session_id(&id)?;
    let entry = parse_entry_id(&entry)?;
    let vote = parse_vote(body.vote)?;
    let answer = state.hubs.session(id).vote(&user.id, entry, vote).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /api/sessions/{id}/skip-vote` → 200.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/skip-vote",
    tag = "queue",
    summary = "Toggle the caller's vote to skip the playing track",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, body = SkipAnswer, description = "Members get `skip_votes`; at the threshold the track is skipped"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden` (permission `vote_skip`), `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `nothing_playing`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn skip_vote(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let answer = state.hubs.session(id).vote_skip(&user.id).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `PATCH /api/sessions/{id}/settings` (host) → 200 `{"settings"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    patch,
    path = "/api/sessions/{id}/settings",
    tag = "queue",
    summary = "Change the queue's order, the limits on adding, the lock, and the guest controls (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = QueueSettingsPatch, content_type = "application/json"),
    responses(
        (status = 200, body = SettingsAnswer, description = "Members get `settings_changed` (and a `queue` event when the order changed)"),
        (status = 400, description = "`invalid_settings` (a value out of range), `invalid_json` (an unknown field)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `SESH_QUEUE_ACTIONS_PER_MINUTE` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<QueueSettingsPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let settings = state
        .hubs
        .session(id)
        .queue_settings(&user.id, body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(SettingsAnswer {
        settings: (&settings).into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_track_ref;

    #[test]
    fn track_references_are_uris_or_links() {
        let id = "4uLU6hMCjMI75M1A2tKUQC";
        for good in [
            format!("spotify:track:{id}"),
            format!("https://open.spotify.com/track/{id}"),
            format!("https://open.spotify.com/track/{id}?si=abc123"),
            format!("https://open.spotify.com/intl-de/track/{id}"),
            format!("  open.spotify.com/track/{id}#x "),
        ] {
            assert_eq!(parse_track_ref(&good).unwrap().as_str(), id, "{good}");
        }
        for bad in [
            String::new(),
            format!("spotify:album:{id}"),
            format!("https://open.spotify.com/album/{id}"),
            format!("https://evil.example/track/{id}"),
            "spotify:track:short".to_owned(),
            format!("spotify:track:{id}x"),
            format!("https://open.spotify.com/track/{id}/more"),
        ] {
            assert!(parse_track_ref(&bad).is_err(), "{bad}");
        }
    }
}
