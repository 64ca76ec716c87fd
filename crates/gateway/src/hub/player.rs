//! The commands of the host's player, as the WebSocket (`{"type": "seek", …}`) and HTTP
//! (`POST …/player/seek`) share them: what each needs (its domain [`Action`]) and the Spotify
//! call it makes.

use sesh_session::{Action, DeviceId};
use sesh_spotify::{PlayRequest, RepeatState, SpotifyClient, SpotifyError, UserAuth};

use crate::wire::{ClientFrame, RepeatBody, RepeatMode, SeekBody, TransferBody, VolumeBody};

/// One command to the session's player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerCommand {
    /// Resume (after a take-over: play the session's remaining queue again).
    Play,
    /// Pause.
    Pause,
    /// Skip forward.
    Next,
    /// Skip back.
    Previous,
    /// Jump to a position in the current track.
    Seek {
        /// Milliseconds from the track's start.
        position_ms: u32,
    },
    /// Set the device's volume.
    Volume {
        /// 0–100.
        percent: u8,
    },
    /// Repeat the current track, or not.
    Repeat {
        /// `off` or `track`.
        state: RepeatMode,
    },
    /// Move playback to another of the host's devices, which becomes the session's device.
    Transfer {
        /// The device.
        device_id: DeviceId,
        /// Start playing there (otherwise the play/pause state is kept).
        play: bool,
    },
    /// Re-draw the fair order of the upcoming entries (no Spotify call: Spotify gets the new
    /// order at the next track boundary).
    Reshuffle,
}

impl PlayerCommand {
    /// What the session's rules must allow the caller.
    pub fn action(&self) -> Action {
        match self {
            Self::Play | Self::Pause => Action::PauseResume,
            Self::Next | Self::Previous => Action::Skip,
            Self::Seek { .. } => Action::Seek,
            Self::Volume { .. } => Action::Volume,
            Self::Repeat { .. } => Action::Repeat,
            Self::Transfer { .. } => Action::Transfer,
            Self::Reshuffle => Action::Reshuffle,
        }
    }

    /// Sends the command to the host's player on `device` (the session's device).
    pub(super) async fn send(
        self,
        spotify: SpotifyClient,
        auth: UserAuth,
        device: Option<DeviceId>,
    ) -> Result<(), SpotifyError> {
        let device = device.as_ref().map(DeviceId::as_str);
        match self {
            Self::Play => spotify.play(&auth, device, &PlayRequest::resume()).await,
            Self::Pause => spotify.pause(&auth, device).await,
            Self::Next => spotify.next(&auth, device).await,
            Self::Previous => spotify.previous(&auth, device).await,
            Self::Seek { position_ms } => spotify.seek(&auth, position_ms, device).await,
            Self::Volume { percent } => spotify.set_volume(&auth, percent, device).await,
            Self::Repeat { state } => {
                let state = match state {
                    RepeatMode::Off => RepeatState::Off,
                    RepeatMode::Track => RepeatState::Track,
                };
                spotify.set_repeat(&auth, device, state).await
            }
            Self::Transfer { device_id, play } => {
                spotify.transfer(&auth, device_id.as_str(), play).await
            }
            // Handled by the hub (a change of the session's queue, not of the player).
            Self::Reshuffle => Ok(()),
        }
    }
}

impl From<SeekBody> for PlayerCommand {
    fn from(body: SeekBody) -> Self {
        Self::Seek {
            position_ms: body.position_ms,
        }
    }
}

impl From<VolumeBody> for PlayerCommand {
    fn from(body: VolumeBody) -> Self {
        Self::Volume {
            percent: body.percent,
        }
    }
}

impl From<RepeatBody> for PlayerCommand {
    fn from(body: RepeatBody) -> Self {
        Self::Repeat { state: body.state }
    }
}

impl From<TransferBody> for PlayerCommand {
    fn from(body: TransferBody) -> Self {
        Self::Transfer {
            device_id: body.device_id,
            play: body.play,
        }
    }
}

impl PlayerCommand {
    /// The player command a client frame asks for (`None`: `start`, `ping` and the queue's
    /// frames are not).
    pub fn from_frame(frame: ClientFrame) -> Option<Self> {
        Some(match frame {
            ClientFrame::Play => Self::Play,
            ClientFrame::Pause => Self::Pause,
            ClientFrame::Next => Self::Next,
            ClientFrame::Previous => Self::Previous,
            ClientFrame::Seek(body) => body.into(),
            ClientFrame::Volume(body) => body.into(),
            ClientFrame::Repeat(body) => body.into(),
            ClientFrame::Transfer(body) => body.into(),
            ClientFrame::Reshuffle => Self::Reshuffle,
            ClientFrame::Start { .. }
            | ClientFrame::Ping
            | ClientFrame::Add { .. }
            | ClientFrame::Remove { .. }
            | ClientFrame::Vote { .. }
            | ClientFrame::VoteSkip
            | ClientFrame::Chat { .. }
            | ClientFrame::ChatReact { .. }
            | ClientFrame::TrackReact { .. } => return None,
        })
    }
}
