//! Start-up settings: flags and environment variables (clap), with the defaults the README documents.

use std::{
    fmt,
    io::Read,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use url::Url;

/// Command line of the `sesh` binary: `sesh` and `sesh serve` both run the server.
#[derive(Debug, Parser)]
#[command(
    name = "sesh",
    version,
    about = "Self-hosted listening sessions for Spotify"
)]
pub struct Cli {
    /// What to do; the default is `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings (also accepted after `serve`).
    #[command(flatten)]
    pub settings: Settings,
}

/// Sub-commands of `sesh`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
}

/// Default of [`Settings::max_capacity`].
pub const DEFAULT_MAX_CAPACITY: u32 = 200;

/// Everything the server needs to start. Every field has a flag and an environment variable.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(
        long,
        env = "SESH_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// The URL browsers use to reach Sesh; redirect URIs, join links, the CSRF and WebSocket
    /// `Origin` checks are built from it. Default: `http://<listen address>`.
    #[arg(long, env = "SESH_PUBLIC_URL", global = true)]
    pub public_url: Option<Url>,

    /// The store: `sqlite://FILE` (the file is created if missing) or `postgres://…` (for
    /// several instances). A PostgreSQL password is best left out of the URL, in `PGPASSWORD`
    /// or a `.pgpass` file (`PGPASSFILE`); one in the URL is never logged.
    #[arg(
        long,
        env = "SESH_DATABASE_URL",
        default_value = "sqlite://sesh.db",
        global = true
    )]
    pub database_url: String,

    /// This instance's name among several on one PostgreSQL database (the owner of the
    /// sessions it runs, in `session_owner`). Unique per running process. Default: the host's
    /// name and the listen port (`host:8080`).
    #[arg(long, env = "SESH_NODE_ID", global = true)]
    pub node_id: Option<String>,

    /// How long a session's lease lasts on PostgreSQL without a renewal: an instance renews
    /// its leases every third of it, and another takes a session over once it passed. Between
    /// 1 s and 5 min.
    #[arg(long, env = "SESH_LEASE_TTL", default_value = "15s", global = true,
          value_parser = parse_lease_ttl)]
    pub lease_ttl: HumanDuration,

    /// The instances of a deployment on one PostgreSQL database, as Nginx's upstream lists them
    /// (`server` lines or addresses, separated by commas or new lines; `weight=` as in Nginx):
    /// the ring that tells which instance takes over a playing session whose instance died,
    /// before anyone opens it again. `SESH_NODE_ID` must then be one of these addresses.
    /// Unset: a session moves only when a member's request reaches another instance.
    #[arg(long, env = "SESH_CLUSTER_NODES", global = true)]
    pub cluster_nodes: Option<crate::cluster::ring::ClusterRing>,

    /// Directory for state that is not in the database (the demo-mode secret key).
    #[arg(long, env = "SESH_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Spotify app client id. Without it Sesh runs in demo mode against an in-process emulator.
    #[arg(long, env = "SPOTIFY_CLIENT_ID", global = true)]
    pub spotify_client_id: Option<String>,

    /// Allow demo mode (no `SPOTIFY_CLIENT_ID`) on a non-loopback address. Demo mode lets anyone
    /// log in as any demo account, so a forgotten client id must not start it where others can
    /// reach it; on loopback it starts without this.
    #[arg(
        long,
        env = "SESH_DEMO",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub demo: bool,

    /// Spotify app client secret (optional: PKCE works without it).
    #[arg(
        long,
        env = "SPOTIFY_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub spotify_client_secret: Option<Redacted>,

    /// File holding the Spotify client secret (e.g. a systemd credential), instead of
    /// `SPOTIFY_CLIENT_SECRET`: environment variables show in `docker inspect` and `/proc`.
    #[arg(long, env = "SPOTIFY_CLIENT_SECRET_FILE", global = true)]
    pub spotify_client_secret_file: Option<PathBuf>,

    /// Base URL of the Spotify accounts service.
    #[arg(
        long,
        env = "SESH_SPOTIFY_ACCOUNTS_URL",
        default_value = "https://accounts.spotify.com",
        global = true
    )]
    pub spotify_accounts_url: Url,

    /// Base URL of the Spotify Web API.
    #[arg(
        long,
        env = "SESH_SPOTIFY_API_URL",
        default_value = "https://api.spotify.com",
        global = true
    )]
    pub spotify_api_url: Url,

    /// 32 random bytes, base64, that encrypt Spotify tokens at rest (`openssl rand -base64 32`).
    /// Required outside demo mode; demo mode generates one into the data directory.
    #[arg(long, env = "SESH_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<Redacted>,

    /// File holding the token key (e.g. `$CREDENTIALS_DIRECTORY/secret_key`), instead of
    /// `SESH_SECRET_KEY`.
    #[arg(long, env = "SESH_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// Where the demo-mode emulator listens (demo mode only).
    #[arg(
        long,
        env = "SESH_DEMO_SPOTIFY_LISTEN",
        default_value = "127.0.0.1:8081",
        global = true
    )]
    pub demo_spotify_listen: SocketAddr,

    /// Where `GET /metrics` (Prometheus text format) is served, e.g. `127.0.0.1:9464`; unset:
    /// not served. Its own address, so the numbers are never public by accident: keep it off
    /// the public proxy.
    #[arg(long, env = "SESH_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format: `text` or `json`.
    #[arg(long, env = "SESH_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Proxies whose `X-Forwarded-For`/`X-Forwarded-Proto` headers are trusted: comma-separated
    /// IPs or CIDR ranges (`127.0.0.1,172.16.0.0/12`).
    #[arg(
        long,
        env = "SESH_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<ProxyRange>,

    /// Requests carrying an invite code (`GET /api/invites/{code}`, `POST /api/join/{code}`)
    /// allowed per client IP and minute, wrong codes included; `0` turns the limit off.
    #[arg(long, env = "SESH_INVITE_RATE", default_value_t = 60, global = true)]
    pub invite_rate_per_min: u32,

    /// Open WebSockets allowed per user (all sessions together); further handshakes get 429.
    #[arg(long, env = "SESH_WS_MAX_PER_USER", default_value_t = 8, global = true)]
    pub ws_max_per_user: usize,

    /// Open display streams (`GET /d/{key}/events`) allowed per session; more get
    /// `503 too_many_displays`.
    #[arg(
        long,
        env = "SESH_DISPLAYS_PER_SESSION",
        default_value_t = 500,
        global = true
    )]
    pub displays_per_session: usize,

    /// Open display streams allowed per client address (IPv6: per /64); more get 429.
    #[arg(
        long,
        env = "SESH_DISPLAYS_PER_IP",
        default_value_t = 20,
        global = true
    )]
    pub displays_per_ip: usize,

    /// Display requests (stream, now-playing JSON and text, QR code) allowed per client
    /// address and minute; `0` turns the limit off.
    #[arg(long, env = "SESH_DISPLAY_RATE", default_value_t = 300, global = true)]
    pub display_rate_per_min: u32,

    /// Interval between server WebSocket pings (e.g. `15s`, `500ms`).
    #[arg(
        long,
        env = "SESH_WS_PING_INTERVAL",
        default_value = "15s",
        global = true
    )]
    pub ws_ping_interval: HumanDuration,

    /// A WebSocket client silent for this long is closed.
    #[arg(
        long,
        env = "SESH_WS_CLIENT_TIMEOUT",
        default_value = "45s",
        global = true
    )]
    pub ws_client_timeout: HumanDuration,

    /// Most members a host may ask for when creating a session (`capacity`); larger requests
    /// answer `400 invalid_capacity`.
    #[arg(
        long,
        env = "SESH_MAX_CAPACITY",
        default_value_t = DEFAULT_MAX_CAPACITY,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub max_capacity: u32,

    /// Sessions with at most this many members list every member in snapshots and announce
    /// each join, leave and presence change; bigger ones list this many and send counts (at
    /// most once a second) instead, so no event costs O(members²) frames.
    #[arg(
        long,
        env = "SESH_ROSTER_LIMIT",
        default_value_t = 200,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub roster_limit: u32,

    /// Queues of at most this many entries are sent whole; longer ones as a window of this
    /// many entries around the now-playing one (the rest is paged over HTTP).
    #[arg(
        long,
        env = "SESH_QUEUE_WINDOW",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(10..),
        global = true
    )]
    pub queue_window: u32,

    /// Frames buffered per WebSocket connection; a client that falls this far behind is
    /// disconnected (close 1008).
    #[arg(long, env = "SESH_WS_QUEUE", default_value_t = 256, global = true)]
    pub ws_queue: usize,

    /// How the host's player is polled: `predictive` (a poll just after each track's predicted
    /// end, one to confirm each command Sesh sends, and between those a check every
    /// `SESH_POLL_WATCH_INTERVAL` for changes made in the host's own Spotify app) or `fixed`
    /// (every `SESH_POLL_INTERVAL` while playing: about four times the calls).
    #[arg(
        long,
        env = "SESH_POLL_MODE",
        value_enum,
        default_value = "predictive",
        global = true
    )]
    pub poll_mode: PollMode,

    /// Predictive polling: how often a playing session is checked between track ends for
    /// changes made outside Sesh (the host skips or pauses in their own Spotify app, the device
    /// goes away). Such a change is seen at most this late; shorter costs more Spotify calls
    /// (a playing session costs about 60 s ÷ this + 2 calls a minute).
    #[arg(
        long,
        env = "SESH_POLL_WATCH_INTERVAL",
        default_value = "5s",
        global = true
    )]
    pub poll_watch_interval: HumanDuration,

    /// Pollers wake on one shared grid of this step (either mode), so the polls due within
    /// one step share one wake-up of the server instead of one each: about a third less CPU
    /// per poll, for polls up to this much later than scheduled. `0ms`: every poll at its
    /// exact time. At most 1 s.
    #[arg(long, env = "SESH_POLL_GRID", default_value = "20ms", global = true,
          value_parser = parse_poll_grid)]
    pub poll_grid: HumanDuration,

    /// Player poll interval while a session plays (`SESH_POLL_MODE=fixed`; with `predictive`,
    /// for a few seconds after something unexpected happened).
    #[arg(long, env = "SESH_POLL_INTERVAL", default_value = "1s", global = true)]
    pub poll_interval: HumanDuration,

    /// Player poll interval while paused or idle.
    #[arg(
        long,
        env = "SESH_POLL_PAUSED_INTERVAL",
        default_value = "5s",
        global = true
    )]
    pub poll_paused_interval: HumanDuration,

    /// A `playback` event is re-sent at least this often even without a change.
    #[arg(
        long,
        env = "SESH_PLAYBACK_RESYNC",
        default_value = "15s",
        global = true
    )]
    pub playback_resync: HumanDuration,

    /// App-wide Spotify request budget shared by all pollers (requests per second).
    #[arg(long, env = "SESH_SPOTIFY_BUDGET", default_value_t = 20, global = true)]
    pub spotify_budget_per_sec: u32,

    /// Time limit of one Spotify request; a slower answer counts as Spotify being unavailable
    /// (reads are retried with backoff).
    #[arg(
        long,
        env = "SESH_SPOTIFY_TIMEOUT",
        default_value = "10s",
        global = true
    )]
    pub spotify_timeout: HumanDuration,

    /// Idle hubs (no connected member, not playing) are unloaded after this long; they come back
    /// from the database on the next request.
    #[arg(
        long,
        env = "SESH_HUB_IDLE_TIMEOUT",
        default_value = "5m",
        global = true
    )]
    pub hub_idle_timeout: HumanDuration,

    /// A live session nobody is connected to (no member, no display), or whose music is
    /// paused, for this long becomes idle: its poller stops, and it ends
    /// `SESH_SESSION_END_WARNING` later unless a member acts. `0s`: sessions never end by
    /// themselves.
    #[arg(
        long,
        env = "SESH_SESSION_IDLE_TIMEOUT",
        default_value = "30m",
        global = true
    )]
    pub session_idle_timeout: HumanDuration,

    /// A playing session whose host has no socket open this long is handed to the
    /// longest-serving co-host (on their active device); with none, the music pauses and any
    /// member may take the session over.
    #[arg(long, env = "SESH_HOST_TIMEOUT", default_value = "10m", global = true)]
    pub host_timeout: HumanDuration,

    /// How many distinct Spotify users this instance may serve: an app in Spotify's
    /// development mode serves five allow-listed users (set it to the number you listed in the
    /// dashboard); `0` means no limit (an app with extended quota). A login past it is offered
    /// to join as a spectator instead; the owner frees seats.
    #[arg(long, env = "SESH_SPOTIFY_SEATS", default_value_t = 5, global = true)]
    pub spotify_seats: u32,

    /// Spotify user ids of the instance's owners (comma-separated), who see and free the
    /// Spotify seats; empty: the first user who logged in.
    #[arg(long, env = "SESH_ADMINS", value_delimiter = ',', global = true)]
    pub admins: Vec<String>,

    /// How often Sesh reads a listener's player between commands, only to notice that they
    /// left (played something else): about two calls a minute per listener.
    #[arg(
        long,
        env = "SESH_LISTEN_CHECK_INTERVAL",
        default_value = "30s",
        global = true
    )]
    pub listen_check_interval: HumanDuration,

    /// How long after a command to a listener's player Sesh reads it back to measure the
    /// drift (corrected past 2 s, at most once per 20 s).
    #[arg(
        long,
        env = "SESH_LISTEN_VERIFY_DELAY",
        default_value = "4s",
        global = true
    )]
    pub listen_verify_delay: HumanDuration,

    /// How long an idle session waits, its members warned, before it ends.
    #[arg(
        long,
        env = "SESH_SESSION_END_WARNING",
        default_value = "2m",
        global = true
    )]
    pub session_end_warning: HumanDuration,

    /// Time allowed for a graceful shutdown.
    #[arg(
        long,
        env = "SESH_SHUTDOWN_TIMEOUT",
        default_value = "5s",
        global = true
    )]
    pub shutdown_timeout: HumanDuration,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SESH_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Login starts (`/auth/login`) and callbacks (`/auth/callback`) allowed per client address
    /// (IPv6: per /64) and minute, in bursts of as many; `0` turns the limit off.
    #[arg(long, env = "SESH_LOGIN_RATE", default_value_t = 60, global = true)]
    pub login_rate_per_min: u32,

    /// A login unused for this long ends (besides its absolute 30-day lifetime).
    #[arg(
        long,
        env = "SESH_LOGIN_IDLE_TIMEOUT",
        default_value = "168h",
        global = true
    )]
    pub login_idle_timeout: HumanDuration,

    /// Requests per user and minute that reach Spotify on the user's behalf (player commands,
    /// device lists, starts; over HTTP and WebSocket together), in bursts of up to 10; `0`
    /// turns the limit off.
    #[arg(
        long,
        env = "SESH_SPOTIFY_USER_RATE",
        default_value_t = 60,
        global = true
    )]
    pub spotify_user_rate_per_min: u32,

    /// Live (not ended) sessions one user may host at once.
    #[arg(
        long,
        env = "SESH_MAX_LIVE_SESSIONS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub max_live_sessions_per_user: u32,

    /// Sessions one user may create per hour; `0` turns the limit off.
    #[arg(
        long,
        env = "SESH_SESSIONS_PER_HOUR",
        default_value_t = 20,
        global = true
    )]
    pub sessions_per_hour: u32,

    /// Track searches one member may make per minute (`GET /api/sessions/{id}/search`),
    /// answered from the cache or not, in bursts of as many; `0` turns the limit off.
    #[arg(
        long,
        env = "SESH_SEARCHES_PER_MINUTE",
        default_value_t = 20,
        global = true
    )]
    pub searches_per_minute: u32,

    /// Changes of the queue one member may make per minute (adds, removals, bans, votes, skip
    /// votes, queue settings; HTTP and WebSocket together), in bursts of 20; `0` turns the
    /// limit off.
    #[arg(
        long,
        env = "SESH_QUEUE_ACTIONS_PER_MINUTE",
        default_value_t = 120,
        global = true
    )]
    pub queue_actions_per_minute: u32,

    /// Chat messages one member may send per 10 seconds (HTTP and WebSocket together); `0`
    /// turns the limit off.
    #[arg(long, env = "SESH_CHAT_PER_MEMBER", default_value_t = 5, global = true)]
    pub chat_per_member: u32,

    /// Chat messages one session takes per 10 seconds, from all its members; `0` turns the
    /// limit off.
    #[arg(
        long,
        env = "SESH_CHAT_PER_SESSION",
        default_value_t = 60,
        global = true
    )]
    pub chat_per_session: u32,

    /// Reactions (to messages and to the playing track) one member may toggle per 10
    /// seconds; `0` turns the limit off.
    #[arg(
        long,
        env = "SESH_REACTIONS_PER_MEMBER",
        default_value_t = 20,
        global = true
    )]
    pub reactions_per_member: u32,
}

impl Settings {
    /// Settings with every default, for tests and embedding (`listen` on a free loopback port).
    pub fn for_tests(database_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let mut settings = Cli::parse_from(["sesh"]).settings;
        settings.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.demo_spotify_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.database_url = database_url.into();
        settings.data_dir = data_dir.into();
        settings.workers = Some(2);
        // Tests log in more accounts than a development-mode app serves; the seat tests set
        // their own limit.
        settings.spotify_seats = 0;
        settings
    }

    /// Whether Sesh runs against an in-process emulator (no Spotify client id configured).
    pub fn demo_mode(&self) -> bool {
        self.spotify_client_id.is_none()
    }

    /// Reads `SPOTIFY_CLIENT_SECRET_FILE` and `SESH_SECRET_KEY_FILE` into
    /// [`Settings::spotify_client_secret`] and [`Settings::secret_key`], so the rest of start-up
    /// sees one value per secret wherever it came from.
    pub fn load_secret_files(mut self) -> Result<Self, SecretFileError> {
        self.spotify_client_secret = from_value_or_file(
            "SPOTIFY_CLIENT_SECRET",
            self.spotify_client_secret.take(),
            self.spotify_client_secret_file.as_deref(),
        )?;
        self.secret_key = from_value_or_file(
            "SESH_SECRET_KEY",
            self.secret_key.take(),
            self.secret_key_file.as_deref(),
        )?;
        Ok(self)
    }
}

/// Largest secret file read; a secret is a few dozen bytes, so anything bigger is the wrong file
/// (and `/dev/zero` must not hang start-up).
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Why a secret given as a file (`…_FILE`) cannot be used. Never carries the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The secret and its `_FILE` twin are both set: which one was meant is a guess.
    #[error("both {var} and {var}_FILE are set; set only one of them")]
    Both {
        /// The variable, e.g. `SESH_SECRET_KEY`.
        var: &'static str,
    },
    /// The file cannot be read (missing, no permission, a directory, not UTF-8, too big).
    #[error("cannot read {var}_FILE {path}: {reason}")]
    Unreadable {
        /// The variable, e.g. `SESH_SECRET_KEY`.
        var: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (an I/O error or a size; never the content).
        reason: String,
    },
    /// The file is empty, or holds nothing but newlines.
    #[error("{var}_FILE {path} is empty")]
    Empty {
        /// The variable, e.g. `SESH_SECRET_KEY`.
        var: &'static str,
        /// The file.
        path: PathBuf,
    },
}

/// The secret `var`: its value, or the content of its `_FILE` (trailing newline trimmed).
fn from_value_or_file(
    var: &'static str,
    value: Option<Redacted>,
    file: Option<&Path>,
) -> Result<Option<Redacted>, SecretFileError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(SecretFileError::Both { var }),
        (value, None) => Ok(value),
        (None, Some(path)) => read_secret_file(var, path).map(Some),
    }
}

fn read_secret_file(var: &'static str, path: &Path) -> Result<Redacted, SecretFileError> {
    let unreadable = |reason: String| SecretFileError::Unreadable {
        var,
        path: path.to_owned(),
        reason,
    };
    let mut content = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_SECRET_FILE + 1).read_to_string(&mut content))
        .map_err(|e| unreadable(e.to_string()))?;
    if content.len() as u64 > MAX_SECRET_FILE {
        return Err(unreadable(format!(
            "larger than {} KiB, not a secret",
            MAX_SECRET_FILE / 1024
        )));
    }
    // `echo secret > file` and editors add a newline that is not part of the secret.
    let len = content.trim_end_matches(['\n', '\r']).len();
    content.truncate(len);
    if content.is_empty() {
        return Err(SecretFileError::Empty {
            var,
            path: path.to_owned(),
        });
    }
    // Moved, not copied: the only copy of the secret is the `SecretString`, zeroed on drop.
    Ok(Redacted::from(content))
}

/// `url` with its password (if any) replaced by `***`, for logs and errors.
pub fn without_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only URLs that cannot have a password refuse one, and this one has one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparseable: it may still hold a password somewhere.
        Err(_) if url.contains('@') => "<a database URL that does not parse>".to_owned(),
        Err(_) => url.to_owned(),
    }
}

impl fmt::Debug for Settings {
    // Written out by hand so a secret can never end up in a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("database_url", &without_password(&self.database_url))
            .field("node_id", &self.node_id)
            .field("lease_ttl", &self.lease_ttl)
            .field(
                "cluster_nodes",
                &self.cluster_nodes.as_ref().map(|r| r.nodes().len()),
            )
            .field("data_dir", &self.data_dir)
            .field("spotify_client_id", &self.spotify_client_id)
            .field("demo", &self.demo)
            .field("spotify_client_secret", &self.spotify_client_secret)
            .field(
                "spotify_client_secret_file",
                &self.spotify_client_secret_file,
            )
            .field("spotify_accounts_url", &self.spotify_accounts_url.as_str())
            .field("spotify_api_url", &self.spotify_api_url.as_str())
            .field("secret_key", &self.secret_key)
            .field("secret_key_file", &self.secret_key_file)
            .field("demo_spotify_listen", &self.demo_spotify_listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("log_format", &self.log_format)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("invite_rate_per_min", &self.invite_rate_per_min)
            .field("ws_max_per_user", &self.ws_max_per_user)
            .field("displays_per_session", &self.displays_per_session)
            .field("displays_per_ip", &self.displays_per_ip)
            .field("display_rate_per_min", &self.display_rate_per_min)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .field("ws_client_timeout", &self.ws_client_timeout)
            .field("max_capacity", &self.max_capacity)
            .field("roster_limit", &self.roster_limit)
            .field("queue_window", &self.queue_window)
            .field("ws_queue", &self.ws_queue)
            .field("poll_mode", &self.poll_mode)
            .field("poll_watch_interval", &self.poll_watch_interval)
            .field("poll_grid", &self.poll_grid)
            .field("poll_interval", &self.poll_interval)
            .field("poll_paused_interval", &self.poll_paused_interval)
            .field("playback_resync", &self.playback_resync)
            .field("spotify_budget_per_sec", &self.spotify_budget_per_sec)
            .field("spotify_timeout", &self.spotify_timeout)
            .field("hub_idle_timeout", &self.hub_idle_timeout)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_end_warning", &self.session_end_warning)
            .field("host_timeout", &self.host_timeout)
            .field("spotify_seats", &self.spotify_seats)
            .field("admins", &self.admins)
            .field("listen_check_interval", &self.listen_check_interval)
            .field("listen_verify_delay", &self.listen_verify_delay)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("workers", &self.workers)
            .finish()
    }
}

/// A secret string from the command line or environment; `Debug` never shows it.
#[derive(Clone)]
pub struct Redacted(SecretString);

impl Redacted {
    /// The secret, for the one place that needs it.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl From<&str> for Redacted {
    fn from(value: &str) -> Self {
        Self(SecretString::from(value.to_owned()))
    }
}

impl From<String> for Redacted {
    fn from(value: String) -> Self {
        Self(SecretString::from(value))
    }
}

impl FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A trusted proxy: one address (`10.0.0.1`, `::1`) or a CIDR range (`172.16.0.0/12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange(ipnet::IpNet);

impl ProxyRange {
    /// Whether `ip` is inside the range. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, as dual-stack
    /// listeners report them) match IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl From<IpAddr> for ProxyRange {
    fn from(ip: IpAddr) -> Self {
        Self(ipnet::IpNet::from(ip.to_canonical()))
    }
}

impl From<[u8; 4]> for ProxyRange {
    fn from(octets: [u8; 4]) -> Self {
        Self::from(IpAddr::from(octets))
    }
}

/// A `SESH_TRUSTED_PROXIES` entry that is neither an IP nor a CIDR range.
#[derive(Debug, thiserror::Error)]
#[error("invalid proxy {0:?}: use an IP (10.0.0.1) or a CIDR range (172.16.0.0/12)")]
pub struct ProxyRangeError(String);

impl FromStr for ProxyRange {
    type Err = ProxyRangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let err = || ProxyRangeError(s.to_owned());
        let Some((addr, prefix)) = s.split_once('/') else {
            return s.parse::<IpAddr>().map(Self::from).map_err(|_| err());
        };
        // The address as the peer would be seen (an IPv4-mapped IPv6 address is IPv4), and a
        // prefix no longer than that family's.
        let addr = addr.parse::<IpAddr>().map_err(|_| err())?.to_canonical();
        let prefix: u8 = prefix.parse().map_err(|_| err())?;
        ipnet::IpNet::new(addr, prefix).map(Self).map_err(|_| err())
    }
}

impl fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

/// How the host's player is polled (`SESH_POLL_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PollMode {
    /// Polls where they buy something: track ends, Sesh's own commands, a watch interval.
    Predictive,
    /// Every `SESH_POLL_INTERVAL` while playing.
    Fixed,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A duration written as `500ms`, `15s`, `5m` or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

/// `SESH_LEASE_TTL`: between one second and five minutes.
fn parse_lease_ttl(s: &str) -> Result<HumanDuration, String> {
    let ttl: HumanDuration = s.parse().map_err(|e: DurationError| e.to_string())?;
    if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&ttl.get()) {
        return Err(format!("{s:?} is not between 1s and 5m"));
    }
    Ok(ttl)
}

/// This instance's node id: `SESH_NODE_ID`, else the host's name and `port`.
pub fn node_id(configured: Option<&str>, port: u16) -> String {
    if let Some(id) = configured.map(str::trim).filter(|id| !id.is_empty()) {
        return id.to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "sesh".to_owned());
    format!("{host}:{port}")
}

/// `SESH_POLL_GRID`: a duration of at most one second.
fn parse_poll_grid(s: &str) -> Result<HumanDuration, String> {
    let grid: HumanDuration = s.parse().map_err(|e: DurationError| e.to_string())?;
    if grid.get() > Duration::from_secs(1) {
        return Err(format!("{s:?} is longer than 1s"));
    }
    Ok(grid)
}

/// A duration setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {0:?}: use e.g. 500ms, 15s, 5m, 168h or a number of seconds")]
pub struct DurationError(String);

impl FromStr for HumanDuration {
    type Err = DurationError;
    /// `humantime`'s durations (`500ms`, `15s`, `5m`, `1h 30m`, `7d`), or a whole number of
    /// seconds; anything out of range is an error, never a panic.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(seconds) = s.parse::<u64>() {
            return Ok(Self(Duration::from_secs(seconds)));
        }
        humantime::parse_duration(s)
            .map(Self)
            .map_err(|_| DurationError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(
            "15s".parse::<HumanDuration>().unwrap().get(),
            Duration::from_secs(15)
        );
        assert_eq!(
            "250ms".parse::<HumanDuration>().unwrap().get(),
            Duration::from_millis(250)
        );
        assert_eq!(
            "5m".parse::<HumanDuration>().unwrap().get(),
            Duration::from_secs(300)
        );
        assert_eq!(
            "2".parse::<HumanDuration>().unwrap().get(),
            Duration::from_secs(2)
        );
        assert_eq!(
            "168h".parse::<HumanDuration>().unwrap().get(),
            Duration::from_secs(7 * 24 * 3600)
        );
        assert!("-1s".parse::<HumanDuration>().is_err());
        assert!("soon".parse::<HumanDuration>().is_err());
        // The hand-written parser this replaced panicked on these.
        for huge in ["1e20s", "18446744073709551616s", "99999999999999999999h"] {
            assert!(huge.parse::<HumanDuration>().is_err(), "{huge}");
        }
    }

    #[test]
    fn defaults_match_the_readme() {
        let s = Cli::try_parse_from(["sesh"]).unwrap().settings;
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.database_url, "sqlite://sesh.db");
        assert_eq!(s.ws_ping_interval.get(), Duration::from_secs(15));
        assert_eq!(s.ws_client_timeout.get(), Duration::from_secs(45));
        assert_eq!(s.spotify_api_url.as_str(), "https://api.spotify.com/");
        assert_eq!(s.metrics_listen, None, "metrics are off unless asked for");
        assert_eq!(s.poll_grid.get(), Duration::from_millis(20));
    }

    #[test]
    fn a_lease_lasts_between_a_second_and_five_minutes_and_a_node_is_named() {
        let ttl = |v: &str| Cli::try_parse_from(["sesh", "--lease-ttl", v]);
        assert_eq!(
            Cli::try_parse_from(["sesh"])
                .unwrap()
                .settings
                .lease_ttl
                .get(),
            Duration::from_secs(15)
        );
        assert_eq!(
            ttl("3s").unwrap().settings.lease_ttl.get(),
            Duration::from_secs(3)
        );
        assert!(ttl("500ms").is_err());
        assert!(ttl("6m").is_err());
        assert_eq!(node_id(Some(" a:1 "), 9), "a:1");
        assert!(node_id(None, 8123).ends_with(":8123"));
        assert!(node_id(Some(""), 8123).ends_with(":8123"));
    }

    #[test]
    fn the_poll_grid_is_at_most_a_second() {
        let grid = |v: &str| Cli::try_parse_from(["sesh", "--poll-grid", v]);
        assert_eq!(
            grid("0ms").unwrap().settings.poll_grid.get(),
            Duration::ZERO
        );
        assert_eq!(
            grid("1s").unwrap().settings.poll_grid.get(),
            Duration::from_secs(1)
        );
        assert!(grid("1001ms").is_err());
        assert!(grid("soon").is_err());
    }

    #[test]
    fn trusted_proxies_accept_ips_and_cidr_ranges() {
        let cli = Cli::try_parse_from([
            "sesh",
            "--trusted-proxies",
            "127.0.0.1, 172.16.0.0/12,::1,fd00::/8",
        ])
        .unwrap();
        let proxies = cli.settings.trusted_proxies;
        assert_eq!(proxies.len(), 4);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(proxies[0].contains(ip("127.0.0.1")));
        assert!(!proxies[0].contains(ip("127.0.0.2")));
        assert!(proxies[1].contains(ip("172.16.0.1")));
        assert!(proxies[1].contains(ip("172.31.255.254")));
        assert!(!proxies[1].contains(ip("172.32.0.1")));
        assert!(!proxies[1].contains(ip("10.0.0.1")));
        // Dual-stack listeners report IPv4 peers as IPv4-mapped IPv6.
        assert!(proxies[1].contains(ip("::ffff:172.20.0.3")));
        assert!(proxies[2].contains(ip("::1")));
        assert!(proxies[3].contains(ip("fd12:3456::1")));
        assert!(!proxies[3].contains(ip("fe80::1")));
        assert!(
            "0.0.0.0/0"
                .parse::<ProxyRange>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "fd00::/129", "proxy", "10.0.0.0/x", "/8"] {
            assert!(bad.parse::<ProxyRange>().is_err(), "{bad}");
        }
        assert!(Cli::try_parse_from(["sesh", "--trusted-proxies", "nginx"]).is_err());
    }

    #[test]
    fn serve_accepts_flags_after_the_subcommand() {
        let cli = Cli::try_parse_from(["sesh", "serve", "--listen", "127.0.0.1:9000"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.settings.listen, "127.0.0.1:9000".parse().unwrap());
    }

    #[test]
    fn secrets_do_not_print() {
        let mut s = Cli::try_parse_from(["sesh"]).unwrap().settings;
        s.secret_key = Some(Redacted::from("c2VjcmV0"));
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
        s.database_url = "postgres://sesh:hunter2@db.internal:5432/sesh".into();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://sesh:***@db.internal:5432/sesh"),
            "{shown}"
        );
    }

    #[test]
    fn database_urls_lose_only_their_password() {
        assert_eq!(without_password("sqlite://sesh.db"), "sqlite://sesh.db");
        assert_eq!(
            without_password("postgres://sesh@127.0.0.1/sesh"),
            "postgres://sesh@127.0.0.1/sesh"
        );
        assert_eq!(
            without_password("postgresql://u:p%40ss@h/db?sslmode=require"),
            "postgresql://u:***@h/db?sslmode=require"
        );
        assert!(!without_password("postgres://u:secret@[bad/db").contains("secret"));
    }

    fn exposed(secret: &Option<Redacted>) -> &str {
        secrecy::ExposeSecret::expose_secret(secret.as_ref().expect("a secret").secret())
    }

    #[test]
    fn secrets_can_come_from_files_without_their_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("secret_key");
        let client_file = dir.path().join("spotify_client_secret");
        std::fs::write(&key_file, "c2VjcmV0a2V5\n").unwrap();
        std::fs::write(&client_file, "client-secret\r\n").unwrap();
        let s = Cli::try_parse_from([
            "sesh",
            "--secret-key-file",
            key_file.to_str().unwrap(),
            "--spotify-client-secret-file",
            client_file.to_str().unwrap(),
        ])
        .unwrap()
        .settings
        .load_secret_files()
        .unwrap();
        assert_eq!(exposed(&s.secret_key), "c2VjcmV0a2V5");
        assert_eq!(exposed(&s.spotify_client_secret), "client-secret");
        let debug = format!("{s:?}");
        assert!(!debug.contains("c2VjcmV0a2V5"), "{debug}");
        assert!(!debug.contains("client-secret"), "{debug}");

        // Without files the values stay as they were.
        let mut plain = Cli::try_parse_from(["sesh"]).unwrap().settings;
        plain.secret_key = Some(Redacted::from("inline"));
        let plain = plain.load_secret_files().unwrap();
        assert_eq!(exposed(&plain.secret_key), "inline");
        assert!(plain.spotify_client_secret.is_none());
    }

    #[test]
    fn a_secret_and_its_file_twin_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-the-file\n").unwrap();
        for var in ["SESH_SECRET_KEY", "SPOTIFY_CLIENT_SECRET"] {
            let mut s = Cli::try_parse_from(["sesh"]).unwrap().settings;
            if var == "SESH_SECRET_KEY" {
                s.secret_key = Some(Redacted::from("inline-value"));
                s.secret_key_file = Some(file.clone());
            } else {
                s.spotify_client_secret = Some(Redacted::from("inline-value"));
                s.spotify_client_secret_file = Some(file.clone());
            }
            let err = s.load_secret_files().unwrap_err();
            assert!(matches!(err, SecretFileError::Both { var: v } if v == var));
            let message = err.to_string();
            assert_eq!(
                message,
                format!("both {var} and {var}_FILE are set; set only one of them")
            );
        }
    }

    #[test]
    fn an_unusable_secret_file_names_the_path_but_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let big = dir.path().join("big");
        let content = "s3cr3t".repeat(20_000);
        std::fs::write(&big, &content).unwrap();
        let cases = [
            (missing.clone(), "cannot read SESH_SECRET_KEY_FILE"),
            // A directory: opening works, reading does not.
            (dir.path().to_owned(), "cannot read SESH_SECRET_KEY_FILE"),
            (empty.clone(), "is empty"),
            (big.clone(), "larger than 64 KiB"),
        ];
        for (path, expected) in cases {
            let mut s = Cli::try_parse_from(["sesh"]).unwrap().settings;
            s.secret_key_file = Some(path.clone());
            let message = s.load_secret_files().unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
            assert!(
                message.contains(&path.display().to_string()),
                "names the path: {message}"
            );
            assert!(!message.contains("s3cr3t"), "{message}");
        }
    }

    #[test]
    fn demo_is_off_unless_asked_for() {
        let s = Cli::try_parse_from(["sesh"]).unwrap().settings;
        assert!(!s.demo, "off by default");
        assert!(
            Cli::try_parse_from(["sesh", "--demo"])
                .unwrap()
                .settings
                .demo
        );
        let serve = Cli::try_parse_from(["sesh", "serve", "--demo"]).unwrap();
        assert!(serve.settings.demo);
    }
}
