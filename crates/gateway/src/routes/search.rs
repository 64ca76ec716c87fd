//! `GET /api/sessions/{id}/search?q=`: a member looks for tracks to add ([`crate::search`]
//! does the work). Also how the search module's errors are answered, for this route and the
//! queue's add route (which resolves pasted links with [`crate::search::resolve_track`]).

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use sesh_session::{Action, Track};

use super::parse_session_id;
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    request::CurrentUser,
    search::{InvalidQuery, RESULTS, ResolveError, SearchError, SearchQuery},
};

/// `?q=&limit=` of a search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// What to look for: a track's, an artist's or an album's name (1–100 characters after
    /// trimming; case and spacing do not matter).
    #[param(min_length = 1)]
    q: String,
    /// At most this many tracks (at least 1; default and most 10, Spotify's maximum).
    #[param(minimum = 1)]
    limit: Option<u32>,
}

/// `GET /api/sessions/{id}/search` → 200 `{"tracks": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchAnswer {
    /// Matching tracks in Spotify's order, at most `limit`.
    #[schema(value_type = Vec<Track>)]
    pub tracks: Vec<std::sync::Arc<Track>>,
}

/// `GET /api/sessions/{id}/search?q=&limit=` (members who may add tracks) → up to 10 tracks.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/search",
    tag = "sessions",
    summary = "Search Spotify for tracks to add (members who may add tracks)",
    description = "Asks Spotify with the caller's own login, for their market. Answers are kept for the session for 10 minutes (the same words in any case or spacing are one search), and every search counts against the caller's `SESH_SEARCHES_PER_MINUTE`, answered from the cache or not.",
    params(("id" = String, Path, description = "Session id (a UUID)"), SearchParams),
    responses(
        (status = 200, body = SearchAnswer),
        (status = 400, description = "`invalid_query`: no `q`, an empty or over-long one (100 characters), a control character, a `limit` of 0, or another parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`not_a_member`, `forbidden` (the host did not let guests add tracks), `banned`, or Spotify refused the caller's account", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`: the session is over", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's `SESH_SEARCHES_PER_MINUTE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 502, description = "`spotify_error`: Spotify refused for another reason", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` (Spotify down or timing out) or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn search(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let query = SearchQuery::parse(&params.q)?;
    let limit = match params.limit {
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be at least 1",
            ));
        }
        Some(limit) => limit.min(RESULTS),
        None => RESULTS,
    };
    // A member who may not search is refused before it counts against their limit. A
    // spectator's search is made with the host's login (counted against the spectator).
    let payer = state
        .hubs
        .session(id)
        .payer(&user.id, Action::Search)
        .await?;
    let results = state
        .searches
        .search(&state.core, id, &user.id, &payer, &query)
        .await?;
    let tracks = results.iter().take(limit as usize).cloned().collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(SearchAnswer { tracks }))
}

impl From<InvalidQuery> for ApiError {
    fn from(e: InvalidQuery) -> Self {
        Self::bad_request("invalid_query", e.to_string())
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Limited(e) => e.into(),
            SearchError::Spotify(e) => Self::Spotify(e),
            SearchError::Storage(e) => Self::internal(e),
        }
    }
}

/// `404 track_not_found` for a track Spotify does not have; Spotify's and the credentials'
/// failures as everywhere else.
impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::NotFound(_) => Self::client(
                StatusCode::NOT_FOUND,
                "track_not_found",
                "Spotify has no such track",
            ),
            ResolveError::Limited(e) => e.into(),
            ResolveError::Call(e) => e.into(),
        }
    }
}
