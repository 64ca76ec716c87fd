//! What displays see (docs/displays.md): the session's public view — no user ids, the join link
//! only for keys the host let show it — as Server-Sent Events numbered with the session's
//! `seq`, and a bounded replay ring of them for `Last-Event-ID`.
//!
//! Bookkeeping only, like `views`: the hub hands [`Displays::follow`] every event it
//! broadcasts to members and fans out what comes back. One member event becomes at most a few
//! display events of the same `seq`; only the last carries the `id:`, so a display that lost
//! the connection between them resumes before all of them. Nothing is projected before the
//! first display of the hub's life connects: a session nobody displays pays nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use bytestring::ByteString;
use serde::Serialize;
use sesh_session::{Session, SessionState, UserId};

use super::room::Room;
use crate::wire::{PlaybackView, SessionEvent};

/// Upcoming entries displays get (after the playing one).
pub const UPCOMING: usize = 30;
/// Names of who brought a track that displays get, at most.
pub const BROUGHT_BY_LISTED: usize = 3;
/// Display events kept for `Last-Event-ID` resumes, at most.
pub const DISPLAY_RING_CAPACITY: usize = 256;
/// Bytes of display events kept for resumes, at most (the newest is always kept).
pub const DISPLAY_RING_MAX_BYTES: usize = 64 * 1024;

/// One Server-Sent Event for displays, serialized once per session (cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayFrame {
    /// The SSE `event:` name.
    pub event: &'static str,
    /// The SSE `id:` (the session's `seq`), on the last frame of a `seq` only.
    pub id: Option<ByteString>,
    /// The SSE `data:`, one line of JSON.
    pub data: ByteString,
    /// For displays whose key shows the join link only.
    pub join_only: bool,
}

impl DisplayFrame {
    fn new(event: &'static str, data: &impl Serialize) -> Self {
        Self {
            event,
            id: None,
            data: ByteString::from(serde_json::to_string(data).unwrap_or_default()),
            join_only: false,
        }
    }

    fn weight(&self) -> usize {
        self.data.len() + self.event.len() + 16
    }
}

/// Playing, paused, or nothing plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayStatus {
    /// A track plays.
    Playing,
    /// A track is paused.
    Paused,
    /// Nothing plays (or something that is not a track).
    Stopped,
}

/// What plays, as displays see it (`playback`, `snapshot.now_playing`, `nowplaying.json`):
/// Tuna's field names where they fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NowPlaying {
    /// The track's title (empty when stopped).
    pub title: String,
    /// Its artists, main artist first.
    pub artists: Vec<String>,
    /// Its album.
    pub album: String,
    /// Cover art.
    pub cover_url: Option<String>,
    /// Playing, paused or stopped.
    pub status: PlayStatus,
    /// Position at `server_time_ms`.
    pub progress_ms: u32,
    /// Length of the track.
    pub duration_ms: u32,
    /// Server clock (Unix ms) when the position was observed.
    pub server_time_ms: i64,
    /// Display names of the first members who brought it.
    pub brought_by: Vec<String>,
    /// How many members brought it.
    pub brought_by_count: usize,
}

impl NowPlaying {
    /// What plays according to the last `playback` (none yet: stopped, as of `now_ms`).
    pub(super) fn of(playback: Option<&PlaybackView>, session: &Session, now_ms: i64) -> Self {
        let Some((view, track)) = playback.and_then(|v| v.track.as_ref().map(|t| (v, t))) else {
            return Self {
                title: String::new(),
                artists: Vec::new(),
                album: String::new(),
                cover_url: None,
                status: PlayStatus::Stopped,
                progress_ms: 0,
                duration_ms: 0,
                server_time_ms: playback.map_or(now_ms, |v| v.server_time_ms),
                brought_by: Vec::new(),
                brought_by_count: 0,
            };
        };
        let names = Names::of(session, view.added_by.iter().take(BROUGHT_BY_LISTED));
        Self {
            title: track.name.clone(),
            artists: track.artists.clone(),
            album: track.album.clone(),
            cover_url: track.image_url.clone(),
            status: if view.is_playing {
                PlayStatus::Playing
            } else {
                PlayStatus::Paused
            },
            progress_ms: view.progress_ms.min(track.duration_ms),
            duration_ms: track.duration_ms,
            server_time_ms: view.server_time_ms,
            brought_by: names.list(&view.added_by),
            brought_by_count: view.added_by_count,
        }
    }

    /// `Artist, Artist — Title`, or nothing when nothing plays (`nowplaying.txt`).
    pub fn as_text(&self) -> String {
        if self.status == PlayStatus::Stopped {
            return String::new();
        }
        format!("{} — {}", self.artists.join(", "), self.title)
    }
}

/// What a display with a given key sees at one moment (`nowplaying.json`, the QR code).
#[derive(Debug, Clone)]
pub struct DisplayState {
    /// What plays.
    pub now_playing: NowPlaying,
    /// The join link, for a key that shows it.
    pub join_url: Option<String>,
}

/// Display names of some members, looked up in one pass over the session's members.
struct Names<'a>(HashMap<&'a UserId, &'a str>);

impl<'a> Names<'a> {
    fn of<'b>(session: &'a Session, wanted: impl IntoIterator<Item = &'b UserId>) -> Self {
        let wanted: HashSet<&UserId> = wanted.into_iter().collect();
        if wanted.is_empty() {
            return Self(HashMap::new());
        }
        Self(
            session
                .members()
                .iter()
                .filter(|m| wanted.contains(&m.user_id))
                .map(|m| (&m.user_id, m.display_name.as_str()))
                .collect(),
        )
    }

    /// The names of the first [`BROUGHT_BY_LISTED`] of `users` who are still members.
    fn list(&self, users: &[UserId]) -> Vec<String> {
        users
            .iter()
            .take(BROUGHT_BY_LISTED)
            .filter_map(|u| self.0.get(u).map(|n| (*n).to_owned()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct UpcomingEntry<'a> {
    entry_id: u64,
    title: &'a str,
    artists: &'a [String],
    album: &'a str,
    cover_url: Option<&'a str>,
    duration_ms: u32,
    brought_by: Vec<String>,
    brought_by_count: usize,
    votes: i64,
}

#[derive(Serialize)]
struct Upcoming<'a> {
    upcoming: Vec<UpcomingEntry<'a>>,
    upcoming_total: usize,
}

impl<'a> Upcoming<'a> {
    fn of(session: &'a Session) -> Self {
        let after = match session.state() {
            SessionState::Playing => session
                .queue()
                .get(session.position() + 1..)
                .unwrap_or_default(),
            SessionState::Lobby | SessionState::Ended => &[],
        };
        let shown = &after[..after.len().min(UPCOMING)];
        let names = Names::of(
            session,
            shown
                .iter()
                .flat_map(|e| e.added_by.iter().take(BROUGHT_BY_LISTED)),
        );
        Self {
            upcoming: shown
                .iter()
                .map(|e| UpcomingEntry {
                    entry_id: e.id.get(),
                    title: &e.track.name,
                    artists: &e.track.artists,
                    album: &e.track.album,
                    cover_url: e.track.image_url.as_deref(),
                    duration_ms: e.track.duration_ms,
                    brought_by: names.list(&e.added_by),
                    brought_by_count: e.added_by.len(),
                    votes: e.net_votes(),
                })
                .collect(),
            upcoming_total: after.len(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Counts {
    member_count: usize,
    online_count: usize,
}

impl Counts {
    fn of(session: &Session, room: &Room) -> Self {
        Self {
            member_count: session.members().len(),
            online_count: room.online_count(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct SessionInfo {
    name: Option<String>,
    state: SessionState,
}

impl SessionInfo {
    fn of(session: &Session) -> Self {
        Self {
            name: session
                .settings()
                .name
                .as_ref()
                .map(|n| n.as_str().to_owned()),
            state: session.state(),
        }
    }
}

#[derive(Serialize)]
struct Join<'a> {
    url: &'a str,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    session: SessionInfo,
    now_playing: NowPlaying,
    #[serde(flatten)]
    upcoming: Upcoming<'a>,
    members: Counts,
    join: Option<Join<'a>>,
}

/// The session as the hub last told its displays, and their replay ring.
#[derive(Debug)]
pub(super) struct Displays {
    /// `seq` when this hub was loaded (see `Feed`): an id up to it was sent by an earlier hub.
    loaded_seq: u64,
    /// Ids from which on the ring has every display event (`None`: no display connected in
    /// this hub's life, nothing is projected).
    covered_from: Option<u64>,
    ring: VecDeque<(u64, DisplayFrame)>,
    ring_bytes: usize,
    /// What the last events said, so an unchanged part is not sent again.
    last_session: Option<SessionInfo>,
    last_upcoming: Option<ByteString>,
    last_counts: Option<Counts>,
}

impl Displays {
    pub(super) fn new(loaded_seq: u64) -> Self {
        Self {
            loaded_seq,
            covered_from: None,
            ring: VecDeque::new(),
            ring_bytes: 0,
            last_session: None,
            last_upcoming: None,
            last_counts: None,
        }
    }

    /// From now on (`seq`) every event is projected for displays.
    fn start(&mut self, seq: u64, session: &Session, room: &Room) {
        if self.covered_from.is_some() {
            return;
        }
        self.covered_from = Some(seq);
        self.last_session = Some(SessionInfo::of(session));
        self.last_upcoming = Some(upcoming_data(session));
        self.last_counts = Some(Counts::of(session, room));
    }

    /// The display events that the member event `event` (numbered `seq`) becomes, given the
    /// session and room after it; kept in the ring. Empty before any display connected.
    pub(super) fn follow(
        &mut self,
        seq: u64,
        event: &SessionEvent,
        session: &Session,
        room: &Room,
        join_url: impl FnOnce() -> String,
    ) -> Vec<DisplayFrame> {
        if self.covered_from.is_none() {
            return Vec::new();
        }
        let mut frames = Vec::new();
        match event {
            SessionEvent::Playback(view) => {
                self.upcoming_changed(session, &mut frames);
                let now = NowPlaying::of(Some(view), session, view.server_time_ms);
                frames.push(DisplayFrame::new("playback", &now));
            }
            SessionEvent::SessionStarted { .. } | SessionEvent::SettingsChanged { .. } => {
                self.session_changed(session, &mut frames);
                self.upcoming_changed(session, &mut frames);
            }
            SessionEvent::Queue { .. }
            | SessionEvent::EntryAdded { .. }
            | SessionEvent::EntryRemoved { .. }
            | SessionEvent::EntryMoved { .. }
            | SessionEvent::EntryVotes { .. }
            | SessionEvent::TrackBanned { .. } => self.upcoming_changed(session, &mut frames),
            SessionEvent::MemberJoined { .. }
            | SessionEvent::MemberLeft { .. }
            | SessionEvent::MembersSummary { .. }
            | SessionEvent::Presence { .. } => {
                let mut counts = Counts::of(session, room);
                // Who left is still connected until the hub closes their sockets, after this.
                if let SessionEvent::MemberLeft { user_id, .. } = event
                    && room.is_online(user_id)
                {
                    counts.online_count -= 1;
                }
                if self.last_counts.replace(counts) != Some(counts) {
                    frames.push(DisplayFrame::new("members", &counts));
                }
            }
            SessionEvent::InviteRotated { .. } => {
                let url = join_url();
                let mut frame = DisplayFrame::new("join", &Join { url: &url });
                frame.join_only = true;
                frames.push(frame);
            }
            SessionEvent::SessionEnded => {
                self.session_changed(session, &mut frames);
                frames.push(DisplayFrame::new("session_ended", &serde_json::json!({})));
            }
            SessionEvent::HostChanged { .. }
            | SessionEvent::MemberUpdated { .. }
            | SessionEvent::RoleChanged { .. }
            | SessionEvent::MemberUnbanned { .. }
            | SessionEvent::EntryCommitted { .. }
            | SessionEvent::SkipVotes { .. }
            | SessionEvent::SpotifyStatus(_)
            | SessionEvent::DeviceChanged { .. } => {}
        }
        if let Some(last) = frames.last_mut() {
            last.id = Some(ByteString::from(seq.to_string()));
        }
        for frame in &frames {
            self.keep(seq, frame.clone());
        }
        frames
    }

    fn session_changed(&mut self, session: &Session, frames: &mut Vec<DisplayFrame>) {
        let info = SessionInfo::of(session);
        if self.last_session.as_ref() != Some(&info) {
            frames.push(DisplayFrame::new("session", &info));
            self.last_session = Some(info);
        }
    }

    fn upcoming_changed(&mut self, session: &Session, frames: &mut Vec<DisplayFrame>) {
        let data = upcoming_data(session);
        if self.last_upcoming.as_ref() != Some(&data) {
            frames.push(DisplayFrame {
                event: "queue",
                id: None,
                data: data.clone(),
                join_only: false,
            });
            self.last_upcoming = Some(data);
        }
    }

    fn keep(&mut self, seq: u64, frame: DisplayFrame) {
        self.ring_bytes += frame.weight();
        self.ring.push_back((seq, frame));
        while self.ring.len() > 1
            && (self.ring.len() > DISPLAY_RING_CAPACITY || self.ring_bytes > DISPLAY_RING_MAX_BYTES)
        {
            if let Some((old_seq, old)) = self.ring.pop_front() {
                self.ring_bytes -= old.weight();
                // A resume from before `old_seq` would miss it.
                self.covered_from = self.covered_from.map(|from| from.max(old_seq));
            }
        }
    }

    /// The events after `since` for a display (with or without the join link), if the ring
    /// still has all of them; `seq` is the session's current number.
    pub(super) fn replay_since(
        &self,
        since: u64,
        seq: u64,
        show_join: bool,
    ) -> Option<Vec<DisplayFrame>> {
        let from = self.covered_from?;
        if since <= self.loaded_seq || since < from || since > seq {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|(s, f)| *s > since && (show_join || !f.join_only))
                .map(|(_, f)| f.clone())
                .collect(),
        )
    }

    /// A display's first event: the whole public view, numbered `seq`; displays are followed
    /// from now on.
    pub(super) fn snapshot(
        &mut self,
        seq: u64,
        session: &Session,
        room: &Room,
        playback: Option<&PlaybackView>,
        join_url: Option<&str>,
        now_ms: i64,
    ) -> DisplayFrame {
        self.start(seq, session, room);
        let snapshot = Snapshot {
            session: SessionInfo::of(session),
            now_playing: NowPlaying::of(playback, session, now_ms),
            upcoming: Upcoming::of(session),
            members: Counts::of(session, room),
            join: join_url.map(|url| Join { url }),
        };
        let mut frame = DisplayFrame::new("snapshot", &snapshot);
        frame.id = Some(ByteString::from(seq.to_string()));
        frame
    }

    /// The `session_ended` event an ended session's display gets after its snapshot.
    pub(super) fn ended() -> DisplayFrame {
        DisplayFrame::new("session_ended", &serde_json::json!({}))
    }
}

fn upcoming_data(session: &Session) -> ByteString {
    ByteString::from(serde_json::to_string(&Upcoming::of(session)).unwrap_or_default())
}
