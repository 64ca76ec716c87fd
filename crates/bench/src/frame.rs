//! The frames the benchmark sends and reads: the baselines' `playback`-shaped event, the
//! cheap peek the clients take at every frame they receive, and the same for a display's
//! `snapshot` and `playback` events.

use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch. Server, driver and clients share this clock because
/// they all run on one machine.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, the resolution of Sesh's `server_time_ms`.
pub fn now_ms() -> i64 {
    now_us() / 1000
}

/// The first frame a baseline server sends, so clients treat every server alike: a
/// connection counts as open once its `welcome` arrives.
pub const BASELINE_WELCOME: &str = r#"{"type":"welcome","seq":0}"#;

/// A ~300-byte frame shaped like Sesh's `playback` event, stamped with the server time
/// at which it was built. `tag` plays the role of the track id so clients can tell
/// consecutive broadcasts apart.
pub fn baseline_playback(seq: u64, tag: &str, server_time_ms: i64) -> String {
    format!(
        concat!(
            r#"{{"type":"playback","seq":{seq},"track":{{"id":"{tag}","uri":"spotify:track:{tag}","#,
            r#""name":"Baseline","artists":["Bench"],"album":"Floors","#,
            r#""image_url":"http://127.0.0.1/c/{tag}","duration_ms":215000}},"is_playing":true,"#,
            r#""progress_ms":0,"device":{{"id":"dev1","name":"Speaker"}},"#,
            r#""server_time_ms":{t},"added_by":["gen-1"]}}"#
        ),
        seq = seq,
        tag = tag,
        t = server_time_ms
    )
}

/// What a client needs from a received frame; every other field is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Peek {
    /// The frame's `type` tag.
    #[serde(rename = "type")]
    pub kind: String,
    /// `server_time_ms` of a top-level `playback` event.
    #[serde(default)]
    pub server_time_ms: Option<i64>,
    /// The track of a top-level `playback` event.
    #[serde(default)]
    pub track: Option<TrackPeek>,
    /// The nested playback state (`welcome.playback`, or events that wrap it).
    #[serde(default)]
    pub playback: Option<PlaybackPeek>,
    /// `spotify_status.state`.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
    /// The entry id of `entry_votes` and `entry_removed` (any JSON: other frames use `id` too).
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    /// `entry_votes.votes`.
    #[serde(default)]
    pub votes: Option<serde_json::Value>,
    /// `entry_added.entry` (any JSON, read only for `entry_added`).
    #[serde(default)]
    pub entry: Option<serde_json::Value>,
}

/// The nested playback object.
#[derive(Debug, Deserialize)]
pub struct PlaybackPeek {
    /// When the server detected this state.
    #[serde(default)]
    pub server_time_ms: Option<i64>,
    /// The playing track.
    #[serde(default)]
    pub track: Option<TrackPeek>,
}

/// A track reference.
#[derive(Debug, Deserialize)]
pub struct TrackPeek {
    /// Track id (or the baseline's broadcast tag).
    pub id: String,
}

impl Peek {
    /// Parses a text frame; `None` for anything that is not a JSON object with a `type`.
    pub fn parse(text: &str) -> Option<Peek> {
        serde_json::from_str(text).ok()
    }

    /// The track id and server time of the playback state this frame carries, if any.
    pub fn playback(&self) -> Option<(&str, Option<i64>)> {
        if let Some(track) = &self.track {
            return Some((track.id.as_str(), self.server_time_ms));
        }
        let nested = self.playback.as_ref()?;
        let track = nested.track.as_ref()?;
        Some((
            track.id.as_str(),
            nested.server_time_ms.or(self.server_time_ms),
        ))
    }

    /// The queue delta this frame carries, if it is one the `queue` scenario times.
    pub fn queue_delta(&self) -> Option<crate::client::QueueDelta> {
        use crate::client::QueueDelta;
        let id = || self.id.as_ref().and_then(serde_json::Value::as_u64);
        match self.kind.as_str() {
            "entry_votes" => Some(QueueDelta::Votes {
                id: id()?,
                votes: self.votes.as_ref()?.as_i64()?,
            }),
            "entry_removed" => Some(QueueDelta::Removed { id: id()? }),
            "entry_added" => {
                let entry = self.entry.as_ref()?;
                Some(QueueDelta::Added {
                    id: entry.get("id")?.as_u64()?,
                    track: entry.get("track")?.get("id")?.as_str()?.to_owned(),
                })
            }
            _ => None,
        }
    }

    /// Whether this is a `spotify_status` frame reporting a rate limit.
    pub fn is_rate_limited_status(&self) -> bool {
        self.kind == "spotify_status"
            && self.state.as_ref().and_then(|s| s.as_str()) == Some("rate_limited")
    }
}

/// What a display client needs from a `playback` event's data (a now-playing object,
/// docs/displays.md) or from a `snapshot`'s `now_playing`.
#[derive(Debug, Deserialize)]
pub struct NowPlayingPeek {
    /// The track's title (empty when nothing plays).
    #[serde(default)]
    pub title: String,
    /// Its album.
    #[serde(default)]
    pub album: String,
    /// Its length.
    #[serde(default)]
    pub duration_ms: u64,
    /// `playing`, `paused` or `stopped`.
    #[serde(default)]
    pub status: String,
    /// When the server observed this state (the members' `server_time_ms` of the same poll).
    #[serde(default)]
    pub server_time_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct SnapshotPeek {
    #[serde(default)]
    now_playing: Option<NowPlayingPeek>,
}

impl NowPlayingPeek {
    /// The now-playing object of display event `event` with data `data`: a `playback`'s
    /// data, or a `snapshot`'s `now_playing`; `None` for other events.
    pub fn of_event(event: &str, data: &str) -> Option<NowPlayingPeek> {
        match event {
            "playback" => serde_json::from_str(data).ok(),
            "snapshot" => serde_json::from_str::<SnapshotPeek>(data).ok()?.now_playing,
            _ => None,
        }
    }

    /// A key that tells tracks apart: displays see no track ids, so the title, album and
    /// length stand for one. `None` when nothing plays (the members' frames have no track
    /// then either).
    pub fn track_key(&self) -> Option<String> {
        (self.status != "stopped" && !self.title.is_empty()).then(|| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                self.title, self.album, self.duration_ms
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_frame_is_about_300_bytes_and_parses() {
        let frame = baseline_playback(12, "b12", 1_700_000_000_123);
        assert!((280..=360).contains(&frame.len()), "{} bytes", frame.len());
        let peek = Peek::parse(&frame).unwrap();
        assert_eq!(peek.kind, "playback");
        assert_eq!(peek.playback(), Some(("b12", Some(1_700_000_000_123))));
    }

    #[test]
    fn peeks_nested_playback_of_a_welcome() {
        let welcome = r#"{"type":"welcome","seq":3,"session":{"members":[]},
            "playback":{"track":{"id":"abc","name":"x"},"server_time_ms":5,"is_playing":true}}"#;
        let peek = Peek::parse(welcome).unwrap();
        assert_eq!(peek.kind, "welcome");
        assert_eq!(peek.playback(), Some(("abc", Some(5))));
        let empty = Peek::parse(r#"{"type":"welcome","playback":null}"#).unwrap();
        assert_eq!(empty.playback(), None);
    }

    #[test]
    fn peeks_queue_deltas() {
        use crate::client::QueueDelta;
        let votes = Peek::parse(r#"{"type":"entry_votes","seq":9,"id":7,"votes":-2}"#).unwrap();
        assert_eq!(
            votes.queue_delta(),
            Some(QueueDelta::Votes { id: 7, votes: -2 })
        );
        let added = r#"{"type":"entry_added","seq":3,"index":12,"entry":{"id":40,
            "track":{"id":"abc","uri":"spotify:track:abc"},"votes":1,"added_by":["u"]}}"#;
        assert_eq!(
            Peek::parse(added).unwrap().queue_delta(),
            Some(QueueDelta::Added {
                id: 40,
                track: "abc".into()
            })
        );
        let removed = Peek::parse(r#"{"type":"entry_removed","seq":4,"id":40}"#).unwrap();
        assert_eq!(removed.queue_delta(), Some(QueueDelta::Removed { id: 40 }));
        // A string `id` elsewhere must not make the frame unreadable.
        let other = Peek::parse(r#"{"type":"member_joined","id":"u1"}"#).unwrap();
        assert_eq!(other.queue_delta(), None);
    }

    #[test]
    fn peeks_display_events() {
        let playback = r#"{"title":"Midnight City","artists":["M83"],"album":"Hurry Up",
            "cover_url":null,"status":"playing","progress_ms":81234,"duration_ms":243960,
            "server_time_ms":1767225600123,"brought_by":[],"brought_by_count":0}"#;
        let peek = NowPlayingPeek::of_event("playback", playback).unwrap();
        assert_eq!(peek.server_time_ms, Some(1_767_225_600_123));
        let key = peek.track_key().unwrap();
        let snapshot = format!(r#"{{"session":{{"state":"playing"}},"now_playing":{playback}}}"#);
        let from_snapshot = NowPlayingPeek::of_event("snapshot", &snapshot).unwrap();
        assert_eq!(from_snapshot.track_key(), Some(key));
        let stopped = r#"{"title":"","artists":[],"album":"","status":"stopped","duration_ms":0}"#;
        assert_eq!(
            NowPlayingPeek::of_event("playback", stopped)
                .unwrap()
                .track_key(),
            None
        );
        assert!(NowPlayingPeek::of_event("queue", r#"{"upcoming":[]}"#).is_none());
    }

    #[test]
    fn recognises_rate_limited_status() {
        let peek = Peek::parse(r#"{"type":"spotify_status","state":"rate_limited"}"#).unwrap();
        assert!(peek.is_rate_limited_status());
        assert!(Peek::parse("not json").is_none());
    }
}
