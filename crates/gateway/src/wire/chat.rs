//! The chat's JSON shapes (docs/websocket.md, "Chat"): messages as members see them, the chat
//! part of `welcome` and of `GET …/chat`, the chat frames (sent to members only, without a
//! `seq`: they never enter the replay ring, so a busy chat cannot push playback events out of
//! a resume's reach) and the bodies of the chat's requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sesh_session::{ChatMessage, QueueEntryId, Reaction, Reactions, UserId};

use super::UserRef;

/// Messages a `welcome` (and a `chat_history` frame) carries, at most: the newest ones.
pub const WELCOME_CHAT_MESSAGES: usize = 50;

/// How many members gave each reaction (`{"👍": 2}`; reactions nobody gave are left out).
pub type ReactionCounts = BTreeMap<Reaction, usize>;

/// One chat message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatMessageView {
    /// Per session, increasing, never reused.
    #[schema(value_type = u64)]
    pub id: sesh_session::ChatMessageId,
    /// Who wrote it, with the name they had in the session then.
    pub author: UserRef,
    /// Plain text (one line, at most 500 characters): show it as text, never as HTML.
    pub text: String,
    /// When the server received it (Unix ms, the server's clock).
    pub at_ms: i64,
    /// Reactions given to it.
    #[schema(value_type = BTreeMap<String, usize>)]
    pub reactions: ReactionCounts,
    /// The viewer's own reactions to it (left out when none, and in the `chat` event).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mine: Vec<Reaction>,
}

impl ChatMessageView {
    /// `message` as `viewer` sees it (`None`: as everyone sees it, without `mine`).
    pub fn of(message: &ChatMessage, viewer: Option<&UserId>) -> Self {
        Self {
            id: message.id,
            author: UserRef {
                id: message.author.clone(),
                display_name: message.author_name.clone(),
            },
            text: message.text.as_str().to_owned(),
            at_ms: message.at_ms,
            reactions: message.reactions.counts(),
            mine: viewer.map(|v| message.reactions.of(v)).unwrap_or_default(),
        }
    }
}

/// The reactions on the playing entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackReactionsView {
    /// The playing queue entry.
    #[schema(value_type = u64)]
    pub entry_id: QueueEntryId,
    /// How many gave each.
    #[schema(value_type = BTreeMap<String, usize>)]
    pub reactions: ReactionCounts,
    /// The viewer's own.
    pub mine: Vec<Reaction>,
}

impl TrackReactionsView {
    /// The reactions on `entry_id` as `viewer` sees them.
    pub fn of(entry_id: QueueEntryId, reactions: &Reactions, viewer: &UserId) -> Self {
        Self {
            entry_id,
            reactions: reactions.counts(),
            mine: reactions.of(viewer),
        }
    }
}

/// `welcome.chat`, the `chat_history` frame and `GET /api/sessions/{id}/chat`: messages oldest
/// first, the newest page (or the page before `before`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatPage {
    /// Oldest first.
    pub messages: Vec<ChatMessageView>,
    /// Older messages exist: ask `GET …/chat?before=<the first id here>`.
    pub more: bool,
    /// The reactions on the playing track, if anyone gave one.
    pub track_reactions: Option<TrackReactionsView>,
}

/// A chat frame, to every member's socket (no `seq`: see the module's doc).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatFrame<'a> {
    /// A new message.
    Chat {
        /// It.
        message: ChatMessageView,
    },
    /// A moderator deleted a message.
    ChatDeleted {
        /// Which.
        #[serde(rename = "id")]
        id: sesh_session::ChatMessageId,
    },
    /// A member toggled a reaction on a message.
    ChatReactions {
        /// The message.
        id: sesh_session::ChatMessageId,
        /// Its counts now.
        reactions: ReactionCounts,
        /// Who toggled.
        by: &'a UserId,
        /// Which reaction.
        reaction: Reaction,
        /// Whether `by` gives it now (`false`: took it back).
        on: bool,
    },
    /// A member toggled a reaction on the playing track.
    TrackReactions {
        /// The playing entry.
        entry_id: QueueEntryId,
        /// Its counts now.
        reactions: ReactionCounts,
        /// Who toggled.
        by: &'a UserId,
        /// Which reaction.
        reaction: Reaction,
        /// Whether `by` gives it now.
        on: bool,
    },
    /// After a `?since=` resume served from the replay ring: the chat as a `welcome` would
    /// carry it (chat frames are not replayed); replace what you show.
    ChatHistory {
        /// The newest messages and the track's reactions.
        #[serde(flatten)]
        page: ChatPage,
    },
}

impl ChatFrame<'_> {
    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `POST /api/sessions/{id}/chat` (and the `chat` frame's field).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// One line, 1–500 characters after trimming.
    pub text: String,
}

/// `POST …/chat/{message_id}/reactions` and `POST …/track-reactions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionBody {
    /// One of 👍 ❤️ 😂 🔥 🎉.
    pub reaction: Reaction,
}

/// `POST /api/sessions/{id}/members/{user_id}/mute`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    /// `true` mutes, `false` unmutes.
    pub muted: bool,
}

/// `POST /api/sessions/{id}/chat` → 201.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Posted {
    /// The new message.
    pub message: ChatMessageView,
}

/// `POST …/chat/{message_id}/reactions` → 200: the message's reactions now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageReactions {
    /// The message.
    #[schema(value_type = u64)]
    pub id: sesh_session::ChatMessageId,
    /// How many gave each.
    #[schema(value_type = BTreeMap<String, usize>)]
    pub reactions: ReactionCounts,
    /// The caller's own.
    pub mine: Vec<Reaction>,
}
