//! Prometheus metrics: every name Sesh records (listed with their meaning in
//! `docs/metrics.md`), the process-wide recorder, and the `/metrics` listener on its own
//! address (`SESH_METRICS_LISTEN`), so the numbers are never public by accident.
//!
//! Code records through the functions here, which use the `metrics` facade with fixed names
//! and labels: without a recorder (metrics off) each is a no-op, with one a lookup and an
//! atomic add, and none allocates. Values that already exist as state (sockets and display
//! streams open, the budget's tokens) are read when Prometheus scrapes rather than kept twice.
//!
//! Why not the exporter's own HTTP listener: it brings a second HTTP stack (hyper) and binds
//! inside the builder, where actix is already here, binds port 0 for tests like the main
//! listener, and stops with the rest of the server.

use std::{
    fmt::Write as _,
    net::TcpListener,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sesh_session::SessionState;
use sesh_spotify::{CallInfo, CallOutcome};
use tokio_util::sync::CancellationToken;

/// Buckets of the latency histograms (seconds): sub-millisecond hub commands up to Spotify's
/// ten-second timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the poll staleness (seconds): a second while watched, a track's length when not.
const STALENESS_BUCKETS: &[f64] = &[
    0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
];
/// How often histograms are compacted between scrapes (the exporter needs it called).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Seconds kept as nanoseconds, for the two counters of fractional seconds (the facade's
/// counters are integers); rendered with the rest at each scrape.
static BUDGET_WAIT_NANOS: AtomicU64 = AtomicU64::new(0);
static RETRY_AFTER_NANOS: AtomicU64 = AtomicU64::new(0);

/// The process's recorder: the facade has one global recorder, so every `Application` in a
/// process (tests start many) shares it. `None`: another recorder was installed first.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Why metrics cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Something else installed the process's metrics recorder.
    #[error("another metrics recorder is installed in this process")]
    RecorderTaken,
    /// The listener could not be served.
    #[error("cannot serve /metrics: {0}")]
    Serve(#[source] std::io::Error),
}

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("sesh_poll_staleness_seconds".to_owned()),
                        STALENESS_BUCKETS,
                    )
                })
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
        .ok_or(MetricsError::RecorderTaken)
}

/// Serves `GET /metrics` (nothing else) on `listener`, one worker. `collect` runs before
/// each rendering, to set the gauges read from state. Compacts histograms until `shutdown`.
pub fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
    collect: impl Fn() + Send + Sync + 'static,
    runtime: &tokio::runtime::Handle,
    shutdown: CancellationToken,
) -> Result<Server, MetricsError> {
    let upkeep = handle.clone();
    runtime.spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = every.tick() => upkeep.run_upkeep(),
                () = shutdown.cancelled() => break,
            }
        }
    });
    let scrape = web::Data::new(Scrape {
        handle,
        collect: Box::new(collect),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(MetricsError::Serve)?
    .run();
    Ok(server)
}

struct Scrape {
    handle: PrometheusHandle,
    collect: Box<dyn Fn() + Send + Sync>,
}

async fn render(scrape: web::Data<Scrape>) -> HttpResponse {
    (scrape.collect)();
    let mut text = scrape.handle.render();
    for (name, help, nanos) in [
        (
            "sesh_budget_wait_seconds_total",
            "Time callers waited for the app-wide Spotify budget.",
            &BUDGET_WAIT_NANOS,
        ),
        (
            "sesh_spotify_retry_after_seconds_total",
            "Retry-After time Spotify asked for in its 429 answers.",
            &RETRY_AFTER_NANOS,
        ),
    ] {
        let seconds = Duration::from_nanos(nanos.load(Ordering::Relaxed)).as_secs_f64();
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {seconds}\n\n"
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

fn describe() {
    use Unit::{Bytes, Count, Seconds};
    describe_counter!(
        "sesh_spotify_requests_total",
        Count,
        "HTTP exchanges with Spotify, by endpoint and status (error: no answer)."
    );
    describe_histogram!(
        "sesh_spotify_request_duration_seconds",
        Seconds,
        "Time from sending a request to Spotify to its answer, by endpoint."
    );
    describe_counter!(
        "sesh_spotify_rate_limited_total",
        Count,
        "429 answers from Spotify, by endpoint."
    );
    describe_gauge!(
        "sesh_budget_tokens_available",
        Count,
        "Tokens in the app-wide Spotify budget."
    );
    describe_gauge!(
        "sesh_budget_rate_per_second",
        "The app-wide Spotify budget's rate now: SESH_SPOTIFY_BUDGET, halved after a 429 and growing back (AIMD)."
    );
    describe_gauge!(
        "sesh_budget_waiting",
        Count,
        "Requests waiting for a token of the app-wide Spotify budget."
    );
    describe_counter!(
        "sesh_budget_acquisitions_total",
        Count,
        "Requests that drew on the app-wide Spotify budget."
    );
    describe_histogram!(
        "sesh_budget_wait_seconds",
        Seconds,
        "How long each acquisition of the app-wide Spotify budget waited."
    );
    describe_counter!(
        "sesh_polls_total",
        Count,
        "Polls of a host's player, by why they were made."
    );
    describe_counter!(
        "sesh_commits_predicted_total",
        Count,
        "Next entries handed to Spotify from the hub's prediction, with no poll answering inside the commit window."
    );
    describe_histogram!(
        "sesh_poll_staleness_seconds",
        Seconds,
        "Time since the previous poll of the same session's player."
    );
    describe_gauge!(
        "sesh_sessions",
        Count,
        "Live session hubs by state: lobby, playing, idle."
    );
    describe_gauge!("sesh_sockets_open", Count, "Open member WebSockets.");
    describe_gauge!(
        "sesh_display_streams_open",
        Count,
        "Open display event streams."
    );
    describe_counter!(
        "sesh_fanout_frames_total",
        Count,
        "Frames queued for subscribers, by audience (member sockets, displays)."
    );
    describe_counter!(
        "sesh_fanout_bytes_total",
        Bytes,
        "Bytes of the frames queued for subscribers, by audience."
    );
    describe_counter!(
        "sesh_slow_consumers_dropped_total",
        Count,
        "Subscribers disconnected because their queue was full."
    );
    describe_histogram!(
        "sesh_hub_command_duration_seconds",
        Seconds,
        "Time a hub spends on one command (its loop is busy meanwhile)."
    );
    describe_histogram!(
        "sesh_hub_request_duration_seconds",
        Seconds,
        "Time from sending a use case to a hub to its answer: waiting in its mailbox, \
         running, and any call the answer waits for."
    );
    describe_gauge!(
        "sesh_db_positions_pending",
        Count,
        "Sessions whose now-playing position waits to be stored."
    );
    describe_histogram!(
        "sesh_db_positions_write_duration_seconds",
        Seconds,
        "Time one batch of positions and plays takes to store (one transaction)."
    );
}

/// Records one exchange the Spotify client reports (its call observer: see `startup`).
pub fn spotify_call(call: CallInfo) {
    let status = match call.outcome {
        CallOutcome::Status(status) => status_label(status),
        CallOutcome::Error => "error",
    };
    counter!("sesh_spotify_requests_total", "endpoint" => call.endpoint, "status" => status)
        .increment(1);
    histogram!("sesh_spotify_request_duration_seconds", "endpoint" => call.endpoint)
        .record(call.duration);
    if let Some(retry_after) = call.retry_after {
        counter!("sesh_spotify_rate_limited_total", "endpoint" => call.endpoint).increment(1);
        add_nanos(&RETRY_AFTER_NANOS, retry_after);
    }
}

/// A fixed label per status: the ones Spotify documents by name, the rest by class, so the
/// label's values stay few.
fn status_label(status: u16) -> &'static str {
    const NAMED: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    if let Some((_, label)) = NAMED.iter().find(|(named, _)| *named == status) {
        return label;
    }
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

fn add_nanos(total: &AtomicU64, duration: Duration) {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    total.fetch_add(nanos, Ordering::Relaxed);
}

/// One acquisition of the app-wide budget, which waited `wait`.
pub fn budget_acquired(wait: Duration) {
    counter!("sesh_budget_acquisitions_total").increment(1);
    histogram!("sesh_budget_wait_seconds").record(wait);
    add_nanos(&BUDGET_WAIT_NANOS, wait);
}

/// The budget now (read at scrape): its tokens, its rate and how many wait.
pub fn budget_state(tokens: f64, rate: f64, waiting: usize) {
    gauge!("sesh_budget_tokens_available").set(tokens);
    gauge!("sesh_budget_rate_per_second").set(rate);
    gauge!("sesh_budget_waiting").set(waiting as f64);
}

/// One poll of a host's player, made for `reason` (`fixed`: the regular interval).
pub fn poll(reason: &'static str) {
    counter!("sesh_polls_total", "reason" => reason).increment(1);
}

/// The hub handed Spotify a session's next entry from its prediction: the poll that would have
/// done it was still waiting for the budget.
pub fn commit_predicted() {
    counter!("sesh_commits_predicted_total").increment(1);
}

/// The time since the previous poll of the same session's player.
pub fn poll_staleness(since_previous: Duration) {
    histogram!("sesh_poll_staleness_seconds").record(since_previous);
}

/// Open member sockets and display streams now (read at scrape).
pub fn subscribers_open(sockets: usize, displays: usize) {
    gauge!("sesh_sockets_open").set(sockets as f64);
    gauge!("sesh_display_streams_open").set(displays as f64);
}

/// `frames` member frames of `bytes` bytes in all were queued for sockets.
pub fn member_frames(frames: usize, bytes: usize) {
    counter!("sesh_fanout_frames_total", "audience" => "member").increment(frames as u64);
    counter!("sesh_fanout_bytes_total", "audience" => "member").increment(bytes as u64);
}

/// `frames` display events of `bytes` bytes in all were queued for display streams.
pub fn display_frames(frames: usize, bytes: usize) {
    counter!("sesh_fanout_frames_total", "audience" => "display").increment(frames as u64);
    counter!("sesh_fanout_bytes_total", "audience" => "display").increment(bytes as u64);
}

/// A subscriber whose queue was full was told to go.
pub fn slow_consumer_dropped() {
    counter!("sesh_slow_consumers_dropped_total").increment(1);
}

/// A session's hub moved between instances (several instances on PostgreSQL): `taken_over`
/// (this instance's sweeper revived a playing session whose instance died), `handed_back`
/// (this instance gave a session up to the instance the ring prefers), `lease_lost` (this
/// instance's hub stopped: its lease was taken or ran out).
pub fn session_moved(reason: &'static str) {
    counter!("sesh_session_moves_total", "reason" => reason).increment(1);
}

/// A hub spent `took` on one command.
pub fn hub_command(took: Duration) {
    histogram!("sesh_hub_command_duration_seconds").record(took);
}

/// A use case sent to a hub was answered `took` after it was sent.
pub fn hub_request(took: Duration) {
    histogram!("sesh_hub_request_duration_seconds").record(took);
}

/// Sessions whose position waits to be stored, now.
pub fn positions_pending(sessions: usize) {
    gauge!("sesh_db_positions_pending").set(sessions as f64);
}

/// One batch of positions took `took` to store.
pub fn positions_stored(took: Duration) {
    histogram!("sesh_db_positions_write_duration_seconds").record(took);
}

/// A hub's place in `sesh_sessions`: it counts its session under one state at a time and
/// leaves the count when dropped (however the hub's task ends).
#[derive(Debug, Default)]
pub struct SessionStateGauge {
    counted: Option<&'static str>,
}

impl SessionStateGauge {
    /// Counts the hub under its session's state now (an ended session is not counted).
    pub fn observe(&mut self, state: SessionState, idle: bool) {
        let label = match state {
            SessionState::Ended => None,
            _ if idle => Some("idle"),
            SessionState::Lobby => Some("lobby"),
            SessionState::Playing => Some("playing"),
        };
        self.set(label);
    }

    fn set(&mut self, label: Option<&'static str>) {
        if self.counted == label {
            return;
        }
        if let Some(old) = self.counted {
            gauge!("sesh_sessions", "state" => old).decrement(1.0);
        }
        if let Some(new) = label {
            gauge!("sesh_sessions", "state" => new).increment(1.0);
        }
        self.counted = label;
    }
}

impl Drop for SessionStateGauge {
    fn drop(&mut self) {
        self.set(None);
    }
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use sesh_session::SessionState;

    use super::{SessionStateGauge, status_label};

    #[test]
    fn a_hub_counts_under_one_state_at_a_time_and_not_once_ended_or_gone() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let count = |state: &str| {
                let series = format!("sesh_sessions{{state=\"{state}\"}} ");
                handle
                    .render()
                    .lines()
                    .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
                    .unwrap_or_else(|| "absent".to_owned())
            };
            let mut hub = SessionStateGauge::default();
            hub.observe(SessionState::Lobby, false);
            assert_eq!(count("lobby"), "1");
            hub.observe(SessionState::Playing, false);
            let mut other = SessionStateGauge::default();
            other.observe(SessionState::Playing, false);
            other.observe(SessionState::Playing, false);
            assert_eq!((count("lobby"), count("playing")), ("0".into(), "2".into()));
            hub.observe(SessionState::Playing, true);
            assert_eq!((count("playing"), count("idle")), ("1".into(), "1".into()));
            drop(other);
            hub.observe(SessionState::Ended, false);
            assert_eq!((count("playing"), count("idle")), ("0".into(), "0".into()));
            drop(hub);
            assert_eq!(count("idle"), "0");
        });
    }

    #[test]
    fn statuses_are_few_fixed_labels() {
        assert_eq!(status_label(204), "204");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(42), "other");
    }
}
