//! Starts `sesh` and a standalone `sesh-spotify-emulator` as child processes on free
//! loopback ports: one `sesh` with a fresh SQLite file in a temporary directory, or one or
//! more on a throwaway PostgreSQL, several of them behind a real Nginx.

use super::nginx::Nginx;
use super::postgres::Postgres;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The app the emulator registers and Sesh uses. Throwaway credentials: the emulator is
/// local and the database a temporary file.
const CLIENT_ID: &str = "sesh-bench";
const CLIENT_SECRET: &str = "sesh-bench-secret";
/// 32 fixed bytes, base64, encrypting tokens in the throwaway database.
const SECRET_KEY: &str = "c2VzaC1iZW5jaC10aHJvd2F3YXkta2V5LTMyYnl0ZXM=";

/// Running `sesh` processes (one, or a cluster's nodes), their emulator, and a cluster's
/// Nginx and PostgreSQL; all stopped when this is dropped (in this order: the nodes first).
pub struct Spawned {
    nodes: Vec<SpawnedNode>,
    _emulator: Child,
    nginx: Option<Nginx>,
    postgres: Option<Postgres>,
    _dir: tempfile::TempDir,
    /// Sesh's public URL: the one node's, or Nginx's.
    pub sesh_url: String,
    /// The emulator's base URL.
    pub emulator_url: String,
}

/// One `sesh` process.
pub struct SpawnedNode {
    child: Child,
    /// Its `SESH_NODE_ID`: its address as Nginx's upstream lists it (`127.0.0.1:PORT`).
    pub id: String,
    /// Its `GET /metrics`, when it serves one.
    pub metrics_url: Option<String>,
}

impl SpawnedNode {
    /// The process id, for memory and CPU readings.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

impl Spawned {
    /// The (first) `sesh` process id, for memory and CPU readings.
    pub fn sesh_pid(&self) -> Option<u32> {
        self.nodes.first().and_then(SpawnedNode::pid)
    }

    /// Every `sesh` process.
    pub fn nodes(&self) -> &[SpawnedNode] {
        &self.nodes
    }

    /// Nginx's master process, when there is one.
    pub fn nginx_pid(&self) -> Option<u32> {
        self.nginx.as_ref().map(Nginx::pid)
    }

    /// PostgreSQL's postmaster, when the nodes run on PostgreSQL.
    pub fn postgres_pid(&self) -> Option<u32> {
        self.postgres.as_ref().map(Postgres::pid)
    }

    /// Nginx's access log so far (`METHOD URI STATUS UPSTREAM` per request), when there is
    /// an Nginx.
    pub fn nginx_access_log(&self) -> Option<String> {
        self.nginx.as_ref().map(Nginx::access_log)
    }

    /// On PostgreSQL: `(session id, owner node)` of every lease held now.
    pub async fn lease_owners(&self) -> anyhow::Result<Option<Vec<(String, String)>>> {
        let Some(pg) = &self.postgres else {
            return Ok(None);
        };
        let rows = pg
            .psql(
                DATABASE,
                "SELECT session_id, owner_node FROM session_owner \
                 WHERE lease_expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            )
            .await?;
        Ok(Some(
            rows.lines()
                .filter_map(|l| l.split_once('\t'))
                .map(|(s, n)| (s.to_owned(), n.to_owned()))
                .collect(),
        ))
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
    /// Serve each `sesh`'s `GET /metrics` on a port of its own (`SESH_METRICS_LISTEN`).
    pub metrics: bool,
}

/// Seshes on a throwaway PostgreSQL ([`spawn_on_postgres`]).
#[derive(Debug, Clone, Copy)]
pub struct OnPostgres {
    /// `sesh` processes, all on one database.
    pub nodes: usize,
    /// Behind Nginx (the cluster templates), each node a `server` of its upstream, with
    /// `SESH_CLUSTER_NODES`; else the one node is reached directly.
    pub behind_nginx: bool,
    /// WebSockets the run will hold (sizes Nginx's connections).
    pub sockets: usize,
}

/// The database the nodes on PostgreSQL share.
const DATABASE: &str = "sesh";

/// `n` distinct free loopback ports. All are held until all are known (released one at a
/// time, the system could hand out the same port twice); bind-and-release still races with
/// other processes, which the spawns answer by trying again.
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
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

/// Tries `start` up to [`SPAWN_ATTEMPTS`] times (fresh ports each time: one another process
/// took meanwhile makes a start fail).
async fn retrying<F: AsyncFn() -> anyhow::Result<Spawned>>(start: F) -> anyhow::Result<Spawned> {
    let mut attempt = 1;
    loop {
        match start().await {
            Ok(spawned) => return Ok(spawned),
            Err(e) if attempt < SPAWN_ATTEMPTS => {
                tracing::warn!(attempt, error = %format!("{e:#}"), "starting the servers failed; trying other ports");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Starts the emulator, then `sesh` against it on a fresh SQLite file, and waits until both
/// answer.
pub async fn spawn(options: &SpawnOptions) -> anyhow::Result<Spawned> {
    if options.sesh_bin.is_none() || options.emulator_bin.is_none() {
        build_if_under_cargo().await?;
    }
    retrying(async || spawn_once(options).await).await
}

/// Starts PostgreSQL, the emulator and `layout.nodes` `sesh` processes on one database (and
/// Nginx in front of them when asked), and waits until all answer.
pub async fn spawn_on_postgres(
    options: &SpawnOptions,
    layout: OnPostgres,
) -> anyhow::Result<Spawned> {
    if options.sesh_bin.is_none() || options.emulator_bin.is_none() {
        build_if_under_cargo().await?;
    }
    retrying(async || spawn_on_postgres_once(options, layout).await).await
}

/// The emulator on `port`, registered with `public_url`'s callback, once it answers.
async fn start_emulator(
    options: &SpawnOptions,
    port: u16,
    public_url: &str,
) -> anyhow::Result<Child> {
    let emulator_bin = locate(
        "sesh-spotify-emulator",
        "sesh-spotify-emulator",
        &options.emulator_bin,
    )?;
    let mut emulator = Command::new(&emulator_bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--redirect-uri", &format!("{public_url}/auth/callback")])
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
    let http = reqwest::Client::new();
    let probe = format!("http://127.0.0.1:{port}/_emulator/requests");
    wait_until(
        "the emulator",
        async || matches!(http.get(&probe).send().await, Ok(r) if r.status().is_success()),
        &mut emulator,
    )
    .await?;
    Ok(emulator)
}

/// The `sesh` command on `port` with the benchmark's settings, `database` and `extra`
/// environment, its working directory `dir`; a metrics port when `metrics` is given.
fn sesh_command(
    options: &SpawnOptions,
    port: u16,
    public_url: &str,
    emulator_url: &str,
    database: &str,
    metrics: Option<u16>,
    dir: &Path,
) -> anyhow::Result<Command> {
    let sesh_bin = locate("sesh", "sesh-gateway", &options.sesh_bin)?;
    let mut sesh = Command::new(&sesh_bin);
    sesh.env("SESH_LISTEN", format!("127.0.0.1:{port}"))
        .env("SESH_PUBLIC_URL", public_url)
        .env("SESH_DATABASE_URL", database)
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
        .env("SESH_SPOTIFY_ACCOUNTS_URL", emulator_url)
        .env("SESH_SPOTIFY_API_URL", emulator_url)
        .env("SESH_SECRET_KEY", SECRET_KEY)
        .env(
            "RUST_LOG",
            std::env::var("SESH_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        );
    if let Some(metrics) = metrics {
        sesh.env("SESH_METRICS_LISTEN", format!("127.0.0.1:{metrics}"));
    }
    sesh.envs(options.sesh_env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    Ok(sesh)
}

/// Waits until `sesh` on `port` answers `/healthz`.
async fn wait_healthy(sesh: &mut Child, port: u16) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    wait_until(
        "sesh",
        async || matches!(http.get(&health).send().await, Ok(r) if r.status().is_success()),
        sesh,
    )
    .await
}

async fn spawn_once(options: &SpawnOptions) -> anyhow::Result<Spawned> {
    let dir = tempfile::tempdir()?;
    let ports = free_ports(3)?;
    let (sesh_port, emulator_port) = (ports[0], ports[1]);
    let sesh_url = format!("http://127.0.0.1:{sesh_port}");
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");
    let emulator = start_emulator(options, emulator_port, &sesh_url).await?;
    let database = format!("sqlite://{}", path_str(&dir.path().join("sesh.db"))?);
    let metrics = options.metrics.then_some(ports[2]);
    let mut sesh = sesh_command(
        options,
        sesh_port,
        &sesh_url,
        &emulator_url,
        &database,
        metrics,
        dir.path(),
    )?
    .spawn()
    .context("starting sesh")?;
    wait_healthy(&mut sesh, sesh_port).await?;
    Ok(Spawned {
        nodes: vec![SpawnedNode {
            child: sesh,
            id: format!("127.0.0.1:{sesh_port}"),
            metrics_url: metrics.map(|p| format!("http://127.0.0.1:{p}/metrics")),
        }],
        _emulator: emulator,
        nginx: None,
        postgres: None,
        _dir: dir,
        sesh_url,
        emulator_url,
    })
}

/// `SESH_LEASE_TTL` as the nodes get it (`--sesh-env`; whole seconds or milliseconds, e.g.
/// `15s`, `500ms`), else sesh's default, 15 s.
fn lease_ttl(options: &SpawnOptions) -> Duration {
    let given = options
        .sesh_env
        .iter()
        .rev()
        .find(|(k, _)| k == "SESH_LEASE_TTL")
        .map(|(_, v)| v.trim());
    let parsed = given.and_then(|v| match v.strip_suffix("ms") {
        Some(ms) => ms.parse().ok().map(Duration::from_millis),
        None => v
            .strip_suffix('s')
            .unwrap_or(v)
            .parse()
            .ok()
            .map(Duration::from_secs),
    });
    parsed.unwrap_or(Duration::from_secs(15))
}

/// Copies `child`'s stderr to ours, each line prefixed with `[node]`, so that several nodes'
/// warnings can be told apart.
fn prefix_stderr(child: &mut Child, node: &str) {
    let Some(stderr) = child.stderr.take() else {
        return;
    };
    let node = node.to_owned();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{node}] {line}");
        }
    });
}

async fn spawn_on_postgres_once(
    options: &SpawnOptions,
    layout: OnPostgres,
) -> anyhow::Result<Spawned> {
    let n = layout.nodes.max(1);
    let dir = tempfile::tempdir()?;
    // PostgreSQL, the emulator, Nginx, then each node's listener and metrics.
    let ports = free_ports(3 + 2 * n)?;
    let (pg_port, emulator_port, nginx_port) = (ports[0], ports[1], ports[2]);
    let node_ports = &ports[3..3 + n];
    let metrics_ports = &ports[3 + n..];
    let node_ids: Vec<String> = node_ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let public_url = if layout.behind_nginx {
        format!("http://127.0.0.1:{nginx_port}")
    } else {
        format!("http://{}", node_ids[0])
    };
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");

    let postgres = Postgres::start(pg_port).await?;
    let database = postgres.create_database(DATABASE).await?;
    let emulator = start_emulator(options, emulator_port, &public_url).await?;
    let mut nodes = Vec::with_capacity(n);
    for (i, id) in node_ids.iter().enumerate() {
        let node_dir = dir.path().join(format!("node-{}", i + 1));
        std::fs::create_dir(&node_dir)?;
        let metrics = options.metrics.then_some(metrics_ports[i]);
        let mut command = sesh_command(
            options,
            node_ports[i],
            &public_url,
            &emulator_url,
            &database,
            metrics,
            &node_dir,
        )?;
        // The address exactly as Nginx's upstream `server` line writes it: the ring hashes
        // that text (docs/cluster.md).
        command.env("SESH_NODE_ID", id);
        if layout.behind_nginx {
            command
                .env("SESH_CLUSTER_NODES", node_ids.join(","))
                .env("SESH_TRUSTED_PROXIES", "127.0.0.1");
        }
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .context("starting sesh")?;
        prefix_stderr(&mut child, id);
        nodes.push(SpawnedNode {
            child,
            id: id.clone(),
            metrics_url: metrics.map(|p| format!("http://127.0.0.1:{p}/metrics")),
        });
    }
    for (node, port) in nodes.iter_mut().zip(node_ports) {
        wait_healthy(&mut node.child, *port).await?;
    }
    let nginx = if layout.behind_nginx {
        Some(Nginx::start(nginx_port, &node_ids, layout.sockets).await?)
    } else {
        None
    };
    if layout.behind_nginx {
        // Members come to a cluster that has been running, not to one just started: every
        // node's lease sweeper (one sweep per lease TTL, the first at start) has swept twice
        // before the measurement. A node whose first sweep lists the live nodes before its own
        // first heartbeat is stored leaves itself out at its second sweep and hands every
        // session it holds then to another node, closing their sockets (BENCHMARKS.md, the
        // members scenario on three nodes, has the evidence).
        let settle = lease_ttl(options) + Duration::from_secs(2);
        tracing::info!(?settle, "letting the cluster's nodes settle");
        tokio::time::sleep(settle).await;
    }
    Ok(Spawned {
        nodes,
        _emulator: emulator,
        nginx,
        postgres: Some(postgres),
        _dir: dir,
        sesh_url: public_url,
        emulator_url,
    })
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("temporary path is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_ttl_is_the_nodes_own() {
        let mut options = SpawnOptions {
            sesh_bin: None,
            emulator_bin: None,
            rate_limit: 1,
            sesh_env: Vec::new(),
            metrics: false,
        };
        assert_eq!(lease_ttl(&options), Duration::from_secs(15));
        options
            .sesh_env
            .push(("SESH_LEASE_TTL".into(), "4s".into()));
        assert_eq!(lease_ttl(&options), Duration::from_secs(4));
        options
            .sesh_env
            .push(("SESH_LEASE_TTL".into(), "1500ms".into()));
        assert_eq!(lease_ttl(&options), Duration::from_millis(1500));
        assert_eq!(free_ports(4).unwrap().len(), 4);
    }
}
