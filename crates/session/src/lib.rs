//! The domain of a Sesh listening session: members, roles, invite codes, the state
//! machine `Lobby → Playing → Ended` and the fair shuffle. Pure: no I/O, no async, no
//! clock (callers pass `now_ms`) and no hidden randomness (callers pass an `Rng`), so
//! every rule can be tested deterministically.
//!
//! # Layout
//! - [`ids`]: newtypes for session, user, track and device ids ([`SessionId`], [`UserId`],
//!   [`TrackId`], [`TrackUri`], [`DeviceId`]).
//! - [`invite`]: [`InviteCode`], 128 random bits in URL-safe base64.
//! - [`track`]: [`Track`] metadata and [`QueueEntry`] (a track and who brought it).
//! - [`member`]: [`Member`], [`NewMember`] and their [`Role`].
//! - [`settings`]: per-session [`Settings`] (capacity, [`ShuffleMode`]).
//! - [`session`]: the [`Session`] aggregate, its transitions (`join`, `leave`, `kick`,
//!   `transfer_host`, `set_top_tracks`, `start`, `end`, `set_shuffle_mode`,
//!   `rotate_invite`, `advance_to`), each returning the [`Event`]s to fan out or a
//!   [`SessionError`], and the role rule [`Session::can`] with [`Action`].
//! - [`event`]: [`Event`], serialized as `{"type": "member_joined", …}`.
//! - [`error`]: [`SessionError`] with stable [`SessionError::code`]s, and [`RestoreError`]
//!   for stored sessions that fail validation.
//! - [`shuffle`]: building the queue (fair round-robin or plain shuffle) and weaving in
//!   late joiners.
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
//! ```

pub mod action;
pub mod error;
pub mod event;
pub mod ids;
pub mod invite;
pub mod member;
pub mod permission;
pub mod session;
pub mod settings;
pub mod shuffle;
pub mod track;

pub use action::{Action, Requirement};
pub use error::{RestoreError, SessionError};
pub use event::{Event, LeaveReason};
pub use ids::{DeviceId, ParseIdError, QueueEntryId, SessionId, TrackId, TrackUri, UserId};
pub use invite::{InviteCode, InviteCodeError};
pub use member::{Member, NewMember, ParseRoleError, Role};
pub use permission::{ParsePermissionError, Permission, Permissions};
pub use session::{MAX_ENTRY_ID, Session, SessionParts, SessionState, StartPlan};
pub use settings::{DEFAULT_CAPACITY, Settings, ShuffleMode};
pub use track::{QueueEntry, Track};
