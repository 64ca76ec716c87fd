//! What a hub answers when a use case fails. No HTTP here: the routes turn a [`HubError`] into
//! an `ApiError` (status by variant, in `crate::error`), the WebSocket handler into an `error`
//! frame with the same code.

use sesh_session::SessionError;
use sesh_spotify::SpotifyError;

use crate::{
    accounts::{AccountError, CallError},
    db::DbError,
    limits::LimitExceeded,
};

/// Why a hub refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No session has this id.
    #[error("no such session")]
    NotFound,
    /// A rule of the session refused the action (nothing changed).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Spotify refused or failed (nothing changed in the session).
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    /// One of Sesh's own limits (e.g. the caller's Spotify calls per minute).
    #[error(transparent)]
    Limited(#[from] LimitExceeded),
    /// The host is already starting the session: one start at a time.
    #[error("the session is starting; wait for it")]
    StartInProgress,
    /// The session has as many open display streams as it may (`SESH_DISPLAYS_PER_SESSION`).
    #[error("this session has {max} displays open, the most it may have")]
    DisplaysFull {
        /// The limit.
        max: usize,
    },
    /// A hand-over is already under way: one at a time.
    #[error("the session is being handed over; wait for it")]
    HandOverInProgress,
    /// Taking the session over needs one of the taker's devices (`device_id`).
    #[error("choose one of your devices to play the session on")]
    DeviceRequired,
    /// The hub stopped while answering (it reloads from the database): try again.
    #[error("the session is restarting; try again")]
    Restarting,
    /// Another instance holds the session's lease (several instances on PostgreSQL): try
    /// again after `retry_after`, when it expires or has moved.
    #[error("another instance runs this session")]
    Elsewhere {
        /// Until the lease expires (at least a second).
        retry_after: std::time::Duration,
    },
    /// The database failed; the change was not made.
    #[error("storage failed")]
    Storage(#[from] DbError),
    /// A stored session that does not restore, and other bugs.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<CallError> for HubError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Spotify(e) => Self::Spotify(e),
            CallError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<AccountError> for HubError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::ReauthRequired => Self::Spotify(SpotifyError::ReauthRequired),
            AccountError::Storage(e) => Self::Storage(e),
        }
    }
}

impl HubError {
    /// Wraps an unexpected failure.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}
