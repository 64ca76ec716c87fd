//! A live session and its stored copy: transitions are applied in place, stored (only the rows
//! their events touch, see `db::sessions`) and only then announced by the hub — "stored before
//! told" is written here once. A failed write puts the session back to what the database
//! holds. Also reserves event sequence numbers ahead of use.

use sesh_session::{Event, Session, SessionError};

use super::HubError;
use crate::{db::Database, tracks::TrackCache};

/// Sequence numbers are reserved in the database this many at a time, ahead of use, so that a
/// hub revived after a crash never reuses a number a client has seen, without a disk write per
/// event (see [`Store::reserve`]).
pub const SEQ_BLOCK: u64 = 1024;
/// A new block is reserved when fewer than this many numbers are left; no single command emits
/// this many events, so the numbers in use never pass the stored reservation.
pub const SEQ_HEADROOM: u64 = SEQ_BLOCK / 2;

/// The session a hub owns, with its storage.
#[derive(Debug)]
pub(super) struct Store {
    db: Database,
    session: Session,
    /// Highest sequence number reserved in the database.
    reserved_seq: u64,
    /// The in-memory session could not be brought back in line with the database: the hub
    /// must unload (the registry revives a fresh one from what is stored).
    broken: bool,
}

impl Store {
    /// A store of `session`, whose events up to `last_seq` are accounted for.
    pub(super) fn new(db: Database, session: Session, last_seq: u64) -> Self {
        Self {
            db,
            session,
            reserved_seq: last_seq,
            broken: false,
        }
    }

    /// The session as it is now (as stored, or about to be by [`Store::commit`]).
    pub(super) fn session(&self) -> &Session {
        &self.session
    }

    /// Whether the hub must unload (see `broken`).
    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Applies a transition in place. A refused transition changes nothing (a property
    /// `sesh-session` tests), so there is no copy of the session per change (a copy of a
    /// 5,000-member session costs ~185,000 allocations per join). Not stored yet: call
    /// [`Store::commit`] with the events before telling anyone of them.
    pub(super) fn apply<T>(
        &mut self,
        transition: impl FnOnce(&mut Session) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        transition(&mut self.session)
    }

    /// Stores the session after a transition that produced `events`; `last_seq` is the number
    /// of the last frame that will tell of them. If storing fails, nobody may hear of the
    /// change: the session goes back to what the database holds (`tracks` shares the reloaded
    /// tracks), and the error is returned.
    pub(super) async fn commit(
        &mut self,
        events: &[Event],
        last_seq: u64,
        tracks: &TrackCache,
    ) -> Result<(), HubError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Err(e) = self
            .db
            .persist_session(&self.session, events, last_seq)
            .await
        {
            self.restore(tracks).await;
            return Err(e.into());
        }
        self.reserved_seq = self.reserved_seq.max(last_seq);
        Ok(())
    }

    /// Stores a decided change of the chat (its rows are not the session's: nothing to put
    /// back when it fails, the hub applies the change only after this).
    pub(super) async fn write_chat(
        &self,
        change: &sesh_session::ChatChange,
    ) -> Result<(), HubError> {
        Ok(self.db.write_chat(self.session.id(), change).await?)
    }

    /// The now-playing position moved with the host's player: in memory only; the caller
    /// stores it in the background (`PositionWriter`, which says what a crash can lose and
    /// why that is acceptable). Whether it moved.
    pub(super) fn move_to(&mut self, position: usize) -> bool {
        match self.session.move_to(position) {
            Ok(moved) => moved,
            Err(e) => {
                tracing::warn!(session = %self.session.id(), error = %e, "could not advance the queue");
                false
            }
        }
    }

    /// Keeps a block of sequence numbers reserved in the database ahead of `seq`: events that
    /// change no stored state (playback, presence) then need no disk write, and a hub revived
    /// after a restart or a crash (`kill -9`) starts above every number a client may have seen,
    /// so numbers never go back and a resume from an earlier run is recognised.
    pub(super) async fn reserve(&mut self, seq: u64) {
        if seq + SEQ_HEADROOM <= self.reserved_seq {
            return;
        }
        let target = seq + SEQ_BLOCK;
        match self.db.set_last_seq(self.session.id(), target).await {
            Ok(()) => self.reserved_seq = target,
            Err(e) => {
                tracing::warn!(session = %self.session.id(), error = %e, "could not reserve event sequence numbers");
            }
        }
    }

    /// After a failed write: the session as stored (the last state members heard of). If even
    /// that cannot be read, the store is broken and the hub unloads.
    async fn restore(&mut self, tracks: &TrackCache) {
        let loaded = match self.db.load_session(self.session.id()).await {
            Ok(Some((session, _))) => tracks.share_session(session).ok(),
            Ok(None) | Err(_) => None,
        };
        match loaded {
            Some(session) => self.session = session,
            None => {
                tracing::error!(session = %self.session.id(), "could not reload the session after a failed write; unloading its hub");
                self.broken = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};
    use sesh_session::{InviteCode, NewMember, SessionId, Settings, UserId};

    use super::*;
    use crate::crypto::{SecretKey, TokenCipher};

    /// A fresh database file that knows the users alice and bob.
    async fn database(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
            .await
            .unwrap();
        for user in ["alice", "bob"] {
            sqlx::query(
                "INSERT INTO users (id, display_name, access_token, token_expires_at, created_at, updated_at)
                 VALUES (?1, ?1, x'00', 0, 0, 0)",
            )
            .bind(user)
            .execute(db.sqlite_pool().unwrap())
            .await
            .unwrap();
        }
        db
    }

    fn session(rng: &mut StdRng) -> Session {
        Session::new(
            SessionId::new_v4(),
            InviteCode::generate(rng),
            NewMember::new(UserId::new("alice"), "Alice", Vec::new()),
            0,
            Settings::default(),
        )
    }

    #[tokio::test]
    async fn a_committed_change_is_what_a_reload_finds() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let mut rng = StdRng::seed_from_u64(1);
        let s = session(&mut rng);
        db.insert_session(&s).await.unwrap();
        let mut store = Store::new(db.clone(), s, 0);
        let bob = NewMember::new(UserId::new("bob"), "Bob", Vec::new());
        let events = store.apply(|s| s.join(bob, 5, &mut rng)).unwrap();
        store
            .commit(&events, 1, &TrackCache::default())
            .await
            .unwrap();
        let (loaded, last_seq) = db
            .load_session(store.session().id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&loaded, store.session());
        assert_eq!(last_seq, 1);
    }

    #[tokio::test]
    async fn a_failed_write_puts_the_session_back_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let mut rng = StdRng::seed_from_u64(2);
        let s = session(&mut rng);
        db.insert_session(&s).await.unwrap();
        let stored = s.clone();
        let mut store = Store::new(db.clone(), s, 0);
        // Writes fail from here on (reads still work).
        sqlx::query("CREATE TRIGGER no_writes BEFORE UPDATE ON listening_sessions BEGIN SELECT RAISE(ABORT, 'read only'); END")
            .execute(db.sqlite_pool().unwrap())
            .await
            .unwrap();
        let bob = NewMember::new(UserId::new("bob"), "Bob", Vec::new());
        let events = store.apply(|s| s.join(bob, 5, &mut rng)).unwrap();
        assert!(
            store.session().is_member(&UserId::new("bob")),
            "applied in place"
        );
        let result = store.commit(&events, 1, &TrackCache::default()).await;
        assert!(matches!(result, Err(HubError::Storage(_))), "{result:?}");
        assert_eq!(store.session(), &stored, "back to what is stored");
        assert!(!store.is_broken());
    }

    #[tokio::test]
    async fn sequence_numbers_are_reserved_a_block_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let mut rng = StdRng::seed_from_u64(3);
        let s = session(&mut rng);
        db.insert_session(&s).await.unwrap();
        let id = s.id();
        let mut store = Store::new(db.clone(), s, 0);
        store.reserve(0).await;
        let stored = |db: Database| async move { db.load_session(id).await.unwrap().unwrap().1 };
        assert_eq!(stored(db.clone()).await, SEQ_BLOCK);
        // Enough left: no write.
        store.reserve(SEQ_HEADROOM).await;
        assert_eq!(stored(db.clone()).await, SEQ_BLOCK);
        store.reserve(SEQ_HEADROOM + 1).await;
        assert_eq!(stored(db.clone()).await, SEQ_HEADROOM + 1 + SEQ_BLOCK);
    }
}
