//! The store's contract, written once for every store: each case is an `async fn case_…(db:
//! Database)` that uses only `sesh_gateway::db::Database`'s public methods, and
//! [`both_stores!`] runs it against a fresh SQLite file (`store::NAME::sqlite`) and a fresh
//! PostgreSQL database (`store::NAME::postgres`). The SQLite-only unit tests in `src/db/`
//! look at rows; these look at behaviour, so a store passes them or it does not do the job.
//!
//! PostgreSQL: one throwaway cluster per test process ([`Postgres::shared`]), started by the
//! first PostgreSQL case, and a fresh database of it for every case, with the case's own pools
//! on the case's own runtime. Measured on the 2-core dev machine while another suite ran:
//! a PostgreSQL case alone (so with the cluster's `initdb` and start) takes 1.2–1.9 s, all 22
//! together 2.4–4.2 s (their SQLite twins: 0.4–0.6 s); a cluster per case would cost
//! those 1.2–1.9 s 22 times. A watcher shell stops the shared cluster and deletes it when the
//! process exits, a panic, SIGKILL or Ctrl-C included. Under `cargo nextest` every test is a
//! process of its own, so there each case starts its own cluster.
//!
//! Users a session refers to are made the way the app makes them (`upsert_user`), never with
//! SQL. Where a store orders by a timestamp, the rows are written at distinct ones
//! ([`next_millisecond`]): rows written in the same millisecond come back in an order the two
//! stores do not agree on (SQLite breaks ties by `rowid`, PostgreSQL by another column).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rand::{SeedableRng, rngs::StdRng};
use secrecy::{ExposeSecret, SecretString};
use sesh_gateway::{
    crypto::{SecretKey, TokenCipher},
    db::{Database, OAuthTake, SavedPlaylist, Sweep, UserRecord, now_ms},
    wire::ListeningState,
};
use sesh_session::{
    CHAT_HISTORY, Chat, ChatMessageId, ChatText, DeviceId, DisplayKey, Event, InviteCode,
    NewMember, Permission, Permissions, Play, QueueEntryId, QueueOrder, QueueSettingsPatch,
    Reaction, Role, Session, SessionId, SessionName, Settings, Track, TrackId, TrackUri, UserId,
    Vote,
};
use sesh_spotify::Tokens;

use crate::common::postgres::Postgres;

/// The stores a case runs against.
#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlite,
    Postgres,
}

/// Runs `case` against a fresh, migrated `store`, then closes it.
async fn run<F, Fut>(store: Store, case: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = match store {
        Store::Sqlite => format!("sqlite://{}", dir.path().join("store.db").display()),
        Store::Postgres => Postgres::shared().await.database().await,
    };
    let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
        .await
        .unwrap_or_else(|e| panic!("the {store:?} store opens at {url}: {e:?}"));
    let kind = match store {
        Store::Sqlite => "sqlite",
        Store::Postgres => "postgres",
    };
    assert_eq!(db.kind(), kind, "{url} opens the store it names");
    case(db.clone()).await;
    db.close().await;
}

/// `name => case_fn`: a module `name` with one test per store, `sqlite` and `postgres`.
macro_rules! both_stores {
    ($($name:ident => $case:ident),* $(,)?) => {$(
        mod $name {
            // Several worker threads: concurrent calls really overlap.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Store::Sqlite, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Store::Postgres, super::$case).await;
            }
        }
    )*};
}

both_stores! {
    users_and_tokens => case_users_and_tokens,
    seat_limit => case_seat_limit,
    seat_race => case_seat_race,
    seat_holders_and_free_seat => case_seat_holders_and_free_seat,
    first_user => case_first_user,
    top_tracks => case_top_tracks,
    logins => case_logins,
    login_expiry => case_login_expiry,
    oauth_states => case_oauth_states,
    oauth_expiry => case_oauth_expiry,
    spectators => case_spectators,
    session_events => case_session_events,
    invites => case_invites,
    displays => case_displays,
    positions_and_plays => case_positions_and_plays,
    sessions_of_user => case_sessions_of_user,
    unattended_sessions => case_unattended_sessions,
    last_seq => case_last_seq,
    chat_history => case_chat_history,
    chat_changes => case_chat_changes,
    listeners => case_listeners,
    playlists => case_playlists,
}

// ---- helpers -------------------------------------------------------------------------------

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// Tokens as Spotify hands them out, `tag` in every field; they expire at `expires_ms`, a
/// whole millisecond (what the stores keep).
fn tokens(tag: &str, expires_ms: u64, refresh: bool) -> Tokens {
    Tokens {
        access: SecretString::from(format!("access-{tag}")),
        refresh: refresh.then(|| SecretString::from(format!("refresh-{tag}"))),
        expires_at: UNIX_EPOCH + Duration::from_millis(expires_ms),
        scope: format!("scope-{tag}"),
    }
}

/// `tokens` as a comparable tuple (secrets exposed: these are test values).
fn plain(tokens: &Tokens) -> (String, Option<String>, std::time::SystemTime, String) {
    (
        tokens.access.expose_secret().to_owned(),
        tokens
            .refresh
            .as_ref()
            .map(|r| r.expose_secret().to_owned()),
        tokens.expires_at,
        tokens.scope.clone(),
    )
}

/// `id` with a capital: the name Spotify gives the test users.
fn name_of(id: &str) -> String {
    let mut chars = id.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A Spotify user `id` (named [`name_of`] it) who logged in where seats are unlimited.
async fn user(db: &Database, id: &str) -> UserId {
    let user = UserId::new(id);
    let tokens = tokens(id, 1_900_000_000_000, true);
    let seated = db.upsert_user(&user, &name_of(id), &tokens, 0).await;
    assert!(seated.unwrap(), "{id} logs in");
    user
}

/// The record `user` of a Spotify user named [`name_of`] their id has.
fn record(user: &UserId, needs_reauth: bool) -> UserRecord {
    UserRecord {
        id: user.clone(),
        display_name: name_of(user.as_str()),
        needs_reauth,
        spectating: None,
    }
}

/// Who holds a seat, in the store's order.
async fn holder_ids(db: &Database) -> Vec<UserId> {
    db.seat_holders()
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.user_id)
        .collect()
}

/// Waits for the millisecond clock to move on, so that what is written next is later, by
/// the stores' clock, than what was written before.
async fn next_millisecond() {
    let before = now_ms();
    while now_ms() <= before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn track(id: &str) -> Track {
    let id = TrackId::new(id);
    Track {
        uri: TrackUri::for_track(&id),
        name: format!("Song {id}"),
        id,
        artists: vec!["Artist".into(), "Guest".into()],
        album: "Album".into(),
        image_url: Some("https://i.scdn.co/image/x".into()),
        duration_ms: 180_000,
    }
}

/// `id` joining with the `shared` tracks first (they count: only the first five do), then
/// tracks of their own (`{id}0`, `{id}1`, …) up to five.
fn member(id: &str, shared: &[&str]) -> NewMember {
    let own = (0..5 - shared.len()).map(|i| format!("{id}{i}"));
    let tracks = shared
        .iter()
        .map(|s| (*s).to_owned())
        .chain(own)
        .map(|t| Arc::new(track(&t)))
        .collect();
    NewMember::new(UserId::new(id), name_of(id), tracks)
}

/// A new session in the lobby, hosted by `host` (a user already), stored.
async fn lobby(db: &Database, rng: &mut StdRng, host: &str) -> Session {
    let session = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(rng),
        member(host, &[]),
        0,
        Settings::default(),
    );
    db.insert_session(&session).await.unwrap();
    session
}

/// The stored session `id` and its last sequence number.
async fn load(db: &Database, id: SessionId) -> (Session, u64) {
    db.load_session(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("session {id} is stored"))
}

/// Stores a transition the way a hub does, and checks that a reload finds what is in memory.
async fn persist(db: &Database, session: &Session, events: &[Event], last_seq: u64) {
    assert!(!events.is_empty(), "the transition changed something");
    db.persist_session(session, events, last_seq).await.unwrap();
    let (loaded, _) = load(db, session.id()).await;
    assert_eq!(
        &loaded, session,
        "a reload finds the session after {events:?}"
    );
}

/// `host` starts `session` (in the lobby, every member a user) on their laptop; stored.
async fn start(db: &Database, rng: &mut StdRng, session: &mut Session, host: &UserId) {
    let events = session.start(host, DeviceId::new("laptop"), rng).unwrap();
    persist(db, session, &events, 1).await;
}

// ---- users and tokens ----------------------------------------------------------------------

async fn case_users_and_tokens(db: Database) {
    db.ping().await.unwrap();
    let alice = UserId::new("alice");
    assert_eq!(db.user(&alice).await.unwrap(), None);
    assert!(db.load_tokens(&alice).await.unwrap().is_none());

    let first = tokens("one", 1_800_000_000_001, true);
    assert!(db.upsert_user(&alice, "Alice", &first, 0).await.unwrap());
    assert_eq!(db.user(&alice).await.unwrap(), Some(record(&alice, false)));
    let stored = db.load_tokens(&alice).await.unwrap().unwrap();
    assert_eq!(plain(&stored), plain(&first));

    // Refreshed without a new refresh token: the one stored stays.
    let refreshed = tokens("two", 1_800_000_000_002, false);
    db.save_tokens(&alice, &refreshed).await.unwrap();
    let stored = db.load_tokens(&alice).await.unwrap().unwrap();
    assert_eq!(
        plain(&stored),
        (
            "access-two".to_owned(),
            Some("refresh-one".to_owned()),
            refreshed.expires_at,
            "scope-two".to_owned()
        )
    );
    // Spotify rotated the refresh token.
    let rotated = tokens("three", 1_800_000_000_003, true);
    db.save_tokens(&alice, &rotated).await.unwrap();
    let stored = db.load_tokens(&alice).await.unwrap().unwrap();
    assert_eq!(plain(&stored), plain(&rotated));

    // Tokens of someone who never logged in are not stored.
    let nobody = UserId::new("nobody");
    db.save_tokens(&nobody, &first).await.unwrap();
    assert!(db.load_tokens(&nobody).await.unwrap().is_none());
    assert_eq!(db.user(&nobody).await.unwrap(), None);
    db.set_needs_reauth(&nobody, true).await.unwrap();
    assert_eq!(db.user(&nobody).await.unwrap(), None);

    // A revoked login, marked and cleared.
    db.set_needs_reauth(&alice, true).await.unwrap();
    assert_eq!(db.user(&alice).await.unwrap(), Some(record(&alice, true)));
    db.set_needs_reauth(&alice, false).await.unwrap();
    assert_eq!(db.user(&alice).await.unwrap(), Some(record(&alice, false)));
    db.set_needs_reauth(&alice, true).await.unwrap();

    // A new login clears it, renames, and keeps the refresh token when Spotify sends none.
    let again = tokens("four", 1_800_000_000_004, false);
    assert!(db.upsert_user(&alice, "Alice A.", &again, 0).await.unwrap());
    let alice_record = db.user(&alice).await.unwrap().unwrap();
    assert_eq!(alice_record.display_name, "Alice A.");
    assert!(!alice_record.needs_reauth);
    let stored = db.load_tokens(&alice).await.unwrap().unwrap();
    assert_eq!(
        plain(&stored),
        (
            "access-four".to_owned(),
            Some("refresh-three".to_owned()),
            again.expires_at,
            "scope-four".to_owned()
        )
    );

    // Names of people a session no longer has: only of users there are.
    let bob = user(&db, "bob").await;
    let names = db
        .display_names(&[alice.clone(), nobody.clone(), bob.clone()])
        .await
        .unwrap();
    let expected: HashMap<UserId, String> = [(alice, "Alice A.".to_owned()), (bob, "Bob".into())]
        .into_iter()
        .collect();
    assert_eq!(names, expected);
    assert!(db.display_names(&[]).await.unwrap().is_empty());
}

// ---- seats ---------------------------------------------------------------------------------

async fn case_seat_limit(db: Database) {
    let login = |id: &'static str, tag: &'static str, seats: u32| {
        let db = db.clone();
        async move {
            let tokens = tokens(tag, 1_800_000_000_000, true);
            db.upsert_user(&UserId::new(id), &name_of(id), &tokens, seats)
                .await
                .unwrap()
        }
    };
    assert_eq!(db.seats_used().await.unwrap(), 0);
    assert!(login("alice", "a1", 2).await);
    assert!(login("bob", "b1", 2).await);
    assert_eq!(db.seats_used().await.unwrap(), 2);

    // Both seats are held: a newcomer is turned away and nothing of theirs is stored.
    assert!(!login("carol", "c1", 2).await);
    let carol = UserId::new("carol");
    assert_eq!(db.user(&carol).await.unwrap(), None);
    assert!(db.load_tokens(&carol).await.unwrap().is_none());
    assert_eq!(db.seats_used().await.unwrap(), 2);

    // Who holds a seat may always log in again.
    assert!(login("alice", "a2", 2).await);
    let stored = db
        .load_tokens(&UserId::new("alice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.access.expose_secret(), "access-a2");
    assert_eq!(db.seats_used().await.unwrap(), 2);

    // A third seat, then no limit at all.
    assert!(login("carol", "c2", 3).await);
    assert_eq!(db.user(&carol).await.unwrap(), Some(record(&carol, false)));
    assert!(!login("dave", "d1", 3).await);
    assert!(login("dave", "d2", 0).await);
    assert_eq!(db.seats_used().await.unwrap(), 4);
    assert!(!login("erin", "e1", 4).await);
    assert_eq!(db.seats_used().await.unwrap(), 4);
}

/// Logins racing for the last seat: exactly one wins, every round, and the losers are
/// refused (not failed) with nothing stored. An unserialized check lets two in about one
/// round in four (measured on PostgreSQL), so thirty rounds all but never miss it.
async fn case_seat_race(db: Database) {
    const RACERS: usize = 8;
    for round in 0..30u32 {
        let seats = round + 1;
        assert_eq!(db.seats_used().await.unwrap(), round);
        let start = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..RACERS {
            let (db, start) = (db.clone(), start.clone());
            let user = UserId::new(format!("racer-{round}-{i}"));
            racers.spawn(async move {
                let tokens = tokens(user.as_str(), 1_800_000_000_000, true);
                start.wait().await;
                let seated = db.upsert_user(&user, "Racer", &tokens, seats).await;
                (user, seated.map_err(|e| format!("{e:?}")))
            });
        }
        let results = racers.join_all().await;
        let winners = results
            .iter()
            .filter(|(_, seated)| *seated.as_ref().expect("refused, never failed"))
            .count();
        assert_eq!(
            winners, 1,
            "round {round}: one seat for {RACERS}: {results:?}"
        );
        assert_eq!(db.seats_used().await.unwrap(), seats);
        for (user, seated) in &results {
            let stored = db.user(user).await.unwrap().is_some();
            assert_eq!(
                stored,
                *seated.as_ref().unwrap(),
                "{user:?}: stored iff seated"
            );
        }
    }
}

async fn case_seat_holders_and_free_seat(db: Database) {
    let before = now_ms();
    let alice = user(&db, "alice").await;
    next_millisecond().await;
    let bob = user(&db, "bob").await;
    next_millisecond().await;
    let carol = user(&db, "carol").await;
    db.create_login("alice-browser", &alice, WEEK)
        .await
        .unwrap();
    db.create_login("bob-browser", &bob, WEEK).await.unwrap();
    let after = now_ms();

    let holders = db.seat_holders().await.unwrap();
    let who: Vec<(&str, &str)> = holders
        .iter()
        .map(|h| (h.user_id.as_str(), h.display_name.as_str()))
        .collect();
    assert_eq!(
        who,
        [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")],
        "longest-held first"
    );
    for holder in &holders {
        assert!(
            (before..=after).contains(&holder.last_seen_ms),
            "{holder:?} last seen between {before} and {after}"
        );
    }

    assert_eq!(
        db.login_user("bob-browser", WEEK).await.unwrap(),
        Some(record(&bob, false))
    );
    assert!(db.free_seat(&bob).await.unwrap());
    assert!(!db.free_seat(&bob).await.unwrap(), "freed already");
    assert!(!db.free_seat(&UserId::new("nobody")).await.unwrap());
    assert_eq!(db.seats_used().await.unwrap(), 2);
    let holders = holder_ids(&db).await;
    assert_eq!(holders, [alice.clone(), carol.clone()]);
    // Bob must log in again: every login of his ended, nobody else's.
    assert_eq!(db.user(&bob).await.unwrap(), Some(record(&bob, true)));
    assert_eq!(db.login_user("bob-browser", WEEK).await.unwrap(), None);
    assert_eq!(
        db.login_user("alice-browser", WEEK).await.unwrap(),
        Some(record(&alice, false))
    );

    // His seat went back to the pool: with two seats he is turned away, with three he is in.
    let new_tokens = tokens("bob-again", 1_800_000_000_000, true);
    assert!(!db.upsert_user(&bob, "Bob", &new_tokens, 2).await.unwrap());
    assert_eq!(db.user(&bob).await.unwrap(), Some(record(&bob, true)));
    assert!(db.upsert_user(&bob, "Bob", &new_tokens, 3).await.unwrap());
    assert_eq!(db.user(&bob).await.unwrap(), Some(record(&bob, false)));
    let stored = db.load_tokens(&bob).await.unwrap().unwrap();
    assert_eq!(plain(&stored), plain(&new_tokens));
    assert_eq!(db.seats_used().await.unwrap(), 3);
    let holders = db.seat_holders().await.unwrap();
    assert!(holders.iter().any(|h| h.user_id == bob), "{holders:?}");
}

async fn case_first_user(db: Database) {
    assert_eq!(db.first_user().await.unwrap(), None);
    // A spectator owns nothing, even the first one in. (It spectates a session that is not
    // stored: the binding is not a reference.)
    let sam = UserId::new("spectator-sam");
    db.create_spectator(&sam, "Sam", SessionId::new_v4(), "sam-login", WEEK)
        .await
        .unwrap();
    assert_eq!(db.first_user().await.unwrap(), None);
    next_millisecond().await;
    let alice = user(&db, "alice").await;
    next_millisecond().await;
    user(&db, "bob").await;
    assert_eq!(db.first_user().await.unwrap(), Some(alice.clone()));
    // Freeing the owner's seat keeps the owner.
    assert!(db.free_seat(&alice).await.unwrap());
    assert_eq!(db.first_user().await.unwrap(), Some(alice));
}

// ---- top tracks ----------------------------------------------------------------------------

async fn case_top_tracks(db: Database) {
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    assert!(db.top_tracks(&alice).await.unwrap().is_none());

    // Kept in the order given, not by id.
    let before = now_ms();
    let first = [track("zz"), track("aa"), track("mm")];
    db.save_top_tracks(&alice, &first, "medium_term")
        .await
        .unwrap();
    let after = now_ms();
    let (stored, fetched_at) = db.top_tracks(&alice).await.unwrap().unwrap();
    assert_eq!(stored, first);
    assert!((before..=after).contains(&fetched_at), "{fetched_at}");
    db.save_top_tracks(&bob, &[track("bb")], "short_term")
        .await
        .unwrap();

    // Replaced, not merged; nobody else's change.
    let second = [track("mm"), track("qq")];
    db.save_top_tracks(&alice, &second, "medium_term")
        .await
        .unwrap();
    assert_eq!(db.top_tracks(&alice).await.unwrap().unwrap().0, second);
    assert_eq!(db.top_tracks(&bob).await.unwrap().unwrap().0, [track("bb")]);

    db.save_top_tracks(&alice, &[], "medium_term")
        .await
        .unwrap();
    assert!(db.top_tracks(&alice).await.unwrap().is_none());
    assert_eq!(db.top_tracks(&bob).await.unwrap().unwrap().0, [track("bb")]);
}

// ---- logins --------------------------------------------------------------------------------

async fn case_logins(db: Database) {
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    for (hash, user) in [("a1", &alice), ("a2", &alice), ("b1", &bob)] {
        db.create_login(hash, user, WEEK).await.unwrap();
    }
    assert_eq!(
        db.login_user("a1", WEEK).await.unwrap(),
        Some(record(&alice, false))
    );
    assert_eq!(
        db.login_user("b1", WEEK).await.unwrap(),
        Some(record(&bob, false))
    );
    assert_eq!(db.login_user("unknown", WEEK).await.unwrap(), None);

    // Logging out one browser ends that login only.
    db.delete_login("a1").await.unwrap();
    assert_eq!(db.login_user("a1", WEEK).await.unwrap(), None);
    assert!(db.login_user("a2", WEEK).await.unwrap().is_some());
    db.delete_login("a1").await.unwrap();

    // What a login finds follows the user.
    db.set_needs_reauth(&alice, true).await.unwrap();
    assert_eq!(
        db.login_user("a2", WEEK).await.unwrap(),
        Some(record(&alice, true))
    );

    // Logging out everywhere: every login of the user, nobody else's.
    db.create_login("a3", &alice, WEEK).await.unwrap();
    assert_eq!(db.delete_logins_of(&alice).await.unwrap(), 2);
    assert_eq!(db.login_user("a2", WEEK).await.unwrap(), None);
    assert_eq!(db.login_user("a3", WEEK).await.unwrap(), None);
    assert!(db.login_user("b1", WEEK).await.unwrap().is_some());
    assert_eq!(db.delete_logins_of(&alice).await.unwrap(), 0);
}

async fn case_login_expiry(db: Database) {
    let alice = user(&db, "alice").await;
    db.create_login("fresh", &alice, WEEK).await.unwrap();
    db.create_login("idle", &alice, WEEK).await.unwrap();
    db.create_login("expired", &alice, Duration::ZERO)
        .await
        .unwrap();
    assert!(db.login_user("fresh", WEEK).await.unwrap().is_some());
    assert_eq!(db.login_user("expired", WEEK).await.unwrap(), None);
    // Idle for longer than the idle timeout (zero): refused, cached or not.
    assert_eq!(db.login_user("idle", Duration::ZERO).await.unwrap(), None);
    assert_eq!(db.login_user("fresh", Duration::ZERO).await.unwrap(), None);

    assert_eq!(
        db.sweep_expired(WEEK).await.unwrap(),
        Sweep {
            oauth_states: 0,
            logins: 1
        },
        "the expired login"
    );
    assert!(db.login_user("fresh", WEEK).await.unwrap().is_some());
    assert!(db.login_user("idle", WEEK).await.unwrap().is_some());
    assert_eq!(db.sweep_expired(WEEK).await.unwrap(), Sweep::default());
    assert_eq!(
        db.sweep_expired(Duration::ZERO).await.unwrap(),
        Sweep {
            oauth_states: 0,
            logins: 2
        },
        "both idle for longer than zero"
    );
    assert_eq!(db.login_user("fresh", WEEK).await.unwrap(), None);
    assert_eq!(db.login_user("idle", WEEK).await.unwrap(), None);
}

// ---- OAuth states --------------------------------------------------------------------------

async fn case_oauth_states(db: Database) {
    let verifier = SecretString::from("v".repeat(64));
    let ten_minutes = Duration::from_secs(600);
    db.save_oauth_state("s", "browser-a", &verifier, "/next", ten_minutes)
        .await
        .unwrap();
    assert_eq!(db.pending_oauth_states().await.unwrap(), 1);
    let take = async |state: &str, browser: Option<&str>| {
        db.take_oauth_state(state, browser).await.unwrap()
    };
    assert!(matches!(
        take("s", Some("browser-b")).await,
        OAuthTake::OtherBrowser
    ));
    assert!(matches!(take("s", None).await, OAuthTake::OtherBrowser));
    assert_eq!(
        db.pending_oauth_states().await.unwrap(),
        1,
        "a refusal changes nothing"
    );
    assert!(matches!(
        take("other", Some("browser-a")).await,
        OAuthTake::Missing
    ));
    let OAuthTake::Taken(state) = take("s", Some("browser-a")).await else {
        panic!("the browser that started it takes it");
    };
    assert_eq!(state.next_path, "/next");
    assert_eq!(
        state.pkce_verifier.expose_secret(),
        verifier.expose_secret()
    );
    assert!(matches!(
        take("s", Some("browser-a")).await,
        OAuthTake::Missing
    ));
    assert_eq!(db.pending_oauth_states().await.unwrap(), 0);

    // Started without a login cookie: no browser can claim it.
    db.save_oauth_state("anonymous", "", &verifier, "/", ten_minutes)
        .await
        .unwrap();
    assert!(matches!(
        take("anonymous", Some("")).await,
        OAuthTake::OtherBrowser
    ));
    assert!(matches!(
        take("anonymous", None).await,
        OAuthTake::OtherBrowser
    ));
}

async fn case_oauth_expiry(db: Database) {
    let verifier = SecretString::from("w".repeat(43));
    db.save_oauth_state("live", "b", &verifier, "/", Duration::from_secs(600))
        .await
        .unwrap();
    db.save_oauth_state("dead", "b", &verifier, "/", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(db.pending_oauth_states().await.unwrap(), 1);
    assert!(matches!(
        db.take_oauth_state("dead", Some("b")).await.unwrap(),
        OAuthTake::Missing
    ));
    assert_eq!(
        db.sweep_expired(WEEK).await.unwrap(),
        Sweep {
            oauth_states: 1,
            logins: 0
        }
    );
    assert_eq!(db.sweep_expired(WEEK).await.unwrap(), Sweep::default());
    assert_eq!(db.pending_oauth_states().await.unwrap(), 1);
    assert!(matches!(
        db.take_oauth_state("live", Some("b")).await.unwrap(),
        OAuthTake::Taken(_)
    ));
    assert_eq!(db.pending_oauth_states().await.unwrap(), 0);
}

// ---- spectators ----------------------------------------------------------------------------

async fn case_spectators(db: Database) {
    let mut rng = StdRng::seed_from_u64(11);
    let alice = user(&db, "alice").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let sam = UserId::new("spectator-sam");
    db.create_spectator(&sam, "Sam", session.id(), "sam-login", WEEK)
        .await
        .unwrap();
    let expected = UserRecord {
        id: sam.clone(),
        display_name: "Sam".into(),
        needs_reauth: true,
        spectating: Some(session.id()),
    };
    assert_eq!(db.user(&sam).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        db.login_user("sam-login", WEEK).await.unwrap(),
        Some(expected.clone())
    );
    // Never seated, never the owner.
    assert_eq!(db.seats_used().await.unwrap(), 1);
    let holders = holder_ids(&db).await;
    assert_eq!(holders, std::slice::from_ref(&alice));
    assert_eq!(db.first_user().await.unwrap(), Some(alice));
    // A spectator's id does not log in with Spotify, and holds no seat to free.
    let spotify = tokens("sam", 1_800_000_000_000, true);
    assert!(!db.upsert_user(&sam, "Sam", &spotify, 0).await.unwrap());
    assert!(!db.free_seat(&sam).await.unwrap());
    assert_eq!(db.user(&sam).await.unwrap(), Some(expected));

    // They join as a spectator: their member row refers to their user.
    let events = session
        .join_spectator(NewMember::new(sam.clone(), "Sam", Vec::new()), 5)
        .unwrap();
    persist(&db, &session, &events, 1).await;
    assert_eq!(session.member(&sam).map(|m| m.role), Some(Role::Spectator));

    // One the session refused goes, with their login; deleting a Spotify user does nothing.
    let kim = UserId::new("spectator-kim");
    db.create_spectator(&kim, "Kim", session.id(), "kim-login", WEEK)
        .await
        .unwrap();
    db.delete_spectator(&kim).await.unwrap();
    assert_eq!(db.user(&kim).await.unwrap(), None);
    assert_eq!(db.login_user("kim-login", WEEK).await.unwrap(), None);
    db.delete_spectator(&UserId::new("alice")).await.unwrap();
    assert!(db.user(&UserId::new("alice")).await.unwrap().is_some());
}

// ---- sessions ------------------------------------------------------------------------------

/// Every kind of event, named by an exhaustive `match`: a new kind does not compile until
/// this suite names it (and then stores it in [`case_session_events`]).
fn kind(event: &Event) -> &'static str {
    match event {
        Event::MemberJoined { .. } => "member_joined",
        Event::MemberLeft { .. } => "member_left",
        Event::HostChanged { .. } => "host_changed",
        Event::RoleChanged { .. } => "role_changed",
        Event::MemberMuted { .. } => "member_muted",
        Event::MemberUpdated { .. } => "member_updated",
        Event::SettingsChanged { .. } => "settings_changed",
        Event::InviteRotated => "invite_rotated",
        Event::MemberUnbanned { .. } => "member_unbanned",
        Event::DisplayCreated { .. } => "display_created",
        Event::DisplayRevoked { .. } => "display_revoked",
        Event::SessionStarted { .. } => "session_started",
        Event::EntryAdded { .. } => "entry_added",
        Event::EntryUpdated { .. } => "entry_updated",
        Event::EntryRemoved { .. } => "entry_removed",
        Event::QueueReordered { .. } => "queue_reordered",
        Event::EntryMoved { .. } => "entry_moved",
        Event::EntryVotes { .. } => "entry_votes",
        Event::EntryCommitted { .. } => "entry_committed",
        Event::SkipVotes { .. } => "skip_votes",
        Event::TrackBanned { .. } => "track_banned",
        Event::NowPlaying { .. } => "now_playing",
        Event::DeviceChanged { .. } => "device_changed",
        Event::SessionEnded => "session_ended",
    }
}

/// Every name [`kind`] gives (keep them together).
const KINDS: [&str; 24] = [
    "member_joined",
    "member_left",
    "host_changed",
    "role_changed",
    "member_muted",
    "member_updated",
    "settings_changed",
    "invite_rotated",
    "member_unbanned",
    "display_created",
    "display_revoked",
    "session_started",
    "entry_added",
    "entry_updated",
    "entry_removed",
    "queue_reordered",
    "entry_moved",
    "entry_votes",
    "entry_committed",
    "skip_votes",
    "track_banned",
    "now_playing",
    "device_changed",
    "session_ended",
];

/// Stores each transition of one session as a hub does, numbering them, and remembers which
/// kinds of event it stored.
struct Transitions {
    db: Database,
    seq: u64,
    stored: BTreeSet<&'static str>,
}

impl Transitions {
    async fn store(&mut self, session: &Session, events: Vec<Event>, what: &str) {
        assert!(!events.is_empty(), "{what} changed nothing");
        self.seq += 1;
        self.db
            .persist_session(session, &events, self.seq)
            .await
            .unwrap_or_else(|e| panic!("{what} is stored: {e:?}"));
        let (loaded, last_seq) = load(&self.db, session.id()).await;
        assert_eq!(&loaded, session, "a reload after {what} ({events:?})");
        assert_eq!(last_seq, self.seq, "after {what}");
        self.stored.extend(events.iter().map(kind));
    }
}

/// Every kind of event a session produces, each stored with only the rows it touches: after
/// each transition, a reload finds exactly the session in memory.
async fn case_session_events(db: Database) {
    let mut rng = StdRng::seed_from_u64(9);
    for id in ["alice", "bob", "carol", "dave"] {
        user(&db, id).await;
    }
    let [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map(UserId::new);

    // A host who is nobody's user is refused (users are referenced).
    let ghost = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rng),
        member("ghost", &[]),
        0,
        Settings::default(),
    );
    assert!(db.insert_session(&ghost).await.is_err());
    assert!(db.load_session(ghost.id()).await.unwrap().is_none());

    let mut session = lobby(&db, &mut rng, "alice").await;
    assert_eq!(load(&db, session.id()).await, (session.clone(), 0));
    let mut t = Transitions {
        db: db.clone(),
        seq: 0,
        stored: BTreeSet::new(),
    };

    // The lobby.
    let name = SessionName::try_from("Friday at Alice's".to_owned()).unwrap();
    let events = session.set_name(&alice, Some(name)).unwrap();
    t.store(&session, events, "naming").await;
    let events = session
        .join(member("bob", &["alice0"]), 1, &mut rng)
        .unwrap();
    t.store(&session, events, "a join").await;
    let events = session
        .join(member("carol", &["bob1"]), 2, &mut rng)
        .unwrap();
    t.store(&session, events, "another join").await;
    let sam = UserId::new("spectator-sam");
    db.create_spectator(&sam, "Sam", session.id(), "sam-login", WEEK)
        .await
        .unwrap();
    let events = session
        .join_spectator(NewMember::new(sam.clone(), "Sam", Vec::new()), 3)
        .unwrap();
    t.store(&session, events, "a spectator's join").await;
    let tv = DisplayKey::generate(&mut rng);
    let label = SessionName::try_from("Living room".to_owned()).unwrap();
    let events = session
        .create_display(&alice, tv.clone(), Some(label), true, 10)
        .unwrap();
    t.store(&session, events, "a display").await;
    let overlay = DisplayKey::generate(&mut rng);
    let events = session
        .create_display(&alice, overlay, None, false, 11)
        .unwrap();
    t.store(&session, events, "another display").await;
    let events = session.revoke_display(&alice, &tv).unwrap();
    t.store(&session, events, "a revoked display").await;
    let events = session
        .rotate_invite(&alice, InviteCode::generate(&mut rng))
        .unwrap();
    t.store(&session, events, "a new invite").await;
    let events = session.kick(&alice, &carol).unwrap();
    t.store(&session, events, "a kick").await;
    let events = session.unban(&alice, &carol).unwrap();
    t.store(&session, events, "an unban").await;
    let events = session.set_muted(&alice, &bob, true).unwrap();
    t.store(&session, events, "a mute").await;

    // A start whose plan was made before dave joined: the start weaves him in.
    let plan = session.plan_start(&alice, &mut rng).unwrap();
    let events = session
        .join(member("dave", &["bob2", "alice3"]), 4, &mut rng)
        .unwrap();
    t.store(&session, events, "a join while Spotify answers the start")
        .await;
    let events = session
        .start_planned(&alice, DeviceId::new("laptop"), plan, &mut rng)
        .unwrap();
    t.store(&session, events, "the start").await;

    // Playing.
    let events = session
        .join(member("carol", &["alice1", "dave4"]), 5, &mut rng)
        .unwrap();
    t.store(&session, events, "a late join").await;
    let mut bobs = vec![Arc::new(track("bob-new")), Arc::new(track("alice4"))];
    bobs.extend(member("bob", &[]).top_tracks.into_iter().take(3));
    let events = session.set_top_tracks(&bob, &bob, bobs, &mut rng).unwrap();
    t.store(&session, events, "new top tracks").await;
    let events = session.reshuffle(&alice, &mut rng).unwrap();
    t.store(&session, events, "a reshuffle").await;
    let next = session.next_entry().unwrap().id;
    let events = session.commit_next(next).unwrap();
    t.store(&session, events, "the next entry handed to Spotify")
        .await;
    let events = session.vote_skip(&carol, 4).unwrap().events;
    t.store(&session, events, "a skip vote").await;
    let votes = QueueSettingsPatch {
        queue_order: Some(QueueOrder::Votes),
        ..QueueSettingsPatch::default()
    };
    let events = session.set_queue_settings(&alice, &votes).unwrap();
    t.store(&session, events, "ordering by votes").await;
    let last = session.queue().last().unwrap().id;
    let events = session.vote(&dave, last, Some(Vote::Up)).unwrap();
    t.store(&session, events, "an up vote").await;
    let events = session
        .add_track(&carol, Arc::new(track("carol-pick")))
        .unwrap();
    t.store(&session, events, "an added track").await;
    let banned = session.queue()[session.movable_from() + 1].id;
    let events = session.ban_track(&alice, banned).unwrap();
    t.store(&session, events, "a banned track").await;
    let removed = session.queue()[session.movable_from()].id;
    let events = session.remove_entry(&alice, removed).unwrap();
    t.store(&session, events, "a removed entry").await;
    let events = session.advance_to(session.position() + 1).unwrap();
    t.store(&session, events, "the next track").await;
    let events = session.set_device(&alice, DeviceId::new("phone")).unwrap();
    t.store(&session, events, "a transfer").await;
    let events = session.set_role(&alice, &bob, Role::CoHost).unwrap();
    t.store(&session, events, "a promotion").await;
    let guests = Permissions::NONE.with(Permission::Seek);
    let events = session.set_guest_permissions(&alice, guests).unwrap();
    t.store(&session, events, "new guest permissions").await;
    let events = session.transfer_host(&alice, &bob).unwrap();
    t.store(&session, events, "a hand-over").await;
    let events = session.leave(&carol).unwrap();
    t.store(&session, events, "a leave").await;
    let events = session.end(&bob).unwrap();
    t.store(&session, events, "the end").await;

    let missing: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| !t.stored.contains(k))
        .collect();
    assert!(missing.is_empty(), "never stored: {missing:?}");
}

async fn case_invites(db: Database) {
    let mut rng = StdRng::seed_from_u64(12);
    let alice = user(&db, "alice").await;
    user(&db, "bob").await;
    let mut first = lobby(&db, &mut rng, "alice").await;
    let second = lobby(&db, &mut rng, "bob").await;
    let old = first.invite_code().clone();
    let find = async |code: &str| db.session_by_invite(code).await.unwrap();
    assert_eq!(find(old.as_str()).await, Some(first.id()));
    assert_eq!(find(second.invite_code().as_str()).await, Some(second.id()));
    assert_eq!(find("no-such-code").await, None);
    assert_eq!(find("").await, None);

    // A rotation: the old link stops working at once (it was just looked up), the new one
    // works, the other session's is untouched.
    let events = first
        .rotate_invite(&alice, InviteCode::generate(&mut rng))
        .unwrap();
    persist(&db, &first, &events, 1).await;
    assert_eq!(find(old.as_str()).await, None);
    assert_eq!(find(first.invite_code().as_str()).await, Some(first.id()));
    assert_eq!(find(second.invite_code().as_str()).await, Some(second.id()));
    assert_ne!(load(&db, first.id()).await.0.invite_code(), &old);
}

async fn case_displays(db: Database) {
    let mut rng = StdRng::seed_from_u64(13);
    let alice = user(&db, "alice").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let find = async |key: &DisplayKey| db.session_by_display(key.as_str()).await.unwrap();
    let tv = DisplayKey::generate(&mut rng);
    let label = SessionName::try_from("Living room".to_owned()).unwrap();
    let events = session
        .create_display(&alice, tv.clone(), Some(label), true, 10)
        .unwrap();
    persist(&db, &session, &events, 1).await;
    let overlay = DisplayKey::generate(&mut rng);
    let events = session
        .create_display(&alice, overlay.clone(), None, false, 20)
        .unwrap();
    persist(&db, &session, &events, 2).await;
    assert_eq!(find(&tv).await, Some(session.id()));
    assert_eq!(find(&overlay).await, Some(session.id()));
    assert_eq!(find(&DisplayKey::generate(&mut rng)).await, None);

    // Revoked: gone at once (it was just looked up); the other key stays.
    let events = session.revoke_display(&alice, &tv).unwrap();
    persist(&db, &session, &events, 3).await;
    assert_eq!(find(&tv).await, None);
    assert_eq!(find(&overlay).await, Some(session.id()));
    assert_eq!(load(&db, session.id()).await.0.displays().len(), 1);
}

async fn case_positions_and_plays(db: Database) {
    let mut rng = StdRng::seed_from_u64(14);
    let alice = user(&db, "alice").await;
    user(&db, "bob").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let events = session.join(member("bob", &[]), 1, &mut rng).unwrap();
    persist(&db, &session, &events, 1).await;
    start(&db, &mut rng, &mut session, &alice).await;
    let id = session.id();
    let len = session.queue().len();
    assert!(len >= 4, "{len} entries");

    // A position the stored queue has is stored; one it does not have is skipped.
    db.save_positions(&[(id, 2)], &[]).await.unwrap();
    session.move_to(2).unwrap();
    assert_eq!(load(&db, id).await.0, session);
    db.save_positions(&[(id, len + 5)], &[]).await.unwrap();
    assert_eq!(load(&db, id).await.0.position(), 2);
    // Nothing for a session that is not stored, and no error.
    let unknown = SessionId::new_v4();
    let play = |entry: usize, at: i64| Play {
        entry_id: session.queue()[entry].id,
        started_at_ms: at,
    };
    db.save_positions(&[(unknown, 1)], &[(unknown, play(0, 1))])
        .await
        .unwrap();
    assert!(db.plays(unknown, 10).await.unwrap().is_empty());

    // Plays, in play order whatever the order they are written in.
    db.save_positions(&[], &[(id, play(0, 1_000)), (id, play(1, 3_000))])
        .await
        .unwrap();
    db.save_positions(&[(id, 3)], &[(id, play(2, 2_000))])
        .await
        .unwrap();
    let other = lobby(&db, &mut rng, "bob").await;
    let other_play = Play {
        entry_id: QueueEntryId::new(7),
        started_at_ms: 1_500,
    };
    db.save_positions(&[], &[(other.id(), other_play)])
        .await
        .unwrap();
    assert_eq!(
        db.plays(id, 10).await.unwrap(),
        [play(0, 1_000), play(2, 2_000), play(1, 3_000)]
    );
    assert_eq!(
        db.plays(id, 2).await.unwrap(),
        [play(2, 2_000), play(1, 3_000)],
        "the last two"
    );
    assert!(db.plays(id, 0).await.unwrap().is_empty());
    assert_eq!(db.plays(other.id(), 10).await.unwrap(), [other_play]);
    session.move_to(3).unwrap();
    assert_eq!(load(&db, id).await.0, session);
}

async fn case_sessions_of_user(db: Database) {
    let mut rng = StdRng::seed_from_u64(15);
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let carol = user(&db, "carol").await;
    assert!(db.sessions_of_user(&alice).await.unwrap().is_empty());
    assert_eq!(db.session_times(SessionId::new_v4()).await.unwrap(), None);

    let before = now_ms();
    let mut hosted = lobby(&db, &mut rng, "alice").await;
    let events = hosted.join(member("bob", &[]), 1, &mut rng).unwrap();
    persist(&db, &hosted, &events, 1).await;
    next_millisecond().await;
    let mut guest_of_bob = lobby(&db, &mut rng, "bob").await;
    let events = guest_of_bob
        .join(member("alice", &[]), 2, &mut rng)
        .unwrap();
    persist(&db, &guest_of_bob, &events, 1).await;
    next_millisecond().await;
    let mut ended = lobby(&db, &mut rng, "alice").await;
    let events = ended.end(&alice).unwrap();
    persist(&db, &ended, &events, 1).await;
    let after = now_ms();

    // Live sessions only, the last written first.
    type Summary = (SessionId, String, String, String, String, i64);
    let summaries = async |user: &UserId| -> Vec<Summary> {
        db.sessions_of_user(user)
            .await
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.id,
                    s.state,
                    s.role,
                    s.host_id,
                    s.host_name,
                    s.member_count,
                )
            })
            .collect()
    };
    let row = |id: SessionId, state: &str, role: &str, host: &str, members: i64| -> Summary {
        let host_name = name_of(host);
        (
            id,
            state.into(),
            role.into(),
            host.into(),
            host_name,
            members,
        )
    };
    assert_eq!(
        summaries(&alice).await,
        [
            row(guest_of_bob.id(), "lobby", "guest", "bob", 2),
            row(hosted.id(), "lobby", "host", "alice", 2),
        ]
    );
    assert_eq!(
        summaries(&bob).await,
        [
            row(guest_of_bob.id(), "lobby", "host", "bob", 2),
            row(hosted.id(), "lobby", "guest", "alice", 2),
        ]
    );
    assert!(summaries(&carol).await.is_empty());

    // A later write puts a session first.
    next_millisecond().await;
    start(&db, &mut rng, &mut hosted, &alice).await;
    let first = summaries(&alice).await[0].clone();
    assert_eq!(first, row(hosted.id(), "playing", "host", "alice", 2));

    // Created and last written: an ended session's last write is its end.
    let (created, updated) = db.session_times(ended.id()).await.unwrap().unwrap();
    assert!(before <= created && created <= updated && updated <= after);
    let (created, updated) = db.session_times(hosted.id()).await.unwrap().unwrap();
    assert!(created < updated, "{created} < {updated}");
}

async fn case_unattended_sessions(db: Database) {
    let mut rng = StdRng::seed_from_u64(16);
    let alice = user(&db, "alice").await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(lobby(&db, &mut rng, "alice").await);
    }
    for (session, at) in sessions.iter().zip([1_000, 3_000, 2_000, 500]) {
        db.set_active_at(session.id(), at).await.unwrap();
    }
    let events = sessions[3].end(&alice).unwrap();
    persist(&db, &sessions[3], &events, 1).await;
    db.set_active_at(SessionId::new_v4(), 0).await.unwrap();

    let ids = |indexes: &[usize]| -> Vec<SessionId> {
        indexes.iter().map(|&i| sessions[i].id()).collect()
    };
    let unattended =
        async |before: i64, limit: u32| db.unattended_sessions(before, limit).await.unwrap();
    // Live ones only, the longest unused first, used strictly before.
    assert_eq!(unattended(2_500, 10).await, ids(&[0, 2]));
    assert_eq!(unattended(2_500, 1).await, ids(&[0]));
    assert_eq!(unattended(1_000, 10).await, ids(&[]));
    assert_eq!(unattended(i64::MAX, 10).await, ids(&[0, 2, 1]));
    assert_eq!(unattended(i64::MAX, 0).await, ids(&[]));
    // Used again.
    db.set_active_at(sessions[0].id(), 4_000).await.unwrap();
    assert_eq!(unattended(i64::MAX, 10).await, ids(&[2, 1, 0]));
}

async fn case_last_seq(db: Database) {
    let mut rng = StdRng::seed_from_u64(17);
    let alice = user(&db, "alice").await;
    user(&db, "bob").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let id = session.id();
    assert_eq!(load(&db, id).await.1, 0);
    let events = session.join(member("bob", &[]), 1, &mut rng).unwrap();
    persist(&db, &session, &events, 5).await;
    assert_eq!(load(&db, id).await.1, 5);
    // Never backwards, by either way of writing it.
    db.set_last_seq(id, 3).await.unwrap();
    assert_eq!(load(&db, id).await.1, 5);
    db.set_last_seq(id, 9).await.unwrap();
    assert_eq!(load(&db, id).await.1, 9);
    let name = SessionName::try_from("Late".to_owned()).unwrap();
    let events = session.set_name(&alice, Some(name)).unwrap();
    persist(&db, &session, &events, 4).await;
    assert_eq!(
        load(&db, id).await,
        (session, 9),
        "the change stored, not the number"
    );
    db.set_last_seq(SessionId::new_v4(), 1).await.unwrap();
}

// ---- chat ----------------------------------------------------------------------------------

async fn case_chat_history(db: Database) {
    let mut rng = StdRng::seed_from_u64(18);
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let events = session.join(member("bob", &[]), 1, &mut rng).unwrap();
    persist(&db, &session, &events, 1).await;
    let id = session.id();
    let mut chat = db.load_chat(id).await.unwrap();
    assert_eq!(chat, Chat::default());

    let posts = CHAT_HISTORY + 5;
    for i in 0..posts {
        let author = if i % 2 == 0 { &alice } else { &bob };
        let text = ChatText::try_from(format!("message {i}")).unwrap();
        let post = chat
            .decide_post(&session, author, text, 1_000 + i as i64)
            .unwrap();
        db.write_chat(id, &post).await.unwrap();
        chat.apply(post);
    }
    let loaded = db.load_chat(id).await.unwrap();
    assert_eq!(loaded, chat);
    assert_eq!(loaded.messages().len(), CHAT_HISTORY, "the newest only");
    assert_eq!(
        loaded.messages().next().map(|m| m.id),
        Some(ChatMessageId::new(5))
    );
    assert_eq!(loaded.next_id(), posts as u64);
}

async fn case_chat_changes(db: Database) {
    let mut rng = StdRng::seed_from_u64(19);
    assert_eq!(
        db.load_chat(SessionId::new_v4()).await.unwrap(),
        Chat::default()
    );
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let mut session = lobby(&db, &mut rng, "alice").await;
    let events = session.join(member("bob", &[]), 1, &mut rng).unwrap();
    persist(&db, &session, &events, 1).await;
    start(&db, &mut rng, &mut session, &alice).await;
    let quiet = lobby(&db, &mut rng, "bob").await;
    let id = session.id();
    let mut chat = Chat::default();
    let mut ids = Vec::new();
    for (author, text) in [(&alice, "hi"), (&bob, "hello"), (&alice, "what's on?")] {
        let text = ChatText::try_from(text.to_owned()).unwrap();
        let post = chat.decide_post(&session, author, text, 10).unwrap();
        db.write_chat(id, &post).await.unwrap();
        chat.apply(post);
        ids.push(ChatMessageId::new(chat.next_id() - 1));
    }
    for (who, reaction) in [
        (&bob, Reaction::Heart),
        (&alice, Reaction::Heart),
        (&alice, Reaction::Laugh),
        (&bob, Reaction::Heart),
    ] {
        let react = chat.decide_react(&session, who, ids[0], reaction).unwrap();
        db.write_chat(id, &react).await.unwrap();
        chat.apply(react);
    }
    let delete = chat.decide_delete(&session, &alice, ids[1]).unwrap();
    db.write_chat(id, &delete).await.unwrap();
    chat.apply(delete);
    assert_eq!(db.load_chat(id).await.unwrap(), chat);
    assert_eq!(db.load_chat(quiet.id()).await.unwrap(), Chat::default());

    // A track's reactions last while it plays: not stored.
    let react = chat
        .decide_react_track(&session, &bob, Reaction::Fire)
        .unwrap();
    db.write_chat(id, &react).await.unwrap();
    assert_eq!(db.load_chat(id).await.unwrap(), chat);

    // Deleting the newest message does not hand its id out again.
    let delete = chat.decide_delete(&session, &alice, ids[2]).unwrap();
    db.write_chat(id, &delete).await.unwrap();
    chat.apply(delete);
    let loaded = db.load_chat(id).await.unwrap();
    assert_eq!(loaded, chat);
    assert_eq!(loaded.next_id(), 3);
    let text = ChatText::try_from("still here".to_owned()).unwrap();
    let post = loaded.decide_post(&session, &bob, text, 20).unwrap();
    db.write_chat(id, &post).await.unwrap();
    chat.apply(post);
    let loaded = db.load_chat(id).await.unwrap();
    assert_eq!(loaded, chat);
    let kept: Vec<u64> = loaded.messages().map(|m| m.id.get()).collect();
    assert_eq!(kept, [0, 3]);
}

// ---- listeners and playlists ---------------------------------------------------------------

async fn case_listeners(db: Database) {
    let mut rng = StdRng::seed_from_u64(20);
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let carol = user(&db, "carol").await;
    let session = lobby(&db, &mut rng, "alice").await;
    let other = lobby(&db, &mut rng, "bob").await;
    let id = session.id();
    assert!(db.load_listeners(id).await.unwrap().is_empty());
    let listener = |user: &UserId, device: &str, state: ListeningState| {
        (user.clone(), DeviceId::new(device), state)
    };
    let set = async |session: SessionId, user: &UserId, device: Option<&str>, state| {
        let device = device.map(DeviceId::new);
        db.set_listener(session, user, device.as_ref(), state)
            .await
            .unwrap();
    };

    set(id, &carol, Some("carol-phone"), ListeningState::InSync).await;
    set(id, &alice, Some("alice-laptop"), ListeningState::Detached).await;
    set(other.id(), &bob, Some("bob-tv"), ListeningState::InSync).await;
    assert_eq!(
        db.load_listeners(id).await.unwrap(),
        [
            listener(&alice, "alice-laptop", ListeningState::Detached),
            listener(&carol, "carol-phone", ListeningState::InSync),
        ],
        "by user"
    );
    // A state change keeps the device; a new device replaces it.
    set(id, &alice, None, ListeningState::InSync).await;
    set(id, &carol, Some("carol-tv"), ListeningState::Detached).await;
    // A state change of someone who does not listen stores nothing.
    set(id, &bob, None, ListeningState::InSync).await;
    assert_eq!(
        db.load_listeners(id).await.unwrap(),
        [
            listener(&alice, "alice-laptop", ListeningState::InSync),
            listener(&carol, "carol-tv", ListeningState::Detached),
        ]
    );
    db.remove_listener(id, Some(&alice)).await.unwrap();
    assert_eq!(
        db.load_listeners(id).await.unwrap(),
        [listener(&carol, "carol-tv", ListeningState::Detached)]
    );
    db.remove_listener(id, None).await.unwrap();
    assert!(db.load_listeners(id).await.unwrap().is_empty());
    assert_eq!(
        db.load_listeners(other.id()).await.unwrap(),
        [listener(&bob, "bob-tv", ListeningState::InSync)],
        "another session's listeners stay"
    );
}

async fn case_playlists(db: Database) {
    let mut rng = StdRng::seed_from_u64(21);
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let session = lobby(&db, &mut rng, "alice").await;
    let other = lobby(&db, &mut rng, "bob").await;
    let id = session.id();
    assert_eq!(db.saved_playlist(id, &alice).await.unwrap(), None);
    let url = "https://open.spotify.com/playlist/pl1";
    db.insert_playlist(id, &alice, "pl1", url).await.unwrap();
    let saved = |added: usize| SavedPlaylist {
        playlist_id: "pl1".into(),
        url: url.into(),
        added,
    };
    assert_eq!(db.saved_playlist(id, &alice).await.unwrap(), Some(saved(0)));
    db.set_playlist_added(id, &alice, 7).await.unwrap();
    assert_eq!(db.saved_playlist(id, &alice).await.unwrap(), Some(saved(7)));
    assert_eq!(db.saved_playlist(id, &bob).await.unwrap(), None);
    assert_eq!(db.saved_playlist(other.id(), &alice).await.unwrap(), None);

    // One playlist per member and session: a second is refused, the first stays.
    let again = db
        .insert_playlist(id, &alice, "pl2", "https://open.spotify.com/playlist/pl2")
        .await;
    assert!(again.is_err(), "{again:?}");
    assert_eq!(db.saved_playlist(id, &alice).await.unwrap(), Some(saved(7)));
    // Counting for a playlist nobody saved stores nothing.
    db.set_playlist_added(id, &bob, 3).await.unwrap();
    assert_eq!(db.saved_playlist(id, &bob).await.unwrap(), None);
}

// ---- several instances on one PostgreSQL database -------------------------------------------

/// Two instances on one PostgreSQL database: what one writes, the other reads at its next
/// request, with no cached answer of its own in between. (SQLite has one instance by design:
/// its caches are its own writes' and stay.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_postgresql_sees_logouts_rotations_and_revocations_at_once() {
    let url = Postgres::shared().await.database().await;
    let key = SecretKey::generate();
    let a = Database::connect(&url, TokenCipher::new(&key))
        .await
        .unwrap();
    let b = Database::connect(&url, TokenCipher::new(&key))
        .await
        .unwrap();
    let alice = user(&a, "alice").await;
    a.create_login("a1", &alice, WEEK).await.unwrap();
    a.create_login("a2", &alice, WEEK).await.unwrap();
    // Both instances have answered for both logins (and would have cached them).
    for db in [&a, &b] {
        for login in ["a1", "a2"] {
            assert_eq!(
                db.login_user(login, WEEK).await.unwrap(),
                Some(record(&alice, false))
            );
        }
    }
    // A logout on one, then everywhere on the other: each is refused on both at once.
    a.delete_login("a1").await.unwrap();
    assert_eq!(b.login_user("a1", WEEK).await.unwrap(), None);
    b.set_needs_reauth(&alice, true).await.unwrap();
    assert_eq!(
        a.login_user("a2", WEEK).await.unwrap(),
        Some(record(&alice, true))
    );
    b.delete_logins_of(&alice).await.unwrap();
    assert_eq!(a.login_user("a2", WEEK).await.unwrap(), None);

    // An invite rotated and a display revoked by the session's instance.
    let mut rng = StdRng::seed_from_u64(31);
    let mut session = lobby(&a, &mut rng, "alice").await;
    let old = session.invite_code().clone();
    assert_eq!(
        b.session_by_invite(old.as_str()).await.unwrap(),
        Some(session.id())
    );
    let events = session
        .rotate_invite(&alice, InviteCode::generate(&mut rng))
        .unwrap();
    a.persist_session(&session, &events, 1).await.unwrap();
    assert_eq!(b.session_by_invite(old.as_str()).await.unwrap(), None);
    assert_eq!(
        b.session_by_invite(session.invite_code().as_str())
            .await
            .unwrap(),
        Some(session.id())
    );
    a.close().await;
    b.close().await;
}
