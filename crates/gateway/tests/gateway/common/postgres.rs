//! A throwaway PostgreSQL for the tests: `initdb` in a temporary directory, the server on a
//! free loopback port (and a socket in that directory), stopped and deleted on drop. It needs
//! only Debian's `postgresql` package (`scripts/install-deps` installs it), no server already
//! running. Run as root (CI), the cluster belongs to the `postgres` user, as PostgreSQL
//! insists; otherwise to whoever runs the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;

/// How long a fresh cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Postgres {
    server: Child,
    /// The data directory and the socket directory live in it.
    _dir: tempfile::TempDir,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`, trust authentication on loopback only.
    pub url: String,
}

/// The directory of PostgreSQL's server programs: `SESH_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/N/bin` that has `initdb` (Debian's layout).
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SESH_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by_key(|(version, _)| *version);
    newest.map(|(_, bin)| bin)
}

/// The uid and gid of the `postgres` user when these tests run as root (PostgreSQL refuses
/// to run as root); `None` otherwise.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |args: &[&str]| -> Option<u32> {
        let out = Command::new("id").args(args).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id(&["-u"])? != 0 {
        return None;
    }
    let user = "a `postgres` user (Debian's postgresql package makes it)";
    Some((
        id(&["-u", "postgres"]).expect(user),
        id(&["-g", "postgres"]).expect(user),
    ))
}

/// `program` from `bin`, as the `postgres` user when running as root (`setpriv` replaces
/// itself with the program, so killing the child kills the server).
fn command(bin: &Path, program: &str, owner: Option<(u32, u32)>) -> Command {
    match owner {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(bin.join(program));
            c
        }
        None => Command::new(bin.join(program)),
    }
}

impl Postgres {
    /// A fresh, empty cluster, accepting connections.
    pub async fn start() -> Self {
        let bin = bin_dir().expect(
            "PostgreSQL's server programs (Debian's `postgresql` package: bash scripts/install-deps)",
        );
        let owner = postgres_ids();
        let dir = tempfile::Builder::new()
            .prefix("sesh-pg-")
            .tempdir()
            .expect("a temporary directory");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data directory");
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), data.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let status = command(&bin, "initdb", owner)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "--no-locale"])
            .args(["-E", "UTF8"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("initdb runs");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let port = crate::nginx::free_port();
        let server = command(&bin, "postgres", owner)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let mut pg = Self {
            server,
            _dir: dir,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        pg.wait_ready().await;
        pg
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.server.try_wait().expect("the server's status") {
                panic!("postgres exited before it accepted connections: {status}");
            }
            match PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(1))
                .connect(&self.url)
                .await
            {
                Ok(pool) => {
                    pool.close().await;
                    return;
                }
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "postgres did not accept connections within {START_TIMEOUT:?}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Postgres {
    /// An immediate shutdown (SIGQUIT: the server stops its backends and exits at once; a
    /// SIGKILL would leave them to notice alone).
    fn drop(&mut self) {
        super::process::stop_server(&mut self.server, "-QUIT");
    }
}
