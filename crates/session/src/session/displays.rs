//! The host's display keys: made and revoked here, shown by the gateway to whoever holds one.

use super::{Action, Session};
use crate::display::{DisplayKey, MAX_DISPLAYS, SessionDisplay};
use crate::error::SessionError;
use crate::event::Event;
use crate::ids::UserId;
use crate::settings::SessionName;

impl Session {
    /// The host makes a display key (`key` fresh from a CSPRNG: [`DisplayKey::generate`]).
    /// `show_join` lets its displays see the join link. Refused past [`MAX_DISPLAYS`] keys,
    /// and for a key the session already has.
    pub fn create_display(
        &mut self,
        actor: &UserId,
        key: DisplayKey,
        label: Option<SessionName>,
        show_join: bool,
        now_ms: i64,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::ManageDisplays)?;
        if self.displays.len() >= MAX_DISPLAYS {
            return Err(SessionError::TooManyDisplays { max: MAX_DISPLAYS });
        }
        if self.display(&key).is_some() {
            return Err(SessionError::InvalidTarget {
                reason: "the session already has this display key",
            });
        }
        let display = SessionDisplay {
            key,
            label,
            show_join,
            created_at_ms: now_ms,
        };
        self.displays.push(display.clone());
        Ok(vec![Event::DisplayCreated { display }])
    }

    /// The host revokes a display key: from now on it shows nothing.
    pub fn revoke_display(
        &mut self,
        actor: &UserId,
        key: &DisplayKey,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::ManageDisplays)?;
        let Some(at) = self.displays.iter().position(|d| &d.key == key) else {
            return Err(SessionError::DisplayNotFound);
        };
        let display = self.displays.remove(at);
        Ok(vec![Event::DisplayRevoked { key: display.key }])
    }
}
