//! The pure arithmetic of the polling scenarios: when each session's change comes, each
//! session's longest gap between polls in a window, their spread, and the matching of a
//! session's first new track to the true end of the track it played. No I/O, no clock.

use std::collections::HashMap;
use std::time::Duration;

/// When each of `sessions` gets its change: one moment each, drawn uniformly from `[0, window)`
/// (a fixed `seed` makes runs alike), soonest first. Random rather than evenly spaced: evenly
/// spaced changes keep one fixed offset to evenly spaced polls, so every session would wait
/// the same and a percentile would measure that one offset.
pub fn spread_plan(sessions: usize, window: Duration, seed: u64) -> Vec<(Duration, usize)> {
    let mut state = seed;
    let mut plan: Vec<(Duration, usize)> = (0..sessions)
        .map(|session| {
            // splitmix64: a few lines, no dependency, good enough to scatter start times.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
            (window.mul_f64(unit), session)
        })
        .collect();
    plan.sort();
    plan
}

/// One session's polls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polled {
    /// Polls in the window.
    pub polls: usize,
    /// Longest time without a poll, ms.
    pub longest_gap_ms: i64,
}

/// Each session's polls in the window `[start_ms, end_ms]` and its longest time without one:
/// the window's edges count as polls, so a session polled once or never has a long gap (a
/// never-polled one, the whole window) rather than none. At an edge this is a lower bound of the
/// real staleness (the poll before the window is not looked at). `polls` are `(session, at_ms)`
/// in any order; polls outside the window and of sessions not in `0..sessions` are ignored.
pub fn longest_gaps(
    sessions: usize,
    polls: impl IntoIterator<Item = (usize, i64)>,
    start_ms: i64,
    end_ms: i64,
) -> Vec<Polled> {
    let mut at: Vec<Vec<i64>> = vec![Vec::new(); sessions];
    for (session, ms) in polls {
        if (start_ms..=end_ms).contains(&ms)
            && let Some(list) = at.get_mut(session)
        {
            list.push(ms);
        }
    }
    at.into_iter()
        .map(|mut list| {
            list.sort_unstable();
            let polls = list.len();
            let mut previous = start_ms;
            let mut longest = 0;
            for ms in list.into_iter().chain(std::iter::once(end_ms)) {
                longest = longest.max(ms - previous);
                previous = ms;
            }
            Polled {
                polls,
                longest_gap_ms: longest,
            }
        })
        .collect()
}

/// Median and largest of `gaps`, and their ratio (how uneven staleness is: 1 = even).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    /// Median longest gap (the lower middle of an even count), ms.
    pub median_ms: i64,
    /// Largest longest gap, ms.
    pub max_ms: i64,
    /// `max_ms / median_ms` (`None` when the median is 0).
    pub ratio: Option<f64>,
}

impl Spread {
    /// The spread of `gaps`; `None` when there are none.
    pub fn of(gaps: &[i64]) -> Option<Spread> {
        let mut sorted = gaps.to_vec();
        sorted.sort_unstable();
        let median_ms = *sorted.get((sorted.len().checked_sub(1)?) / 2)?;
        let max_ms = *sorted.last()?;
        Some(Spread {
            median_ms,
            max_ms,
            ratio: (median_ms > 0).then(|| max_ms as f64 / median_ms as f64),
        })
    }
}

/// Delays from each armed session's true track end to the first frame of another track its
/// member received.
#[derive(Debug, Default)]
pub struct BoundaryWatch {
    /// Per armed session: the track that ends and when (µs since the epoch).
    armed: HashMap<usize, (String, i64)>,
    /// True end → receipt of the new track, ms.
    pub seen_ms: Vec<f64>,
}

impl BoundaryWatch {
    /// `session` plays `track` until `end_us`; its next change to another track ends the wait.
    pub fn arm(&mut self, session: usize, track: &str, end_us: i64) {
        self.armed.insert(session, (track.to_owned(), end_us));
    }

    /// Sessions still waiting.
    pub fn outstanding(&self) -> usize {
        self.armed.len()
    }

    /// A member of `session` received `track` at `recv_us`. The same track again (the first
    /// frame of a track the driver already read from the emulator, a resync) is not the change.
    pub fn on_change(&mut self, session: usize, track: &str, recv_us: i64) {
        if let Some((ending, end_us)) = self.armed.get(&session)
            && ending != track
        {
            self.seen_ms.push((recv_us - end_us) as f64 / 1000.0);
            self.armed.remove(&session);
        }
    }

    /// Ends the wait at `now_us`: the delay of each session still waiting, at least as long as
    /// the time since its end (a lower bound; `None` for ends still ahead).
    pub fn finish(&mut self, now_us: i64) -> Vec<f64> {
        self.armed
            .drain()
            .filter(|(_, (_, end_us))| *end_us <= now_us)
            .map(|(_, (_, end_us))| (now_us - end_us) as f64 / 1000.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_gives_every_session_one_moment_inside_the_window() {
        let window = Duration::from_secs(80);
        let plan = spread_plan(80, window, 1);
        let mut sessions: Vec<usize> = plan.iter().map(|(_, s)| *s).collect();
        sessions.sort_unstable();
        assert_eq!(sessions, (0..80).collect::<Vec<_>>());
        assert!(plan.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(plan.iter().all(|(at, _)| *at < window));
        // Scattered over the whole window, not bunched, and not in session order.
        assert!(plan[0].0 < Duration::from_secs(10) && plan[79].0 > Duration::from_secs(70));
        assert_ne!(
            plan.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
            (0..80).collect::<Vec<_>>()
        );
        assert_eq!(plan, spread_plan(80, window, 1));
        assert!(spread_plan(0, window, 1).is_empty());
    }

    #[test]
    fn longest_gaps_count_the_window_edges() {
        // Window 0..100 s: session 0 polled at 10, 30, 90 s; session 1 once at 50 s; session
        // 2 never; a poll outside the window and one of an unknown session are ignored.
        let polls = [
            (0, 30_000),
            (0, 10_000),
            (0, 90_000),
            (1, 50_000),
            (1, 120_000),
            (7, 5_000),
        ];
        let polled = longest_gaps(3, polls, 0, 100_000);
        let gaps: Vec<_> = polled.iter().map(|p| (p.polls, p.longest_gap_ms)).collect();
        assert_eq!(gaps, vec![(3, 60_000), (1, 50_000), (0, 100_000)]);
        let edges = longest_gaps(1, [(0, 0), (0, 100_000)], 0, 100_000);
        assert_eq!(edges[0].polls, 2);
    }

    #[test]
    fn spread_is_the_largest_over_the_median() {
        let spread = Spread::of(&[40, 10, 20, 30]).unwrap();
        assert_eq!((spread.median_ms, spread.max_ms), (20, 40));
        assert_eq!(spread.ratio, Some(2.0));
        assert_eq!(Spread::of(&[5]).unwrap().ratio, Some(1.0));
        assert_eq!(Spread::of(&[0, 0, 3]).unwrap().ratio, None);
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn a_boundary_is_the_first_receipt_of_another_track() {
        let mut watch = BoundaryWatch::default();
        watch.arm(0, "a", 1_000_000);
        watch.arm(1, "b", 2_000_000);
        watch.arm(2, "c", 9_000_000);
        // Session 0's member first sees its current track (late first frame), then the next.
        watch.on_change(0, "a", 900_000);
        watch.on_change(0, "x", 1_250_000);
        watch.on_change(0, "y", 1_500_000);
        // Session 3 was not armed.
        watch.on_change(3, "z", 1_000_000);
        assert_eq!(watch.seen_ms, vec![250.0]);
        assert_eq!(watch.outstanding(), 2);
        // At 5 s session 1 waits 3 s already (a lower bound); session 2's end is ahead.
        assert_eq!(watch.finish(5_000_000), vec![3_000.0]);
        assert_eq!(watch.outstanding(), 0);
    }
}
