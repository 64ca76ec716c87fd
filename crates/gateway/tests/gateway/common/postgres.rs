//! A throwaway PostgreSQL for the tests: `initdb` in a temporary directory, the server on a
//! free loopback port (and a socket in that directory). It needs only Debian's `postgresql`
//! package (`scripts/install-deps` installs it), no server already running. Run as root (CI),
//! the cluster belongs to the `postgres` user, as PostgreSQL insists; otherwise to whoever runs
//! the tests.
//!
//! Two ways to get one:
//! - [`Postgres::start`]: a cluster of the caller's own, stopped and deleted on drop.
//! - [`Postgres::shared`]: one cluster for the whole test process, started by the first test
//!   that asks; each test takes a fresh database of it ([`Postgres::database`]) and its own
//!   pool on its own runtime. A static is never dropped, so the server is watched by a shell
//!   whose stdin is a pipe from this process: when the process exits, however it exits
//!   (a panic, `abort`, SIGKILL), the pipe closes, and the shell stops the server and deletes
//!   the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, postgres::PgPoolOptions};

/// How long a fresh cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to stop before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The shared cluster's watcher (`sh -c WATCH sh DIR SERVER-COMMAND…`, stdin the lifeline):
/// runs the server, and when the lifeline reaches end of file, stops it (SIGQUIT: an
/// immediate shutdown that takes its backends along); once the server is gone, for whatever
/// reason, deletes the directory and exits with the server's status. A background job's stdin
/// is `/dev/null`, hence the lifeline's copy on fd 3.
const WATCH: &str = r#"
dir=$1; shift
exec 3<&0 </dev/null
"$@" 3<&- &
server=$!
{ read -r _ <&3; kill -QUIT "$server"; } &
watcher=$!
exec 3<&-
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$dir"
exit "$status"
"#;

/// The cluster of [`Postgres::shared`].
static SHARED: tokio::sync::OnceCell<Postgres> = tokio::sync::OnceCell::const_new();

pub struct Postgres {
    /// The server, or for a shared cluster the shell that watches it.
    server: Child,
    /// A watched cluster's lifeline: the watcher's stdin (closing it stops the server).
    lifeline: Option<ChildStdin>,
    /// The data directory and the socket directory live in it (`None`: the watcher deletes it).
    _dir: Option<tempfile::TempDir>,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`, trust authentication on loopback only.
    pub url: String,
    port: u16,
    /// Numbers the databases [`Postgres::database`] makes.
    databases: AtomicU32,
    /// The server's command line, to start it again after [`Postgres::stop`] (a cluster of
    /// the caller's own; the shared one is never stopped).
    relaunch: Option<(std::ffi::OsString, Vec<std::ffi::OsString>)>,
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

/// A fresh cluster in a new temporary directory, not running yet: the directory, the port it
/// is to listen on, and the command that runs its server.
fn init_cluster(max_connections: u32) -> (tempfile::TempDir, u16, Command) {
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
    let mut server = command(&bin, "postgres", owner);
    server
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        .arg("-k")
        .arg(dir.path())
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        .args(["-c", &format!("max_connections={max_connections}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (dir, port, server)
}

impl Postgres {
    /// A fresh, empty cluster of the caller's own, accepting connections.
    pub async fn start() -> Self {
        let (dir, port, mut server) = init_cluster(100); // PostgreSQL's default
        let relaunch = (
            server.get_program().to_owned(),
            server.get_args().map(ToOwned::to_owned).collect(),
        );
        let server = server.spawn().expect("postgres starts");
        let mut pg = Self::new(server, None, Some(dir), port);
        pg.relaunch = Some(relaunch);
        pg.wait_ready().await;
        pg
    }

    /// Stops the server of a cluster of the caller's own as an operator's restart does: a
    /// fast shutdown (SIGINT: open connections are cut, the data is kept).
    pub fn stop(&mut self) {
        assert!(self.relaunch.is_some(), "only an own cluster stops");
        super::process::stop_server(&mut self.server, "-INT");
    }

    /// Starts the server [`Postgres::stop`] stopped again, on the same port and data, and
    /// waits until it accepts connections.
    pub async fn start_again(&mut self) {
        let (program, args) = self.relaunch.as_ref().expect("an own cluster");
        self.server = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts again");
        self.wait_ready().await;
    }

    /// The test process's one cluster, started by the first caller (the others wait for it),
    /// accepting connections; stopped and deleted when the process exits. Open pools only
    /// on databases of your own ([`Postgres::database`]), on your test's runtime.
    pub async fn shared() -> &'static Self {
        SHARED.get_or_init(Self::start_watched).await
    }

    /// A cluster whose server a watcher shell stops once the lifeline closes (see [`WATCH`]).
    async fn start_watched() -> Self {
        // Room for every test of the process running at once, each with its own pools.
        let (dir, port, server) = init_cluster(300);
        let dir = dir.keep();
        let mut watcher = Command::new("sh");
        watcher
            .arg("-c")
            .arg(WATCH)
            .arg("sh")
            .arg(&dir)
            .arg(server.get_program())
            .args(server.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: a Ctrl-C at the terminal stops the tests, and the watcher
        // cleans up after them rather than dying with them.
        std::os::unix::process::CommandExt::process_group(&mut watcher, 0);
        let mut watcher = watcher.spawn().expect("the postgres watcher starts");
        let lifeline = watcher.stdin.take().expect("the watcher's stdin");
        let mut pg = Self::new(watcher, Some(lifeline), None, port);
        pg.wait_ready().await;
        pg
    }

    fn new(
        server: Child,
        lifeline: Option<ChildStdin>,
        dir: Option<tempfile::TempDir>,
        port: u16,
    ) -> Self {
        Self {
            server,
            lifeline,
            _dir: dir,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            databases: AtomicU32::new(0),
            relaunch: None,
        }
    }

    /// A new, empty database on this cluster, named uniquely within it: its URL.
    pub async fn database(&self) -> String {
        let name = format!("test_{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("the cluster accepts a connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        conn.close().await.expect("the connection closes");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
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
    /// SIGKILL would leave them to notice alone). A watched cluster (dropped only when its
    /// start failed) is stopped by closing its lifeline.
    fn drop(&mut self) {
        let Some(lifeline) = self.lifeline.take() else {
            if matches!(self.server.try_wait(), Ok(Some(_))) {
                return; // stopped already (and reaped: its pid may be another's now)
            }
            super::process::stop_server(&mut self.server, "-QUIT");
            return;
        };
        drop(lifeline);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.server.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// `(owner_node, epoch)` of `session`'s lease in the database at `url`.
pub async fn lease_owner(url: &str, session: &str) -> Option<(String, i64)> {
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("the database opens");
    let row = sqlx::query_as("SELECT owner_node, epoch FROM session_owner WHERE session_id = $1")
        .bind(session)
        .fetch_optional(&pool)
        .await
        .expect("session_owner reads");
    pool.close().await;
    row
}
