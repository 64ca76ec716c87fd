//! Upgrading a database written by the first release (schema v1: the whole session, members
//! with their top tracks and the queue, inside the snapshot) to the current schema keeps every
//! session exactly as it was, and a join on the upgraded database writes rows, not snapshots.

use std::str::FromStr;

use sesh_gateway::{
    crypto::{SecretKey, TokenCipher},
    db::Database,
};
use sesh_session::{
    DeviceId, InviteCode, NewMember, Session, SessionId, Settings, Track, TrackId, TrackUri, UserId,
};
use sqlx::{Row, sqlite::SqliteConnectOptions};

fn track(id: &str) -> Track {
    let track_id = TrackId::new(id);
    Track {
        uri: TrackUri::for_track(&track_id),
        id: track_id,
        name: format!("Song {id}"),
        artists: vec!["Someone".into()],
        album: "Album".into(),
        image_url: None,
        duration_ms: 200_000,
    }
}

fn member(user: &str, tracks: &[&str]) -> NewMember {
    NewMember::new(
        UserId::new(user),
        user.to_uppercase(),
        tracks
            .iter()
            .map(|t| std::sync::Arc::new(track(t)))
            .collect(),
    )
}

/// A playing session and a lobby session, as the domain builds them.
fn sessions() -> (Session, Session) {
    let mut rng = rand::rng();
    let mut playing = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rng),
        member("alice", &["a1", "a2", "a3"]),
        1_000,
        Settings::default(),
    );
    playing
        .join(member("bob", &["b1", "b2", "a1"]), 2_000, &mut rng)
        .unwrap();
    playing
        .join(member("carol", &["c1"]), 3_000, &mut rng)
        .unwrap();
    playing
        .start(&UserId::new("alice"), DeviceId::new("dev-1"), &mut rng)
        .unwrap();
    playing.advance_to(2).unwrap();
    let mut lobby = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rng),
        member("bob", &["b1"]),
        4_000,
        Settings::default(),
    );
    lobby
        .join(member("alice", &["a9"]), 5_000, &mut rng)
        .unwrap();
    (playing, lobby)
}

/// Writes `session` the way the first release did: the full snapshot plus v1 rows.
async fn write_v1(pool: &sqlx::SqlitePool, session: &Session) {
    sqlx::query(
        "INSERT INTO listening_sessions (id, invite_code, host_id, state, device_id, position,
                                         last_seq, snapshot, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 7, ?7, 0, 0)",
    )
    .bind(session.id().to_string())
    .bind(session.invite_code().as_str())
    .bind(session.host().as_str())
    .bind(session.state().to_string())
    .bind(session.device().map(|d| d.as_str().to_owned()))
    .bind(session.position() as i64)
    .bind(serde_json::to_string(session).unwrap())
    .execute(pool)
    .await
    .unwrap();
    // v1 wrote member rows in join order, but nothing in them says so: insert them backwards
    // to show the order comes from the snapshot.
    for m in session.members().iter().rev() {
        sqlx::query(
            "INSERT INTO session_members (session_id, user_id, display_name, role, joined_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(session.id().to_string())
        .bind(m.user_id.as_str())
        .bind(&m.display_name)
        .bind(if m.is_host() { "host" } else { "guest" })
        .bind(m.joined_at_ms)
        .execute(pool)
        .await
        .unwrap();
    }
    for (position, entry) in session.queue().iter().enumerate() {
        sqlx::query(
            "INSERT INTO queue_entries (session_id, position, track, added_by) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(session.id().to_string())
        .bind(position as i64)
        .bind(serde_json::to_string(&entry.track).unwrap())
        .bind(serde_json::to_string(&entry.added_by).unwrap())
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_v1_database_keeps_every_session_exactly_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesh.db").display());

    // A database as the first release left it: only migration 0001 applied.
    let v1 = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../migrations/0001_initial.sql"
        ),
        v1.path().join("0001_initial.sql"),
    )
    .unwrap();
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(v1.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for user in ["alice", "bob", "carol"] {
        sqlx::query(
            "INSERT INTO users (id, display_name, access_token, token_expires_at, created_at, updated_at)
             VALUES (?1, ?1, x'00', 0, 0, 0)",
        )
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    }
    let (playing, lobby) = sessions();
    write_v1(&pool, &playing).await;
    write_v1(&pool, &lobby).await;
    pool.close().await;

    // The current release opens it (and migrates it).
    let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
        .await
        .unwrap();
    for original in [&playing, &lobby] {
        let (loaded, last_seq) = db.load_session(original.id()).await.unwrap().unwrap();
        assert_eq!(&loaded, original);
        assert_eq!(last_seq, 7);
    }
    let row = sqlx::query("SELECT snapshot, position FROM listening_sessions WHERE id = ?1")
        .bind(playing.id().to_string())
        .fetch_one(db.sqlite_pool().unwrap())
        .await
        .unwrap();
    let snapshot: serde_json::Value = serde_json::from_str(row.get::<&str, _>(0)).unwrap();
    // The row's JSON keeps only what has no column (v4): no members, queue or position in it.
    for column in [
        "members",
        "queue",
        "position",
        "state",
        "host",
        "invite_code",
        "device",
    ] {
        assert_eq!(
            snapshot[column],
            serde_json::Value::Null,
            "{column}: {snapshot}"
        );
    }
    assert!(snapshot["settings"].is_object(), "{snapshot}");
    assert_eq!(row.get::<i64, _>(1), 2);

    // A join on the upgraded database goes to the end of the join order, with its tracks, and
    // the stored snapshot stays small.
    let mut next = lobby.clone();
    let events = next
        .join(member("carol", &["c7", "c8"]), 6_000, &mut rand::rng())
        .unwrap();
    db.persist_session(&next, &events, 9).await.unwrap();
    let (loaded, _) = db.load_session(lobby.id()).await.unwrap().unwrap();
    assert_eq!(loaded, next);
    assert_eq!(loaded.members()[2].user_id.as_str(), "carol");
    assert_eq!(loaded.members()[2].top_tracks.len(), 2);
}

/// Before bans kept names, the snapshot's `banned` was a list of ids (`["dave"]`): such a
/// session still loads, each banned user named as the users table knows them (by their id when
/// it does not), and the next write stores the names.
#[tokio::test]
async fn bans_stored_as_bare_ids_load_with_the_names_the_users_table_knows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesh.db").display());
    let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
        .await
        .unwrap();
    for (user, name) in [("alice", "ALICE"), ("bob", "BOB"), ("dave", "Dave Dunn")] {
        sqlx::query(
            "INSERT INTO users (id, display_name, access_token, token_expires_at, created_at, updated_at)
             VALUES (?1, ?2, x'00', 0, 0, 0)",
        )
        .bind(user)
        .bind(name)
        .execute(db.sqlite_pool().unwrap())
        .await
        .unwrap();
    }
    let (_, lobby) = sessions();
    db.insert_session(&lobby).await.unwrap();
    sqlx::query(
        "UPDATE listening_sessions SET snapshot = json_set(snapshot, '$.banned', json(?2))
         WHERE id = ?1",
    )
    .bind(lobby.id().to_string())
    .bind(r#"["dave","erin"]"#)
    .execute(db.sqlite_pool().unwrap())
    .await
    .unwrap();

    let (mut loaded, _) = db.load_session(lobby.id()).await.unwrap().unwrap();
    let banned: Vec<(&str, &str)> = loaded
        .banned()
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    assert_eq!(banned, [("dave", "Dave Dunn"), ("erin", "erin")]);

    let events = loaded
        .kick(&UserId::new("bob"), &UserId::new("alice"))
        .unwrap();
    db.persist_session(&loaded, &events, 8).await.unwrap();
    let snapshot: String = sqlx::query("SELECT snapshot FROM listening_sessions WHERE id = ?1")
        .bind(lobby.id().to_string())
        .fetch_one(db.sqlite_pool().unwrap())
        .await
        .unwrap()
        .get(0);
    let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(
        snapshot["banned"],
        serde_json::json!({ "alice": "ALICE", "dave": "Dave Dunn", "erin": "erin" })
    );
    let (again, _) = db.load_session(lobby.id()).await.unwrap().unwrap();
    assert_eq!(again, loaded);
}
