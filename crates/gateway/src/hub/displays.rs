//! What displays see (docs/displays.md): the session's public view — no user ids, the join link
//! only for keys the host let show it — as Server-Sent Events numbered with the session's
//! `seq`, and a bounded replay ring of them for `Last-Event-ID`.
//!
//! Bookkeeping only, like `views`: the hub hands [`Displays::follow`] every event it
//! broadcasts to members and fans out what comes back. One member event becomes at most a few
//! display events of the same `seq`; only the last carries the `id:`, so a display that lost
//! the connection between them resumes before all of them. Nothing is projected before the
//! first display of the hub's life connects: a session nobody displays pays nothing.

use std::collections::{HashMap, HashSet};

use bytestring::ByteString;
use serde::Serialize;
use sesh_session::{Session, SessionState, UserId};

use super::{ring::ReplayRing, room::Room};
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
    /// An event of `data` serialized.
    fn new(event: &'static str, data: &impl Serialize) -> Self {
        Self::raw(
            event,
            ByteString::from(serde_json::to_string(data).unwrap_or_default()),
        )
    }

    /// An event of JSON already written.
    fn raw(event: &'static str, data: ByteString) -> Self {
        Self {
            event,
            id: None,
            data,
            join_only: false,
        }
    }

    /// This event, the last of its `seq`: it carries the number as its SSE `id`.
    fn numbered(mut self, seq: u64) -> Self {
        self.id = Some(ByteString::from(seq.to_string()));
        self
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
    /// The display events since the first display connected (`None`: none did in this hub's
    /// life, nothing is projected).
    ring: Option<ReplayRing<DisplayFrame>>,
    /// What the last events said, so an unchanged part is not sent again.
    last_session: Option<SessionInfo>,
    last_upcoming: Option<UpcomingState>,
    last_counts: Option<Counts>,
}

impl Displays {
    pub(super) fn new(loaded_seq: u64) -> Self {
        Self {
            loaded_seq,
            ring: None,
            last_session: None,
            last_upcoming: None,
            last_counts: None,
        }
    }

    /// From now on (`seq`) every event is projected for displays.
    fn start(&mut self, seq: u64, session: &Session, room: &Room) {
        if self.ring.is_some() {
            return;
        }
        self.ring = Some(ReplayRing::new(
            DISPLAY_RING_CAPACITY,
            DISPLAY_RING_MAX_BYTES,
            seq,
        ));
        self.last_session = Some(SessionInfo::of(session));
        self.last_upcoming = Some(UpcomingState::of(session));
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
        if self.ring.is_none() {
            return Vec::new();
        }
        let mut frames = Vec::new();
        match event {
            SessionEvent::Playback(view) => {
                // What plays first (what a screen shows largest), then the list moving up.
                let now = NowPlaying::of(Some(view), session, view.server_time_ms);
                frames.push(DisplayFrame::new("playback", &now));
                self.upcoming_changed(session, &mut frames);
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
                frames.push(Self::ended());
            }
            SessionEvent::HostChanged { .. }
            | SessionEvent::MemberUpdated { .. }
            | SessionEvent::RoleChanged { .. }
            | SessionEvent::MemberMuted { .. }
            | SessionEvent::Listening { .. }
            | SessionEvent::MemberUnbanned { .. }
            | SessionEvent::EntryCommitted { .. }
            | SessionEvent::SkipVotes { .. }
            | SessionEvent::SpotifyStatus(_)
            | SessionEvent::SessionIdle { .. }
            | SessionEvent::SessionActive
            | SessionEvent::HandoverOffered { .. }
            | SessionEvent::HostAway { .. }
            | SessionEvent::HostBack
            | SessionEvent::DeviceChanged { .. } => {}
        }
        if let Some(last) = frames.pop() {
            frames.push(last.numbered(seq));
        }
        if let Some(ring) = &mut self.ring {
            for frame in &frames {
                ring.push(seq, frame.clone(), frame.weight());
            }
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
        let now = UpcomingState::of(session);
        let data = match &self.last_upcoming {
            Some(before) if *before == now => return,
            Some(before) => now.since(before),
            None => now.whole(),
        };
        frames.push(DisplayFrame::raw("queue", data));
        self.last_upcoming = Some(now);
    }

    /// The events after `since` for a display (with or without the join link), if the ring
    /// still has all of them; `seq` is the session's current number.
    pub(super) fn replay_since(
        &self,
        since: u64,
        seq: u64,
        show_join: bool,
    ) -> Option<Vec<DisplayFrame>> {
        // From an earlier hub: its ring is gone (and what the display saw may be stale).
        if since <= self.loaded_seq {
            return None;
        }
        self.ring
            .as_ref()?
            .since(since, seq, |f| show_join || !f.join_only)
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
        DisplayFrame::new("snapshot", &snapshot).numbered(seq)
    }

    /// The `session_ended` event an ended session's display gets after its snapshot.
    pub(super) fn ended() -> DisplayFrame {
        DisplayFrame::new("session_ended", &serde_json::json!({}))
    }
}

/// The upcoming entries displays were last told of, each serialized (as in a `snapshot`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UpcomingState {
    entries: Vec<String>,
    total: usize,
}

impl UpcomingState {
    fn of(session: &Session) -> Self {
        let upcoming = Upcoming::of(session);
        Self {
            entries: upcoming
                .upcoming
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default())
                .collect(),
            total: upcoming.upcoming_total,
        }
    }

    /// `{"upcoming": [...], "upcoming_total": n}`: the whole list.
    fn whole(&self) -> ByteString {
        ByteString::from(format!(
            r#"{{"upcoming":[{}],"upcoming_total":{}}}"#,
            self.entries.join(","),
            self.total
        ))
    }

    /// The change from `before` to this: `{"drop": k, "append": [...], "upcoming_total": n}`
    /// when this list is `before` without its first `k` entries and with some after (a track
    /// change, an add at the end: a few hundred bytes instead of the whole list), else the
    /// whole list (a reorder, a removal in the middle).
    fn since(&self, before: &Self) -> ByteString {
        let kept = (0..before.entries.len()).find_map(|drop| {
            let kept = &before.entries[drop..];
            self.entries.starts_with(kept).then_some((drop, kept.len()))
        });
        match kept {
            Some((drop, kept)) => ByteString::from(format!(
                r#"{{"drop":{drop},"append":[{}],"upcoming_total":{}}}"#,
                self.entries[kept..].join(","),
                self.total
            )),
            None => self.whole(),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};
    use sesh_session::{DeviceId, InviteCode, NewMember, SessionId, Settings};

    use super::*;
    use crate::hub::{Audience, WorkerHandle, room::Subscriber, views::tests::tracks};

    /// alice (Alice) hosts, bob (Bob) joined, playing.
    fn playing() -> (Session, Room) {
        let mut rng = StdRng::seed_from_u64(1);
        let alice = UserId::new("alice");
        let mut session = Session::new(
            SessionId::new_v4(),
            InviteCode::generate(&mut rng),
            NewMember::new(alice.clone(), "Alice", tracks("a")),
            0,
            Settings::default(),
        );
        session
            .join(
                NewMember::new(UserId::new("bob"), "Bob", tracks("b")),
                1,
                &mut rng,
            )
            .unwrap();
        session
            .start(&alice, DeviceId::new("phone"), &mut rng)
            .unwrap();
        let mut room = Room::default();
        room.add(
            Subscriber::Member(alice),
            WorkerHandle::detached(),
            Audience::Member,
        );
        (session, room)
    }

    fn presence() -> SessionEvent {
        SessionEvent::Presence {
            user_id: UserId::new("bob"),
            online: true,
        }
    }

    fn url() -> String {
        "https://sesh.example/j/new".into()
    }

    #[test]
    fn nothing_is_projected_before_a_display_connects() {
        let (session, room) = playing();
        let mut displays = Displays::new(0);
        assert!(
            displays
                .follow(1, &presence(), &session, &room, url)
                .is_empty()
        );
        assert_eq!(displays.replay_since(1, 1, false), None);
    }

    #[test]
    fn the_snapshot_is_the_public_view_with_names_not_ids() {
        let (session, room) = playing();
        let mut displays = Displays::new(0);
        let snapshot = displays.snapshot(7, &session, &room, None, None, 5);
        assert_eq!(
            (snapshot.event, snapshot.id.as_deref()),
            ("snapshot", Some("7"))
        );
        let data: serde_json::Value = serde_json::from_str(&snapshot.data).unwrap();
        assert_eq!(data["session"]["state"], "playing");
        assert_eq!(data["now_playing"]["status"], "stopped");
        assert_eq!(data["members"]["member_count"], 2);
        assert_eq!(data["members"]["online_count"], 1);
        assert_eq!(data["join"], serde_json::Value::Null);
        assert_eq!(
            data["upcoming_total"].as_u64().unwrap() as usize,
            session.queue().len() - 1
        );
        assert!(data["upcoming"][0]["brought_by"][0].is_string());
        assert!(!snapshot.data.contains("\"alice\"") && !snapshot.data.contains("\"bob\""));
        assert!(!snapshot.data.contains(session.invite_code().as_str()));
        let with_join = displays.snapshot(7, &session, &room, None, Some("https://x/j/c"), 5);
        assert!(with_join.data.contains("https://x/j/c"));
    }

    #[test]
    fn unchanged_parts_are_not_sent_again_and_the_last_event_of_a_seq_carries_its_id() {
        let (mut session, mut room) = playing();
        let mut displays = Displays::new(0);
        displays.snapshot(1, &session, &room, None, None, 0);
        // Nothing changed for displays: nothing sent.
        assert!(
            displays
                .follow(2, &presence(), &session, &room, url)
                .is_empty()
        );
        room.add(
            Subscriber::Member(UserId::new("bob")),
            WorkerHandle::detached(),
            Audience::Member,
        );
        let frames = displays.follow(3, &presence(), &session, &room, url);
        assert_eq!(frames.len(), 1);
        assert_eq!(&*frames[0].data, r#"{"member_count":2,"online_count":2}"#);
        assert_eq!(frames[0].id.as_deref(), Some("3"));
        // The track changes: the upcoming list moves (no id) and the playback (id) follows.
        session.advance_to(1).unwrap();
        let frames = displays.follow(4, &presence(), &session, &room, url);
        assert!(frames.is_empty(), "presence says nothing of the queue");
        let queue = SessionEvent::Queue {
            queue: crate::wire::QueueWindow::around(session.queue(), 1, 100),
            position: 1,
        };
        let frames = displays.follow(5, &queue, &session, &room, url);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].event, "queue");
        assert!(displays.follow(6, &queue, &session, &room, url).is_empty());
        // An invite rotation is for keys that show the join link only.
        let rotated = SessionEvent::InviteRotated {
            invite_code: "c".into(),
            join_url: url(),
        };
        let frames = displays.follow(7, &rotated, &session, &room, url);
        assert!(frames[0].join_only);
        assert_eq!(displays.replay_since(6, 7, false).unwrap(), Vec::new());
        assert_eq!(displays.replay_since(6, 7, true).unwrap().len(), 1);
        // Replays: exactly what came after, in order.
        let after_two: Vec<&str> = displays
            .replay_since(2, 7, true)
            .unwrap()
            .iter()
            .map(|f| f.event)
            .collect();
        assert_eq!(after_two, ["members", "queue", "join"]);
        // Before the first display, beyond the last event, or from an earlier hub: none.
        assert_eq!(displays.replay_since(0, 7, true), None);
        assert_eq!(displays.replay_since(8, 7, true), None);
        assert_eq!(Displays::new(5).replay_since(5, 7, true), None);
    }

    #[test]
    fn the_ring_is_bounded_and_a_resume_from_beyond_it_gets_a_snapshot() {
        let (session, mut room) = playing();
        let mut displays = Displays::new(0);
        displays.snapshot(0, &session, &room, None, None, 0);
        let bob = UserId::new("bob");
        for seq in 1..=(DISPLAY_RING_CAPACITY as u64 + 10) {
            // bob comes and goes: every event changes the counts.
            if seq % 2 == 1 {
                room.add(
                    Subscriber::Member(bob.clone()),
                    WorkerHandle::detached(),
                    Audience::Member,
                );
            } else {
                room.remove_user(&bob);
            }
            let frames = displays.follow(seq, &presence(), &session, &room, url);
            assert_eq!(frames.len(), 1);
        }
        let last = DISPLAY_RING_CAPACITY as u64 + 10;
        let ring = displays.ring.as_ref().unwrap();
        assert_eq!(ring.len(), DISPLAY_RING_CAPACITY);
        assert_eq!(
            displays.replay_since(5, last, false),
            None,
            "older than the ring"
        );
        assert_eq!(
            displays
                .replay_since(last - 3, last, false)
                .map(|f| f.len()),
            Some(3)
        );
        let (bytes, summed) = displays.ring.as_ref().unwrap().bytes();
        assert!(bytes <= DISPLAY_RING_MAX_BYTES && bytes == summed);
    }

    #[test]
    fn a_track_change_moves_the_list_up_in_a_few_bytes_and_a_reorder_sends_it_whole() {
        let (mut session, room) = playing();
        let mut displays = Displays::new(0);
        let snapshot = displays.snapshot(1, &session, &room, None, None, 0);
        let snapshot: serde_json::Value = serde_json::from_str(&snapshot.data).unwrap();
        let mut shown: Vec<serde_json::Value> = snapshot["upcoming"].as_array().unwrap().clone();
        let queue = |session: &Session| SessionEvent::Queue {
            queue: crate::wire::QueueWindow::around(session.queue(), session.position(), 100),
            position: session.position(),
        };
        // The next track plays: playback first, then "drop the first".
        session.advance_to(1).unwrap();
        let frames = displays.follow(2, &queue(&session), &session, &room, url);
        let delta: serde_json::Value = serde_json::from_str(&frames[0].data).unwrap();
        assert_eq!(delta["drop"], 1, "{delta}");
        assert_eq!(delta["append"], serde_json::json!([]));
        assert!(frames[0].data.len() < 60, "{}", &*frames[0].data);
        shown.drain(..1);
        // Applied to what the display had, it is the list a snapshot now shows.
        let fresh = displays.snapshot(3, &session, &room, None, None, 0);
        let fresh: serde_json::Value = serde_json::from_str(&fresh.data).unwrap();
        assert_eq!(fresh["upcoming"], serde_json::Value::Array(shown));
        assert_eq!(fresh["upcoming_total"], delta["upcoming_total"]);
        // A reshuffle of what is upcoming: the whole list.
        let alice = UserId::new("alice");
        let mut rng = StdRng::seed_from_u64(9);
        let reordered = loop {
            session.reshuffle(&alice, &mut rng).unwrap();
            let frames = displays.follow(4, &queue(&session), &session, &room, url);
            if let Some(frame) = frames.first() {
                break frame.clone();
            }
        };
        let whole: serde_json::Value = serde_json::from_str(&reordered.data).unwrap();
        assert!(whole["upcoming"].is_array(), "{whole}");
        assert!(whole.get("drop").is_none());
    }

    #[test]
    fn now_playing_reads_as_text() {
        let (session, _) = playing();
        let stopped = NowPlaying::of(None, &session, 9);
        assert_eq!(
            (stopped.status, stopped.as_text()),
            (PlayStatus::Stopped, String::new())
        );
        let playing = NowPlaying {
            title: "Midnight City".into(),
            artists: vec!["M83".into(), "Someone".into()],
            status: PlayStatus::Paused,
            ..stopped
        };
        assert_eq!(playing.as_text(), "M83, Someone — Midnight City");
    }
}
