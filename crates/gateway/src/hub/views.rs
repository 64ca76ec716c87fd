//! Pure projections of a session to the wire: what a member, a page, an invite preview or
//! the host's player shows, and which frames a batch of domain events becomes. No I/O, no
//! state of its own.

use sesh_session::{Event, Member, Session, SessionDisplay, UserId, skip_threshold};
use sesh_spotify::PlaybackState;

use super::{follower::Followed, room::Room};
use crate::{
    state::HubConfig,
    wire::{
        DeviceView, DisplayView, InvitePreview, MemberView, PlaybackChange, PlaybackView,
        PreviewYou, QueueEntryView, QueueWindow, SessionEvent, SessionView, SkipView, UserRef,
        added_by_listed, track_from_spotify,
    },
};

/// What the projections need of the server's settings.
#[derive(Debug, Clone)]
pub(super) struct Views {
    /// Largest session whose members are listed and announced one by one.
    pub(super) roster_limit: usize,
    /// Longest queue sent whole; longer ones go as a window this long.
    pub(super) queue_window: usize,
    /// The public origin, for join links.
    pub(super) public_origin: String,
}

impl Views {
    /// From the hubs' tunables and the public origin.
    pub(super) fn new(config: &HubConfig, public_origin: String) -> Self {
        Self {
            roster_limit: config.roster_limit,
            queue_window: config.queue_window,
            public_origin,
        }
    }

    /// `{public_url}/j/{code}`.
    pub(super) fn join_url(&self, session: &Session) -> String {
        format!(
            "{}/j/{}",
            self.public_origin,
            session.invite_code().as_str()
        )
    }

    /// A display key as the host sees it, with `open_streams` streams open.
    pub(super) fn display(&self, display: &SessionDisplay, open_streams: usize) -> DisplayView {
        let key = display.key.as_str();
        let origin = &self.public_origin;
        DisplayView {
            key: key.to_owned(),
            label: display.label.as_ref().map(|l| l.as_str().to_owned()),
            show_join: display.show_join,
            created_at_ms: display.created_at_ms,
            tv_url: format!("{origin}/tv/{key}"),
            overlay_url: format!("{origin}/overlay/{key}"),
            events_url: format!("{origin}/d/{key}/events"),
            open_streams,
        }
    }

    /// A member as others see them.
    pub(super) fn member(&self, session: &Session, member: &Member, room: &Room) -> MemberView {
        MemberView {
            id: member.user_id.clone(),
            display_name: member.display_name.clone(),
            role: member.role,
            online: room.is_online(&member.user_id),
            muted: session.is_muted(&member.user_id),
            listening: room.listening(&member.user_id),
        }
    }

    /// Whether a session of `members` members is too big to list and announce one by one.
    pub(super) fn is_large(&self, members: usize) -> bool {
        members > self.roster_limit
    }

    /// The members a snapshot lists: all of them, or in a session over the roster limit the
    /// host and the first others up to the limit.
    pub(super) fn roster(&self, session: &Session, room: &Room) -> Vec<MemberView> {
        if !self.is_large(session.members().len()) {
            return session
                .members()
                .iter()
                .map(|m| self.member(session, m, room))
                .collect();
        }
        let host = session.members().iter().filter(|m| m.is_host());
        let others = session.members().iter().filter(|m| !m.is_host());
        host.chain(others)
            .take(self.roster_limit)
            .map(|m| self.member(session, m, room))
            .collect()
    }

    /// The queue window members get while the current entry plays.
    pub(super) fn queue_window(&self, session: &Session) -> QueueWindow {
        QueueWindow::around(session.queue(), session.position(), self.queue_window)
    }

    /// The session as `viewer` sees it: the host also sees whom they removed.
    pub(super) fn session(&self, session: &Session, viewer: &UserId, room: &Room) -> SessionView {
        let banned = if viewer == session.host() {
            session
                .banned()
                .iter()
                .map(|(id, name)| UserRef {
                    id: id.clone(),
                    display_name: name.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        SessionView {
            id: session.id(),
            state: session.state(),
            host: session.host().clone(),
            invite_code: session.invite_code().to_string(),
            join_url: self.join_url(session),
            members: self.roster(session, room),
            member_count: session.members().len(),
            online_count: room.online_count(),
            queue: QueueWindow::around_as(
                session.queue(),
                session.position(),
                self.queue_window,
                |e| QueueEntryView::for_viewer(e, viewer),
            ),
            position: session.position(),
            device: session.device().cloned(),
            settings: session.settings().into(),
            idle_ends_at_ms: None,
            banned,
            your_tracks: session
                .member(viewer)
                .map(|m| m.top_tracks.clone())
                .unwrap_or_default(),
            committed_id: session.committed(),
            skip: SkipView {
                entry_id: session.now_playing().map(|e| e.id),
                votes: session.skip_votes().len(),
                needed: skip_threshold(room.online_count()),
                you_voted: session.skip_votes().contains(viewer),
            },
            banned_tracks: session.banned_tracks().iter().cloned().collect(),
        }
    }

    /// The public preview of an invite; where `viewer` (logged in) stands.
    pub(super) fn preview(&self, session: &Session, viewer: Option<&UserId>) -> InvitePreview {
        let host_name = session
            .member(session.host())
            .map(|m| m.display_name.clone())
            .unwrap_or_else(|| session.host().to_string());
        InvitePreview {
            session_id: session.id(),
            host: UserRef {
                id: session.host().clone(),
                display_name: host_name,
            },
            name: session.settings().name.clone(),
            member_count: session.members().len(),
            state: session.state(),
            you: viewer.map(|user| PreviewYou {
                member: session.is_member(user),
                banned: session.is_banned(user),
            }),
            // The route adds them (the hub knows nothing of the app's seats).
            seats: None,
        }
    }

    /// What members see of the host's player: the observed `state` as the follower read it
    /// (`followed`), observed at `at_ms`.
    pub(super) fn playback(
        &self,
        session: &Session,
        state: Option<&PlaybackState>,
        followed: Followed,
        at_ms: i64,
    ) -> PlaybackView {
        let entry = followed.position.and_then(|p| session.queue().get(p));
        let device = state.and_then(|s| s.device.as_ref());
        PlaybackView {
            track: state
                .and_then(|s| s.item.as_ref())
                .and_then(|i| i.as_track())
                .and_then(track_from_spotify),
            is_playing: state.is_some_and(|s| s.is_playing),
            progress_ms: state.and_then(|s| s.progress_ms).unwrap_or(0),
            device: device.map(|d| DeviceView {
                id: d.id.clone(),
                name: d.name.clone(),
                supports_volume: d.supports_volume,
            }),
            server_time_ms: at_ms,
            added_by: entry
                .map(|e| added_by_listed(&e.added_by))
                .unwrap_or_default(),
            added_by_count: entry.map_or(0, |e| e.added_by.len()),
            position: followed.position,
            volume_percent: device.and_then(|d| d.volume_percent),
            shuffle: state.is_some_and(|s| s.shuffle_state),
            repeat: state.map(|s| s.repeat_state).unwrap_or_default(),
            changes: followed.emit.unwrap_or_default(),
        }
    }

    /// The player after Sesh's own skip to the queue's entry at `position`, from `before` (the
    /// view members had), at `at_ms`: that entry's track from its start, playing.
    pub(super) fn skipped_to(
        &self,
        session: &Session,
        position: usize,
        before: &PlaybackView,
        changes: Vec<PlaybackChange>,
        at_ms: i64,
    ) -> PlaybackView {
        let entry = session.queue().get(position);
        PlaybackView {
            track: entry.map(|e| (*e.track).clone()),
            is_playing: true,
            progress_ms: 0,
            server_time_ms: at_ms,
            added_by: entry
                .map(|e| added_by_listed(&e.added_by))
                .unwrap_or_default(),
            added_by_count: entry.map_or(0, |e| e.added_by.len()),
            position: entry.map(|_| position),
            changes,
            ..before.clone()
        }
    }

    /// The frames a batch of events (one transition) becomes, given the session after it and
    /// whether it was over the roster limit before (`was_large`). Over the limit (before or
    /// after) members are not announced one by one: the counts follow in a `members_summary`.
    /// Changes of queue entries become one `queue` frame (the window as it is now), where the
    /// first of them was.
    pub(super) fn frames(
        &self,
        events: &[Event],
        session: &Session,
        room: &Room,
        was_large: bool,
    ) -> Vec<SessionEvent> {
        let quiet_roster = was_large || self.is_large(session.members().len());
        let mut frames = Vec::with_capacity(events.len());
        // A few entry changes of the collaborative queue go out one by one (small frames,
        // whatever the queue's length); a start, a late joiner, a reshuffle or anything bigger
        // as one `queue` frame with the window.
        let deltas = deltas_fit(events);
        let mut queue_sent = false;
        for event in events {
            let frame = match event {
                Event::MemberJoined { member } if !quiet_roster => SessionEvent::MemberJoined {
                    member: self.member(session, member, room),
                },
                Event::MemberLeft { user_id, reason } if !quiet_roster => {
                    SessionEvent::MemberLeft {
                        user_id: user_id.clone(),
                        reason: *reason,
                    }
                }
                Event::MemberUpdated { member } if !quiet_roster => SessionEvent::MemberUpdated {
                    member: self.member(session, member, room),
                },
                Event::MemberJoined { .. }
                | Event::MemberLeft { .. }
                | Event::MemberUpdated { .. } => continue,
                Event::RoleChanged { user_id, role } => SessionEvent::RoleChanged {
                    user_id: user_id.clone(),
                    role: *role,
                },
                Event::MemberMuted { user_id, muted } => SessionEvent::MemberMuted {
                    user_id: user_id.clone(),
                    muted: *muted,
                },
                Event::HostChanged { host } => SessionEvent::HostChanged { host: host.clone() },
                Event::SettingsChanged { settings } => SessionEvent::SettingsChanged {
                    settings: settings.into(),
                },
                Event::InviteRotated => SessionEvent::InviteRotated {
                    invite_code: session.invite_code().to_string(),
                    join_url: self.join_url(session),
                },
                Event::MemberUnbanned { user_id } => SessionEvent::MemberUnbanned {
                    user_id: user_id.clone(),
                },
                Event::SessionStarted { position, device } => {
                    // The window of the started queue includes what the same batch wove in.
                    queue_sent = true;
                    SessionEvent::SessionStarted {
                        queue: self.queue_window(session),
                        position: *position,
                        device: Some(device.clone()),
                    }
                }
                Event::EntryAdded { entry, index } if deltas => SessionEvent::EntryAdded {
                    entry: QueueEntryView::from(entry),
                    index: *index,
                },
                Event::EntryRemoved { id } if deltas => SessionEvent::EntryRemoved { id: *id },
                Event::EntryMoved { id, index } if deltas => SessionEvent::EntryMoved {
                    id: *id,
                    index: *index,
                },
                Event::EntryVotes { id, votes } if deltas => SessionEvent::EntryVotes {
                    id: *id,
                    votes: *votes,
                },
                Event::EntryCommitted { id } => SessionEvent::EntryCommitted { id: *id },
                Event::SkipVotes { entry_id, votes } => SessionEvent::SkipVotes {
                    entry_id: *entry_id,
                    votes: *votes,
                    needed: skip_threshold(room.online_count()),
                },
                Event::TrackBanned { track_id } => SessionEvent::TrackBanned {
                    track_id: track_id.clone(),
                },
                Event::EntryAdded { .. }
                | Event::EntryUpdated { .. }
                | Event::EntryRemoved { .. }
                | Event::EntryMoved { .. }
                | Event::EntryVotes { .. }
                | Event::QueueReordered { .. }
                | Event::NowPlaying { .. } => {
                    if std::mem::replace(&mut queue_sent, true) {
                        continue;
                    }
                    SessionEvent::Queue {
                        queue: self.queue_window(session),
                        position: session.position(),
                    }
                }
                Event::DeviceChanged { device } => SessionEvent::DeviceChanged {
                    device: device.clone(),
                },
                Event::SessionEnded => SessionEvent::SessionEnded,
                // Display keys are the host's to see (over HTTP): never announced to members.
                Event::DisplayCreated { .. } | Event::DisplayRevoked { .. } => continue,
            };
            frames.push(frame);
        }
        frames
    }
}

/// Most entry changes in one batch that still go out one by one.
const MAX_DELTA_FRAMES: usize = 8;

/// Whether a batch's entry changes go out as delta frames: a handful of adds, removals, moves
/// and vote counts, and nothing that rebuilds the queue (a start, credits of a late joiner, a
/// reorder, the position moving on) or comes with a member's arrival.
fn deltas_fit(events: &[Event]) -> bool {
    let mut deltas = 0;
    for event in events {
        match event {
            Event::EntryAdded { .. }
            | Event::EntryRemoved { .. }
            | Event::EntryMoved { .. }
            | Event::EntryVotes { .. } => deltas += 1,
            Event::SessionStarted { .. }
            | Event::EntryUpdated { .. }
            | Event::QueueReordered { .. }
            | Event::NowPlaying { .. }
            | Event::MemberJoined { .. }
            | Event::MemberUpdated { .. } => return false,
            _ => {}
        }
    }
    deltas <= MAX_DELTA_FRAMES
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use rand::{SeedableRng, rngs::StdRng};
    use sesh_session::{
        DeviceId, InviteCode, NewMember, SessionId, Settings, Track, TrackId, TrackUri,
    };

    use super::*;
    use crate::hub::{WorkerHandle, room::Subscriber};

    fn views(roster_limit: usize) -> Views {
        Views {
            roster_limit,
            queue_window: 100,
            public_origin: "https://sesh.example".into(),
        }
    }

    /// Five tracks `{prefix}0`…`{prefix}4` of 1 s (for other modules' tests too).
    pub(in crate::hub) fn tracks(prefix: &str) -> Vec<Arc<Track>> {
        (0..5)
            .map(|i| {
                let id = TrackId::new(format!("{prefix}{i}"));
                Arc::new(Track {
                    uri: TrackUri::for_track(&id),
                    id,
                    name: format!("{prefix} {i}"),
                    artists: vec!["A".into()],
                    album: "B".into(),
                    image_url: None,
                    duration_ms: 1000,
                })
            })
            .collect()
    }

    fn session(rng: &mut StdRng) -> Session {
        Session::new(
            SessionId::new_v4(),
            InviteCode::generate(rng),
            NewMember::new(UserId::new("alice"), "Alice", tracks("a")),
            0,
            Settings::default(),
        )
    }

    #[test]
    fn a_late_joiners_entries_become_one_queue_frame_after_the_join() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut s = session(&mut rng);
        s.start(&UserId::new("alice"), DeviceId::new("d"), &mut rng)
            .unwrap();
        let events = s
            .join(
                NewMember::new(UserId::new("bob"), "Bob", tracks("b")),
                1,
                &mut rng,
            )
            .unwrap();
        assert!(events.len() > 2, "a join and several entries: {events:?}");
        let mut room = Room::default();
        room.add(
            Subscriber::Member(UserId::new("bob")),
            WorkerHandle::detached(),
            crate::hub::Audience::Member,
        );
        let frames = views(10).frames(&events, &s, &room, false);
        assert_eq!(frames.len(), 2, "{frames:?}");
        let SessionEvent::MemberJoined { member } = &frames[0] else {
            panic!("{frames:?}")
        };
        assert!(member.online, "the room says bob is connected");
        let SessionEvent::Queue { queue, position } = &frames[1] else {
            panic!("{frames:?}")
        };
        assert_eq!(*position, 0);
        assert_eq!(queue.bounds(), (0, 10), "the whole queue, with bob's five");
    }

    #[test]
    fn over_the_roster_limit_members_are_not_announced_one_by_one() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut s = session(&mut rng);
        let events = s
            .join(
                NewMember::new(UserId::new("bob"), "Bob", Vec::new()),
                1,
                &mut rng,
            )
            .unwrap();
        let room = Room::default();
        assert_eq!(views(10).frames(&events, &s, &room, false).len(), 1);
        // Large after the change, or before it: no member frame.
        assert!(views(1).frames(&events, &s, &room, false).is_empty());
        assert!(views(10).frames(&events, &s, &room, true).is_empty());
    }

    #[test]
    fn the_host_alone_sees_whom_they_removed() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut s = session(&mut rng);
        s.join(
            NewMember::new(UserId::new("bob"), "Bob", Vec::new()),
            1,
            &mut rng,
        )
        .unwrap();
        s.join(
            NewMember::new(UserId::new("carol"), "Carol", Vec::new()),
            2,
            &mut rng,
        )
        .unwrap();
        s.kick(&UserId::new("alice"), &UserId::new("bob")).unwrap();
        let room = Room::default();
        let host = views(10).session(&s, &UserId::new("alice"), &room);
        assert_eq!(host.banned.len(), 1);
        assert_eq!(host.banned[0].display_name, "Bob");
        let guest = views(10).session(&s, &UserId::new("carol"), &room);
        assert!(guest.banned.is_empty());
        assert_eq!(
            guest.join_url,
            format!("https://sesh.example/j/{}", s.invite_code().as_str())
        );
        let preview = views(10).preview(&s, Some(&UserId::new("bob")));
        assert_eq!(
            preview.you,
            Some(PreviewYou {
                member: false,
                banned: true
            })
        );
    }
}
