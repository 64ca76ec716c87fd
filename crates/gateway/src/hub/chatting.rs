//! The chat's use cases: their [`HubHandle`] methods (rate-limited before the hub is asked, as
//! the queue's are), their commands, and what the hub does with them. The hub holds the last
//! messages in memory (loaded with the session), decides each change with the domain's
//! [`Chat`](sesh_session::Chat), stores it through its `Store` and only then tells the members.
//! Chat frames are serialized once and fanned out like every member frame, but carry no `seq`
//! and stay out of the replay ring (docs/websocket.md, "Chat"); displays never get them.

use bytestring::ByteString;
use sesh_session::{ChatChange, ChatMessageId, ChatText, Reaction, UserId};

use super::SessionHub;
use crate::hub::{
    HubError, HubHandle,
    command::{Command, Reply},
};
use crate::wire::chat::{
    ChatFrame, ChatMessageView, ChatPage, MessageReactions, TrackReactionsView,
    WELCOME_CHAT_MESSAGES,
};

/// Most messages one page of `GET …/chat` returns.
pub const CHAT_PAGE_MAX: usize = 100;

/// A chat request to a hub.
#[derive(Debug)]
pub(in crate::hub) enum ChatCommand {
    Post {
        actor: UserId,
        text: ChatText,
        reply: Reply<ChatMessageView>,
    },
    Delete {
        actor: UserId,
        id: ChatMessageId,
        reply: Reply<()>,
    },
    React {
        actor: UserId,
        id: ChatMessageId,
        reaction: Reaction,
        reply: Reply<MessageReactions>,
    },
    ReactTrack {
        actor: UserId,
        reaction: Reaction,
        reply: Reply<TrackReactionsView>,
    },
    Page {
        user: UserId,
        before: Option<ChatMessageId>,
        limit: usize,
        reply: Reply<ChatPage>,
    },
    Mute {
        actor: UserId,
        target: UserId,
        muted: bool,
        reply: Reply<()>,
    },
}

impl HubHandle {
    /// `actor` writes `text` in the chat (`SESH_CHAT_PER_MEMBER` and `SESH_CHAT_PER_SESSION`
    /// count it first): the message, as every member gets it.
    pub async fn post_chat(
        &self,
        actor: &UserId,
        text: ChatText,
    ) -> Result<ChatMessageView, HubError> {
        self.registry.core.limits.check_chat(actor, self.id())?;
        self.request(|reply| {
            Command::Chat(ChatCommand::Post {
                actor: actor.clone(),
                text: text.clone(),
                reply,
            })
        })
        .await
    }

    /// A moderator deletes the message `id`.
    pub async fn delete_chat(&self, actor: &UserId, id: ChatMessageId) -> Result<(), HubError> {
        self.request(|reply| {
            Command::Chat(ChatCommand::Delete {
                actor: actor.clone(),
                id,
                reply,
            })
        })
        .await
    }

    /// `actor` toggles `reaction` on the message `id` (`SESH_REACTIONS_PER_MEMBER`).
    pub async fn react_chat(
        &self,
        actor: &UserId,
        id: ChatMessageId,
        reaction: Reaction,
    ) -> Result<MessageReactions, HubError> {
        self.registry.core.limits.check_reaction(actor)?;
        self.request(|reply| {
            Command::Chat(ChatCommand::React {
                actor: actor.clone(),
                id,
                reaction,
                reply,
            })
        })
        .await
    }

    /// `actor` toggles `reaction` on the playing track (`SESH_REACTIONS_PER_MEMBER`).
    pub async fn react_track(
        &self,
        actor: &UserId,
        reaction: Reaction,
    ) -> Result<TrackReactionsView, HubError> {
        self.registry.core.limits.check_reaction(actor)?;
        self.request(|reply| {
            Command::Chat(ChatCommand::ReactTrack {
                actor: actor.clone(),
                reaction,
                reply,
            })
        })
        .await
    }

    /// A page of the chat as `user` (a member) sees it: up to `limit` (at most
    /// [`CHAT_PAGE_MAX`]) messages before `before` (the newest without it), oldest first.
    pub async fn chat(
        &self,
        user: &UserId,
        before: Option<ChatMessageId>,
        limit: usize,
    ) -> Result<ChatPage, HubError> {
        self.request(|reply| {
            Command::Chat(ChatCommand::Page {
                user: user.clone(),
                before,
                limit,
                reply,
            })
        })
        .await
    }

    /// A moderator mutes (or unmutes) the guest `target` in the chat.
    pub async fn mute(&self, actor: &UserId, target: &UserId, muted: bool) -> Result<(), HubError> {
        self.request(|reply| {
            Command::Chat(ChatCommand::Mute {
                actor: actor.clone(),
                target: target.clone(),
                muted,
                reply,
            })
        })
        .await
    }
}

impl SessionHub {
    pub(super) async fn handle_chat(&mut self, command: ChatCommand) {
        match command {
            ChatCommand::Post { actor, text, reply } => {
                let _ = reply.send(self.post_chat(&actor, text).await);
            }
            ChatCommand::Delete { actor, id, reply } => {
                let _ = reply.send(self.delete_chat(&actor, id).await);
            }
            ChatCommand::React {
                actor,
                id,
                reaction,
                reply,
            } => {
                let _ = reply.send(self.react_chat(&actor, id, reaction).await);
            }
            ChatCommand::ReactTrack {
                actor,
                reaction,
                reply,
            } => {
                let _ = reply.send(self.react_track(&actor, reaction).await);
            }
            ChatCommand::Page {
                user,
                before,
                limit,
                reply,
            } => {
                let page = self
                    .check_member(&user)
                    .map(|()| self.chat_page(&user, before, limit.min(CHAT_PAGE_MAX)));
                let _ = reply.send(page);
            }
            ChatCommand::Mute {
                actor,
                target,
                muted,
                reply,
            } => {
                let result = self.apply(|s| s.set_muted(&actor, &target, muted)).await;
                let _ = reply.send(result.map(drop));
            }
        }
    }

    /// The chat as `viewer` sees it: up to `limit` messages before `before`, and the playing
    /// track's reactions.
    pub(super) fn chat_page(
        &self,
        viewer: &UserId,
        before: Option<ChatMessageId>,
        limit: usize,
    ) -> ChatPage {
        let (messages, more) = self.chat.page(before, limit);
        ChatPage {
            messages: messages
                .into_iter()
                .map(|m| ChatMessageView::of(m, Some(viewer)))
                .collect(),
            more,
            track_reactions: self
                .chat
                .track_reactions(self.session())
                .map(|(entry, reactions)| TrackReactionsView::of(entry, reactions, viewer)),
        }
    }

    /// The `chat_history` frame a resume served from the replay ring is followed by.
    pub(super) fn chat_history(&self, viewer: &UserId) -> ByteString {
        let page = self.chat_page(viewer, None, WELCOME_CHAT_MESSAGES);
        ByteString::from(ChatFrame::ChatHistory { page }.to_json())
    }

    /// Stores a decided change, then makes it in memory ("stored before told").
    async fn store_chat(&mut self, change: ChatChange) -> Result<(), HubError> {
        self.store.write_chat(&change).await?;
        self.chat.apply(change);
        Ok(())
    }

    fn broadcast_chat(&mut self, frame: &ChatFrame<'_>) {
        self.feed
            .broadcast_unnumbered(ByteString::from(frame.to_json()));
    }

    async fn post_chat(
        &mut self,
        actor: &UserId,
        text: ChatText,
    ) -> Result<ChatMessageView, HubError> {
        let change = self
            .chat
            .decide_post(self.session(), actor, text, crate::db::now_ms())?;
        let ChatChange::Post(message) = &change else {
            return Err(HubError::internal(anyhow::anyhow!(
                "a post decided no post"
            )));
        };
        let view = ChatMessageView::of(message, None);
        self.store_chat(change).await?;
        self.broadcast_chat(&ChatFrame::Chat {
            message: view.clone(),
        });
        Ok(view)
    }

    async fn delete_chat(&mut self, actor: &UserId, id: ChatMessageId) -> Result<(), HubError> {
        let change = self.chat.decide_delete(self.session(), actor, id)?;
        self.store_chat(change).await?;
        self.broadcast_chat(&ChatFrame::ChatDeleted { id });
        Ok(())
    }

    async fn react_chat(
        &mut self,
        actor: &UserId,
        id: ChatMessageId,
        reaction: Reaction,
    ) -> Result<MessageReactions, HubError> {
        let change = self
            .chat
            .decide_react(self.session(), actor, id, reaction)?;
        let ChatChange::React { reactions, .. } = &change else {
            return Err(HubError::internal(anyhow::anyhow!(
                "a reaction decided no reaction"
            )));
        };
        let answer = MessageReactions {
            id,
            reactions: reactions.counts(),
            mine: reactions.of(actor),
        };
        self.store_chat(change).await?;
        self.broadcast_chat(&ChatFrame::ChatReactions {
            id,
            reactions: answer.reactions.clone(),
            by: actor,
            reaction,
            on: answer.mine.contains(&reaction),
        });
        Ok(answer)
    }

    async fn react_track(
        &mut self,
        actor: &UserId,
        reaction: Reaction,
    ) -> Result<TrackReactionsView, HubError> {
        let change = self
            .chat
            .decide_react_track(self.session(), actor, reaction)?;
        let ChatChange::ReactTrack {
            entry_id,
            reactions,
        } = &change
        else {
            return Err(HubError::internal(anyhow::anyhow!(
                "a track reaction decided none"
            )));
        };
        let answer = TrackReactionsView::of(*entry_id, reactions, actor);
        self.store_chat(change).await?;
        self.broadcast_chat(&ChatFrame::TrackReactions {
            entry_id: answer.entry_id,
            reactions: answer.reactions.clone(),
            by: actor,
            reaction,
            on: answer.mine.contains(&reaction),
        });
        Ok(answer)
    }
}
