//! Demo mode: Sesh against an in-process simulated Spotify (`sesh-spotify-emulator`), for
//! `cargo run` without a Spotify app. Only in builds with the `demo` cargo feature (the
//! default); a `--no-default-features` build has no emulator in it and needs
//! `SPOTIFY_CLIENT_ID`.

use sesh_spotify::SpotifyConfig;

use crate::settings::Settings;

/// Why demo mode did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo emulator could not start.
    #[error("cannot start the demo Spotify emulator: {0}")]
    Emulator(#[source] std::io::Error),
    /// The client configuration for it was refused.
    #[error(transparent)]
    Spotify(#[from] sesh_spotify::SpotifyError),
    /// No Spotify app is configured and this build has no demo mode.
    #[error(
        "SPOTIFY_CLIENT_ID is not set, and this sesh was built without demo mode (the `demo` \
         cargo feature): set SPOTIFY_CLIENT_ID (and SESH_SECRET_KEY)"
    )]
    NotBuilt,
}

/// Client id of the app registered with the demo-mode emulator.
pub const DEMO_CLIENT_ID: &str = "sesh-demo";

/// The running demo Spotify.
#[cfg(feature = "demo")]
pub type DemoSpotify = sesh_spotify_emulator::EmulatorHandle;

/// No demo Spotify can exist in a build without the `demo` feature.
#[cfg(not(feature = "demo"))]
#[derive(Debug)]
pub enum DemoSpotify {}

#[cfg(not(feature = "demo"))]
impl DemoSpotify {
    /// Unreachable: there is no value.
    pub fn base_url(&self) -> String {
        match *self {}
    }

    /// Unreachable: there is no value.
    pub fn stop(self) {
        match self {}
    }
}

/// Starts the demo Spotify for `redirect_uri`; the client configuration that talks to it.
#[cfg(feature = "demo")]
pub async fn start(
    settings: &Settings,
    redirect_uri: String,
) -> Result<(SpotifyConfig, DemoSpotify), DemoError> {
    use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig};
    let secret = crate::crypto::opaque_token();
    let emulator = Emulator::start(EmulatorConfig {
        listen: settings.demo_spotify_listen,
        apps: vec![AppRegistration::new(
            DEMO_CLIENT_ID,
            secret.clone(),
            redirect_uri.clone(),
        )],
        control_api: true,
        // The simulated Spotify keeps its tokens and players across restarts, as the real one
        // does.
        state_file: Some(settings.data_dir.join("spotify-emulator.json")),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(DemoError::Emulator)?;
    let base = url::Url::parse(&emulator.base_url())
        .map_err(|e| DemoError::Emulator(std::io::Error::other(e)))?;
    let config = SpotifyConfig::new(
        DEMO_CLIENT_ID,
        Some(secrecy::SecretString::from(secret)),
        redirect_uri,
    )?
    .with_base_url(base);
    Ok((config, emulator))
}

/// Without the `demo` feature there is nothing to start: a Spotify app is required.
#[cfg(not(feature = "demo"))]
pub async fn start(
    _settings: &Settings,
    _redirect_uri: String,
) -> Result<(SpotifyConfig, DemoSpotify), DemoError> {
    Err(DemoError::NotBuilt)
}
