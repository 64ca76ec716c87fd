//! Building and running the application: database, Spotify (or the in-process emulator in demo
//! mode), the HTTP server, and a graceful shutdown on SIGTERM/Ctrl-C.

use std::{net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::Server, middleware, web};
use sesh_session::UserId;
use sesh_spotify::{CallObserver, ClientOptions, SpotifyClient, SpotifyConfig};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    accounts::Accounts,
    app::AppState,
    budget::RequestBudget,
    crypto::{KeyError, SecretKey, TokenCipher},
    db::{Database, DbError},
    hub::HubRegistry,
    limits::Limits,
    positions::PositionWriter,
    routes,
    settings::Settings,
    state::{Core, HubConfig},
};

pub use crate::demo::DEMO_CLIENT_ID;
use crate::demo::DemoSpotify;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `SESH_CLUSTER_NODES` does not name this instance (`SESH_NODE_ID`).
    #[error(
        "SESH_NODE_ID {node} is not one of SESH_CLUSTER_NODES ({nodes}): set it to this instance's address as the list writes it"
    )]
    NotOnRing {
        /// This instance's node id.
        node: String,
        /// The ring's addresses.
        nodes: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token key is missing or malformed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A secret's `_FILE` cannot be used, or both it and the variable are set.
    #[error(transparent)]
    SecretFile(#[from] crate::settings::SecretFileError),
    /// No Spotify client id, so demo mode, where anyone may log in as any demo account, on an
    /// address other machines can reach, and nobody said that was meant.
    #[error(
        "SPOTIFY_CLIENT_ID is not set, so Sesh would run in demo mode (anyone can log in as any \
         demo account) on {addr}, which is not a loopback address: set SPOTIFY_CLIENT_ID for \
         the real Spotify, or SESH_DEMO=1 to run the demo there on purpose"
    )]
    DemoNotConfirmed {
        /// The non-loopback address (Sesh's own or the demo emulator's).
        addr: std::net::SocketAddr,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database {url}: {source}")]
    Database {
        /// The database URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: DbError,
    },
    /// The Spotify settings are unusable.
    #[error("invalid Spotify settings: {0}")]
    Spotify(#[from] sesh_spotify::SpotifyError),
    /// Demo mode was asked for (no Spotify app configured) and could not start.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    /// `SESH_PUBLIC_URL` is not usable.
    #[error("invalid public URL: {0}")]
    PublicUrl(String),
    /// The HTTP server could not start.
    #[error("cannot start the HTTP server: {0}")]
    Server(#[source] std::io::Error),
    /// `/metrics` could not be served.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    core: Arc<Core>,
    hubs: HubRegistry,
    emulator: Option<DemoSpotify>,
    /// `/metrics` on `SESH_METRICS_LISTEN`, and its bound address.
    metrics: Option<(Server, std::net::SocketAddr)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("public_url", &self.core.public_url.as_str())
            .field("demo", &self.core.demo)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the database, starts the demo emulator when no Spotify app is configured, binds
    /// the listener and builds the server. Must be called inside a multi-thread Tokio runtime:
    /// hubs and pollers run on it (see `run_until_stopped`).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.listen).map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;
        Self::build_with_listener(settings, listener).await
    }

    /// Like [`Application::build`] on an already bound listener (`settings.listen` is ignored).
    /// Tests use it to know the port before anything else starts (the emulator must know the
    /// redirect URI).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let local = listener.local_addr().map_err(StartupError::Server)?;
        let public_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{local}"))
                .map_err(|e| StartupError::PublicUrl(e.to_string()))?,
        };
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host_str().is_none() {
            return Err(StartupError::PublicUrl(format!(
                "{public_url} must be an http(s) URL with a host"
            )));
        }
        let demo = settings.demo_mode();
        if demo && !settings.demo {
            // A forgotten SPOTIFY_CLIENT_ID must not open demo mode to the network; on loopback
            // (`cargo run`) only this machine can reach it.
            let exposed = [local, settings.demo_spotify_listen]
                .into_iter()
                .find(|addr| !addr.ip().to_canonical().is_loopback());
            if let Some(addr) = exposed {
                return Err(StartupError::DemoNotConfirmed { addr });
            }
        }
        let settings = settings.load_secret_files()?;

        let key = match (&settings.secret_key, demo) {
            (Some(key), _) => {
                SecretKey::from_base64(secrecy::ExposeSecret::expose_secret(key.secret()))?
            }
            (None, true) => SecretKey::load_or_generate(&settings.data_dir)?,
            (None, false) => return Err(KeyError::Missing.into()),
        };
        let db = Database::connect(&settings.database_url, TokenCipher::new(&key))
            .await
            .map_err(|source| StartupError::Database {
                url: crate::settings::without_password(&settings.database_url),
                source,
            })?
            .with_ownership(
                crate::settings::node_id(settings.node_id.as_deref(), local.port()),
                settings.lease_ttl.get(),
            );
        if let (Some(own), Some(ring)) = (db.ownership(), &settings.cluster_nodes)
            && !ring.nodes().iter().any(|n| n.address() == own.node())
        {
            let nodes = ring.nodes().iter().map(|n| n.address()).collect::<Vec<_>>();
            return Err(StartupError::NotOnRing {
                node: own.node().to_owned(),
                nodes: nodes.join(", "),
            });
        }
        tracing::info!(
            store = db.kind(),
            node = db.ownership().map(|own| own.node()),
            url = %crate::settings::without_password(&settings.database_url),
            "database open and migrated"
        );

        let origin = public_url.as_str().trim_end_matches('/').to_owned();
        let redirect_uri = format!("{origin}/auth/callback");
        let (spotify_config, emulator) = match &settings.spotify_client_id {
            Some(client_id) => (
                SpotifyConfig {
                    client_id: client_id.clone(),
                    client_secret: settings
                        .spotify_client_secret
                        .as_ref()
                        .map(|s| s.secret().clone()),
                    redirect_uri,
                    accounts_url: settings.spotify_accounts_url.clone(),
                    api_url: settings.spotify_api_url.clone(),
                },
                None,
            ),
            None => {
                let (config, emulator) = crate::demo::start(&settings, redirect_uri).await?;
                (config, Some(emulator))
            }
        };
        // The shared runtime the hubs and pollers run on.
        let runtime = tokio::runtime::Handle::current();
        let budget = RequestBudget::new(
            settings.spotify_budget_per_sec,
            settings.spotify_budget_per_sec.saturating_mul(2),
        );
        let spotify = SpotifyClient::with_options(
            spotify_config,
            ClientOptions {
                request_timeout: settings.spotify_timeout.get(),
                // Spotify connections live on the shared runtime, beside the pollers that use
                // them most: a connection opened by a login on an actix worker would otherwise
                // stay there, and every poll through it would cross to that (busy) worker.
                runtime: Some(runtime.clone()),
                observer: Some(spotify_observer(budget.clone())),
                ..ClientOptions::default()
            },
        )?;

        let shutdown = CancellationToken::new();
        crate::db::spawn_sweeper(
            db.clone(),
            settings.login_idle_timeout.get(),
            &runtime,
            shutdown.clone(),
        );
        let core = Arc::new(Core {
            accounts: Accounts::new(db.clone(), runtime.clone()),
            tracks: crate::tracks::TrackCache::default(),
            top_tracks: crate::tracks::OneAtATime::default(),
            positions: PositionWriter::spawn(db.clone(), &runtime, shutdown.clone()),
            db,
            spotify,
            limits: Arc::new(Limits::new(&settings)),
            budget,
            config: HubConfig {
                max_capacity: settings.max_capacity as usize,
                roster_limit: settings.roster_limit as usize,
                queue_window: settings.queue_window as usize,
                ws_queue: settings.ws_queue,
                displays_per_session: settings.displays_per_session,
                ws_ping_interval: settings.ws_ping_interval.get(),
                ws_client_timeout: settings.ws_client_timeout.get(),
                poll_mode: settings.poll_mode,
                poll_watch_interval: settings.poll_watch_interval.get(),
                poll_grid: settings.poll_grid.get(),
                poll_interval: settings.poll_interval.get(),
                poll_paused_interval: settings.poll_paused_interval.get(),
                playback_resync: settings.playback_resync.get(),
                hub_idle_timeout: settings.hub_idle_timeout.get(),
                session_idle_timeout: settings.session_idle_timeout.get(),
                session_end_warning: settings.session_end_warning.get(),
                host_timeout: settings.host_timeout.get(),
                listen_check_interval: settings.listen_check_interval.get(),
                listen_verify_delay: settings.listen_verify_delay.get(),
                login_idle_timeout: settings.login_idle_timeout.get(),
                max_live_sessions_per_user: settings.max_live_sessions_per_user as usize,
                spotify_seats: settings.spotify_seats,
                admins: settings
                    .admins
                    .iter()
                    .map(|id| id.trim())
                    .filter(|id| !id.is_empty())
                    .map(UserId::new)
                    .collect(),
            },
            public_url: public_url.clone(),
            runtime,
            shutdown,
            demo,
        });
        let metrics = match settings.metrics_listen {
            Some(addr) => Some(serve_metrics(addr, &core)?),
            None => None,
        };
        let hubs = HubRegistry::new(core.clone());
        hubs.spawn_idle_sweeper();
        hubs.spawn_lease_keeper();
        let bus = crate::cluster::bus::Bus::new(&core.db);
        if let Some(bus) = &bus {
            bus.spawn(core.clone());
        }
        let ring = settings.cluster_nodes.clone().map(Arc::new);
        if let Some(ring) = &ring {
            hubs.spawn_lease_sweeper(ring.clone());
        }
        let state = AppState {
            core: core.clone(),
            hubs: hubs.clone(),
            searches: Arc::default(),
            playlist_saves: Arc::default(),
            trusted_proxies: settings.trusted_proxies.clone().into(),
            ring,
            bus,
        };

        let data = web::Data::new(state);
        let headers_core = core.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(routes::json_config())
                .app_data(routes::path_config())
                .app_data(routes::query_config())
                .wrap(middleware::from_fn(routes::csrf_guard))
                .wrap(routes::security_headers(&headers_core))
                .wrap(middleware::from_fn(routes::request_log))
                .configure(routes::configure)
        })
        // We handle signals ourselves: sockets must be closed with 1001 before the workers stop.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.get().as_secs().max(1));
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server.listen(listener).map_err(StartupError::Server)?.run();

        if demo {
            let emulator_url = emulator.as_ref().map(DemoSpotify::base_url);
            tracing::warn!(
                emulator = emulator_url.as_deref().unwrap_or_default(),
                "DEMO MODE: no SPOTIFY_CLIENT_ID set, running against a simulated Spotify. \
                 Anyone who can reach this server can log in as any demo account (alice, bob, \
                 carol, ...) without a password. Set SPOTIFY_CLIENT_ID for the real thing."
            );
        }
        tracing::info!(listen = %local, public_url = %public_url, "Sesh is ready: open {public_url}");
        Ok(Self {
            port: local.port(),
            server,
            core,
            hubs,
            emulator,
            metrics,
        })
    }

    /// Where `/metrics` is served (`SESH_METRICS_LISTEN`, bound), if it is.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// The bound port (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL browsers use.
    pub fn public_url(&self) -> &Url {
        &self.core.public_url
    }

    /// The demo emulator's base URL, in demo mode.
    pub fn demo_spotify_url(&self) -> Option<String> {
        self.emulator.as_ref().map(DemoSpotify::base_url)
    }

    /// Cancel this to shut the server down gracefully (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.core.shutdown.clone()
    }

    /// The live hubs (for tests and metrics).
    pub fn hubs(&self) -> &HubRegistry {
        &self.hubs
    }

    /// Serves until SIGTERM, Ctrl-C or [`Application::shutdown_token`] is cancelled; then closes
    /// every WebSocket with 1001, lets in-flight requests finish (up to the shutdown timeout)
    /// and closes the database.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let Self {
            server,
            core,
            emulator,
            metrics,
            ..
        } = self;
        let metrics = metrics.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let result = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown_signal() => None,
            () = core.shutdown.cancelled() => None,
        };
        let result = match result {
            Some(result) => result,
            None => {
                tracing::info!("shutting down: closing sockets");
                core.shutdown.cancel();
                handle.stop(true).await;
                server.await
            }
        };
        core.shutdown.cancel();
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        if let Some(emulator) = emulator {
            emulator.stop();
        }
        // Positions recorded by the last track changes (normally already stored).
        core.positions.flush().await;
        if let Err(e) = core.db.leave().await {
            tracing::warn!(error = %e, "could not take this instance's heartbeat out");
        }
        core.db.close().await;
        tracing::info!("stopped");
        result.map_err(std::io::Error::other)?
    }
}

/// What the Spotify client reports each exchange to: the metrics (no-ops while no recorder is
/// installed: metrics off), and every `429` Spotify really answered to `budget`, which adapts
/// down (AIMD). A call the client held back itself (a `Retry-After` still running) is no
/// exchange, so no new signal.
fn spotify_observer(budget: RequestBudget) -> CallObserver {
    CallObserver::new(move |call| {
        if call.retry_after.is_some() {
            budget.note_rate_limited();
        }
        crate::metrics::spotify_call(call);
    })
}

/// Binds `addr` and serves `/metrics` there, its gauges of open subscribers and of the
/// budget read from `core` at each scrape.
fn serve_metrics(
    addr: std::net::SocketAddr,
    core: &Arc<Core>,
) -> Result<(Server, std::net::SocketAddr), StartupError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(StartupError::Server)?;
    let handle = crate::metrics::install()?;
    let read = Arc::downgrade(core);
    let collect = move || {
        if let Some(core) = read.upgrade() {
            let (sockets, displays) = core.limits.open_subscribers();
            crate::metrics::subscribers_open(sockets, displays);
            crate::metrics::budget_state(
                core.budget.available(),
                core.budget.rate(),
                core.budget.waiting(),
            );
        }
    };
    let server = crate::metrics::serve(
        listener,
        handle,
        collect,
        &core.runtime,
        core.shutdown.clone(),
    )?;
    tracing::info!(listen = %bound, "metrics at http://{bound}/metrics");
    Ok((server, bound))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
