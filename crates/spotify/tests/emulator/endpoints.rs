//! Every Web API method against the emulator, checking that what one call changes the
//! next call sees, plus the typed player errors.

use sesh_spotify::{
    ClientOptions, Market, PlayRequest, PlayableItem, SpotifyClient, SpotifyError, TimeRange,
    Track, UserAuth,
};

use crate::support::{PUBLIC_PKCE, TestSpotify};

async fn now_playing(client: &SpotifyClient, auth: &UserAuth) -> (String, bool) {
    let state = client
        .player(auth)
        .await
        .unwrap()
        .expect("something is playing");
    let uri = state
        .item
        .as_ref()
        .and_then(PlayableItem::uri)
        .expect("an item")
        .to_owned();
    (uri, state.is_playing)
}

#[tokio::test]
async fn every_endpoint_round_trips() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;

    // Profile and top tracks.
    let me = client.me(&auth).await.unwrap();
    assert_eq!(me.id, "alice");
    let top = client
        .top_tracks(&auth, TimeRange::MediumTerm, 5, 0)
        .await
        .unwrap();
    assert_eq!(top.items.len(), 5);
    assert!(
        top.items
            .iter()
            .all(|t| t.id.is_some() && t.duration_ms > 0 && !t.artists.is_empty())
    );
    let top: Vec<Track> = top.items;

    // Paging until `next` is null sees every track exactly once.
    let mut offset = 0;
    let mut seen = Vec::new();
    loop {
        let page = client
            .top_tracks(&auth, TimeRange::ShortTerm, 50, offset)
            .await
            .unwrap();
        offset += u32::try_from(page.items.len()).unwrap();
        seen.extend(page.items.into_iter().map(|t| t.uri));
        if page.next.is_none() {
            assert_eq!(offset, page.total);
            break;
        }
        assert!(offset < 10_000, "paging does not end");
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());

    // Devices, then playback on the first controllable one.
    let devices = client.devices(&auth).await.unwrap();
    let controllable: Vec<_> = devices.iter().filter(|d| d.is_controllable()).collect();
    assert!(
        controllable.len() >= 2,
        "alice has two usable devices: {devices:?}"
    );
    let first = controllable[0].id.clone().unwrap();
    let second = controllable[1].id.clone().unwrap();

    let uris: Vec<&str> = top.iter().take(3).map(|t| t.uri.as_str()).collect();
    client
        .play(&auth, Some(&first), &PlayRequest::uris(uris.clone()))
        .await
        .unwrap();
    let state = client.player(&auth).await.unwrap().expect("playing");
    assert!(state.is_playing);
    assert_eq!(
        state.device.as_ref().and_then(|d| d.id.as_deref()),
        Some(first.as_str())
    );
    assert_eq!(
        state.item.as_ref().and_then(PlayableItem::uri),
        Some(uris[0])
    );
    let current = client
        .currently_playing(&auth)
        .await
        .unwrap()
        .expect("currently playing");
    assert_eq!(
        current.item.as_ref().and_then(PlayableItem::uri),
        Some(uris[0])
    );

    // The queue plays before the list continues.
    client.add_to_queue(&auth, &top[4].uri, None).await.unwrap();
    let queue = client.queue(&auth).await.unwrap();
    assert_eq!(
        queue.currently_playing.as_ref().and_then(PlayableItem::uri),
        Some(uris[0])
    );
    assert_eq!(
        queue.queue.first().and_then(PlayableItem::uri),
        Some(top[4].uri.as_str())
    );
    client.next(&auth, None).await.unwrap();
    assert_eq!(now_playing(&client, &auth).await.0, top[4].uri);
    client.previous(&auth, None).await.unwrap();
    assert!(client.player(&auth).await.unwrap().is_some());

    // Seek within the current item.
    let state = client.player(&auth).await.unwrap().expect("playing");
    let duration = state
        .item
        .as_ref()
        .and_then(PlayableItem::duration_ms)
        .unwrap();
    let target = duration / 2;
    client.seek(&auth, target, None).await.unwrap();
    let progress = client
        .player(&auth)
        .await
        .unwrap()
        .unwrap()
        .progress_ms
        .unwrap();
    assert!(
        progress >= target && progress < target + 5_000,
        "{progress} vs {target}"
    );

    // Volume, when the device supports it.
    client.set_volume(&auth, 35, None).await.unwrap();
    let active = client
        .devices(&auth)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.is_active)
        .unwrap();
    if active.supports_volume {
        assert_eq!(active.volume_percent, Some(35));
    }

    // Pause, resume, transfer.
    client.pause(&auth, None).await.unwrap();
    assert!(!now_playing(&client, &auth).await.1);
    client
        .play(&auth, None, &PlayRequest::resume())
        .await
        .unwrap();
    assert!(now_playing(&client, &auth).await.1);
    client.transfer(&auth, &second, true).await.unwrap();
    let state = client.player(&auth).await.unwrap().unwrap();
    assert_eq!(state.device.and_then(|d| d.id), Some(second.clone()));

    // Search (limit clamped to Spotify's 10) and single tracks.
    let word = top[0].name.split_whitespace().next().unwrap().to_owned();
    let found = client
        .search_tracks(&auth, &word, Market::FromToken, 50, 0)
        .await
        .unwrap();
    assert!(found.limit <= 10 && found.items.len() <= 10);
    assert!(
        !found.items.is_empty(),
        "searching for {word:?} finds something"
    );
    let id = top[0].id.clone().unwrap();
    let track = client.track(&auth, &id).await.unwrap();
    assert_eq!(track.name, top[0].name);
    assert_eq!(track.uri, top[0].uri);
}

#[tokio::test]
async fn an_idle_player_is_none_and_commands_need_a_device() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "carol").await;

    assert!(
        client.player(&auth).await.unwrap().is_none(),
        "204 becomes None"
    );
    assert!(client.currently_playing(&auth).await.unwrap().is_none());
    let err = client.pause(&auth, None).await.unwrap_err();
    assert!(
        matches!(err, SpotifyError::NoActiveDevice { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "no_active_device");
    assert_eq!(err.reason(), Some("NO_ACTIVE_DEVICE"));
}

#[tokio::test]
async fn free_users_get_premium_required() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "dave").await;
    let top = client
        .top_tracks(&auth, TimeRange::MediumTerm, 1, 0)
        .await
        .unwrap();
    let err = client
        .play(&auth, None, &PlayRequest::uris([top.items[0].uri.clone()]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpotifyError::PremiumRequired { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "premium_required");
}

#[tokio::test]
async fn unknown_tracks_are_not_found() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let err = client
        .track(&auth, "0000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err:?}");
}

/// `me` called from a thread whose runtime has no I/O driver: only a client that runs its
/// exchanges on another runtime can make the call.
fn me_from_a_runtime_without_io(
    client: SpotifyClient,
    auth: UserAuth,
) -> std::thread::Result<String> {
    std::thread::spawn(move || {
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        caller.block_on(async { client.me(&auth).await.unwrap().id })
    })
    .join()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_run_on_the_configured_runtime() {
    let spotify = TestSpotify::start().await;
    let auth = spotify.login(&spotify.client(PUBLIC_PKCE), "alice").await;
    // Fresh clients: no pooled connection to reuse, so each call opens one where it runs.
    let options = |runtime| ClientOptions {
        runtime,
        ..crate::support::fast_options(PUBLIC_PKCE)
    };
    let pinned = spotify.client_with(
        PUBLIC_PKCE,
        options(Some(tokio::runtime::Handle::current())),
    );
    let me = tokio::task::spawn_blocking({
        let auth = auth.clone();
        move || me_from_a_runtime_without_io(pinned, auth)
    })
    .await
    .unwrap();
    assert_eq!(me.expect("the pinned runtime made the call"), "alice");
    // The control: without the option the caller's own runtime has to open the connection.
    let unpinned = spotify.client_with(PUBLIC_PKCE, options(None));
    let me = tokio::task::spawn_blocking(move || me_from_a_runtime_without_io(unpinned, auth))
        .await
        .unwrap();
    assert!(me.is_err(), "a runtime without I/O cannot connect");
}
