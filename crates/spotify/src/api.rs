//! The Web API endpoints Sesh uses, as methods on [`SpotifyClient`]. Each takes the user's
//! [`UserAuth`] first and goes through the request loop in `client.rs`.

use serde_json::json;

use crate::client::{ApiCall, api_call};
use crate::models::{
    AddPlaylistItems, CreatePlaylist, CurrentlyPlaying, Device, Devices, Market, Paging,
    PlayRequest, PlaybackState, Playlist, Queue, RepeatState, SearchResults, SnapshotAnswer,
    SnapshotId, TimeRange, Track, User,
};
use crate::{SpotifyClient, SpotifyError, UserAuth};

/// Spotify's page size limit for top tracks.
const TOP_TRACKS_MAX_LIMIT: u32 = 50;
/// Search `limit` maximum since the February 2026 development-mode change.
const SEARCH_MAX_LIMIT: u32 = 10;
/// Search `offset` maximum.
const SEARCH_MAX_OFFSET: u32 = 1000;
/// Items one `POST /v1/playlists/{id}/items` may add.
pub const PLAYLIST_ITEMS_PER_CALL: usize = 100;

impl SpotifyClient {
    /// `GET /v1/me`: the user's profile.
    pub async fn me(&self, auth: &UserAuth) -> Result<User, SpotifyError> {
        let call = api_call!(GET "/me");
        self.execute(auth, &call).await?.json("GET /v1/me")
    }

    /// `GET /v1/me/top/tracks`: one page of the user's top tracks. `limit` is clamped to
    /// 1..=50; page on with `offset` until `next` is `None`.
    pub async fn top_tracks(
        &self,
        auth: &UserAuth,
        time_range: TimeRange,
        limit: u32,
        offset: u32,
    ) -> Result<Paging<Track>, SpotifyError> {
        let call = api_call!(GET "/me/top/tracks")
            .query("time_range", time_range.as_str())
            .query("limit", limit.clamp(1, TOP_TRACKS_MAX_LIMIT))
            .query("offset", offset);
        self.execute(auth, &call)
            .await?
            .json("GET /v1/me/top/tracks")
    }

    /// `GET /v1/me/player`: the playback state, `None` when nothing is playing (204).
    /// Asks for episodes too, so a podcast shows up as [`PlayableItem::Episode`](crate::PlayableItem::Episode)
    /// rather than as a null item.
    pub async fn player(&self, auth: &UserAuth) -> Result<Option<PlaybackState>, SpotifyError> {
        let call = api_call!(GET "/me/player").query("additional_types", "track,episode");
        let response = self.execute(auth, &call).await?;
        if response.is_empty() {
            return Ok(None);
        }
        response.json("GET /v1/me/player").map(Some)
    }

    /// `GET /v1/me/player/currently-playing`: what plays now, `None` when nothing does.
    pub async fn currently_playing(
        &self,
        auth: &UserAuth,
    ) -> Result<Option<CurrentlyPlaying>, SpotifyError> {
        let call = api_call!(GET "/me/player/currently-playing")
            .query("additional_types", "track,episode");
        let response = self.execute(auth, &call).await?;
        if response.is_empty() {
            return Ok(None);
        }
        response
            .json("GET /v1/me/player/currently-playing")
            .map(Some)
    }

    /// `GET /v1/me/player/devices`: the user's Spotify Connect devices.
    pub async fn devices(&self, auth: &UserAuth) -> Result<Vec<Device>, SpotifyError> {
        let call = api_call!(GET "/me/player/devices");
        let devices: Devices = self
            .execute(auth, &call)
            .await?
            .json("GET /v1/me/player/devices")?;
        Ok(devices.devices)
    }

    /// `PUT /v1/me/player/play`: start `request` (or resume, for an empty request) on
    /// `device_id`, or on the active device when `None`.
    pub async fn play(
        &self,
        auth: &UserAuth,
        device_id: Option<&str>,
        request: &PlayRequest,
    ) -> Result<(), SpotifyError> {
        let body = serde_json::to_value(request)
            .map_err(|e| SpotifyError::InvalidConfig(format!("play request: {e}")))?;
        let call = api_call!(PUT "/me/player/play")
            .query_opt("device_id", device_id)
            .json(body);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player/pause`.
    pub async fn pause(
        &self,
        auth: &UserAuth,
        device_id: Option<&str>,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(PUT "/me/player/pause").query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `POST /v1/me/player/next`: skip to the next item.
    pub async fn next(&self, auth: &UserAuth, device_id: Option<&str>) -> Result<(), SpotifyError> {
        let call = api_call!(POST "/me/player/next").query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `POST /v1/me/player/previous`: back to the previous item.
    pub async fn previous(
        &self,
        auth: &UserAuth,
        device_id: Option<&str>,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(POST "/me/player/previous").query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player/seek`: jump to `position_ms` in the current item.
    pub async fn seek(
        &self,
        auth: &UserAuth,
        position_ms: u32,
        device_id: Option<&str>,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(PUT "/me/player/seek")
            .query("position_ms", position_ms)
            .query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player/volume`: set the volume, `percent` clamped to 0..=100.
    pub async fn set_volume(
        &self,
        auth: &UserAuth,
        percent: u8,
        device_id: Option<&str>,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(PUT "/me/player/volume")
            .query("volume_percent", percent.min(100))
            .query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player/shuffle?state=true|false`: shuffle on or off, on `device_id` or on
    /// the active device when `None`.
    pub async fn set_shuffle(
        &self,
        auth: &UserAuth,
        device_id: Option<&str>,
        state: bool,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(PUT "/me/player/shuffle")
            .query("state", state)
            .query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player/repeat?state=off|track|context`: the repeat mode, on `device_id` or
    /// on the active device when `None`.
    pub async fn set_repeat(
        &self,
        auth: &UserAuth,
        device_id: Option<&str>,
        state: RepeatState,
    ) -> Result<(), SpotifyError> {
        let call = api_call!(PUT "/me/player/repeat")
            .query("state", state.as_str())
            .query_opt("device_id", device_id);
        self.execute(auth, &call).await.map(drop)
    }

    /// `PUT /v1/me/player`: move playback to `device_id`; `play` starts it there, otherwise the
    /// current play/pause state is kept.
    pub async fn transfer(
        &self,
        auth: &UserAuth,
        device_id: &str,
        play: bool,
    ) -> Result<(), SpotifyError> {
        let call =
            api_call!(PUT "/me/player").json(json!({ "device_ids": [device_id], "play": play }));
        self.execute(auth, &call).await.map(drop)
    }

    /// `POST /v1/me/player/queue`: append a track or episode uri to the user's queue.
    pub async fn add_to_queue(
        &self,
        auth: &UserAuth,
        uri: &str,
        device_id: Option<&str>,
    ) -> Result<(), SpotifyError> {
        // Well-known clients send `{}` as the body; so do we.
        let call = api_call!(POST "/me/player/queue")
            .query("uri", uri)
            .query_opt("device_id", device_id)
            .json(json!({}));
        self.execute(auth, &call).await.map(drop)
    }

    /// `GET /v1/me/player/queue`: what plays now and next.
    pub async fn queue(&self, auth: &UserAuth) -> Result<Queue, SpotifyError> {
        let call = api_call!(GET "/me/player/queue");
        self.execute(auth, &call)
            .await?
            .json("GET /v1/me/player/queue")
    }

    /// `GET /v1/search?type=track`: tracks matching `q` that are available in `market`.
    /// `limit` is clamped to 1..=10, the maximum Spotify allows since February 2026 (a larger
    /// one is refused with 400), and `offset` to 0..=1000, Spotify's maximum.
    pub async fn search_tracks(
        &self,
        auth: &UserAuth,
        q: &str,
        market: Market,
        limit: u32,
        offset: u32,
    ) -> Result<Paging<Track>, SpotifyError> {
        let call = search_call(q, market, limit, offset);
        let results: SearchResults = self.execute(auth, &call).await?.json("GET /v1/search")?;
        results.tracks.ok_or_else(|| SpotifyError::InvalidResponse {
            context: "GET /v1/search: no `tracks` in the answer".to_owned(),
        })
    }

    /// `POST /v1/me/playlists`: a new, empty playlist of the user's, private unless `public`.
    /// Needs [`PLAYLIST_MODIFY_PRIVATE`](crate::PLAYLIST_MODIFY_PRIVATE) for a private one
    /// ([`PLAYLIST_MODIFY_PUBLIC`](crate::PLAYLIST_MODIFY_PUBLIC) for a public one); without
    /// it Spotify answers [`SpotifyError::InsufficientScope`].
    ///
    /// Sent once, never retried (a retry after a lost answer would make a second playlist).
    pub async fn create_playlist(
        &self,
        auth: &UserAuth,
        name: &str,
        description: Option<&str>,
        public: bool,
    ) -> Result<Playlist, SpotifyError> {
        let body = CreatePlaylist {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            public,
            collaborative: false,
        };
        let body = serde_json::to_value(&body)
            .map_err(|e| SpotifyError::InvalidConfig(format!("playlist request: {e}")))?;
        let call = api_call!(POST "/me/playlists").json(body);
        self.execute(auth, &call)
            .await?
            .json("POST /v1/me/playlists")
    }

    /// `POST /v1/playlists/{id}/items`: appends `uris` (track or episode uris) in order and
    /// answers the playlist's new snapshot id. Spotify takes at most
    /// [`PLAYLIST_ITEMS_PER_CALL`] per call: more are refused here with
    /// [`SpotifyError::TooManyPlaylistItems`], unsent; split longer lists into calls.
    ///
    /// Uses `/items`: Spotify answers 403 to the old `/tracks` since 2026. Sent once, never
    /// retried: after a timeout or 5xx the items may or may not be in; read the playlist
    /// before sending them again.
    pub async fn add_playlist_items<S: AsRef<str>>(
        &self,
        auth: &UserAuth,
        playlist_id: &str,
        uris: &[S],
    ) -> Result<SnapshotId, SpotifyError> {
        let call = add_items_call(playlist_id, uris)?;
        let answer: SnapshotAnswer = self
            .execute(auth, &call)
            .await?
            .json("POST /v1/playlists/{playlist_id}/items")?;
        Ok(answer.snapshot_id)
    }

    /// `GET /v1/tracks/{id}`: one track by its base62 id.
    pub async fn track(&self, auth: &UserAuth, id: &str) -> Result<Track, SpotifyError> {
        let call = api_call!(GET "/tracks/{id}").path_param("id", id);
        self.execute(auth, &call).await?.json("GET /v1/tracks/{id}")
    }
}

/// The request of [`SpotifyClient::add_playlist_items`], refused when over Spotify's limit.
fn add_items_call<S: AsRef<str>>(playlist_id: &str, uris: &[S]) -> Result<ApiCall, SpotifyError> {
    if uris.len() > PLAYLIST_ITEMS_PER_CALL {
        return Err(SpotifyError::TooManyPlaylistItems {
            count: uris.len(),
            max: PLAYLIST_ITEMS_PER_CALL,
        });
    }
    let body = AddPlaylistItems {
        uris: uris.iter().map(AsRef::as_ref).collect(),
        position: None,
    };
    let body = serde_json::to_value(&body)
        .map_err(|e| SpotifyError::InvalidConfig(format!("playlist items: {e}")))?;
    Ok(api_call!(POST "/playlists/{playlist_id}/items")
        .path_param("playlist_id", playlist_id)
        .json(body))
}

/// The request of [`SpotifyClient::search_tracks`], with its bounds applied.
fn search_call(q: &str, market: Market, limit: u32, offset: u32) -> ApiCall {
    api_call!(GET "/search")
        .query("q", q)
        .query("type", "track")
        .query("market", market)
        .query("limit", limit.clamp(1, SEARCH_MAX_LIMIT))
        .query("offset", offset.min(SEARCH_MAX_OFFSET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    fn param<'a>(call: &'a ApiCall, name: &str) -> Option<&'a str> {
        call.query
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_search_never_asks_for_more_than_spotify_allows() {
        for (asked, sent) in [(0, "1"), (1, "1"), (10, "10"), (11, "10"), (50, "10")] {
            let call = search_call("love", Market::FromToken, asked, 0);
            assert_eq!(param(&call, "limit"), Some(sent), "limit {asked}");
        }
        let call = search_call("love", Market::FromToken, u32::MAX, u32::MAX);
        assert_eq!(param(&call, "limit"), Some("10"));
        assert_eq!(param(&call, "offset"), Some("1000"));
        assert_eq!(param(&call, "type"), Some("track"));
        assert_eq!(param(&call, "market"), Some("from_token"));
        let sweden = Market::country("se").unwrap();
        assert_eq!(param(&search_call("x", sweden, 5, 3), "market"), Some("SE"));
        assert_eq!(param(&search_call("x", sweden, 5, 3), "offset"), Some("3"));
    }

    #[test]
    fn playlist_items_go_to_items_at_most_a_hundred_at_a_time() {
        let uris: Vec<String> = (0..101).map(|n| format!("spotify:track:{n:022}")).collect();
        let call = add_items_call("pl4yl1st", &uris[..100]).unwrap();
        assert_eq!(call.segments, ["v1", "playlists", "pl4yl1st", "items"]);
        assert_eq!(call.method, Method::POST);
        let body = call.body.unwrap();
        assert_eq!(body["uris"].as_array().unwrap().len(), 100);
        assert_eq!(body["uris"][0], uris[0].as_str());
        assert!(body.get("position").is_none(), "appended");
        let err = add_items_call("pl4yl1st", &uris).unwrap_err();
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
        assert_eq!(err.code(), "too_many_playlist_items");
    }

    #[test]
    fn markets_are_two_letters_or_the_token_s() {
        assert_eq!(
            Market::country("SE").map(|m| m.to_string()),
            Some("SE".into())
        );
        for bad in ["", "S", "SWE", "S1", "É1", "from_token"] {
            assert_eq!(Market::country(bad), None, "{bad:?}");
        }
        assert_eq!(Market::FromToken.as_str(), "from_token");
    }
}
