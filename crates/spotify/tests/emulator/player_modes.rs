//! Shuffle, repeat, seek, volume and transfer against the emulator: what each call changes
//! is what the next `player()` reports, and Spotify's refusals come back typed.

use serde_json::json;
use sesh_spotify::{PlayRequest, PlayableItem, RepeatState, SpotifyClient, SpotifyError, UserAuth};

use crate::support::{PUBLIC_PKCE, TestSpotify};

/// The uri of what plays now.
async fn playing_uri(client: &SpotifyClient, auth: &UserAuth) -> String {
    let state = client.player(auth).await.unwrap().expect("something plays");
    state
        .item
        .as_ref()
        .and_then(PlayableItem::uri)
        .expect("an item")
        .to_owned()
}

/// The emulator's list in play order.
fn raw_uris(raw: &serde_json::Value) -> Vec<String> {
    raw["uris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut uris: Vec<String>) -> Vec<String> {
    uris.sort();
    uris
}

#[tokio::test]
async fn shuffle_and_repeat_are_set_and_reported() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let top = client
        .top_tracks(&auth, sesh_spotify::TimeRange::MediumTerm, 12, 0)
        .await
        .unwrap();
    let uris: Vec<String> = top.items.iter().map(|t| t.uri.clone()).collect();
    let device = client
        .devices(&auth)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.is_controllable())
        .and_then(|d| d.id)
        .unwrap();
    client
        .play(&auth, Some(&device), &PlayRequest::uris(uris.clone()))
        .await
        .unwrap();
    let state = client.player(&auth).await.unwrap().unwrap();
    assert!(!state.shuffle_state && !state.smart_shuffle);
    assert_eq!(state.repeat_state, RepeatState::Off);

    // Shuffle on: reported, and a new list plays in a random order.
    client.set_shuffle(&auth, None, true).await.unwrap();
    assert!(client.player(&auth).await.unwrap().unwrap().shuffle_state);
    client
        .play(&auth, None, &PlayRequest::uris(uris.clone()))
        .await
        .unwrap();
    let played = raw_uris(&spotify.raw_player("alice").await);
    assert_eq!(sorted(played.clone()), sorted(uris.clone()));
    assert_ne!(played, uris, "12 tracks shuffled");
    assert_eq!(playing_uri(&client, &auth).await, played[0]);

    // Shuffle off on the named device: the given order again.
    client
        .set_shuffle(&auth, Some(&device), false)
        .await
        .unwrap();
    assert!(!client.player(&auth).await.unwrap().unwrap().shuffle_state);
    assert_eq!(raw_uris(&spotify.raw_player("alice").await), uris);

    // Each repeat mode, as sent and as reported.
    for mode in [RepeatState::Track, RepeatState::Context, RepeatState::Off] {
        client.set_repeat(&auth, Some(&device), mode).await.unwrap();
        let state = client.player(&auth).await.unwrap().unwrap();
        assert_eq!(state.repeat_state, mode);
        assert_eq!(
            spotify.raw_player("alice").await["repeat_state"],
            mode.as_str()
        );
    }

    // Repeat track replays the track when it ends; next still skips.
    client
        .play(&auth, None, &PlayRequest::uris(uris[..2].to_vec()))
        .await
        .unwrap();
    client
        .set_repeat(&auth, None, RepeatState::Track)
        .await
        .unwrap();
    spotify.advance_clock(top.items[0].duration_ms.into()).await;
    assert_eq!(playing_uri(&client, &auth).await, uris[0]);
    client.next(&auth, None).await.unwrap();
    assert_eq!(playing_uri(&client, &auth).await, uris[1]);
}

#[tokio::test]
async fn shuffle_and_repeat_refusals_are_typed() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);

    let bob = spotify.login(&client, "bob").await;
    let err = client.set_shuffle(&bob, None, true).await.unwrap_err();
    assert!(
        matches!(err, SpotifyError::NoActiveDevice { .. }),
        "{err:?}"
    );
    let tv = client
        .devices(&bob)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.is_restricted)
        .and_then(|d| d.id)
        .unwrap();
    let err = client
        .set_repeat(&bob, Some(&tv), RepeatState::Context)
        .await
        .unwrap_err();
    assert!(matches!(err, SpotifyError::Forbidden { .. }), "{err:?}");
    assert_eq!(err.reason(), Some("DEVICE_NOT_CONTROLLABLE"));

    let dave = spotify.login(&client, "dave").await;
    let err = client
        .set_repeat(&dave, None, RepeatState::Track)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpotifyError::PremiumRequired { .. }),
        "{err:?}"
    );
    let err = client.set_shuffle(&dave, None, false).await.unwrap_err();
    assert_eq!(err.code(), "premium_required");
}

#[tokio::test]
async fn seek_volume_and_transfer_do_what_spotify_does() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let top = client
        .top_tracks(&auth, sesh_spotify::TimeRange::MediumTerm, 3, 0)
        .await
        .unwrap();
    let uris: Vec<String> = top.items.iter().map(|t| t.uri.clone()).collect();
    // A speaker without volume control, made for this test.
    let fixed = "0000000000000000000000000000000000000f1x";
    let made = spotify
        .set_device(
            "alice",
            fixed,
            json!({ "name": "Fixed-volume Speaker", "type": "Speaker", "supports_volume": false }),
        )
        .await;
    assert_eq!(made["supports_volume"], false);
    let devices = client.devices(&auth).await.unwrap();
    let speaker = devices
        .iter()
        .find(|d| d.id.as_deref() == Some(fixed))
        .unwrap();
    assert!(!speaker.supports_volume && speaker.volume_percent.is_some());
    let laptop = devices
        .iter()
        .find(|d| d.supports_volume && d.is_controllable())
        .and_then(|d| d.id.clone())
        .unwrap();

    client
        .play(&auth, Some(&laptop), &PlayRequest::uris(uris.clone()))
        .await
        .unwrap();

    // Volume: set on the active device and reported in the player state.
    client.set_volume(&auth, 0, None).await.unwrap();
    let device = client.player(&auth).await.unwrap().unwrap().device.unwrap();
    assert_eq!(
        (device.volume_percent, device.supports_volume),
        (Some(0), true)
    );
    client.set_volume(&auth, 250, None).await.unwrap();
    let device = client.player(&auth).await.unwrap().unwrap().device.unwrap();
    assert_eq!(device.volume_percent, Some(100), "clamped to 100");
    let err = client.set_volume(&auth, 40, Some(fixed)).await.unwrap_err();
    assert!(matches!(err, SpotifyError::Forbidden { .. }), "{err:?}");
    assert_eq!(err.reason(), Some("VOLUME_CONTROL_DISALLOW"));

    // Seek past the end plays the next track, from its start.
    client
        .seek(&auth, top.items[0].duration_ms + 5_000, None)
        .await
        .unwrap();
    let state = client.player(&auth).await.unwrap().unwrap();
    assert_eq!(
        state.item.as_ref().and_then(PlayableItem::uri),
        Some(uris[1].as_str())
    );
    assert!(state.progress_ms.unwrap() < 5_000);

    // Transfer: `play: false` keeps a paused player paused, `true` starts it; an unknown
    // device is not found.
    client.pause(&auth, None).await.unwrap();
    client.transfer(&auth, fixed, false).await.unwrap();
    let state = client.player(&auth).await.unwrap().unwrap();
    assert_eq!(
        state.device.as_ref().and_then(|d| d.id.as_deref()),
        Some(fixed)
    );
    assert!(!state.is_playing);
    assert!(!state.device.unwrap().supports_volume);
    client.transfer(&auth, &laptop, true).await.unwrap();
    let state = client.player(&auth).await.unwrap().unwrap();
    assert_eq!(
        state.device.and_then(|d| d.id).as_deref(),
        Some(laptop.as_str())
    );
    assert!(state.is_playing);
    let err = client
        .transfer(&auth, "no-such-device", true)
        .await
        .unwrap_err();
    assert!(matches!(err, SpotifyError::NotFound { .. }), "{err:?}");
}
