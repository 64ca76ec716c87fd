//! The session's chat: what a message may say ([`ChatText`]), the fixed set of
//! [`Reaction`]s, and [`Chat`], the last [`CHAT_HISTORY`] messages with their reactions and
//! the reactions on the playing track.
//!
//! Sans-I/O like the rest of the crate, and split in two so a gateway can store before it
//! tells: `decide_*` checks a request against the session's rules
//! ([`crate::Session::authorize`] with [`crate::Action::Chat`] or the moderators' actions, the
//! mute) and returns the [`ChatChange`] it would make, changing nothing; [`Chat::apply`] makes
//! it. The clock comes in as `now_ms`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::error::SessionError;
use crate::ids::{QueueEntryId, UserId};
use crate::session::Session;

/// Most characters in a [`ChatText`], after trimming.
pub const MAX_CHAT_CHARS: usize = 500;
/// Messages a session keeps; the next one pushes the oldest out.
pub const CHAT_HISTORY: usize = 200;

/// What a member writes: trimmed, 1 to [`MAX_CHAT_CHARS`] characters, one line (no control
/// characters, line breaks included, as with [`crate::SessionName`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(try_from = "String", into = "String")]
pub struct ChatText(String);

/// Why text is not a [`ChatText`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatTextError {
    /// Nothing but white space.
    #[error("the message is empty")]
    Empty,
    /// Over [`MAX_CHAT_CHARS`] characters after trimming.
    #[error("the message is longer than {MAX_CHAT_CHARS} characters")]
    TooLong,
    /// A control character (a line break, a tab, …).
    #[error("the message contains a control character (messages are one line)")]
    ControlCharacter,
}

impl ChatText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChatText {
    type Error = ChatTextError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let text = raw.trim();
        if text.is_empty() {
            Err(ChatTextError::Empty)
        } else if text.chars().count() > MAX_CHAT_CHARS {
            Err(ChatTextError::TooLong)
        } else if text.chars().any(char::is_control) {
            Err(ChatTextError::ControlCharacter)
        } else if text.len() == raw.len() {
            Ok(Self(raw))
        } else {
            Ok(Self(text.to_owned()))
        }
    }
}

impl From<ChatText> for String {
    fn from(text: ChatText) -> Self {
        text.0
    }
}

/// One of the reactions a member may give a message or the playing track. Serialized as
/// the emoji itself (`"👍"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Reaction {
    /// 👍
    #[serde(rename = "👍")]
    ThumbsUp,
    /// ❤️
    #[serde(rename = "❤️")]
    Heart,
    /// 😂
    #[serde(rename = "😂")]
    Laugh,
    /// 🔥
    #[serde(rename = "🔥")]
    Fire,
    /// 🎉
    #[serde(rename = "🎉")]
    Party,
}

impl Reaction {
    /// Every reaction, in the order the page shows them.
    pub const ALL: [Reaction; 5] = [
        Self::ThumbsUp,
        Self::Heart,
        Self::Laugh,
        Self::Fire,
        Self::Party,
    ];

    /// The emoji.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ThumbsUp => "👍",
            Self::Heart => "❤️",
            Self::Laugh => "😂",
            Self::Fire => "🔥",
            Self::Party => "🎉",
        }
    }
}

impl fmt::Display for Reaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who gave which reaction (a member gives each at most once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reactions(BTreeMap<Reaction, BTreeSet<UserId>>);

impl Reactions {
    /// How many members gave each reaction (the ones nobody gave left out).
    pub fn counts(&self) -> BTreeMap<Reaction, usize> {
        self.0
            .iter()
            .filter(|(_, who)| !who.is_empty())
            .map(|(reaction, who)| (*reaction, who.len()))
            .collect()
    }

    /// The reactions `user` gave, in [`Reaction::ALL`] order.
    pub fn of(&self, user: &UserId) -> Vec<Reaction> {
        self.0
            .iter()
            .filter(|(_, who)| who.contains(user))
            .map(|(reaction, _)| *reaction)
            .collect()
    }

    /// These reactions with `user`'s `reaction` toggled.
    #[must_use]
    pub fn toggled(&self, user: &UserId, reaction: Reaction) -> Reactions {
        let mut next = self.clone();
        let who = next.0.entry(reaction).or_default();
        if !who.remove(user) {
            who.insert(user.clone());
        }
        next.0.retain(|_, who| !who.is_empty());
        next
    }

    /// Whether nobody reacted.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }
}

/// A chat message's id: per session, increasing, never reused (not even after a delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct ChatMessageId(u64);

impl ChatMessageId {
    /// Wraps a stored or requested number.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number inside.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChatMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One message of the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Its id.
    pub id: ChatMessageId,
    /// Who wrote it.
    pub author: UserId,
    /// Their name in the session when they wrote it.
    pub author_name: String,
    /// What they wrote.
    pub text: ChatText,
    /// When the server received it (Unix ms).
    pub at_ms: i64,
    /// The members' reactions to it.
    pub reactions: Reactions,
}

/// A change of the chat, decided by a `decide_*` method, made by [`Chat::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatChange {
    /// A new message; the oldest leaves when the history is full.
    Post(ChatMessage),
    /// A moderator deleted a message.
    Delete(ChatMessageId),
    /// A message's reactions are these now.
    React {
        /// The message.
        id: ChatMessageId,
        /// Its reactions after the toggle.
        reactions: Reactions,
    },
    /// The playing entry's reactions are these now.
    ReactTrack {
        /// The playing entry.
        entry_id: QueueEntryId,
        /// Its reactions after the toggle.
        reactions: Reactions,
    },
}

/// The chat of one session: the last [`CHAT_HISTORY`] messages, oldest first, and the
/// reactions on the playing entry (those on a track that stopped playing are forgotten).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chat {
    messages: VecDeque<ChatMessage>,
    /// The id the next message gets; only grows.
    next_id: u64,
    track: Option<(QueueEntryId, Reactions)>,
}

impl Chat {
    /// A chat as stored: `messages` in any order (the newest [`CHAT_HISTORY`] are kept), and
    /// the next id, raised above every message's.
    pub fn restore(mut messages: Vec<ChatMessage>, next_id: u64) -> Chat {
        messages.sort_by_key(|m| m.id);
        messages.dedup_by_key(|m| m.id);
        let skip = messages.len().saturating_sub(CHAT_HISTORY);
        let messages: VecDeque<ChatMessage> = messages.into_iter().skip(skip).collect();
        let next_id = messages
            .back()
            .map_or(next_id, |m| next_id.max(m.id.get() + 1));
        Chat {
            messages,
            next_id,
            track: None,
        }
    }

    /// The messages, oldest first.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> + ExactSizeIterator {
        self.messages.iter()
    }

    /// The message `id`, if the chat still has it.
    pub fn message(&self, id: ChatMessageId) -> Option<&ChatMessage> {
        self.messages
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .and_then(|i| self.messages.get(i))
    }

    /// The id the next message gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Up to `limit` messages older than `before` (all, without it), oldest first, and
    /// whether there are older ones still.
    pub fn page(&self, before: Option<ChatMessageId>, limit: usize) -> (Vec<&ChatMessage>, bool) {
        let end = before.map_or(self.messages.len(), |before| {
            self.messages.partition_point(|m| m.id < before)
        });
        let start = end.saturating_sub(limit);
        (self.messages.range(start..end).collect(), start > 0)
    }

    /// The reactions on the playing entry of `session` (none once another plays).
    pub fn track_reactions(&self, session: &Session) -> Option<(QueueEntryId, &Reactions)> {
        let playing = session.now_playing()?.id;
        match &self.track {
            Some((entry, reactions)) if *entry == playing => Some((playing, reactions)),
            _ => None,
        }
    }

    /// `author` writes `text` at `now_ms`: they must be allowed to chat ([`Action::Chat`])
    /// and not be muted.
    pub fn decide_post(
        &self,
        session: &Session,
        author: &UserId,
        text: ChatText,
        now_ms: i64,
    ) -> Result<ChatChange, SessionError> {
        let member = self.may_chat(session, author)?;
        Ok(ChatChange::Post(ChatMessage {
            id: ChatMessageId(self.next_id),
            author: author.clone(),
            author_name: member.to_owned(),
            text,
            at_ms: now_ms,
            reactions: Reactions::default(),
        }))
    }

    /// A moderator deletes the message `id`.
    pub fn decide_delete(
        &self,
        session: &Session,
        actor: &UserId,
        id: ChatMessageId,
    ) -> Result<ChatChange, SessionError> {
        session.authorize(actor, Action::DeleteChat)?;
        self.message(id)
            .ok_or(SessionError::MessageNotFound { id })?;
        Ok(ChatChange::Delete(id))
    }

    /// `actor` toggles their `reaction` on the message `id` (as one who may chat).
    pub fn decide_react(
        &self,
        session: &Session,
        actor: &UserId,
        id: ChatMessageId,
        reaction: Reaction,
    ) -> Result<ChatChange, SessionError> {
        self.may_chat(session, actor)?;
        let message = self
            .message(id)
            .ok_or(SessionError::MessageNotFound { id })?;
        Ok(ChatChange::React {
            id,
            reactions: message.reactions.toggled(actor, reaction),
        })
    }

    /// `actor` toggles their `reaction` on the playing track (as one who may chat).
    pub fn decide_react_track(
        &self,
        session: &Session,
        actor: &UserId,
        reaction: Reaction,
    ) -> Result<ChatChange, SessionError> {
        self.may_chat(session, actor)?;
        let entry = session.now_playing().ok_or(SessionError::NothingPlaying)?;
        let reactions = self
            .track_reactions(session)
            .map(|(_, r)| r.toggled(actor, reaction))
            .unwrap_or_else(|| Reactions::default().toggled(actor, reaction));
        Ok(ChatChange::ReactTrack {
            entry_id: entry.id,
            reactions,
        })
    }

    /// Makes a decided change; for a post that fills the history, the id of the message it
    /// pushed out.
    pub fn apply(&mut self, change: ChatChange) -> Option<ChatMessageId> {
        match change {
            ChatChange::Post(message) => {
                self.next_id = self.next_id.max(message.id.get() + 1);
                self.messages.push_back(message);
                if self.messages.len() > CHAT_HISTORY {
                    return self.messages.pop_front().map(|m| m.id);
                }
            }
            ChatChange::Delete(id) => {
                if let Ok(i) = self.messages.binary_search_by_key(&id, |m| m.id) {
                    self.messages.remove(i);
                }
            }
            ChatChange::React { id, reactions } => {
                if let Ok(i) = self.messages.binary_search_by_key(&id, |m| m.id)
                    && let Some(message) = self.messages.get_mut(i)
                {
                    message.reactions = reactions;
                }
            }
            ChatChange::ReactTrack {
                entry_id,
                reactions,
            } => self.track = Some((entry_id, reactions)),
        }
        None
    }

    /// The name of `user`, if they may write in the chat now.
    fn may_chat<'s>(&self, session: &'s Session, user: &UserId) -> Result<&'s str, SessionError> {
        session.authorize(user, Action::Chat)?;
        if session.is_muted(user) {
            return Err(SessionError::Muted);
        }
        session
            .member(user)
            .map(|m| m.display_name.as_str())
            .ok_or_else(|| SessionError::NotAMember { user: user.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_trimmed_line_of_at_most_500_characters() {
        let ok = |s: &str| ChatText::try_from(s.to_owned()).map(String::from);
        assert_eq!(ok("  hi  "), Ok("hi".to_owned()));
        assert_eq!(ok(" \t "), Err(ChatTextError::Empty));
        assert_eq!(ok("a\nb"), Err(ChatTextError::ControlCharacter));
        assert_eq!(ok(&"é".repeat(500)).map(|s| s.chars().count()), Ok(500));
        assert_eq!(ok(&"é".repeat(501)), Err(ChatTextError::TooLong));
        assert_eq!(
            ok("<script>alert(1)</script>"),
            Ok("<script>alert(1)</script>".into())
        );
        assert!(serde_json::from_str::<ChatText>("\"\"").is_err());
    }

    #[test]
    fn reactions_are_their_emoji_and_toggle() {
        for reaction in Reaction::ALL {
            let json = serde_json::to_string(&reaction).unwrap();
            assert_eq!(json, format!("\"{reaction}\""));
            assert_eq!(serde_json::from_str::<Reaction>(&json).unwrap(), reaction);
        }
        assert!(serde_json::from_str::<Reaction>("\"💩\"").is_err());
        let (a, b) = (UserId::new("a"), UserId::new("b"));
        let r = Reactions::default()
            .toggled(&a, Reaction::Fire)
            .toggled(&b, Reaction::Fire)
            .toggled(&a, Reaction::Heart);
        assert_eq!(r.counts()[&Reaction::Fire], 2);
        assert_eq!(r.of(&a), [Reaction::Heart, Reaction::Fire]);
        let r = r.toggled(&a, Reaction::Heart).toggled(&b, Reaction::Fire);
        assert_eq!(r.counts().len(), 1);
        assert!(r.toggled(&a, Reaction::Fire).is_empty());
    }

    #[test]
    fn a_restored_chat_keeps_the_newest_and_never_reuses_an_id() {
        let message = |id| ChatMessage {
            id: ChatMessageId(id),
            author: UserId::new("a"),
            author_name: "A".into(),
            text: ChatText::try_from("hi".to_owned()).unwrap(),
            at_ms: 0,
            reactions: Reactions::default(),
        };
        let chat = Chat::restore((0..250).rev().map(message).collect(), 0);
        assert_eq!(chat.messages().len(), CHAT_HISTORY);
        assert_eq!(chat.messages().next().unwrap().id, ChatMessageId(50));
        assert_eq!(chat.next_id(), 250);
        // The newest was deleted before the restart: its id stays used.
        assert_eq!(Chat::restore(vec![message(3)], 9).next_id(), 9);
        let (page, more) = chat.page(Some(ChatMessageId(60)), 5);
        assert_eq!(
            page.iter().map(|m| m.id.get()).collect::<Vec<_>>(),
            [55, 56, 57, 58, 59]
        );
        assert!(more);
        let (page, more) = chat.page(Some(ChatMessageId(53)), 5);
        assert_eq!(page.len(), 3);
        assert!(!more);
    }
}
