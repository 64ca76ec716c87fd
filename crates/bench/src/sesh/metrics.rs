//! A node's own counters, scraped from its `GET /metrics` (`SESH_METRICS_LISTEN`,
//! docs/metrics.md): what only the server can tell apart per node of a cluster — the sockets
//! it holds, the frames and bytes it fans out, the Spotify calls it makes.

/// The counters and gauges the benchmark reads, each summed over its labels unless noted.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Counters {
    /// `sesh_sockets_open`: member WebSockets held.
    pub sockets: f64,
    /// `sesh_fanout_frames_total{audience="member"}`: frames queued for members.
    pub frames: f64,
    /// `sesh_fanout_bytes_total{audience="member"}`: their bytes.
    pub bytes: f64,
    /// `sesh_spotify_requests_total`: HTTP exchanges with Spotify (every endpoint and status).
    pub spotify: f64,
    /// `sesh_polls_total`: polls of a host's player (every reason).
    pub polls: f64,
    /// `sesh_sessions{state="playing"}`: playing hubs loaded here.
    pub playing: f64,
    /// `sesh_session_moves_total`: hubs that moved between instances (every reason).
    pub moves: f64,
    /// … of them `reason="taken_over"`: playing sessions nobody ran, revived here.
    pub taken_over: f64,
    /// … `reason="handed_back"`: sessions given up to the instance the ring prefers.
    pub handed_back: f64,
    /// … `reason="lease_lost"`: hubs stopped here because their lease was taken or ran out.
    pub lease_lost: f64,
    /// `sesh_slow_consumers_dropped_total`: subscribers closed because their queue was full.
    pub dropped: f64,
}

impl Counters {
    /// Reads them from Prometheus text (format 0.0.4); a metric not yet recorded counts 0.
    pub fn parse(text: &str) -> Counters {
        let samples: Vec<Sample<'_>> = text.lines().filter_map(Sample::parse).collect();
        let sum = |name: &str, label: Option<&str>| -> f64 {
            samples
                .iter()
                .filter(|s| s.name == name && label.is_none_or(|l| s.labels.contains(l)))
                .map(|s| s.value)
                .sum()
        };
        Counters {
            sockets: sum("sesh_sockets_open", None),
            frames: sum("sesh_fanout_frames_total", Some(r#"audience="member""#)),
            bytes: sum("sesh_fanout_bytes_total", Some(r#"audience="member""#)),
            spotify: sum("sesh_spotify_requests_total", None),
            polls: sum("sesh_polls_total", None),
            playing: sum("sesh_sessions", Some(r#"state="playing""#)),
            moves: sum("sesh_session_moves_total", None),
            taken_over: sum("sesh_session_moves_total", Some(r#"reason="taken_over""#)),
            handed_back: sum("sesh_session_moves_total", Some(r#"reason="handed_back""#)),
            lease_lost: sum("sesh_session_moves_total", Some(r#"reason="lease_lost""#)),
            dropped: sum("sesh_slow_consumers_dropped_total", None),
        }
    }

    /// Scrapes `url` (a node's `http://…/metrics`).
    pub async fn scrape(http: &reqwest::Client, url: &str) -> anyhow::Result<Counters> {
        let response = http.get(url).send().await?.error_for_status()?;
        Ok(Counters::parse(&response.text().await?))
    }
}

/// One sample line: `name{labels} value`.
struct Sample<'a> {
    name: &'a str,
    /// The text between the braces (empty without labels).
    labels: &'a str,
    value: f64,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Sample<'a>> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        let (labels, rest) = if line[name_end..].starts_with('{') {
            // Label values may hold braces (`endpoint="POST /playlists/{playlist_id}/items"`):
            // the closing brace is the first one outside quotes.
            let body = &line[name_end + 1..];
            let (mut quoted, mut escaped) = (false, false);
            let close = body.char_indices().find_map(|(i, c)| {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => quoted = !quoted,
                    '}' if !quoted => return Some(i),
                    _ => {}
                }
                None
            })?;
            (&body[..close], &body[close + 1..])
        } else {
            ("", &line[name_end..])
        };
        let value = rest.split_whitespace().next()?.parse().ok()?;
        Some(Sample {
            name,
            labels,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_counters_over_their_labels() {
        let text = r#"# HELP sesh_sockets_open Open member WebSockets.
# TYPE sesh_sockets_open gauge
sesh_sockets_open 1200
sesh_fanout_frames_total{audience="member"} 5000
sesh_fanout_frames_total{audience="display"} 70
sesh_fanout_bytes_total{audience="member"} 1.5e6
sesh_spotify_requests_total{endpoint="GET /me/player",status="200"} 40
sesh_spotify_requests_total{endpoint="POST /playlists/{playlist_id}/items",status="201"} 2
sesh_spotify_request_duration_seconds_bucket{endpoint="GET /me/player",le="0.005"} 39
sesh_polls_total{reason="watch"} 30
sesh_polls_total{reason="boundary"} 10
sesh_sessions{state="lobby"} 3
sesh_sessions{state="playing"} 120
sesh_session_moves_total{reason="handed_back"} 2
sesh_session_moves_total{reason="lease_lost"} 1
"#;
        let c = Counters::parse(text);
        assert_eq!(c.sockets, 1200.0);
        assert_eq!(c.frames, 5000.0);
        assert_eq!(c.bytes, 1.5e6);
        assert_eq!(c.spotify, 42.0);
        assert_eq!(c.polls, 40.0);
        assert_eq!(c.playing, 120.0);
        assert_eq!((c.moves, c.handed_back, c.lease_lost), (3.0, 2.0, 1.0));
        assert_eq!((c.taken_over, c.dropped), (0.0, 0.0));
    }

    #[test]
    fn a_brace_inside_a_quoted_label_does_not_end_the_labels() {
        let s = Sample::parse(r#"m{a="x}y",b="\"}"} 7"#).unwrap();
        assert_eq!(
            (s.name, s.labels, s.value),
            ("m", r#"a="x}y",b="\"}""#, 7.0)
        );
        assert!(Sample::parse("# TYPE m counter").is_none());
        assert_eq!(Sample::parse("plain 3").unwrap().value, 3.0);
    }
}
