//! The domain of a Sesh listening session: members, roles, invite codes, the state
//! machine `Lobby → Playing → Ended` and the fair shuffle. Pure: no I/O, no async, no
//! clock (callers pass `now_ms`) and no hidden randomness (callers pass an `Rng`), so
//! every rule can be tested deterministically.
//!
//! # Layout
//! - [`ids`]: newtypes for session, user, track, device and queue entry ids ([`SessionId`],
//!   [`UserId`], [`TrackId`], [`TrackUri`], [`DeviceId`], [`QueueEntryId`]).
//! - [`invite`]: [`InviteCode`], 128 random bits in URL-safe base64.
//! - [`track`]: [`Track`] metadata and [`QueueEntry`] (an id, a track and who brought it).
//! - [`member`]: [`Member`], [`NewMember`] and their [`Role`] (host, co-host, guest).
//! - [`permission`]: [`Permission`]s the host may open to guests and the set of them,
//!   [`Permissions`].
//! - [`action`]: [`Action`] and the one rule table, [`Action::requirement`] →
//!   [`Requirement`].
//! - [`chat`]: the session's chat — [`ChatText`], [`Reaction`]s, and [`Chat`], the last
//!   messages and their reactions, whose `decide_*` methods check a request (the rule table,
//!   the mute) without changing anything and whose `apply` makes the change.
//! - [`settings`]: per-session [`Settings`] (capacity, [`ShuffleMode`], guest permissions,
//!   the [`SessionName`]).
//! - [`session`]: the [`Session`] aggregate and its transitions, each returning the
//!   [`Event`]s to fan out or a [`SessionError`]: members and roles (`join`, `leave`,
//!   `kick`, `transfer_host`, `set_role`, `set_guest_permissions`, `set_top_tracks`,
//!   `end`, `set_shuffle_mode`, `set_name`, `rotate_invite`, `unban`, `set_muted`) and playback (`plan_start` and
//!   `start_planned`, or `start`; `advance_to`/`move_to`, `reshuffle`, `set_device`,
//!   `remove_entry`). [`Session::authorize`] applies the rule table.
//! - [`event`]: [`Event`], serialized as `{"type": "member_joined", …}`; the queue events
//!   describe each change exactly.
//! - [`error`]: [`SessionError`] with stable [`SessionError::code`]s, and [`RestoreError`]
//!   for stored sessions that fail validation.
//! - [`recap`]: what a session played ([`Recap`]), from its queue and the recorded [`Play`]s.
//! - [`shuffle`]: building the queue (fair round-robin or plain shuffle), re-drawing it,
//!   and weaving in late joiners.
//!
//! # Example
//! ```
//! use rand::{SeedableRng, rngs::StdRng};
//! use sesh_session::*;
//!
//! let mut rng = StdRng::seed_from_u64(1);
//! let host = NewMember::new(UserId::new("alice"), "Alice", Vec::new());
//! let mut session = Session::new(
//!     SessionId::new_v4(),
//!     InviteCode::generate(&mut rng),
//!     host,
//!     0,
//!     Settings::default(),
//! );
//! let bob = NewMember::new(UserId::new("bob"), "Bob", Vec::new());
//! let events = session.join(bob, 1_000, &mut rng).unwrap();
//! assert!(matches!(events[..], [Event::MemberJoined { .. }]));
//! let refused = session.start(&UserId::new("bob"), DeviceId::new("phone"), &mut rng);
//! assert_eq!(refused.unwrap_err().code(), "forbidden");
//! // Guests may skip only when the host allows it.
//! assert_eq!(
//!     session.authorize(&UserId::new("bob"), Action::Skip),
//!     Err(SessionError::Forbidden { action: Action::Skip, permission: Some(Permission::Skip) })
//! );
//! ```

pub mod action;
pub mod chat;
pub mod display;
pub mod error;
pub mod event;
pub mod ids;
pub mod invite;
pub mod member;
pub mod permission;
pub mod recap;
pub mod session;
pub mod settings;
pub mod shuffle;
pub mod track;

pub use action::{Action, Requirement};
pub use chat::{
    CHAT_HISTORY, Chat, ChatChange, ChatMessage, ChatMessageId, ChatText, ChatTextError,
    MAX_CHAT_CHARS, Reaction, Reactions,
};
pub use display::{DisplayKey, MAX_DISPLAYS, SessionDisplay};
pub use error::{RestoreError, SessionError};
pub use event::{Event, LeaveReason};
pub use ids::{DeviceId, ParseIdError, QueueEntryId, SessionId, TrackId, TrackUri, UserId};
pub use invite::{InviteCode, InviteCodeError};
pub use member::{Member, NewMember, ParseRoleError, Role};
pub use permission::{
    GuestControls, GuestControlsPatch, ParsePermissionError, Permission, Permissions,
};
pub use recap::{MemberTally, Play, Recap, RecapPlay};
pub use session::{
    MAX_ENTRY_ID, Session, SessionParts, SessionState, SkipVote, StartPlan, skip_threshold,
};
pub use settings::{
    DEFAULT_CAPACITY, MAX_NAME_CHARS, QueueOrder, QueueSettingsPatch, SessionName,
    SessionNameError, Settings, ShuffleMode,
};
pub use track::{EntryOrigin, InvalidVote, QueueEntry, Track, Vote};
