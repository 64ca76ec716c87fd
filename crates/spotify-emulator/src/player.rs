//! One user's simulated Spotify player: what plays on which device, in which order (shuffle)
//! and how often (repeat), and how the position advances with (virtual) time. Pure state;
//! callers pass the current time, and a random source for shuffling, in.

use std::collections::VecDeque;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, TrackIdx};

/// Where the current list came from, when it was a `context_uri` rather than `uris`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlayContext {
    /// `album` or `artist`.
    pub kind: &'static str,
    pub id: String,
}

impl PlayContext {
    /// Reads a `spotify:album:<id>` or `spotify:artist:<id>` URI.
    fn parse(uri: &str) -> Option<Self> {
        let mut parts = uri.split(':');
        let (Some("spotify"), Some(kind), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let kind = match kind {
            "album" => "album",
            "artist" => "artist",
            _ => return None,
        };
        Some(Self {
            kind,
            id: id.to_owned(),
        })
    }
}

/// Spotify's `repeat_state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Repeat {
    /// The list plays once and playback stops after its last track.
    #[default]
    Off,
    /// The current track starts again when it ends (skipping still moves on).
    Track,
    /// After the last track the list starts over.
    Context,
}

impl Repeat {
    /// Reads the `state` parameter of `PUT /me/player/repeat`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "off" => Some(Self::Off),
            "track" => Some(Self::Track),
            "context" => Some(Self::Context),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Track => "track",
            Self::Context => "context",
        }
    }
}

/// A user's player. Playback moves through `list`; tracks added with "add to queue" play
/// before the list continues, as in Spotify.
#[derive(Debug, Default)]
pub(crate) struct Player {
    /// Device playback is on; `None` is "no active device".
    pub device: Option<String>,
    pub context: Option<PlayContext>,
    /// The `uris` (or the context's tracks) in the order they play: shuffled when `shuffle`
    /// was on as they were loaded.
    pub list: Vec<TrackIdx>,
    /// For each entry of a shuffled `list`, its position in the order it was asked for, so
    /// that shuffle off restores that order; empty when `list` is in that order.
    positions: Vec<usize>,
    pub shuffle: bool,
    pub repeat: Repeat,
    /// Index in `list` of the last list track played.
    pub index: usize,
    /// The track loaded in the player, if any.
    pub current: Option<TrackIdx>,
    /// Whether `current` came from the user's queue rather than `list`.
    pub from_queue: bool,
    /// Tracks added with `POST /me/player/queue`, played next.
    pub queue: VecDeque<TrackIdx>,
    pub is_playing: bool,
    /// The last track of `list` played to its end; playback stopped by itself.
    pub ended: bool,
    /// Position at `anchor_ms`.
    position_ms: u64,
    /// Virtual time at which `position_ms` was taken.
    anchor_ms: i64,
    /// Virtual time of the last change (play, pause, skip, seek, new track).
    pub changed_at_ms: i64,
}

/// A player as the state file holds it: tracks by URI so the file reads on its own, and
/// the position anchored to virtual time, so a restarted emulator (whose clock runs on
/// from the same wall clock and offset) sees the position as if it had never stopped.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedPlayer {
    pub device: Option<String>,
    /// `spotify:album:…` or `spotify:artist:…`.
    pub context_uri: Option<String>,
    /// In play order (shuffled when `positions` is not empty).
    pub uris: Vec<String>,
    /// Each of `uris`' position in the order asked for; empty when unshuffled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<usize>,
    #[serde(default)]
    pub shuffle: bool,
    #[serde(default)]
    pub repeat: Repeat,
    pub index: usize,
    pub current_uri: Option<String>,
    pub from_queue: bool,
    pub queue: Vec<String>,
    pub is_playing: bool,
    pub ended: bool,
    /// Position at `anchor_ms`.
    pub position_ms: u64,
    /// Virtual Unix milliseconds.
    pub anchor_ms: i64,
    pub changed_at_ms: i64,
}

impl Player {
    /// Nothing was ever played: the state a user starts with.
    pub fn is_idle(&self) -> bool {
        self.device.is_none()
            && self.current.is_none()
            && self.list.is_empty()
            && self.queue.is_empty()
            && !self.shuffle
            && self.repeat == Repeat::Off
    }

    /// The player as the state file holds it.
    pub fn save(&self, catalog: &Catalog) -> SavedPlayer {
        let uri = |t: &TrackIdx| catalog.tracks[*t].uri.clone();
        SavedPlayer {
            device: self.device.clone(),
            context_uri: self
                .context
                .as_ref()
                .map(|c| format!("spotify:{}:{}", c.kind, c.id)),
            uris: self.list.iter().map(uri).collect(),
            positions: self.positions.clone(),
            shuffle: self.shuffle,
            repeat: self.repeat,
            index: self.index,
            current_uri: self.current.as_ref().map(uri),
            from_queue: self.from_queue,
            queue: self.queue.iter().map(uri).collect(),
            is_playing: self.is_playing,
            ended: self.ended,
            position_ms: self.position_ms,
            anchor_ms: self.anchor_ms,
            changed_at_ms: self.changed_at_ms,
        }
    }

    /// Rebuilds a saved player; `Err` names what does not fit this catalog.
    pub fn restore(saved: SavedPlayer, catalog: &Catalog) -> Result<Player, String> {
        let track = |uri: &String| {
            catalog
                .track_by_uri(uri)
                .ok_or_else(|| format!("unknown track {uri}"))
        };
        let list = saved
            .uris
            .iter()
            .map(track)
            .collect::<Result<Vec<_>, _>>()?;
        let queue = saved
            .queue
            .iter()
            .map(track)
            .collect::<Result<VecDeque<_>, _>>()?;
        let current = saved.current_uri.as_ref().map(track).transpose()?;
        if !list.is_empty() && saved.index >= list.len() {
            return Err(format!("index {} outside the list", saved.index));
        }
        if !saved.positions.is_empty() {
            let mut sorted = saved.positions.clone();
            sorted.sort_unstable();
            if sorted.len() != list.len() || sorted.iter().enumerate().any(|(i, &p)| i != p) {
                return Err("positions are not an order of the list".to_owned());
            }
        }
        let context = match saved.context_uri.as_deref() {
            None => None,
            Some(uri) => Some(PlayContext::parse(uri).ok_or_else(|| format!("bad context {uri}"))?),
        };
        Ok(Player {
            device: saved.device,
            context,
            list,
            positions: saved.positions,
            shuffle: saved.shuffle,
            repeat: saved.repeat,
            index: saved.index,
            current,
            from_queue: saved.from_queue,
            queue,
            is_playing: saved.is_playing && current.is_some(),
            ended: saved.ended,
            position_ms: saved.position_ms,
            anchor_ms: saved.anchor_ms,
            changed_at_ms: saved.changed_at_ms,
        })
    }

    /// Brings the player up to `now_ms`: moves the position on and, when a track ends,
    /// plays the next one; after the last one, stops at the end of it.
    pub fn settle(&mut self, now_ms: i64, catalog: &Catalog) {
        let Some(mut current) = self.current else {
            return;
        };
        if !self.is_playing {
            self.anchor_ms = now_ms;
            return;
        }
        let elapsed = u64::try_from(now_ms.saturating_sub(self.anchor_ms)).unwrap_or(0);
        let mut position = self.position_ms.saturating_add(elapsed);
        loop {
            let duration = catalog.tracks[current].duration_ms;
            if position < duration {
                break;
            }
            let overshoot = position - duration;
            let ended_at = now_ms.saturating_sub(i64::try_from(overshoot).unwrap_or(i64::MAX));
            if !self.step_forward(true) {
                self.is_playing = false;
                self.ended = true;
                position = duration;
                self.changed_at_ms = ended_at;
                break;
            }
            current = self.current.unwrap_or(current);
            position = overshoot;
            self.changed_at_ms = ended_at;
        }
        self.position_ms = position;
        self.anchor_ms = now_ms;
    }

    /// Position in the current track at `now_ms`; call [`Player::settle`] first.
    pub fn position_ms(&self, now_ms: i64) -> u64 {
        if self.is_playing {
            let elapsed = u64::try_from(now_ms.saturating_sub(self.anchor_ms)).unwrap_or(0);
            self.position_ms.saturating_add(elapsed)
        } else {
            self.position_ms
        }
    }

    /// Starts `list` on `device`, `position_ms` into its first track: the one at `start`
    /// (the request's `offset`), else the first. With shuffle on the list plays in a random
    /// order, beginning with the `start` track when there is one, as Spotify does.
    #[allow(clippy::too_many_arguments)]
    pub fn play_list(
        &mut self,
        list: Vec<TrackIdx>,
        start: Option<usize>,
        position_ms: u64,
        context: Option<PlayContext>,
        device: String,
        now_ms: i64,
        rng: &mut impl Rng,
    ) {
        let start = start.filter(|&i| i < list.len());
        if self.shuffle {
            let mut positions: Vec<usize> = (0..list.len()).filter(|&p| Some(p) != start).collect();
            positions.shuffle(rng);
            if let Some(first) = start {
                positions.insert(0, first);
            }
            self.list = positions.iter().map(|&p| list[p]).collect();
            self.positions = positions;
            self.index = 0;
        } else {
            self.list = list;
            self.positions.clear();
            self.index = start.unwrap_or(0);
        }
        self.current = self.list.get(self.index).copied();
        self.context = context;
        self.from_queue = false;
        self.device = Some(device);
        self.is_playing = self.current.is_some();
        self.ended = false;
        self.set_position(position_ms, now_ms);
    }

    /// Turns shuffle on or off, as Spotify does mid-list: on keeps the current track and
    /// shuffles all the others after it; off goes back to the order asked for, continuing
    /// after the current track.
    pub fn set_shuffle(&mut self, on: bool, now_ms: i64, rng: &mut impl Rng) {
        if on == self.shuffle {
            return;
        }
        self.shuffle = on;
        self.changed_at_ms = now_ms;
        if self.list.is_empty() {
            return;
        }
        let (requested, at) = self.requested_order();
        if on {
            let mut positions: Vec<usize> = (0..requested.len()).filter(|&p| p != at).collect();
            positions.shuffle(rng);
            positions.insert(0, at);
            self.list = positions.iter().map(|&p| requested[p]).collect();
            self.positions = positions;
            self.index = 0;
        } else {
            self.list = requested;
            self.positions.clear();
            self.index = at;
        }
    }

    /// The list in the order asked for, and where `index` is in it.
    fn requested_order(&self) -> (Vec<TrackIdx>, usize) {
        if self.positions.len() != self.list.len() || self.positions.is_empty() {
            return (self.list.clone(), self.index);
        }
        let mut requested = self.list.clone();
        for (&track, &p) in self.list.iter().zip(&self.positions) {
            requested[p] = track;
        }
        (
            requested,
            self.positions.get(self.index).copied().unwrap_or(0),
        )
    }

    /// Sets the repeat mode; it applies from the current track on.
    pub fn set_repeat(&mut self, repeat: Repeat, now_ms: i64) {
        if repeat != self.repeat {
            self.repeat = repeat;
            self.changed_at_ms = now_ms;
        }
    }

    /// Resumes playback; after the list ended, replays its last track from the start.
    pub fn resume(&mut self, now_ms: i64) {
        if self.current.is_none() {
            return;
        }
        if self.ended {
            self.ended = false;
            self.position_ms = 0;
        }
        self.is_playing = true;
        self.anchor_ms = now_ms;
        self.changed_at_ms = now_ms;
    }

    /// Pauses at the current position.
    pub fn pause(&mut self, now_ms: i64) {
        self.position_ms = self.position_ms(now_ms);
        self.is_playing = false;
        self.anchor_ms = now_ms;
        self.changed_at_ms = now_ms;
    }

    /// Skips to the next track (queue first), starting playback; past the last, stops.
    pub fn next(&mut self, now_ms: i64, catalog: &Catalog) {
        if self.current.is_none() {
            return;
        }
        if self.step_forward(false) {
            self.is_playing = true;
            self.ended = false;
            self.set_position(0, now_ms);
        } else if let Some(last) = self.current {
            self.is_playing = false;
            self.ended = true;
            self.set_position(catalog.tracks[last].duration_ms, now_ms);
        }
    }

    /// Restarts the track, or goes back one when within its first three seconds (from the
    /// first track to the last with repeat `context`).
    pub fn previous(&mut self, now_ms: i64) {
        if self.current.is_none() {
            return;
        }
        let early = self.position_ms(now_ms) <= 3_000;
        if self.from_queue {
            if let Some(&track) = self.list.get(self.index) {
                self.current = Some(track);
                self.from_queue = false;
            }
        } else if early && self.index > 0 {
            self.index -= 1;
            self.current = self.list.get(self.index).copied();
        } else if early && self.repeat == Repeat::Context && !self.list.is_empty() {
            self.index = self.list.len() - 1;
            self.current = self.list.get(self.index).copied();
        }
        self.ended = false;
        self.is_playing = true;
        self.set_position(0, now_ms);
    }

    /// Jumps to `position_ms` in the current track. A position past its end plays the next
    /// track from its start, as `next` would (so also with repeat `track`), as Spotify
    /// documents; a paused player skips and stays paused, as the Spotify app does.
    pub fn seek(&mut self, position_ms: u64, now_ms: i64, catalog: &Catalog) {
        let Some(current) = self.current else {
            return;
        };
        if position_ms < catalog.tracks[current].duration_ms {
            self.ended = false;
            self.set_position(position_ms, now_ms);
            return;
        }
        let was_playing = self.is_playing;
        self.next(now_ms, catalog);
        if !was_playing && !self.ended {
            self.pause(now_ms);
        }
    }

    /// Moves playback to `device`; `play` true starts it, false or absent keeps the state.
    pub fn transfer(&mut self, device: String, play: Option<bool>, now_ms: i64) {
        self.device = Some(device);
        if play == Some(true) && self.current.is_some() && !self.is_playing {
            self.resume(now_ms);
        }
        self.changed_at_ms = now_ms;
    }

    /// The active device went away: playback stops and there is no active device.
    pub fn lose_device(&mut self, now_ms: i64) {
        if self.is_playing {
            self.pause(now_ms);
        }
        self.device = None;
    }

    /// Up to `n` tracks that play next: the queue, then the rest of the list (and, with
    /// repeat `context`, the list again from its start).
    pub fn upcoming(&self, n: usize) -> Vec<TrackIdx> {
        let rest = self.list.iter().skip(self.index + 1);
        let again = match self.repeat {
            Repeat::Context => self.list.len() * (n / self.list.len().max(1) + 1),
            Repeat::Off | Repeat::Track => 0,
        };
        let again = self.list.iter().cycle().take(again);
        self.queue
            .iter()
            .chain(rest)
            .chain(again)
            .copied()
            .take(n)
            .collect()
    }

    /// Moves `current` to the next track; false when there is none. `track_ended` is a
    /// track playing to its end (repeat `track` plays it again) rather than a skip.
    fn step_forward(&mut self, track_ended: bool) -> bool {
        if track_ended && self.repeat == Repeat::Track && self.current.is_some() {
            return true;
        }
        if let Some(track) = self.queue.pop_front() {
            self.current = Some(track);
            self.from_queue = true;
            return true;
        }
        if self.index + 1 < self.list.len() {
            self.index += 1;
            self.current = self.list.get(self.index).copied();
            self.from_queue = false;
            return true;
        }
        if self.repeat == Repeat::Context && !self.list.is_empty() {
            self.index = 0;
            self.current = self.list.first().copied();
            self.from_queue = false;
            return true;
        }
        false
    }

    fn set_position(&mut self, position_ms: u64, now_ms: i64) {
        self.position_ms = position_ms;
        self.anchor_ms = now_ms;
        self.changed_at_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> rand::rngs::StdRng {
        rand::SeedableRng::seed_from_u64(7)
    }

    fn playing(catalog: &Catalog, list: Vec<TrackIdx>) -> Player {
        let mut player = Player::default();
        player.play_list(list, None, 0, None, "dev".into(), 1_000, &mut rng());
        player.settle(1_000, catalog);
        player
    }

    #[test]
    fn position_advances_and_tracks_end() {
        let catalog = Catalog::generate();
        let mut player = playing(&catalog, vec![3, 4]);
        let d3 = i64::try_from(catalog.tracks[3].duration_ms).unwrap();
        let d4 = i64::try_from(catalog.tracks[4].duration_ms).unwrap();
        player.settle(1_000 + 5_000, &catalog);
        assert_eq!(player.position_ms(6_000), 5_000);
        player.settle(1_000 + d3 + 10, &catalog);
        assert_eq!(player.current, Some(4));
        assert_eq!(player.position_ms(1_000 + d3 + 10), 10);
        assert_eq!(player.changed_at_ms, 1_000 + d3);
        player.settle(1_000 + d3 + d4 + 99_999, &catalog);
        assert!(!player.is_playing);
        assert!(player.ended);
        assert_eq!(player.current, Some(4));
    }

    #[test]
    fn queue_plays_before_list_and_previous_goes_back() {
        let catalog = Catalog::generate();
        let mut player = playing(&catalog, vec![1, 2, 3]);
        player.queue.push_back(9);
        assert_eq!(player.upcoming(5), vec![9, 2, 3]);
        player.next(2_000, &catalog);
        assert_eq!(player.current, Some(9));
        player.next(3_000, &catalog);
        assert_eq!(player.current, Some(2));
        player.previous(3_500);
        assert_eq!(player.current, Some(1));
        player.pause(4_000);
        player.settle(100_000, &catalog);
        assert_eq!(player.position_ms(100_000), 500);
    }

    #[test]
    fn shuffle_plays_a_permutation_and_off_restores_the_order() {
        let catalog = Catalog::generate();
        let list: Vec<TrackIdx> = (10..30).collect();
        let mut player = Player {
            shuffle: true,
            ..Player::default()
        };
        player.play_list(list.clone(), Some(4), 0, None, "dev".into(), 0, &mut rng());
        assert_eq!(player.current, Some(14), "the offset track plays first");
        assert_ne!(player.list, list);
        let mut sorted = player.list.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, list);
        player.next(1_000, &catalog);
        let now = player.current;
        player.set_shuffle(false, 2_000, &mut rng());
        assert_eq!(player.list, list);
        assert_eq!(player.current, now);
        assert_eq!(player.list.get(player.index).copied(), now);
        player.set_shuffle(true, 3_000, &mut rng());
        assert_eq!((player.index, player.list[0]), (0, now.unwrap()));
        let mut sorted = player.list.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, list);
    }

    #[test]
    fn repeat_track_replays_and_context_loops() {
        let catalog = Catalog::generate();
        let d1 = i64::try_from(catalog.tracks[1].duration_ms).unwrap();
        let d2 = i64::try_from(catalog.tracks[2].duration_ms).unwrap();
        let mut player = playing(&catalog, vec![1, 2]);
        player.set_repeat(Repeat::Track, 1_000);
        player.settle(1_000 + d1 + 10, &catalog);
        assert_eq!(player.current, Some(1));
        assert_eq!(player.position_ms(1_000 + d1 + 10), 10);
        player.next(1_000 + d1 + 20, &catalog);
        assert_eq!(player.current, Some(2), "next still skips");
        let start = 1_000 + d1 + 20;
        player.set_repeat(Repeat::Context, start);
        assert_eq!(player.upcoming(3), vec![1, 2, 1]);
        player.settle(start + d2 + 5, &catalog);
        assert_eq!((player.current, player.is_playing), (Some(1), true));
        player.previous(start + d2 + 6);
        assert_eq!(player.current, Some(2), "previous wraps to the last");
        player.set_repeat(Repeat::Off, start + d2 + 7);
        player.settle(start + d2 + 7 + 10 * d2, &catalog);
        assert!(player.ended && !player.is_playing);
    }

    #[test]
    fn seek_past_the_end_plays_the_next_track_from_its_start() {
        let catalog = Catalog::generate();
        let mut player = playing(&catalog, vec![1, 2]);
        player.set_repeat(Repeat::Track, 1_000);
        player.seek(catalog.tracks[1].duration_ms + 1, 2_000, &catalog);
        assert_eq!((player.current, player.position_ms(2_000)), (Some(2), 0));
        player.pause(2_000);
        player.seek(catalog.tracks[2].duration_ms, 3_000, &catalog);
        assert!(
            player.ended,
            "past the end of the last track playback stops"
        );
    }
}
