//! Hints between the instances of one deployment (several instances on PostgreSQL), over
//! PostgreSQL's `LISTEN/NOTIFY` on the channel [`CHANNEL`]. A hint says what happened
//! elsewhere that this instance acts on in memory; the rows stay the truth, so a hint carries
//! ids, never state:
//!
//! - [`Hint::CloseSockets`]: a logout, a logout everywhere or a freed seat on one instance
//!   closes that user's sockets on every instance (each instance holds its own sockets);
//! - [`Hint::RateLimited`]: a 429 one instance saw pauses that endpoint (or, for an exhausted
//!   quota, every endpoint) on all of them, and halves each one's budget as it halved its own,
//!   because Spotify counts per app.
//!
//! Delivery is at most once: a hint sent while an instance's listening connection is down is
//! lost to it (the connection comes back by itself). For a closed socket that means the user's
//! socket on that instance stays open until it reconnects (its login is gone: the reconnect
//! is refused); for a 429, that instance learns of it from its own 429.
//!
//! On SQLite there is one instance: no bus ([`Bus::new`] is `None`).

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use sesh_session::UserId;
use sqlx::{PgPool, postgres::PgListener};

use crate::{db::Database, state::Core};

/// The `LISTEN/NOTIFY` channel.
pub const CHANNEL: &str = "sesh_cluster";

/// The longest pause a hint may ask for: a bug or a forged hint cannot stop Spotify calls for
/// longer (Spotify's own `Retry-After`s are seconds to minutes).
const PAUSE_MAX: Duration = Duration::from_secs(3600);

/// What happened on another instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hint {
    /// Close `user`'s sockets of the login `login_hash`, or of every login.
    CloseSockets {
        /// The user.
        user: String,
        /// The login's hash (a logout), or `None` (everywhere, a freed seat).
        login_hash: Option<String>,
    },
    /// Spotify answered 429 for `endpoint`.
    RateLimited {
        /// Method and path template, e.g. `GET /me/player`.
        endpoint: String,
        /// Its `Retry-After`.
        retry_after_ms: u64,
        /// Every endpoint waits.
        quota_exceeded: bool,
    },
}

/// A hint and the instance that sent it (which ignores its own).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    hint: Hint,
}

/// This instance's end of the bus.
#[derive(Debug)]
pub struct Bus {
    pool: PgPool,
    node: String,
}

impl Bus {
    /// The bus of an instance on PostgreSQL with leases; `None` on SQLite.
    pub fn new(db: &Database) -> Option<Arc<Self>> {
        let node = db.ownership()?.node().to_owned();
        let pool = db.postgres_pool()?.clone();
        Some(Arc::new(Self { pool, node }))
    }

    /// Sends `hint` to the other instances. A failure is logged, not returned: the caller's
    /// own change is stored already, and the hint only speeds its effect up elsewhere.
    pub async fn publish(&self, hint: Hint) {
        let envelope = Envelope {
            from: self.node.clone(),
            hint,
        };
        let payload = match serde_json::to_string(&envelope) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a hint");
                return;
            }
        };
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, kind = kind(&envelope.hint), "could not send a hint to the other instances");
        }
    }

    /// Listens for the other instances' hints and applies them, and announces this
    /// instance's 429s, until shutdown.
    pub fn spawn(self: &Arc<Self>, core: Arc<Core>) {
        let bus = self.clone();
        let listening = core.clone();
        core.runtime
            .spawn(async move { bus.listen(&listening).await });
        let bus = self.clone();
        let mut notices = core.spotify.rate_limit_notices();
        let shutdown = core.shutdown.clone();
        core.runtime.spawn(async move {
            loop {
                let notice = tokio::select! {
                    notice = notices.recv() => notice,
                    () = shutdown.cancelled() => break,
                };
                match notice {
                    Ok(notice) => {
                        bus.publish(Hint::RateLimited {
                            endpoint: notice.endpoint,
                            retry_after_ms: u64::try_from(notice.retry_after.as_millis())
                                .unwrap_or(u64::MAX),
                            quota_exceeded: notice.quota_exceeded,
                        })
                        .await
                    }
                    // Many 429s at once: the next ones tell the others as much.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    async fn listen(&self, core: &Core) {
        let mut listener = loop {
            match self.subscribe().await {
                Ok(listener) => break listener,
                Err(e) => {
                    tracing::warn!(error = %e, "could not listen for the other instances' hints; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = core.shutdown.cancelled() => return,
                    }
                }
            }
        };
        loop {
            // `try_recv` reconnects by itself after a lost connection (answering `None` once:
            // what was sent meanwhile is lost).
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = core.shutdown.cancelled() => return,
            };
            match received {
                Ok(Some(notification)) => self.apply(core, notification.payload()),
                Ok(None) => {
                    tracing::warn!("lost the connection that listens for hints; reconnecting")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for hints failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = core.shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    async fn subscribe(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Applies another instance's hint (its own come back too, and are skipped).
    fn apply(&self, core: &Core, payload: &str) {
        let envelope: Envelope = match serde_json::from_str(payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(error = %e, "a hint this instance does not understand");
                return;
            }
        };
        if envelope.from == self.node {
            return;
        }
        match envelope.hint {
            Hint::CloseSockets { user, login_hash } => {
                let closed = core
                    .limits
                    .close_sockets(&UserId::new(user.clone()), login_hash.as_deref());
                tracing::info!(%user, sockets = closed, from = %envelope.from, "closed the sockets of a login ended elsewhere");
            }
            Hint::RateLimited {
                endpoint,
                retry_after_ms,
                quota_exceeded,
            } => {
                let pause = Duration::from_millis(retry_after_ms).min(PAUSE_MAX);
                core.spotify
                    .pause_endpoint(&endpoint, pause, quota_exceeded);
                // The app went over Spotify's limit: every instance slows down, as this one did.
                core.budget.note_rate_limited();
                tracing::info!(%endpoint, ?pause, quota_exceeded, from = %envelope.from, "paused a Spotify endpoint another instance was told to wait for");
            }
        }
    }
}

fn kind(hint: &Hint) -> &'static str {
    match hint {
        Hint::CloseSockets { .. } => "close_sockets",
        Hint::RateLimited { .. } => "rate_limited",
    }
}

/// Ends `user`'s sockets of the login `login_hash` (or of every login) here, and tells the
/// other instances to do so (a logout, a logout everywhere, a freed seat); how many closed here.
pub async fn close_sockets(
    core: &Core,
    bus: Option<&Bus>,
    user: &UserId,
    login_hash: Option<&str>,
) -> usize {
    let closed = core.limits.close_sockets(user, login_hash);
    if let Some(bus) = bus {
        bus.publish(Hint::CloseSockets {
            user: user.to_string(),
            login_hash: login_hash.map(str::to_owned),
        })
        .await;
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_read_back_as_sent_and_name_their_kind() {
        let hints = [
            Hint::CloseSockets {
                user: "alice".into(),
                login_hash: Some("ab12".into()),
            },
            Hint::CloseSockets {
                user: "bob".into(),
                login_hash: None,
            },
            Hint::RateLimited {
                endpoint: "GET /me/player".into(),
                retry_after_ms: 3000,
                quota_exceeded: false,
            },
        ];
        for hint in hints {
            let text = serde_json::to_string(&Envelope {
                from: "n1".into(),
                hint: hint.clone(),
            })
            .unwrap();
            assert!(
                text.contains(&format!("\"kind\":\"{}\"", kind(&hint))),
                "{text}"
            );
            let back: Envelope = serde_json::from_str(&text).unwrap();
            assert_eq!((back.from.as_str(), back.hint), ("n1", hint));
        }
    }
}
