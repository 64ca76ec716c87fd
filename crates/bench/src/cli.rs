//! The command line: the driver (default) and the hidden process modes it spawns.

use crate::baseline::BaselineKind;
use crate::target::ServerKind;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Benchmarks Sesh beside two bare WebSocket broadcast servers.
#[derive(Debug, Parser)]
#[command(name = "sesh-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A process mode; without one, runs the benchmark.
    #[command(subcommand)]
    pub mode: Option<Mode>,
    /// Benchmark options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Process modes the driver spawns (usable by hand too).
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// A load-client process, driven by JSON lines on stdin.
    #[command(hide = true)]
    Client,
    /// Run a baseline broadcast server until stdin closes; prints its addresses.
    ServeBaseline {
        /// Which baseline.
        #[arg(long, value_enum)]
        kind: BaselineKind,
        /// WebSocket listen address (the control port picks a free port on the same IP).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

/// Which scenarios, against what, at which sizes. With no scenario flag, all run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Small sizes for a smoke run of under a minute (CI); no thresholds enforced.
    #[arg(long)]
    pub quick: bool,
    /// 10,000 members in 1,000 sessions of 10: idle memory, burst and staggered fan-out, CPU.
    #[arg(long)]
    pub members: bool,
    /// One session of 5,000 members: fan-out to all.
    #[arg(long)]
    pub big_room: bool,
    /// 500 joins/s for 20 s: join latency.
    #[arg(long)]
    pub join_storm: bool,
    /// 2,000 playing sessions: the shared Spotify request budget, starvation, the spread of
    /// staleness and natural track changes at that scale (predictive polling).
    #[arg(long)]
    pub sessions: bool,
    /// With `--sessions` (or all scenarios): measure a second Sesh with
    /// `SESH_POLL_MODE=fixed` the same way (doubles the scenario's time).
    #[arg(long)]
    pub sessions_fixed: bool,
    /// 80 playing sessions at the default budget, predictive then fixed polling: how late a
    /// natural track change and a change made in the Spotify app are seen.
    #[arg(long)]
    pub quality: bool,
    /// 1,000 playing sessions with an unlimited budget, fixed then predictive polling: server
    /// CPU per poll and idle CPU.
    #[arg(long)]
    pub poll_cpu: bool,
    /// Spotify calls per session-minute at 1 and 100 members (playing, paused, nobody connected).
    #[arg(long)]
    pub calls: bool,
    /// Start latency for a session of 50.
    #[arg(long)]
    pub start: bool,
    /// The collaborative queue: 200 members voting and adding at 20 operations/s; delivery
    /// latency and frame sizes at two queue lengths.
    #[arg(long)]
    pub queue: bool,
    /// One playing session with 5,000 members on WebSockets and 5,000 displays on Server-Sent
    /// Events: server memory per member and per display, and a track change's delivery to each.
    #[arg(long)]
    pub displays: bool,
    /// With `--members` (or all scenarios): run `members` again, the same way and size, on one
    /// `sesh` on PostgreSQL and on NODES `sesh` instances on one PostgreSQL behind Nginx
    /// (`nginx/sesh-cluster*.template`), each started for it with a throwaway PostgreSQL, and
    /// report each node beside the single nodes (Sesh only). Needs `nginx`, `envsubst` and
    /// PostgreSQL's server programs (`bash scripts/install-deps`).
    #[arg(
        long,
        value_name = "NODES",
        conflicts_with = "target_url",
        value_parser = clap::value_parser!(u16).range(1..=32)
    )]
    pub members_cluster: Option<u16>,
    /// Servers to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sesh", "actix", "tungstenite"])]
    pub servers: Vec<ServerKind>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// `sesh` binary (default: next to sesh-bench, built on demand under `cargo run`).
    #[arg(long)]
    pub sesh_bin: Option<PathBuf>,
    /// `sesh-spotify-emulator` binary (default: next to sesh-bench).
    #[arg(long)]
    pub emulator_bin: Option<PathBuf>,
    /// Benchmark a running Sesh at this URL (its public URL) instead of starting one.
    #[arg(long, requires = "emulator_url")]
    pub target_url: Option<String>,
    /// The running Sesh's emulator (control API enabled), with `--target-url`.
    #[arg(long)]
    pub emulator_url: Option<String>,
    /// The running Sesh's process id, for memory and CPU figures, with `--target-url`.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Extra environment for the `sesh` we start, `KEY=VALUE` (repeatable).
    #[arg(long = "sesh-env", value_parser = parse_key_value)]
    pub sesh_env: Vec<(String, String)>,
    /// The emulator's rate limit (requests per 30 s per client id): high, so only Sesh's
    /// own budget shapes its traffic.
    #[arg(long, default_value_t = 10_000_000)]
    pub emulator_rate_limit: u32,
    /// `SESH_SPOTIFY_BUDGET` (requests/s) of the Seshes started for `sessions` and `quality`.
    #[arg(long, default_value_t = 20)]
    pub sessions_budget: u32,
    /// Members in the `members` scenario.
    #[arg(long)]
    pub members_n: Option<usize>,
    /// Members per session in `members` and `join-storm`.
    #[arg(long)]
    pub room_size: Option<usize>,
    /// Members in the `big-room` session.
    #[arg(long)]
    pub big_room_n: Option<usize>,
    /// Joins per second in `join-storm`.
    #[arg(long)]
    pub join_rate: Option<f64>,
    /// Seconds of `join-storm`.
    #[arg(long)]
    pub join_secs: Option<f64>,
    /// Playing sessions in `sessions`.
    #[arg(long)]
    pub sessions_n: Option<usize>,
    /// Playing sessions in `quality` (per poll mode).
    #[arg(long)]
    pub quality_n: Option<usize>,
    /// Playing sessions in `poll-cpu` (per poll mode).
    #[arg(long)]
    pub poll_cpu_n: Option<usize>,
    /// Seconds between track changes of one session (staggered phase of `members`).
    #[arg(long)]
    pub change_period_s: Option<f64>,
    /// Seconds of each measurement window (staggered changes, idle CPU, Spotify calls).
    #[arg(long)]
    pub window_s: Option<f64>,
    /// Members of the `queue` scenario's session.
    #[arg(long)]
    pub queue_n: Option<usize>,
    /// Members of the `queue` scenario's small session (the short queue).
    #[arg(long)]
    pub queue_small_n: Option<usize>,
    /// Queue operations per second in `queue`.
    #[arg(long)]
    pub queue_rate: Option<f64>,
    /// Seconds of operations in `queue` (per queue length).
    #[arg(long)]
    pub queue_secs: Option<f64>,
    /// WebSocket members of the `displays` scenario's session.
    #[arg(long)]
    pub displays_members_n: Option<usize>,
    /// Display streams (`GET /d/{key}/events`) on the `displays` scenario's session.
    #[arg(long)]
    pub displays_n: Option<usize>,
    /// Minimum number of client processes.
    #[arg(long, default_value_t = 1)]
    pub client_procs: usize,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// Resolved sizes of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sizes {
    /// `members`: total members.
    pub members: usize,
    /// Members per session.
    pub room_size: usize,
    /// `big-room`: members.
    pub big_room: usize,
    /// Bursts measured in `members`.
    pub bursts: usize,
    /// Bursts measured in `big-room`.
    pub big_room_bursts: usize,
    /// `join-storm`: joins per second.
    pub join_rate: f64,
    /// `join-storm`: seconds.
    pub join_secs: f64,
    /// `sessions`: playing sessions.
    pub sessions: usize,
    /// Seconds between a session's changes in the staggered phase.
    pub change_period_s: f64,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// `sessions`: also measure fixed polling.
    pub sessions_fixed: bool,
    /// `quality`: playing sessions.
    pub quality_sessions: usize,
    /// `quality`: seconds over which the sessions' boundaries (then their app changes) are
    /// spread, one after another.
    pub quality_spread_s: f64,
    /// `quality`: how long before its end Sesh's own seek puts each track.
    pub quality_lead_s: f64,
    /// `quality`: also measure fixed polling.
    pub quality_fixed: bool,
    /// `poll-cpu`: playing sessions.
    pub poll_cpu_sessions: usize,
    /// `poll-cpu`: seconds of the CPU window per poll mode.
    pub poll_cpu_window_s: f64,
    /// `calls`: session sizes compared.
    pub calls_sizes: Vec<usize>,
    /// `calls`: seconds of each measured state (predictive polling spends its calls unevenly:
    /// a window of a few track boundaries' worth of watch intervals).
    pub calls_window_s: f64,
    /// `start`: members of the started session.
    pub start_members: usize,
    /// `start`: repetitions.
    pub start_runs: usize,
    /// `queue`: members of the big session.
    pub queue_members: usize,
    /// `queue`: members of the small session.
    pub queue_small: usize,
    /// `queue`: operations per second.
    pub queue_rate: f64,
    /// `queue`: seconds of operations per session.
    pub queue_secs: f64,
    /// `displays`: WebSocket members of the session.
    pub displays_members: usize,
    /// `displays`: display streams on the session.
    pub displays: usize,
    /// `displays`: track changes measured.
    pub displays_changes: usize,
}

impl Sizes {
    /// Defaults (or `--quick` ones), then any explicit overrides.
    pub fn resolve(args: &RunArgs) -> Sizes {
        let mut sizes = if args.quick {
            Sizes {
                members: 400,
                room_size: 10,
                big_room: 200,
                bursts: 2,
                big_room_bursts: 2,
                join_rate: 100.0,
                join_secs: 1.0,
                sessions: 40,
                sessions_fixed: false,
                quality_sessions: 8,
                // Predictive only, boundaries 6 s after the seeks, 4 s apart in all: the smoke
                // run stays short.
                quality_spread_s: 4.0,
                quality_lead_s: 6.0,
                quality_fixed: false,
                poll_cpu_sessions: 50,
                poll_cpu_window_s: 4.0,
                change_period_s: 1.0,
                window_s: 2.0,
                calls_sizes: vec![1, 10],
                // Longer than one predictive watch interval (5 s), so a window sees a poll.
                calls_window_s: 6.0,
                start_members: 10,
                start_runs: 2,
                queue_members: 50,
                queue_small: 5,
                queue_rate: 20.0,
                queue_secs: 2.0,
                displays_members: 100,
                displays: 100,
                displays_changes: 2,
            }
        } else {
            Sizes {
                members: 10_000,
                room_size: 10,
                big_room: 5_000,
                bursts: 3,
                big_room_bursts: 5,
                join_rate: 500.0,
                join_secs: 20.0,
                sessions: 2_000,
                sessions_fixed: false,
                quality_sessions: 80,
                // One boundary a second (N s for N sessions): about three times the rate of 80
                // sessions of 3–5 min tracks, so the seeks' extra polls fit the budget's headroom.
                quality_spread_s: 80.0,
                // Inside Sesh's commit window (15 s before the end), as every real track end is.
                quality_lead_s: 15.0,
                quality_fixed: true,
                poll_cpu_sessions: 1_000,
                poll_cpu_window_s: 30.0,
                change_period_s: 10.0,
                window_s: 15.0,
                calls_sizes: vec![1, 100],
                calls_window_s: 60.0,
                start_members: 50,
                start_runs: 5,
                queue_members: 200,
                queue_small: 10,
                queue_rate: 20.0,
                queue_secs: 30.0,
                displays_members: 5_000,
                displays: 5_000,
                displays_changes: 5,
            }
        };
        let set = |target: &mut usize, v: Option<usize>| *target = v.unwrap_or(*target);
        set(&mut sizes.members, args.members_n);
        set(&mut sizes.room_size, args.room_size);
        set(&mut sizes.big_room, args.big_room_n);
        set(&mut sizes.sessions, args.sessions_n);
        set(&mut sizes.poll_cpu_sessions, args.poll_cpu_n);
        sizes.poll_cpu_sessions = sizes.poll_cpu_sessions.max(1);
        if let Some(n) = args.quality_n {
            // The spread keeps its pace (seconds per session).
            sizes.quality_spread_s *= n.max(1) as f64 / sizes.quality_sessions as f64;
            sizes.quality_sessions = n.max(1);
        }
        sizes.sessions_fixed |= args.sessions_fixed;
        set(&mut sizes.queue_members, args.queue_n);
        set(&mut sizes.queue_small, args.queue_small_n);
        set(&mut sizes.displays_members, args.displays_members_n);
        set(&mut sizes.displays, args.displays_n);
        // The host is a member; a display needs no login.
        sizes.displays_members = sizes.displays_members.max(1);
        sizes.displays = sizes.displays.max(1);
        sizes.queue_members = sizes.queue_members.max(2);
        sizes.queue_small = sizes.queue_small.max(2);
        sizes.queue_rate = args.queue_rate.unwrap_or(sizes.queue_rate).max(0.1);
        sizes.queue_secs = args.queue_secs.unwrap_or(sizes.queue_secs);
        sizes.room_size = sizes.room_size.max(2);
        sizes.join_rate = args.join_rate.unwrap_or(sizes.join_rate);
        sizes.join_secs = args.join_secs.unwrap_or(sizes.join_secs);
        sizes.change_period_s = args.change_period_s.unwrap_or(sizes.change_period_s);
        sizes.window_s = args.window_s.unwrap_or(sizes.window_s);
        sizes
    }

    /// The measurement window.
    pub fn window(&self) -> Duration {
        Duration::from_secs_f64(self.window_s)
    }
}

impl RunArgs {
    /// Whether any scenario flag was given (none means all).
    fn any_scenario(&self) -> bool {
        self.members
            || self.big_room
            || self.join_storm
            || self.sessions
            || self.quality
            || self.poll_cpu
            || self.calls
            || self.start
            || self.queue
            || self.displays
    }

    /// Whether scenario `flag` runs.
    pub fn runs(&self, flag: bool) -> bool {
        flag || !self.any_scenario()
    }
}
