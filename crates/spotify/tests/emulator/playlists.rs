//! Saving a session as a playlist: a private playlist made with the scope asked for
//! incrementally, filled 100 items at a time in order through `/items` (never `/tracks`),
//! a 429 between calls waited out, and the typed errors for a missing scope and an
//! oversized call.

use std::time::Duration;

use serde_json::{Value, json};
use sesh_spotify::{PLAYLIST_ITEMS_PER_CALL, PLAYLIST_MODIFY_PRIVATE, SpotifyError};

use crate::support::{PUBLIC_PKCE, TestSpotify};

/// `n` distinct catalogue track uris: the named users' top tracks, from the control API.
async fn track_uris(spotify: &TestSpotify, n: usize) -> Vec<String> {
    let mut uris = Vec::new();
    for user in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let body = spotify
            .control_get(&format!("/_emulator/users/{user}"))
            .await;
        for uri in body["top_tracks"]["medium_term"].as_array().unwrap() {
            let uri = uri.as_str().unwrap().to_owned();
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
    }
    assert!(uris.len() >= n, "only {} distinct tracks", uris.len());
    uris.truncate(n);
    uris
}

/// The playlist's track uris in order, as the emulator holds them.
async fn stored_uris(spotify: &TestSpotify, user: &str, id: &str) -> Vec<String> {
    let body = spotify
        .control_get(&format!("/_emulator/users/{user}/playlists"))
        .await;
    let playlist = body["playlists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or(Value::Null);
    playlist["uris"]
        .as_array()
        .map(|uris| {
            uris.iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_session_of_150_tracks_goes_as_100_then_50_in_order_across_a_429() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify
        .login_with_scopes(&client, "alice", &[PLAYLIST_MODIFY_PRIVATE])
        .await;
    let uris = track_uris(&spotify, 150).await;

    let playlist = client
        .create_playlist(
            &auth,
            "Sesh · Friday · 2026-12-04",
            Some("played tracks"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(playlist.name, "Sesh · Friday · 2026-12-04");
    assert_eq!(playlist.public, Some(false));
    assert_eq!(playlist.item_count(), Some(0));
    assert_eq!(
        playlist.owner.as_ref().map(|o| o.id.as_str()),
        Some("alice")
    );
    let url = format!("https://open.spotify.com/playlist/{}", playlist.id);
    assert_eq!(playlist.url(), Some(url.as_str()));

    let chunks: Vec<&[String]> = uris.chunks(PLAYLIST_ITEMS_PER_CALL).collect();
    assert_eq!(
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
        [100, 50]
    );
    let first = client
        .add_playlist_items(&auth, &playlist.id, chunks[0])
        .await
        .unwrap();
    assert_ne!(first, playlist.snapshot_id);

    // Spotify asks to wait before the second call: the client says how long, without
    // sending anything again until then.
    spotify
        .fault(json!({ "method": "POST", "path": "/v1/playlists/*/items", "status": 429, "retry_after": 1 }))
        .await;
    let err = client
        .add_playlist_items(&auth, &playlist.id, chunks[1])
        .await
        .unwrap_err();
    let SpotifyError::RateLimited { retry_after, .. } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(retry_after, Duration::from_secs(1));
    let again = client
        .add_playlist_items(&auth, &playlist.id, chunks[1])
        .await
        .unwrap_err();
    assert_eq!(again.code(), "rate_limited", "held back locally");
    // Waiting out Retry-After is what the caller does; it is the point here, not a wait
    // for a server.
    tokio::time::sleep(retry_after).await;
    let second = client
        .add_playlist_items(&auth, &playlist.id, chunks[1])
        .await
        .unwrap();
    assert_ne!(second, first);

    assert_eq!(stored_uris(&spotify, "alice", &playlist.id).await, uris);
    let items = format!("/v1/playlists/{}/items", playlist.id);
    let sent: Vec<u16> = spotify
        .requests("POST", &items)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(sent, [201, 429, 201], "the held-back call was never sent");
    let log = spotify
        .control_get("/_emulator/requests?requests=false")
        .await;
    let old_api: Vec<&Value> = log["by_endpoint"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/tracks"))
        .collect();
    assert!(
        old_api.is_empty(),
        "the removed /tracks was called: {old_api:?}"
    );
}

#[tokio::test]
async fn a_login_without_the_playlist_scope_gets_insufficient_scope_until_consent() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    // The default login does not ask for the playlist scope.
    let plain = spotify.login(&client, "alice").await;
    assert!(!plain.current().has_scope(PLAYLIST_MODIFY_PRIVATE));
    let err = client
        .create_playlist(&plain, "Nope", None, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpotifyError::InsufficientScope { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "insufficient_scope");
    assert!(
        spotify
            .control_get("/_emulator/users/alice/playlists")
            .await["playlists"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Incremental consent: the same user again, with the scope on top of the others.
    let consented = spotify
        .login_with_scopes(&client, "alice", &[PLAYLIST_MODIFY_PRIVATE])
        .await;
    let tokens = consented.current();
    assert!(tokens.has_scope(PLAYLIST_MODIFY_PRIVATE));
    assert!(sesh_spotify::SCOPES.iter().all(|s| tokens.has_scope(s)));
    let playlist = client
        .create_playlist(&consented, "Yes", None, false)
        .await
        .unwrap();
    // The old token still cannot add to it.
    let uris = track_uris(&spotify, 1).await;
    let err = client
        .add_playlist_items(&plain, &playlist.id, &uris)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_scope");
    client
        .add_playlist_items(&consented, &playlist.id, &uris)
        .await
        .unwrap();
    assert_eq!(stored_uris(&spotify, "alice", &playlist.id).await, uris);
}

#[tokio::test]
async fn more_than_100_items_are_refused_before_anything_is_sent() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify
        .login_with_scopes(&client, "alice", &[PLAYLIST_MODIFY_PRIVATE])
        .await;
    let playlist = client
        .create_playlist(&auth, "Big", None, false)
        .await
        .unwrap();
    let uris = track_uris(&spotify, 101).await;
    let err = client
        .add_playlist_items(&auth, &playlist.id, &uris)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::TooManyPlaylistItems {
                count: 101,
                max: 100
            }
        ),
        "{err:?}"
    );
    let items = format!("/v1/playlists/{}/items", playlist.id);
    assert!(spotify.requests("POST", &items).await.is_empty());
    // Unknown tracks are Spotify's 400, typed as a bad request.
    let err = client
        .add_playlist_items(
            &auth,
            &playlist.id,
            &["spotify:track:0000000000000000000000"],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SpotifyError::BadRequest { .. }), "{err:?}");
}
