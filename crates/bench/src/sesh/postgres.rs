//! A throwaway PostgreSQL for the Seshes on PostgreSQL: `initdb` in a temporary directory,
//! the server on a free loopback port (its socket in that directory), trust authentication
//! on loopback only; stopped and deleted when dropped, or when the benchmark dies (see
//! [`super::watch`]). It needs Debian's `postgresql` package (`scripts/install-deps`
//! installs it), no server already running. PostgreSQL refuses to run as root: run as root,
//! the cluster belongs to the `postgres` user the package makes; otherwise to the caller.

use super::watch::Watched;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long a fresh cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running throwaway cluster.
pub struct Postgres {
    server: Watched,
    bin: PathBuf,
    port: u16,
    /// The data directory and the socket; the watcher deletes it, this is the fallback.
    _dir: tempfile::TempDir,
}

/// The directory of PostgreSQL's programs: `SESH_BENCH_PG_BIN`, else the newest
/// `/usr/lib/postgresql/N/bin` that has `initdb` (Debian's layout).
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SESH_BENCH_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by_key(|(version, _)| *version);
    newest.map(|(_, bin)| bin).context(
        "PostgreSQL's server programs not found under /usr/lib/postgresql/*/bin (Debian's \
         `postgresql` package: bash scripts/install-deps), or set SESH_BENCH_PG_BIN",
    )
}

fn id(args: &[&str]) -> Option<u32> {
    let out = std::process::Command::new("id").args(args).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// The `postgres` user's uid and gid when we run as root; `None` otherwise.
fn owner() -> anyhow::Result<Option<(u32, u32)>> {
    if id(&["-u"]) != Some(0) {
        return Ok(None);
    }
    match (id(&["-u", "postgres"]), id(&["-g", "postgres"])) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => bail!(
            "running as root, PostgreSQL needs a `postgres` user to run as (Debian's \
             postgresql package makes it)"
        ),
    }
}

/// `program` of `bin`, as `owner` when given (`setpriv` replaces itself with the program,
/// so the pid is the program's).
fn command(bin: &Path, program: &str, owner: Option<(u32, u32)>) -> std::process::Command {
    match owner {
        Some((uid, gid)) => {
            let mut c = std::process::Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(bin.join(program));
            c
        }
        None => std::process::Command::new(bin.join(program)),
    }
}

impl Postgres {
    /// A fresh, empty cluster listening on `127.0.0.1:port`, accepting connections.
    pub async fn start(port: u16) -> anyhow::Result<Postgres> {
        let bin = bin_dir()?;
        let owner = owner()?;
        let dir = tempfile::Builder::new()
            .prefix("sesh-bench-pg-")
            .tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), data.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .context("handing the data directory to the postgres user")?;
            }
        }
        let init = Command::from(command(&bin, "initdb", owner))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .context("running initdb")?;
        if !init.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&init.stderr));
        }
        let mut server = command(&bin, "postgres", owner);
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            // As SQLite's WAL with synchronous=NORMAL (Sesh's setting): a commit does not wait
            // for its WAL flush, so a crash may lose the last commits but corrupts nothing.
            // fsync and full-page writes stay on.
            .args(["-c", "synchronous_commit=off"])
            // Three nodes of 16 connections each, and the benchmark's own.
            .args(["-c", "max_connections=100"]);
        let server = Watched::spawn(dir.path(), "QUIT", &server)?;
        let mut pg = Postgres {
            server,
            bin,
            port,
            _dir: dir,
        };
        pg.wait_ready().await?;
        Ok(pg)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.server.exited() {
                bail!("postgres exited before it accepted connections: {status}");
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres"])
                .status()
                .await
                .context("running pg_isready")?;
            if ready.success() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("postgres did not accept connections within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The postmaster's process id (its backends are its children).
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// `postgres://postgres@127.0.0.1:PORT/database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database `name`; returns its URL.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .await?;
        Ok(self.url(name))
    }

    /// Runs `sql` on `database` with `psql`; returns its rows unaligned, fields split by tabs.
    pub async fn psql(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .await
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
