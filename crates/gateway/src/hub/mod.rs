//! Live sessions. One task per live session ([`task`]) owns its state and its subscribers;
//! everything else reaches it through a [`HubHandle`], whose methods are the use cases (join,
//! start, player, …) that the HTTP routes and the WebSocket handler share. The
//! [`HubRegistry`] finds (or revives from the database) the task of a session.
//!
//! Inside, each concern has its own module: [`store`] (apply → store → restore, sequence
//! reservation: "stored before told"), [`feed`] (numbering, replay ring — [`ring`], which displays
//! share — fan-out to workers),
//! [`room`] (subscribers, presence, roster throttling), [`views`] (pure projections to the
//! wire), [`follower`] (the poller's observations → decisions), [`effects`] (Spotify calls off
//! the hub's loop, their results coming back as commands) and [`player`] (the player's
//! commands), [`displays`] (what read-only displays see, and their replay ring); the use cases
//! of the queue, the displays and the chat have a file each beside `task.rs`. The task
//! never awaits a member or Spotify.

mod command;
mod displays;
mod effects;
mod error;
pub mod fanout;
mod feed;
mod follower;
mod handle;
mod lifecycle;
mod listening;
mod outbound;
mod player;
mod poller;
mod ring;
mod room;
mod store;
mod task;
pub mod tracker;
mod views;

pub use task::handing::HandOverOutcome;

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use sesh_session::{Chat, Session, SessionId, UserId};
use tokio::sync::{OnceCell, mpsc};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::state::Core;
use command::Command;

pub use displays::{DisplayFrame, DisplayState, NowPlaying, PlayStatus};
pub use error::HubError;
pub use fanout::Audience;
pub use fanout::WorkerHandle;
pub use feed::{RING_CAPACITY, RING_MAX_BYTES};
pub use handle::{HubHandle, Registration};
pub use outbound::{OutboundRx, OutboundTx, QueueError, outbound_queue};
pub use player::PlayerCommand;
use poller::PollerHandle;
pub use room::Subscriber;
pub use task::{PAGE_LIMIT_MAX, chatting::CHAT_PAGE_MAX, close};

/// Commands waiting for a hub beyond this make senders wait (back-pressure, bounded memory).
const COMMAND_QUEUE: usize = 256;

/// What a subscriber's socket receives from its hub.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A text frame (shared bytes: serialized once per session).
    Frame(bytestring::ByteString),
    /// A Server-Sent Event (displays only; members never get one).
    Display(DisplayFrame),
    /// Close the socket after the frames before it, with this code and reason.
    Close(u16, &'static str),
}

/// A subscriber registering with its hub.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// Who: a member (their presence), or a read-only display.
    pub subscriber: Subscriber,
    /// The connection's bounded queue.
    pub tx: OutboundTx,
    /// Cancelled when the queue overflowed: the socket closes with 1008.
    pub overflow: CancellationToken,
    /// The worker the socket lives on, which delivers the session's events to it.
    pub worker: WorkerHandle,
}

impl NewConnection {
    /// The member it is for, if it is a member's.
    pub fn user(&self) -> Option<&UserId> {
        match &self.subscriber {
            Subscriber::Member(user) => Some(user),
            Subscriber::Display(_) => None,
        }
    }
}

/// A hub may run here only on this instance's lease.
fn claimed(claim: crate::db::Claim) -> Result<(), HubError> {
    match claim {
        crate::db::Claim::Owned(_) => Ok(()),
        crate::db::Claim::Elsewhere(left) => Err(HubError::Elsewhere {
            retry_after: left.max(std::time::Duration::from_secs(1)),
        }),
        crate::db::Claim::Missing => Err(HubError::NotFound),
    }
}

/// The sending side of one hub task's command channel.
#[derive(Debug, Clone)]
struct Mailbox {
    tx: mpsc::Sender<Command>,
}

type Slot = Arc<OnceCell<Mailbox>>;
type Slots = Arc<Mutex<HashMap<SessionId, Slot>>>;

/// The live hubs, revived lazily from the database.
#[derive(Debug, Clone)]
pub struct HubRegistry {
    core: Arc<Core>,
    hubs: Slots,
}

impl HubRegistry {
    /// An empty registry.
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            hubs: Arc::default(),
        }
    }

    /// Stores a new session and starts its hub.
    pub async fn create(&self, session: Session) -> Result<HubHandle, HubError> {
        let id = session.id();
        self.core.db.insert_session(&session).await?;
        claimed(self.core.db.claim(id).await?)?;
        let mailbox = self.spawn(session, Chat::default(), 0);
        let slot: Slot = Arc::new(OnceCell::new_with(Some(mailbox)));
        self.hubs.lock().insert(id, slot);
        Ok(self.session(id))
    }

    /// The handle of session `id` (its hub is found, or revived, on first use).
    pub fn session(&self, id: SessionId) -> HubHandle {
        HubHandle::new(self.clone(), id)
    }

    /// Ends the live sessions whose hubs unloaded and that nobody came back to for
    /// `SESH_SESSION_IDLE_TIMEOUT` and `SESH_SESSION_END_WARNING` (a loaded hub ends its own,
    /// see `lifecycle.rs`). Looks every quarter of the idle time, at least every minute, at
    /// most 100 sessions at a time; off when the idle time is zero.
    pub fn spawn_idle_sweeper(&self) {
        let config = &self.core.config;
        if config.session_idle_timeout.is_zero() {
            return;
        }
        let unused_ms =
            i64::try_from((config.session_idle_timeout + config.session_end_warning).as_millis())
                .unwrap_or(i64::MAX);
        let every = (config.session_idle_timeout / 4).clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(60),
        );
        self.spawn_every(
            every,
            MissedTickBehavior::Skip,
            move |registry| async move {
                registry.sweep_unattended(unused_ms).await;
            },
        );
    }

    /// Runs `job` every `every` on the hubs' runtime until shutdown; `missed` says what a
    /// tick that comes late does.
    fn spawn_every<F, Fut>(&self, every: std::time::Duration, missed: MissedTickBehavior, job: F)
    where
        F: Fn(HubRegistry) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let registry = self.clone();
        self.core.runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(missed);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = registry.core.shutdown.cancelled() => break,
                }
                job(registry.clone()).await;
            }
        });
    }

    async fn sweep_unattended(&self, unused_ms: i64) {
        let now = crate::db::now_ms();
        let ids = match self
            .core
            .db
            .unattended_sessions(now.saturating_sub(unused_ms), 100)
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for unused sessions");
                return;
            }
        };
        for id in ids {
            let loaded = self
                .hubs
                .lock()
                .get(&id)
                .is_some_and(|slot| slot.initialized());
            if loaded {
                continue;
            }
            match self.session(id).expire_unattended().await {
                Ok(true) => {}
                // Someone is back, or it feeds Spotify: not again until it is unused again.
                Ok(false) => {
                    if let Err(e) = self.core.db.set_active_at(id, now).await {
                        tracing::warn!(session = %id, error = %e, "could not store when the session was last used");
                    }
                }
                Err(e) => {
                    tracing::warn!(session = %id, error = %e, "could not end an unused session")
                }
            }
        }
    }

    /// Keeps this instance's session leases (several instances on PostgreSQL; nothing to do
    /// otherwise): renews them every third of their TTL, sets this instance's share of the
    /// Spotify budget by the leases each instance holds, and stops the hub of every session
    /// whose lease it lost, or whose lease ran out by this process's clock because renewals
    /// failed (the database unreachable): another instance may run it by now.
    pub fn spawn_lease_keeper(&self) {
        let Some(ttl) = self.core.db.ownership().map(|own| own.ttl()) else {
            return;
        };
        self.spawn_every(ttl / 3, MissedTickBehavior::Delay, |registry| async move {
            registry.keep_leases().await;
        });
    }

    /// One renewal of the keeper (see [`HubRegistry::spawn_lease_keeper`]).
    async fn keep_leases(&self) {
        self.release_dead_hubs().await;
        let lost = match self.core.db.renew_leases().await {
            Ok(lost) => lost,
            Err(e) => {
                tracing::warn!(error = %e, "could not renew this instance's leases");
                Vec::new()
            }
        };
        let Some(own) = self.core.db.ownership() else {
            return;
        };
        match self.core.db.budget_share().await {
            Ok(Some(share)) => self.core.budget.set_share(share),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not count this instance's share of the Spotify budget")
            }
        }
        let expired = own.held().into_iter().filter(|id| own.valid(*id).is_none());
        for id in lost.into_iter().chain(expired) {
            tracing::info!(session = %id, "lease lost: stopping the hub");
            crate::metrics::session_moved("lease_lost");
            self.lease_lost(id);
        }
    }

    /// Gives up the leases of hubs that ended without doing so themselves (a panic: its task
    /// is gone, its mailbox closed), and forgets them, so a request revives a fresh hub and
    /// the renewals do not keep the other instances away from a session nobody runs.
    async fn release_dead_hubs(&self) {
        let Some(own) = self.core.db.ownership() else {
            return;
        };
        for id in own.held() {
            let Some(mailbox) = self.loaded_mailbox(id).filter(|m| m.tx.is_closed()) else {
                continue;
            };
            tracing::error!(session = %id, "a hub stopped without giving its lease up (a bug): giving it up");
            self.forget(id, &mailbox);
            if let Err(e) = self.core.db.release(id).await {
                tracing::warn!(session = %id, error = %e, "could not give a lease up");
            }
        }
    }

    /// The mailbox of `id`'s hub if one runs here (never revives one).
    fn loaded_mailbox(&self, id: SessionId) -> Option<Mailbox> {
        self.hubs
            .lock()
            .get(&id)
            .and_then(|slot| slot.get().cloned())
    }

    /// Keeps each session on the instance Nginx sends it to (several instances on PostgreSQL
    /// with `SESH_CLUSTER_NODES`). Every lease TTL, each instance:
    ///
    /// - takes over the playing sessions whose instance died, before anyone opens them again:
    ///   each playing session whose lease expired and for which this instance is the first live
    ///   one on `ring` (where Nginx sends it now; live: a heartbeat younger than a lease) is
    ///   revived here, so its poller feeds Spotify the next entry. The others are left to their
    ///   preferred instance, so two sweepers do not race for one session;
    /// - hands back the sessions it runs for another instance: when a session's first live
    ///   instance on the ring is another one, live, up for a whole lease, reached through Nginx
    ///   by a plain request since it started (so Nginx counts it up: see [`steady_nodes`]) and
    ///   beating since the last sweep, its hub here
    ///   unloads: stored, its lease given up, its sockets closed with 1012. They reconnect
    ///   through Nginx to the preferred instance, which claims the session (its sweeper does, if
    ///   it plays and nobody is connected).
    pub fn spawn_lease_sweeper(&self, ring: Arc<crate::cluster::ring::ClusterRing>) {
        let Some(own) = self.core.db.ownership() else {
            return;
        };
        let every = own.ttl();
        let me = Arc::<str>::from(own.node());
        // The other instances' heartbeats at the previous sweep.
        let beats_before = Arc::new(Mutex::new(HashMap::<String, i64>::new()));
        self.spawn_every(every, MissedTickBehavior::Delay, move |registry| {
            let (ring, me, beats_before) = (ring.clone(), me.clone(), beats_before.clone());
            async move {
                let beats = match registry.core.db.live_nodes().await {
                    Ok(beats) => beats,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not list the live instances");
                        return;
                    }
                };
                // This instance is live, whether or not its first heartbeat is in yet: the
                // first sweep runs at start, racing it, and without itself in the list it
                // would hand every session it runs away a sweep later.
                let mut live: Vec<String> = beats.iter().map(|(node, _, _)| node.clone()).collect();
                if !live.iter().any(|n| **n == *me) {
                    live.push(me.to_string());
                }
                if let Err(e) = registry.sweep_adrift(&ring, &me, &live).await {
                    tracing::warn!(error = %e, "could not look for sessions nobody runs");
                }
                let steady = steady_nodes(&me, &beats, &mut beats_before.lock());
                registry.hand_back(&ring, &me, &steady);
            }
        });
    }

    async fn sweep_adrift(
        &self,
        ring: &crate::cluster::ring::ClusterRing,
        me: &str,
        live: &[String],
    ) -> Result<(), HubError> {
        let adrift = self.core.db.adrift_sessions(100).await?;
        for id in adrift {
            if preferred_live(ring, &id, live) != Some(me) {
                continue;
            }
            match self.mailbox(id).await {
                Ok(mailbox) => {
                    tracing::info!(session = %id, "took over a playing session nobody ran");
                    crate::metrics::session_moved("taken_over");
                    // A full mailbox means the hub is busy, and so awake and polling anyway.
                    let _ = mailbox.tx.try_send(Command::Adopt);
                }
                // Claimed by another instance meanwhile, or ended: nothing to do here.
                Err(HubError::Elsewhere { .. } | HubError::NotFound) => {}
                Err(e) => {
                    tracing::warn!(session = %id, error = %e, "could not take a session over")
                }
            }
        }
        Ok(())
    }

    /// Unloads the hubs of the sessions whose first instance on the ring, among the `steady`
    /// ones (ready and beating: [`steady_nodes`]), is not this one (see [`HubRegistry::spawn_lease_sweeper`]).
    /// Each unloads on its own task: the sweeper does not wait for a busy hub.
    fn hand_back(&self, ring: &crate::cluster::ring::ClusterRing, me: &str, steady: &[String]) {
        let Some(own) = self.core.db.ownership() else {
            return;
        };
        for id in own.held() {
            let Some(preferred) = preferred_live(ring, &id, steady) else {
                continue;
            };
            if preferred == me {
                continue;
            }
            tracing::info!(session = %id, to = preferred, "handing the session back to its instance");
            crate::metrics::session_moved("handed_back");
            let handle = self.session(id);
            self.core.runtime.spawn(async move {
                if let Err(e) = handle.unload().await {
                    tracing::warn!(session = %id, error = %e, "could not hand the session back");
                }
            });
        }
    }

    /// Tells `id`'s hub, if one runs here, that its lease is gone.
    fn lease_lost(&self, id: SessionId) {
        if let Some(mailbox) = self.loaded_mailbox(id)
            && mailbox.tx.try_send(Command::LeaseLost).is_err()
        {
            // A full mailbox: the hub sees the lease gone at its next wake-up anyway.
            tracing::debug!(session = %id, "hub busy; it stops at its next wake-up");
        }
    }

    /// How many hubs are loaded (for tests and metrics).
    pub fn loaded(&self) -> usize {
        self.hubs.lock().len()
    }

    fn spawn(&self, session: Session, chat: Chat, last_seq: u64) -> Mailbox {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let hub = task::SessionHub::new(
            self.core.clone(),
            self.hubs.clone(),
            session,
            chat,
            last_seq,
            tx.clone(),
            rx,
        );
        self.core.runtime.spawn(hub.run());
        Mailbox { tx }
    }

    /// The mailbox of `id`'s hub, reviving it from the database if needed.
    async fn mailbox(&self, id: SessionId) -> Result<Mailbox, HubError> {
        let slot = self.hubs.lock().entry(id).or_default().clone();
        let result = slot
            .get_or_try_init(|| async {
                // The lease first, then the state: what is loaded is what the last owner
                // stored before it could write no more.
                claimed(self.core.db.claim(id).await?)?;
                let revived = async {
                    match self.core.load_session(id).await? {
                        Some((session, last_seq)) => {
                            tracing::debug!(session = %id, "reviving hub from the database");
                            let chat = self.core.db.load_chat(id).await?;
                            Ok(self.spawn(session, chat, last_seq))
                        }
                        None => Err(HubError::NotFound),
                    }
                }
                .await;
                if revived.is_err() {
                    // No hub runs here on it: another instance may take it at once.
                    if let Err(e) = self.core.db.release(id).await {
                        tracing::warn!(session = %id, error = %e, "could not give a lease up");
                    }
                }
                revived
            })
            .await
            .cloned();
        if result.is_err() {
            // Do not keep empty slots for unknown ids (bounded memory under guessing).
            let mut hubs = self.hubs.lock();
            if hubs
                .get(&id)
                .is_some_and(|s| Arc::ptr_eq(s, &slot) && !s.initialized())
            {
                hubs.remove(&id);
            }
        }
        result
    }

    /// Forgets `mailbox` as `id`'s hub (it stopped).
    fn forget(&self, id: SessionId, mailbox: &Mailbox) {
        forget_hub(&self.hubs, id, &mailbox.tx);
    }
}

/// Removes `id`'s slot from `hubs` if it still holds the hub whose mailbox is `tx` (a newer
/// hub of the session stays).
fn forget_hub(hubs: &Slots, id: SessionId, tx: &mpsc::Sender<Command>) {
    let mut hubs = hubs.lock();
    if hubs
        .get(&id)
        .and_then(|s| s.get())
        .is_some_and(|m| m.tx.same_channel(tx))
    {
        hubs.remove(&id);
    }
}

/// The instances a session may be handed back to (see [`HubRegistry::spawn_lease_sweeper`]):
/// this one, and each other live one that is ready ([`Database::live_nodes`]: up for a whole
/// lease, and reached by a plain request through Nginx since it started) and whose heartbeat
/// beat since the previous sweep (`before`, which becomes `beats`' heartbeats). An instance
/// restarted within a lease is live all along (its heartbeat never aged), but Nginx may still
/// count it failed, and keeps doing so until a request to it completes (a WebSocket completes
/// only when it closes); one killed less than a lease ago is live too, its heartbeat standing
/// still. What either was handed would have its members sent elsewhere.
///
/// [`Database::live_nodes`]: crate::db::Database::live_nodes
fn steady_nodes(
    me: &str,
    beats: &[(String, i64, bool)],
    before: &mut HashMap<String, i64>,
) -> Vec<String> {
    let mut steady = vec![me.to_owned()];
    steady.extend(
        beats
            .iter()
            .filter(|(node, at, ready)| {
                node != me && *ready && before.get(node).is_some_and(|then| then < at)
            })
            .map(|(node, _, _)| node.clone()),
    );
    *before = beats
        .iter()
        .map(|(node, at, _)| (node.clone(), *at))
        .collect();
    steady
}

/// The address of `id`'s first instance on `ring` among `live` ones.
fn preferred_live<'r>(
    ring: &'r crate::cluster::ring::ClusterRing,
    id: &SessionId,
    live: &[String],
) -> Option<&'r str> {
    ring.preferred_live(id, |node| live.iter().any(|n| n == node.address()))
        .map(|node| node.address())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(list: &[(&str, i64, bool)]) -> Vec<(String, i64, bool)> {
        list.iter()
            .map(|(n, at, up)| ((*n).to_owned(), *at, *up))
            .collect()
    }

    #[test]
    fn sessions_go_back_only_to_ready_instances_beating_since_the_last_sweep() {
        let mut before = HashMap::new();
        // First sweep: nobody else was seen beating yet; only this instance is steady.
        let first = beats(&[("me", 10, true), ("a", 10, true), ("b", 10, true)]);
        assert_eq!(steady_nodes("me", &first, &mut before), ["me"]);
        // `a` beat since; `b` did not (killed: its heartbeat still young, standing still);
        // `c` restarted within the lease (beating, not up a lease yet).
        let second = beats(&[("me", 20, true), ("a", 20, true), ("b", 10, true)]);
        let second = [second, beats(&[("c", 20, false)])].concat();
        assert_eq!(steady_nodes("me", &second, &mut before), ["me", "a"]);
        let third = beats(&[("a", 30, true), ("c", 30, true)]);
        assert_eq!(steady_nodes("me", &third, &mut before), ["me", "a", "c"]);
    }
}
