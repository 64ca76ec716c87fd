//! Optional persistence of the emulator's mutable world (credentials, players, devices,
//! playlists, the virtual clock) in one JSON file, so a restarted emulator continues where it left off, as
//! the real Spotify does across our restarts.
//!
//! A change only marks the world dirty (an atomic flag and a wake-up, so the request path
//! stays fast); a background writer saves at most every [`SAVE_INTERVAL`], atomically
//! (temporary file in the same directory, then rename) with mode 0600 because the file holds
//! live tokens. A `kill -9` loses at most the changes of the last interval. The file is not
//! fsynced: it survives the process dying, not the machine losing power.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::auth::{AuthStore, SavedAuth};
use crate::clock::wall_ms;
use crate::player::{Player, SavedPlayer};
use crate::playlists::{Playlists, SavedPlaylists};
use crate::state::AppState;
use crate::world::{Device, Live, User};

/// The `format` field every state file carries.
pub(crate) const FORMAT: &str = "sesh-spotify-emulator-state";
/// The layout version this emulator writes and reads; any other is started over.
pub(crate) const VERSION: u32 = 1;
/// The writer saves at most this often, and at most this long after a change.
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_millis(200);

/// The whole file.
#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    /// Real Unix milliseconds of the save, for people reading the file.
    saved_at_ms: i64,
    /// The virtual clock's offset; anchors below are virtual times, so with the same offset
    /// a player keeps advancing through the downtime exactly as it would have.
    clock_offset_ms: i64,
    auth: SavedAuth,
    /// Users whose devices or player differ from how they started; the rest are rebuilt.
    users: BTreeMap<String, SavedUser>,
    /// Every playlist; absent in files written before playlists existed.
    #[serde(default)]
    playlists: SavedPlaylists,
}

/// What is read first, so that another version is told apart from a corrupt file.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct SavedUser {
    devices: Vec<Device>,
    player: SavedPlayer,
}

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot read the state file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the state file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the state file is not valid JSON of the expected shape")]
    Malformed(#[from] serde_json::Error),
    #[error("not an emulator state file (format {0:?})")]
    WrongFormat(String),
    #[error("state file version {found}; this emulator reads version {VERSION}")]
    WrongVersion { found: u32 },
    #[error("the state file does not fit this emulator: {0}")]
    Incompatible(String),
}

/// The decoded file, checked against this emulator's world, ready to apply.
struct Restored {
    auth: AuthStore,
    clock_offset_ms: i64,
    users: Vec<(Arc<User>, Live)>,
    playlists: Playlists,
}

/// The state file of one emulator and whether the world changed since it was written.
#[derive(Debug)]
pub(crate) struct Persistence {
    path: PathBuf,
    dirty: AtomicBool,
    /// Wakes the writer after the world went from clean to dirty.
    wake: Notify,
    /// One save at a time, so an older snapshot never lands after a newer one.
    write_lock: Mutex<()>,
}

impl Persistence {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            dirty: AtomicBool::new(false),
            wake: Notify::new(),
            write_lock: Mutex::new(()),
        }
    }

    /// Notes that the world changed. Cheap: one atomic swap, and a wake-up only for the first
    /// change since the last save.
    pub fn mark_dirty(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// Loads the file into a freshly built world. A missing file is a first start; an
    /// unreadable, corrupt or incompatible one is logged, moved aside to `<file>.bad` and
    /// the emulator starts fresh: persistence never stops it from starting.
    pub fn load(&self, state: &AppState) {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tracing::info!(path = %self.path.display(), "no emulator state file yet; starting fresh");
                return;
            }
            Err(source) => {
                let error = PersistError::Read {
                    path: self.path.clone(),
                    source,
                };
                tracing::warn!(error = %chain(&error), "emulator state not restored; starting fresh");
                return;
            }
        };
        match decode(&bytes, state) {
            Ok(restored) => {
                let users = restored.users.len();
                let (access, refresh) = {
                    let mut auth = state.auth.write();
                    *auth = restored.auth;
                    auth.counts()
                };
                state.clock.restore(restored.clock_offset_ms);
                for (user, live) in restored.users {
                    *user.live.lock() = live;
                }
                state.playlists.replace_with(restored.playlists);
                tracing::info!(
                    path = %self.path.display(),
                    users,
                    access_tokens = access,
                    refresh_tokens = refresh,
                    clock_offset_ms = restored.clock_offset_ms,
                    "emulator state restored"
                );
            }
            Err(error) => {
                let mut aside = OsString::from(self.path.as_os_str());
                aside.push(".bad");
                let aside = PathBuf::from(aside);
                let moved = fs::rename(&self.path, &aside).is_ok();
                tracing::warn!(
                    path = %self.path.display(),
                    moved_to = %if moved { aside.display().to_string() } else { "(not moved)".to_owned() },
                    error = %chain(&error),
                    "emulator state file unusable; starting fresh"
                );
            }
        }
    }

    /// Writes the world if it changed since the last save; `Ok(false)` when it had not.
    pub fn save_if_dirty(&self, state: &AppState) -> Result<bool, PersistError> {
        let _one_at_a_time = self.write_lock.lock();
        // Cleared before the snapshot: a change racing with it marks the world dirty again
        // and is saved next time.
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let result = serde_json::to_vec_pretty(&snapshot(state))
            .map_err(PersistError::from)
            .and_then(|bytes| {
                write_atomically(&self.path, &bytes).map_err(|source| PersistError::Write {
                    path: self.path.clone(),
                    source,
                })
            });
        if result.is_err() {
            // Try again with the next change (or at stop).
            self.dirty.store(true, Ordering::Release);
        }
        result.map(|()| true)
    }
}

/// The world as the file holds it. Locks are held only while copying.
fn snapshot(state: &AppState) -> StateFile {
    let now = state.clock.now_ms();
    let auth = state.auth.read().save(now);
    let users = state
        .users
        .all()
        .into_iter()
        .filter_map(|user| {
            let live = user.live.lock();
            if live.is_pristine(&user.profile.id) {
                return None;
            }
            let saved = SavedUser {
                devices: live.devices.clone(),
                player: live.player.save(&state.catalog),
            };
            Some((user.profile.id.clone(), saved))
        })
        .collect();
    StateFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        saved_at_ms: wall_ms(),
        clock_offset_ms: state.clock.offset_ms(),
        auth,
        users,
        playlists: state.playlists.save(&state.catalog),
    }
}

/// Reads and checks a file completely before anything is applied, so a bad file leaves the
/// fresh world untouched.
fn decode(bytes: &[u8], state: &AppState) -> Result<Restored, PersistError> {
    let header: Header = serde_json::from_slice(bytes)?;
    if header.format != FORMAT {
        return Err(PersistError::WrongFormat(header.format));
    }
    if header.version != VERSION {
        return Err(PersistError::WrongVersion {
            found: header.version,
        });
    }
    let file: StateFile = serde_json::from_slice(bytes)?;
    if file.clock_offset_ms < 0 {
        return Err(PersistError::Incompatible(
            "negative clock offset".to_owned(),
        ));
    }
    let mut users = Vec::with_capacity(file.users.len());
    for (id, saved) in file.users {
        let user = state
            .users
            .get(&id)
            .ok_or_else(|| PersistError::Incompatible(format!("unknown user {id}")))?;
        let player = Player::restore(saved.player, &state.catalog)
            .map_err(|why| PersistError::Incompatible(format!("player of {id}: {why}")))?;
        let live = Live {
            devices: saved.devices,
            player,
        };
        users.push((user, live));
    }
    let playlists = Playlists::restore(file.playlists, &state.catalog, |id| {
        state.users.get(id).is_some()
    })
    .map_err(PersistError::Incompatible)?;
    Ok(Restored {
        auth: AuthStore::restore(file.auth),
        playlists,
        clock_offset_ms: file.clock_offset_ms,
        users,
    })
}

/// Replaces `path` with `bytes` in one step: readers see the old file or the new one, never
/// half of it. The file is readable by its owner only.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    // Same directory, so the rename stays on one file system and is atomic.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        fs::create_dir_all(dir)?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            let file = options.open(&tmp)?;
            // `mode` only applies to a new file; a leftover temporary keeps its own.
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            write_all(file, bytes)?;
        }
        #[cfg(not(unix))]
        write_all(options.open(&tmp)?, bytes)?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Best effort: the temporary is hidden and overwritten by the next attempt anyway.
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_all(mut file: fs::File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.flush()
}

/// An error and its causes on one line, for the log.
fn chain(error: &PersistError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Saves, logging (not returning) a failure: the emulator keeps serving regardless.
fn save_logged(state: &AppState) {
    if let Some(persist) = &state.persist
        && let Err(error) = persist.save_if_dirty(state)
    {
        tracing::warn!(error = %chain(&error), "emulator state not saved");
    }
}

/// The background task that writes the state file, and the way to stop it.
#[derive(Debug)]
pub(crate) struct StateWriter {
    state: web::Data<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl StateWriter {
    /// Starts the writer when the emulator has a state file. Call within a Tokio runtime.
    pub fn spawn(state: web::Data<AppState>) -> Option<Self> {
        state.persist.as_ref()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(state.clone(), stopped));
        Some(Self {
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Saves pending changes from the calling thread (so they are on disk even if the
    /// runtime goes away next) and tells the writer to stop; it saves once more on its way
    /// out if requests still in flight changed anything.
    pub fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            save_logged(&self.state);
            // The writer may be gone already (runtime shut down); nothing is left to do then.
            let _ = stop.send(());
        }
    }

    /// Stops the writer and waits for its final save.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "emulator state writer failed");
        }
    }
}

async fn run(state: web::Data<AppState>, mut stop: oneshot::Receiver<()>) {
    let Some(persist) = state.persist.as_ref() else {
        return;
    };
    loop {
        tokio::select! {
            () = persist.wake.notified() => {}
            _ = &mut stop => break,
        }
        save_in_background(&state).await;
        // At most one write per interval: changes meanwhile are coalesced into the next.
        tokio::select! {
            () = tokio::time::sleep(SAVE_INTERVAL) => {}
            _ = &mut stop => break,
        }
    }
    save_in_background(&state).await;
}

/// Saves on the blocking pool: snapshotting and writing stay off the HTTP workers' threads.
async fn save_in_background(state: &web::Data<AppState>) {
    let state = state.clone();
    if let Err(error) = tokio::task::spawn_blocking(move || save_logged(&state)).await {
        tracing::warn!(%error, "emulator state save task failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EmulatorConfig;
    use crate::player::PlayContext;

    fn fresh() -> AppState {
        AppState::new(EmulatorConfig::default(), "http://127.0.0.1:1".to_owned())
    }

    #[test]
    fn a_snapshot_decodes_into_the_same_world() {
        let state = fresh();
        state.clock.advance(42_000);
        let now = state.clock.now_ms();
        let album = state.catalog.albums[0].tracks.clone();
        {
            let user = state.users.get("gen-7").unwrap();
            let mut live = user.live.lock();
            let device = live.devices[0].id.clone();
            let context = PlayContext {
                kind: "album",
                id: state.catalog.albums[0].id.clone(),
            };
            live.player.set_shuffle(true, now, &mut rand::rng());
            live.player.set_repeat(crate::player::Repeat::Context, now);
            live.player.play_list(
                album,
                Some(1),
                1_500,
                Some(context),
                device,
                now,
                &mut rand::rng(),
            );
            live.player.queue.push_back(5);
            live.devices[0].volume_percent = 12;
        }
        state
            .auth
            .write()
            .issue_pair("app", "gen-7".into(), "s".into(), true, now, 1_000);
        let playlist = state
            .playlists
            .create(
                "gen-7",
                crate::playlists::NewPlaylist {
                    name: "Kept".into(),
                    description: None,
                    public: false,
                    collaborative: false,
                },
            )
            .unwrap();
        state
            .playlists
            .add(&playlist.id, "gen-7", &[4, 2], None, now)
            .unwrap();

        let bytes = serde_json::to_vec(&snapshot(&state)).unwrap();
        let restored = decode(&bytes, &fresh()).unwrap();
        assert_eq!(restored.clock_offset_ms, 42_000);
        assert_eq!(restored.auth.counts(), (1, 1));
        let [(user, live)] = restored.users.as_slice() else {
            panic!("only gen-7 changed");
        };
        assert_eq!(user.profile.id, "gen-7");
        assert_eq!(
            restored.playlists.owned_by("gen-7"),
            state.playlists.owned_by("gen-7")
        );
        let original = state.users.get("gen-7").unwrap();
        let original = original.live.lock();
        assert_eq!(live.devices, original.devices);
        let (a, b) = (
            serde_json::to_value(live.player.save(&state.catalog)).unwrap(),
            serde_json::to_value(original.player.save(&state.catalog)).unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(
            (&a["shuffle"], &a["repeat"]),
            (&true.into(), &"context".into())
        );
        assert_eq!(a["positions"][0], 1, "the offset track plays first");
        assert!(
            a["context_uri"]
                .as_str()
                .unwrap()
                .starts_with("spotify:album:")
        );
    }

    #[test]
    fn other_formats_and_versions_are_refused() {
        let state = fresh();
        let wrong_format = br#"{"format": "something-else", "version": 1}"#;
        assert!(matches!(
            decode(wrong_format, &state),
            Err(PersistError::WrongFormat(_))
        ));
        let newer = format!(r#"{{"format": "{FORMAT}", "version": 2}}"#);
        assert!(matches!(
            decode(newer.as_bytes(), &state),
            Err(PersistError::WrongVersion { found: 2 })
        ));
        assert!(matches!(
            decode(b"[]", &state),
            Err(PersistError::Malformed(_))
        ));
    }
}
