//! Sessions routed by id through a real Nginx configured from the shipped cluster templates
//! (`nginx/sesh-cluster.conf.template`, `nginx/sesh-cluster-main.conf.template`), with
//! `sesh_gateway::cluster::ring` predicting every choice Nginx makes: while all instances are
//! up, after an instance is added by a reload, and while one is down.
//!
//! The instances are stand-ins that answer every request with their own address; routing is
//! Nginx's business and needs no sesh behind it. Needs `nginx` and `envsubst`, like
//! `nginx.rs`, and fails with a message saying so when they are missing.

use std::{collections::HashMap, time::Duration};

use futures_util::{StreamExt, stream};
use sesh_gateway::cluster::ring::ClusterRing;
use sesh_session::SessionId;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    task::{JoinHandle, JoinSet},
};

use crate::{
    common,
    nginx::{NginxProcess, free_port, render, repo_root},
};

/// Paths of one session, in each shape Nginx must route by its id.
const SHAPES: [&str; 4] = [
    "/api/sessions/{id}",
    "/api/sessions/{id}/queue",
    "/ws/sessions/{id}",
    "/s/{id}/recap",
];

/// A stand-in instance on a free loopback port: answers every request with its address.
struct Instance {
    address: String,
    task: JoinHandle<()>,
}

impl Instance {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let answer = address.clone();
        let task = tokio::spawn(async move {
            // Connections live in this task's set, so killing the task closes them too (Nginx
            // keeps idle connections to its upstreams).
            let mut connections = JoinSet::new();
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    connections.spawn(answer_each_request(stream, answer.clone()));
                }
                while connections.try_join_next().is_some() {}
            }
        });
        Self { address, task }
    }

    /// Stops listening and closes every connection: the instance is down.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Reads requests without bodies (GET, or POST with none) and answers each with `answer`;
/// a WebSocket upgrade is accepted, and then everything the client sends is echoed.
async fn answer_each_request(stream: tokio::net::TcpStream, answer: String) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        let mut upgrade = false;
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => upgrade |= line.eq_ignore_ascii_case("upgrade: websocket\r\n"),
            }
        }
        if upgrade {
            let switch = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                          Connection: Upgrade\r\n\r\n";
            if writer.write_all(switch.as_bytes()).await.is_ok() {
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
            return;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Nginx from the cluster templates, in front of some instances (stand-ins here, real `sesh`
/// processes in `cluster_nginx.rs`), each a `server ADDRESS PARAMS;` line.
pub(crate) struct ClusterNginx {
    pub(crate) process: NginxProcess,
    pub(crate) port: u16,
    /// What follows the address on each `server` line (`max_fails=… fail_timeout=…`).
    server_params: String,
}

impl ClusterNginx {
    /// Starts Nginx on `port` in front of the instances at `upstreams`, each `server` line
    /// ending in `server_params`, giving old workers `shutdown_timeout` after a reload (an
    /// Nginx time).
    pub(crate) fn start(
        port: u16,
        upstreams: &[&str],
        server_params: &str,
        shutdown_timeout: &str,
    ) -> Self {
        let prefix = tempfile::tempdir().expect("prefix");
        let dir = prefix.path();
        let vars = [
            ("NGINX_WORKER_SHUTDOWN_TIMEOUT", shutdown_timeout.to_owned()),
            ("NGINX_LISTEN", format!("127.0.0.1:{port}")),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            ("NGINX_INCLUDE_DIR", dir.display().to_string()),
            ("NGINX_WS_READ_TIMEOUT", "75s".to_owned()),
        ];
        let nginx = repo_root().join("nginx");
        for (template, file) in [
            ("sesh-proxy.inc.template", "sesh-proxy.inc"),
            ("sesh-cluster-main.conf.template", "sesh-cluster-main.conf"),
        ] {
            std::fs::write(dir.join(file), render(&nginx.join(template), &vars)).expect("write");
        }
        write_cluster_conf(dir, &vars, upstreams, server_params);
        let main = format!("include {}/sesh-cluster-main.conf;\n", dir.display());
        let process = NginxProcess::start(prefix, &main, "sesh-cluster.conf");
        let nginx = Self {
            process,
            port,
            server_params: server_params.to_owned(),
        };
        nginx.wait_for_new_workers(&[]);
        nginx
    }

    /// Renders the config for `upstreams` and reloads; returns once only workers with the new
    /// config are left (the old ones have no connections to wait for: clients here do not
    /// keep any).
    fn reload_with(&self, upstreams: &[&str]) {
        let old = self.reload_without_waiting(upstreams);
        self.wait_for_new_workers(&old);
    }

    /// Renders the config for `upstreams` and reloads; returns the old workers, once a new one
    /// runs.
    pub(crate) fn reload_without_waiting(&self, upstreams: &[&str]) -> Vec<u32> {
        let vars = [
            ("NGINX_LISTEN", format!("127.0.0.1:{}", self.port)),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            (
                "NGINX_INCLUDE_DIR",
                self.process.prefix.path().display().to_string(),
            ),
            ("NGINX_WS_READ_TIMEOUT", "75s".to_owned()),
        ];
        write_cluster_conf(
            self.process.prefix.path(),
            &vars,
            upstreams,
            &self.server_params,
        );
        let old = workers_of(self.process.pid());
        self.process.reload();
        let deadline = std::time::Instant::now() + common::WAIT;
        while workers_of(self.process.pid())
            .iter()
            .all(|pid| old.contains(pid))
        {
            assert!(std::time::Instant::now() < deadline, "no new nginx worker");
            std::thread::sleep(Duration::from_millis(20));
        }
        old
    }

    /// Waits until the master has workers and none of them is in `old`.
    pub(crate) fn wait_for_new_workers(&self, old: &[u32]) {
        let deadline = std::time::Instant::now() + common::WAIT;
        loop {
            let now = workers_of(self.process.pid());
            if !now.is_empty() && now.iter().all(|pid| !old.contains(pid)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx workers {now:?} (old: {old:?}); error log:\n{}",
                self.process.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// `sesh-cluster.conf` for `upstreams`, one `server` line each, as the template's header says.
fn write_cluster_conf(
    dir: &std::path::Path,
    vars: &[(&str, String)],
    upstreams: &[&str],
    server_params: &str,
) {
    let upstreams = upstreams
        .iter()
        .map(|address| format!("server {address} {server_params};"))
        .collect::<Vec<_>>()
        .join("\n    ");
    let mut vars = vars.to_vec();
    vars.push(("SESH_UPSTREAMS", upstreams));
    let template = repo_root().join("nginx/sesh-cluster.conf.template");
    std::fs::write(dir.join("sesh-cluster.conf"), render(&template, &vars)).expect("write");
}

/// The processes whose parent is `master` (its workers), from /proc.
fn workers_of(master: u32) -> Vec<u32> {
    let mut workers = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (name) state ppid ...": the name may hold spaces, so count after its ')'.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if parent == Some(master) {
            workers.push(pid);
        }
    }
    workers
}

/// The stand-ins' addresses, for Nginx's `server` lines.
fn addresses<'a>(instances: &[&'a Instance]) -> Vec<&'a str> {
    instances.iter().map(|i| i.address.as_str()).collect()
}

/// The stand-ins' `server` parameters: a failed instance is skipped for the rest of a test.
const STAND_IN_PARAMS: &str = "max_fails=1 fail_timeout=30s";

/// The ring the instances would be configured with: their addresses as in the server lines.
fn ring_of(instances: &[&Instance]) -> ClusterRing {
    let list = instances
        .iter()
        .map(|i| i.address.as_str())
        .collect::<Vec<_>>()
        .join(",");
    list.parse().expect("ring")
}

/// A client that keeps no connections open, so a reloaded Nginx's old workers can leave.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(common::WAIT)
        .build()
        .expect("client")
}

/// Which instance answers `method path`, through Nginx.
async fn answered_by(nginx: &ClusterNginx, method: reqwest::Method, path: String) -> String {
    let response = client()
        .request(method.clone(), nginx.url(&path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(
        response.status(),
        reqwest::StatusCode::OK,
        "{method} {path}; error log:\n{}",
        nginx.process.error_log()
    );
    response.text().await.expect("body")
}

/// Where Nginx sends each session, checking that every path shape of a session goes to the
/// same instance.
async fn routes(nginx: &ClusterNginx, sessions: &[SessionId]) -> HashMap<SessionId, String> {
    let requests = sessions.iter().flat_map(|id| {
        SHAPES
            .iter()
            .map(move |shape| (*id, shape.replace("{id}", &id.to_string())))
    });
    let answers: Vec<(SessionId, String, String)> = stream::iter(requests)
        .map(|(id, path)| async move {
            let node = answered_by(nginx, reqwest::Method::GET, path.clone()).await;
            (id, path, node)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut routed: HashMap<SessionId, String> = HashMap::new();
    for (id, path, node) in answers {
        let first = routed.entry(id).or_insert_with(|| node.clone());
        assert_eq!(
            *first, node,
            "{path} went elsewhere than the session's other paths"
        );
    }
    routed
}

#[tokio::test]
async fn nginx_routes_each_session_where_the_ring_says_through_growth_and_failure() {
    let (a, b, c, d) = (
        Instance::start().await,
        Instance::start().await,
        Instance::start().await,
        Instance::start().await,
    );
    let three = [&a, &b, &c];
    let nginx = ClusterNginx::start(free_port(), &addresses(&three), STAND_IN_PARAMS, "5s");
    let ring = ring_of(&three);
    let sessions: Vec<_> = (0..300).map(|_| SessionId::new_v4()).collect();

    // Every session lands where the ring says, on every path shape, every time.
    let routed = routes(&nginx, &sessions).await;
    for id in &sessions {
        assert_eq!(routed[id], ring.preferred(id).address(), "session {id}");
    }
    assert_eq!(routes(&nginx, &sessions).await, routed, "asked again");
    for node in three {
        assert!(
            routed.values().any(|n| *n == node.address),
            "{} got no session",
            node.address
        );
    }

    // Requests without a session id spread over all instances.
    let mut idless: HashMap<String, usize> = HashMap::new();
    for _ in 0..150 {
        let node = answered_by(&nginx, reqwest::Method::GET, "/api/me".into()).await;
        *idless.entry(node).or_default() += 1;
    }
    for node in three {
        let count = idless.get(&node.address).copied().unwrap_or(0);
        assert!(
            count >= 15,
            "{} got {count} of 150 id-less requests: {idless:?}",
            node.address
        );
    }

    // A fourth instance, by a reload: about a quarter of the sessions move, all to it.
    let four = [&a, &b, &c, &d];
    nginx.reload_with(&addresses(&four));
    let grown_ring = ring_of(&four);
    let grown = routes(&nginx, &sessions).await;
    let moved: Vec<_> = sessions
        .iter()
        .filter(|id| grown[id] != routed[id])
        .collect();
    for id in &sessions {
        assert_eq!(
            grown[id],
            grown_ring.preferred(id).address(),
            "session {id}"
        );
    }
    for id in &moved {
        assert_eq!(
            grown[id], d.address,
            "session {id} moved, but not to the new instance"
        );
    }
    let share = moved.len() as f64 / sessions.len() as f64;
    assert!(
        (0.1..=0.4).contains(&share),
        "{} of {} sessions moved",
        moved.len(),
        sessions.len()
    );

    // One instance down: its sessions go where the ring's next live candidate is, POSTs too
    // (a refused connection sent nothing, so even a non-idempotent request is passed on); the
    // other sessions stay.
    let dead = a.address.clone();
    a.kill().await;
    let survivors = routes(&nginx, &sessions).await;
    let mut rerouted = 0;
    for id in &sessions {
        let expected = grown_ring
            .preferred_live(id, |node| node.address() != dead)
            .expect("a live node");
        assert_eq!(survivors[id], expected.address(), "session {id}");
        if grown[id] == dead {
            rerouted += 1;
        } else {
            assert_eq!(survivors[id], grown[id], "session {id} was not on {dead}");
        }
    }
    assert!(rerouted > 0, "no session was on the killed instance");
    for id in sessions.iter().filter(|id| grown[*id] == dead).take(10) {
        let node = answered_by(
            &nginx,
            reqwest::Method::POST,
            format!("/api/sessions/{id}/queue"),
        )
        .await;
        assert_eq!(survivors[id], node, "POST for session {id}");
    }
}

/// A reload does not cut a WebSocket: the old worker keeps it (with the old ring) until
/// `worker_shutdown_timeout`, and closes it then, so the client reconnects to the new ring's
/// instance instead of staying on the old one for as long as the socket lives.
#[tokio::test]
async fn a_reload_keeps_sockets_until_the_worker_shutdown_timeout() {
    let (a, b) = (Instance::start().await, Instance::start().await);
    let nginx = ClusterNginx::start(free_port(), &addresses(&[&a]), STAND_IN_PARAMS, "2s");
    let id = SessionId::new_v4();
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", nginx.port))
        .await
        .expect("connect");
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let request = format!(
        "GET /ws/sessions/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\n\r\n"
    );
    writer.write_all(request.as_bytes()).await.expect("send");
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).await.expect("header");
    }

    let reloaded = tokio::time::Instant::now();
    let old = nginx.reload_without_waiting(&addresses(&[&a, &b]));
    // The new worker runs; the socket still works through the old one.
    writer.write_all(b"still there?\n").await.expect("send");
    line.clear();
    reader.read_line(&mut line).await.expect("echo");
    assert_eq!(line, "still there?\n");
    // Then the old worker closes it, not before the timeout.
    line.clear();
    let eof = tokio::time::timeout(common::WAIT, reader.read_line(&mut line))
        .await
        .expect("the old worker closed the socket");
    assert!(matches!(eof, Ok(0) | Err(_)), "{eof:?} {line:?}");
    let open_for = reloaded.elapsed();
    assert!(
        open_for >= Duration::from_millis(1900),
        "closed {open_for:?} after the reload"
    );
    nginx.wait_for_new_workers(&old);
}
