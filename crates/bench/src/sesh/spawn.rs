//! Starts `sesh` and a standalone `sesh-spotify-emulator` as child processes on free
//! loopback ports, with a fresh SQLite file in a temporary directory.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The app the emulator registers and Sesh uses. Throwaway credentials: the emulator is
/// local and the database a temporary file.
const CLIENT_ID: &str = "sesh-bench";
const CLIENT_SECRET: &str = "sesh-bench-secret";
/// 32 fixed bytes, base64, encrypting tokens in the throwaway database.
const SECRET_KEY: &str = "c2VzaC1iZW5jaC10aHJvd2F3YXkta2V5LTMyYnl0ZXM=";

/// Running `sesh` + emulator; both are killed when this is dropped.
pub struct Spawned {
    sesh: Child,
    _emulator: Child,
    _dir: tempfile::TempDir,
    /// Sesh's base URL.
    pub sesh_url: String,
    /// The emulator's base URL.
    pub emulator_url: String,
}

impl Spawned {
    /// The `sesh` process id, for memory and CPU readings.
    pub fn sesh_pid(&self) -> Option<u32> {
        self.sesh.id()
    }
}

/// Where to find the two binaries and how to run them.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// Path of `sesh`, or `None` to look next to `sesh-bench`.
    pub sesh_bin: Option<PathBuf>,
    /// Path of `sesh-spotify-emulator`, or `None` to look next to `sesh-bench`.
    pub emulator_bin: Option<PathBuf>,
    /// Emulator requests per 30 s per client id.
    pub rate_limit: u32,
    /// Extra `KEY=VALUE` environment for `sesh`.
    pub sesh_env: Vec<(String, String)>,
}

/// Two distinct free loopback ports. Both are held until both are known (released one at a
/// time, the system could hand out the same port twice); bind-and-release still races with
/// other processes, which `spawn` answers by trying again.
fn free_ports() -> anyhow::Result<(u16, u16)> {
    let first = std::net::TcpListener::bind("127.0.0.1:0")?;
    let second = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}

/// Start-up attempts before `spawn` gives up (a port taken between choosing and binding it).
const SPAWN_ATTEMPTS: u32 = 3;

/// Under `cargo run`, brings `sesh` and the emulator up to date with the same profile as
/// ours (a no-op when they are fresh), so a run never measures stale binaries.
async fn build_if_under_cargo() -> anyhow::Result<()> {
    let Ok(cargo) = std::env::var("CARGO") else {
        return Ok(());
    };
    let exe = std::env::current_exe()?;
    let release = exe
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "release");
    tracing::info!("building sesh and sesh-spotify-emulator");
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "sesh-gateway", "-p", "sesh-spotify-emulator"]);
    if release {
        build.arg("--release");
    }
    if !build.status().await?.success() {
        bail!("building sesh-gateway and sesh-spotify-emulator failed");
    }
    Ok(())
}

/// `given`, or `name` next to our own executable.
fn locate(name: &str, package: &str, given: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.clone());
    }
    let exe = std::env::current_exe()?;
    let candidate = exe
        .parent()
        .context("sesh-bench has no directory")?
        .join(name);
    if candidate.exists() {
        return Ok(candidate);
    }
    bail!(
        "{name} not found next to sesh-bench; build it (`cargo build --release -p {package}`), \
         pass its path, or run sesh-bench through `cargo run`"
    )
}

async fn wait_until(
    what: &str,
    mut ready: impl AsyncFnMut() -> bool,
    child: &mut Child,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !ready().await {
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited during start-up: {status}");
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what} did not become ready within 30 s");
        }
        // Readiness poll of another process; nothing to subscribe to.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Starts the emulator, then `sesh` against it, and waits until both answer; tries again on
/// fresh ports when a start fails (a port another process took meanwhile).
pub async fn spawn(options: &SpawnOptions) -> anyhow::Result<Spawned> {
    if options.sesh_bin.is_none() || options.emulator_bin.is_none() {
        build_if_under_cargo().await?;
    }
    let mut attempt = 1;
    loop {
        match spawn_once(options).await {
            Ok(spawned) => return Ok(spawned),
            Err(e) if attempt < SPAWN_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "starting the servers failed; trying other ports");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn spawn_once(options: &SpawnOptions) -> anyhow::Result<Spawned> {
    let sesh_bin = locate("sesh", "sesh-gateway", &options.sesh_bin)?;
    let emulator_bin = locate(
        "sesh-spotify-emulator",
        "sesh-spotify-emulator",
        &options.emulator_bin,
    )?;
    let dir = tempfile::tempdir()?;
    let (sesh_port, emulator_port) = free_ports()?;
    let sesh_url = format!("http://127.0.0.1:{sesh_port}");
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");
    let http = reqwest::Client::new();

    let mut emulator = Command::new(&emulator_bin)
        .args(["--listen", &format!("127.0.0.1:{emulator_port}")])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--redirect-uri", &format!("{sesh_url}/auth/callback")])
        .arg("--control-api")
        .args(["--rate-limit", &options.rate_limit.to_string()])
        .args(["--token-ttl", "86400"])
        .env(
            "RUST_LOG",
            std::env::var("SESH_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", emulator_bin.display()))?;
    let probe = format!("{emulator_url}/_emulator/requests");
    wait_until(
        "the emulator",
        async || matches!(http.get(&probe).send().await, Ok(r) if r.status().is_success()),
        &mut emulator,
    )
    .await?;

    let database = dir.path().join("sesh.db");
    let mut sesh = Command::new(&sesh_bin)
        .env("SESH_LISTEN", format!("127.0.0.1:{sesh_port}"))
        .env("SESH_PUBLIC_URL", &sesh_url)
        .env(
            "SESH_DATABASE_URL",
            format!("sqlite://{}", path_str(&database)?),
        )
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
        .env("SESH_SPOTIFY_ACCOUNTS_URL", &emulator_url)
        .env("SESH_SPOTIFY_API_URL", &emulator_url)
        .env("SESH_SECRET_KEY", SECRET_KEY)
        .env(
            "RUST_LOG",
            std::env::var("SESH_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(options.sesh_env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", sesh_bin.display()))?;
    let health = format!("{sesh_url}/healthz");
    wait_until(
        "sesh",
        async || matches!(http.get(&health).send().await, Ok(r) if r.status().is_success()),
        &mut sesh,
    )
    .await?;

    Ok(Spawned {
        sesh,
        _emulator: emulator,
        _dir: dir,
        sesh_url,
        emulator_url,
    })
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("temporary path is not UTF-8")
}
