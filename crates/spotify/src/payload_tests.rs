//! Every real payload in `spec/spotify/payloads/` parses into the type the client reads it
//! as. A new payload file without an entry here fails the test, so none is forgotten.

use std::path::PathBuf;
use std::time::SystemTime;

use oauth2::basic::{BasicErrorResponse, BasicTokenResponse};
use secrecy::ExposeSecret;

use crate::SpotifyError;
use crate::error::{AccountsErrorBody, ApiErrorBody};
use crate::models::{
    CurrentlyPlaying, Devices, Paging, PlayableItem, PlaybackState, Queue, RepeatState,
    SearchResults, Track, User,
};
use crate::oauth::tokens_from_response;

fn payload_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/spotify/payloads")
}

fn read(name: &str) -> Vec<u8> {
    let path = payload_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_slice(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Parses one payload and checks a few values, so that "parses" also means "parses right".
fn check(name: &str) {
    match name {
        "me.json" => {
            let user: User = parse(name);
            assert_eq!(user.id, "wizzler");
            assert_eq!(user.name(), "JM Wizzler");
            assert_eq!(user.is_premium(), Some(true));
        }
        "top_tracks.json" => {
            let page: Paging<Track> = parse(name);
            assert_eq!(page.items.len(), 2);
            assert_eq!(page.next, None);
            assert_eq!(page.items[0].id.as_deref(), Some("3z8h0TU7ReDPLIbEnYhWZb"));
            assert_eq!(page.items[0].artist_names(), ["Queen"]);
            assert!(page.items[0].image_url().is_some());
        }
        "player.json" => {
            let state: PlaybackState = parse(name);
            assert!(state.is_playing);
            assert_eq!(state.repeat_state, RepeatState::Off);
            assert!(!state.shuffle_state && !state.smart_shuffle);
            let device = state.device.as_ref().unwrap();
            assert_eq!(device.volume_percent, Some(100));
            // This payload's device has no `supports_volume`: taken as supported.
            assert!(device.supports_volume);
            assert_eq!(
                state.device.as_ref().map(|d| d.name.as_str()),
                Some("Web Player (Firefox)")
            );
            let track = state
                .item
                .as_ref()
                .and_then(PlayableItem::as_track)
                .unwrap();
            assert_eq!(track.duration_ms, 193_093);
            assert!(state.actions.unwrap().disallows.resuming);
        }
        "player_episode.json" => {
            let state: PlaybackState = parse(name);
            match state.item {
                Some(PlayableItem::Episode(episode)) => {
                    assert_eq!(episode.duration_ms, 9_590_568);
                    assert_eq!(episode.show.unwrap().name, "The Giant Beastcast");
                }
                other => panic!("expected an episode, got {other:?}"),
            }
            assert_eq!(state.progress_ms, Some(1625));
        }
        "currently_playing.json" => {
            let now: CurrentlyPlaying = parse(name);
            assert_eq!(now.progress_ms, Some(22_270));
            let item = now.item.unwrap();
            assert_eq!(item.uri(), Some("spotify:track:4F1yvJfQ7gJkrcgFJQDjOr"));
            let linked = item.as_track().unwrap().linked_from.clone().unwrap();
            assert_eq!(linked.id.as_deref(), Some("43cFjTTCD9Cni4aSL0sORz"));
        }
        "devices.json" => {
            let devices: Devices = parse(name);
            assert_eq!(devices.devices.len(), 2);
            assert_eq!(devices.devices[1].device_type, "Smartphone");
            assert!(devices.devices[0].supports_volume);
            assert!(!devices.devices[1].supports_volume);
            assert_eq!(devices.devices[1].volume_percent, Some(100));
            assert!(devices.devices.iter().all(|d| d.is_controllable()));
        }
        "devices_empty.json" => {
            let devices: Devices = parse(name);
            assert!(devices.devices.is_empty());
        }
        "queue.json" => {
            let queue: Queue = parse(name);
            assert!(queue.currently_playing.is_some());
            assert!(!queue.queue.is_empty());
            assert!(queue.queue.iter().all(|i| i.as_track().is_some()));
        }
        "search.json" => {
            let results: SearchResults = parse(name);
            let tracks = results.tracks.unwrap();
            assert_eq!(tracks.limit, 10);
            assert_eq!(tracks.total, 894);
            assert!(tracks.next.is_some());
            assert!(!tracks.items.is_empty());
        }
        "track.json" => {
            let track: Track = parse(name);
            assert_eq!(track.name, "Austerity");
            assert_eq!(track.album.unwrap().name, "Sky Void of Stars");
        }
        "token.json"
        | "token_refresh_no_refresh_token.json"
        | "token_refresh_pkce_rotated.json" => {
            let response: BasicTokenResponse = parse(name);
            let tokens = tokens_from_response(&response, None, None, SystemTime::now());
            assert!(!tokens.access.expose_secret().is_empty());
            assert_eq!(
                tokens.refresh.is_some(),
                name != "token_refresh_no_refresh_token.json"
            );
        }
        "accounts_error_invalid_client.json" | "accounts_error_invalid_grant.json" => {
            let body: AccountsErrorBody = parse(name);
            assert!(name.contains(&body.error), "{name}: {}", body.error);
            assert!(body.error_description.is_some());
            // And the form oauth2 parses it into on the wire.
            let _: BasicErrorResponse = parse(name);
        }
        "player_error_no_active_device.json" => {
            let body: ApiErrorBody = parse(name);
            assert_eq!(body.error.status, 404);
            let error = SpotifyError::from_api_status(404, &read(name));
            assert!(matches!(error, SpotifyError::NoActiveDevice { .. }));
        }
        "player_error_premium_required.json" => {
            let body: ApiErrorBody = parse(name);
            assert_eq!(body.error.reason.as_deref(), Some("PREMIUM_REQUIRED"));
            let error = SpotifyError::from_api_status(403, &read(name));
            assert!(matches!(error, SpotifyError::PremiumRequired { .. }));
        }
        "web_error_401_expired.json" => {
            let body: ApiErrorBody = parse(name);
            assert_eq!(body.error.status, 401);
            assert_eq!(body.error.reason, None);
        }
        other => panic!("payload {other} has no expected type; add it to payload_tests.rs"),
    }
}

#[test]
fn every_payload_parses_into_its_type() {
    let mut names: Vec<String> = std::fs::read_dir(payload_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 18,
        "payload directory looks incomplete: {names:?}"
    );
    for name in &names {
        check(name);
    }
}

#[test]
fn deprecated_fields_may_be_missing() {
    let minimal = br#"{
        "id": "abc", "name": "Song", "uri": "spotify:track:abc", "duration_ms": 1000,
        "artists": [{"id": "a1", "name": "Artist", "uri": "spotify:artist:a1"}],
        "album": {"id": "al", "name": "Album", "images": []},
        "a_field_from_the_future": {"nested": true}
    }"#;
    let track: Track = serde_json::from_slice(minimal).unwrap();
    assert_eq!(track.popularity, None);
    assert_eq!(track.preview_url, None);

    let user: User = serde_json::from_slice(br#"{"id": "u", "display_name": null}"#).unwrap();
    assert_eq!(user.product, None);
    assert_eq!(user.name(), "u");
}

#[test]
fn unknown_item_types_and_flat_actions_are_tolerated() {
    let state: PlaybackState = serde_json::from_slice(
        br#"{"is_playing": true, "item": {"type": "chapter", "id": "x"},
             "actions": {"pausing": true}, "repeat_state": "shuffle-ish"}"#,
    )
    .unwrap();
    assert_eq!(state.item, Some(PlayableItem::Unknown));
    assert!(state.actions.unwrap().disallows.pausing);
    assert_eq!(
        state.repeat_state,
        RepeatState::Off,
        "an unknown mode reads as off"
    );
}

#[test]
fn an_item_reads_the_same_wherever_its_type_comes_and_needs_what_its_type_needs() {
    let first: PlayableItem = serde_json::from_slice(
        br#"{"type": "track", "id": "t", "name": "N", "uri": "spotify:track:t",
             "duration_ms": 1000, "artists": [{"name": "A"}]}"#,
    )
    .unwrap();
    let last: PlayableItem = serde_json::from_slice(
        br#"{"id": "t", "name": "N", "uri": "spotify:track:t", "duration_ms": 1000,
             "artists": [{"name": "A"}], "available_markets": ["SE"], "type": "track"}"#,
    )
    .unwrap();
    assert_eq!(first, last);
    assert_eq!(first.as_track().unwrap().artist_names(), ["A"]);
    // What serialises reads back (the emulator-free round trip the gateway's tests use).
    let back: PlayableItem = serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
    assert_eq!(back, first);
    let unknown: PlayableItem =
        serde_json::from_value(serde_json::to_value(PlayableItem::Unknown).unwrap()).unwrap();
    assert_eq!(unknown, PlayableItem::Unknown);
    // A track or an episode without its name, or any item without a type, is refused.
    for body in [
        r#"{"type": "track", "uri": "spotify:track:t", "duration_ms": 1}"#,
        r#"{"type": "episode", "name": "E", "uri": "spotify:episode:e"}"#,
        r#"{"name": "N", "uri": "spotify:track:t", "duration_ms": 1}"#,
    ] {
        let error = serde_json::from_str::<PlayableItem>(body).unwrap_err();
        assert!(
            error.to_string().contains("missing field"),
            "{body}: {error}"
        );
    }
    // Both shapes of `actions`: the wrapped one wins over stray flat flags.
    let state: PlaybackState = serde_json::from_slice(
        br#"{"actions": {"disallows": {"seeking": true}, "pausing": true}}"#,
    )
    .unwrap();
    let disallows = state.actions.unwrap().disallows;
    assert!(disallows.seeking && !disallows.pausing);
}

#[test]
fn player_modes_default_when_absent_or_null() {
    let state: PlaybackState = serde_json::from_slice(
        br#"{"is_playing": false, "shuffle_state": null, "repeat_state": null,
             "device": {"name": "Old speaker", "supports_volume": null, "volume_percent": null}}"#,
    )
    .unwrap();
    assert!(!state.shuffle_state && !state.smart_shuffle);
    assert_eq!(state.repeat_state, RepeatState::Off);
    let device = state.device.unwrap();
    assert!(device.supports_volume);
    assert_eq!(device.volume_percent, None);
    let state: PlaybackState = serde_json::from_slice(
        br#"{"shuffle_state": true, "smart_shuffle": true, "repeat_state": "context"}"#,
    )
    .unwrap();
    assert!(state.shuffle_state && state.smart_shuffle);
    assert_eq!(state.repeat_state, RepeatState::Context);
    for mode in [RepeatState::Off, RepeatState::Track, RepeatState::Context] {
        assert_eq!(
            serde_json::to_value(mode).unwrap(),
            serde_json::json!(mode.as_str())
        );
        let back: RepeatState = serde_json::from_value(serde_json::json!(mode.as_str())).unwrap();
        assert_eq!(back, mode);
    }
}

#[test]
fn play_request_serialises_like_spotify_expects() {
    use crate::models::{PlayOffset, PlayRequest};
    let request = PlayRequest {
        offset: Some(PlayOffset::Position(2)),
        position_ms: Some(1500),
        ..PlayRequest::uris(["spotify:track:a", "spotify:track:b"])
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        serde_json::json!({
            "uris": ["spotify:track:a", "spotify:track:b"],
            "offset": {"position": 2},
            "position_ms": 1500
        })
    );
    assert_eq!(
        serde_json::to_value(PlayRequest::resume()).unwrap(),
        serde_json::json!({})
    );
}
