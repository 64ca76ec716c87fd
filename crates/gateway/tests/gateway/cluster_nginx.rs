//! Issue 22's acceptance: three real `sesh` processes behind a real Nginx rendered from the
//! shipped cluster templates (`nginx/sesh-cluster*.template`), on one real PostgreSQL, the
//! emulator upstream, leases of 2 s. Every request and socket of a member goes through Nginx,
//! as in production: the tests only kill, freeze, restart and add instances, restart the
//! database, and read what the instances report (the lease rows, their metrics) and what
//! Spotify saw (the emulator's request log).
//!
//! What they show: one instance polls a session at a time, and every poll the emulator saw is
//! that instance's; `kill -9` of an owner loses no acknowledged add, vote or chat message and
//! the members are back within the lease and 2 s, with no gap in `seq`; an owner frozen past
//! its lease is fenced when it wakes, and gets the session back with its members; a restarted
//! instance gets its sessions back and every session's members end on one instance; the
//! instances carry on after PostgreSQL restarts; a fourth instance added by a reload takes
//! only its share of the sessions, the others' sockets staying open; and a session costs as
//! many Spotify calls per second before and after a fail-over or a fourth instance.

//!
//! Needs `nginx`, `envsubst` and PostgreSQL's server programs (`scripts/install-deps`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use sesh_gateway::cluster::ring::ClusterRing;
use sesh_session::SessionId;
use sesh_spotify_emulator::EmulatorHandle;

use crate::{
    cluster_routing::ClusterNginx,
    common::{
        Browser, Closed, WAIT, Ws, metric_sum,
        postgres::{Postgres, lease_owner},
        process::SeshProcess,
        start_emulator,
    },
    nginx::free_port,
};

/// The lease (`SESH_LEASE_TTL`).
const TTL: Duration = Duration::from_secs(2);

/// Nginx's passive health on every `server` line: one failed connect skips an instance for a
/// second. Shorter than the lease, as the guide's 10 s is shorter than the default 15 s: an
/// instance that came back is tried again before it gets its sessions back.
const SERVER_PARAMS: &str = "max_fails=1 fail_timeout=1s";

/// How often a watched playing session is polled (`SESH_POLL_WATCH_INTERVAL`): once a second,
/// so that a few seconds show a poller's rate.
const WATCH_INTERVAL: &str = "1s";

/// One instance of the cluster: its process (when running) and its name on the ring (its
/// address, as Nginx's `server` line and `SESH_CLUSTER_NODES` write it).
struct Node {
    process: Option<SeshProcess>,
    port: u16,
    name: String,
    metrics: String,
}

struct Cluster {
    nodes: Vec<Node>,
    ring: ClusterRing,
    nginx: ClusterNginx,
    /// Nginx's URL: `SESH_PUBLIC_URL` of every instance, the redirect URI's host.
    public: String,
    database: String,
    /// A PostgreSQL of the test's own, when it restarts it (else the shared one).
    postgres: Option<Postgres>,
    emulator: EmulatorHandle,
    http: reqwest::Client,
}

impl Cluster {
    /// `ring` instances on the ring (and in every `SESH_CLUSTER_NODES`), the first `running`
    /// of them started and behind Nginx; Nginx's old workers keep their sockets for
    /// `shutdown_timeout` after a reload. `own_postgres`: a database server of the test's own.
    async fn start(
        ring: usize,
        running: usize,
        own_postgres: bool,
        shutdown_timeout: &str,
    ) -> Self {
        let postgres = if own_postgres {
            Some(Postgres::start().await)
        } else {
            None
        };
        let database = match &postgres {
            Some(pg) => pg.database().await,
            None => Postgres::shared().await.database().await,
        };
        let nginx_port = free_port();
        let public = format!("http://127.0.0.1:{nginx_port}");
        let emulator = start_emulator(&public).await;
        let nodes: Vec<Node> = (0..ring)
            .map(|_| {
                let port = free_port();
                Node {
                    process: None,
                    port,
                    name: format!("127.0.0.1:{port}"),
                    metrics: format!("127.0.0.1:{}", free_port()),
                }
            })
            .collect();
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let ring_list = names.join(", ");
        let nginx = ClusterNginx::start(
            nginx_port,
            &names[..running],
            SERVER_PARAMS,
            shutdown_timeout,
        );
        let mut cluster = Self {
            ring: ring_list.parse().expect("the ring"),
            nodes,
            nginx,
            public,
            database,
            postgres,
            emulator,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        };
        for i in 0..running {
            cluster.start_node(i).await;
        }
        cluster
    }

    /// Starts instance `i` (again, on its port and name) and waits until it answers.
    async fn start_node(&mut self, i: usize) {
        if let Some(process) = self.nodes[i].process.as_mut() {
            process.start().await;
            return;
        }
        let ring = self
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let node = &self.nodes[i];
        let env = [
            ("SESH_DATABASE_URL", self.database.as_str()),
            ("SESH_LEASE_TTL", "2s"),
            ("SESH_CLUSTER_NODES", ring.as_str()),
            ("SESH_NODE_ID", node.name.as_str()),
            ("SESH_PUBLIC_URL", self.public.as_str()),
            ("SESH_TRUSTED_PROXIES", "127.0.0.1"),
            ("SESH_METRICS_LISTEN", node.metrics.as_str()),
            ("SESH_POLL_WATCH_INTERVAL", WATCH_INTERVAL),
            // The tests hold sockets they read only now and then (a client answers pings only
            // while it reads): not closed as silent within a test.
            ("SESH_WS_CLIENT_TIMEOUT", "120s"),
            // Watch polls every second cost a session a call a second: the app's budget stays
            // out of the way of what these tests count (the split is `cluster_failover`'s).
            ("SESH_SPOTIFY_BUDGET", "100"),
        ];
        let process = SeshProcess::spawn_on(node.port, &self.emulator.base_url(), &env).await;
        self.nodes[i].process = Some(process);
    }

    fn process(&self, i: usize) -> &SeshProcess {
        self.nodes[i].process.as_ref().expect("the instance runs")
    }

    /// `kill -9` of instance `i`; waits until it is gone.
    async fn kill9(&mut self, i: usize) {
        self.nodes[i]
            .process
            .as_mut()
            .expect("the instance runs")
            .kill9()
            .await;
    }

    /// The instance whose ring name is `name`.
    fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("{name} is not on the ring"))
    }

    /// The instance Nginx sends `session` to while the instances `live` allows run.
    fn preferred(&self, session: &str, live: impl Fn(usize) -> bool) -> usize {
        let id: SessionId = session.parse().expect("a session id");
        let node = self
            .ring
            .preferred_live(&id, |node| live(self.index(node.address())))
            .expect("a live instance");
        self.index(node.address())
    }

    /// `(instance, epoch)` of `session`'s lease.
    async fn owner(&self, session: &str) -> (usize, i64) {
        let (node, epoch) = lease_owner(&self.database, session).await.expect("a lease");
        (self.index(&node), epoch)
    }

    /// Waits until instance `node` holds `session`'s lease: its epoch.
    async fn owned_by(&self, session: &str, node: usize, within: Duration) -> i64 {
        let deadline = Instant::now() + within;
        loop {
            let (owner, epoch) = self.owner(session).await;
            if owner == node {
                return epoch;
            }
            assert!(
                Instant::now() < deadline,
                "{session} is on {}, not on {} after {within:?}",
                self.nodes[owner].name,
                self.nodes[node].name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The sum of instance `i`'s metric `name` over its labels.
    async fn metric(&self, i: usize, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("http://{}/metrics", self.nodes[i].metrics))
            .send()
            .await
            .expect("the metrics answer")
            .text()
            .await
            .expect("the metrics' text");
        metric_sum(&text, name)
    }

    /// Host-player polls (`sesh_polls_total`) instance `i` made so far.
    async fn polls(&self, i: usize) -> u64 {
        self.metric(i, "sesh_polls_total").await as u64
    }

    /// Web API requests the emulator answered for `user` so far, or only `GET /v1/me/player`.
    async fn spotify_calls(&self, user: &str, player_polls_only: bool) -> usize {
        let filter = if player_polls_only {
            "&method=GET&path=/v1/me/player"
        } else {
            ""
        };
        let log = self
            .emulator_get(&format!("/_emulator/requests?user_id={user}{filter}"))
            .await;
        log["requests"].as_array().expect("requests").len()
    }

    async fn emulator_get(&self, path: &str) -> Value {
        crate::common::emulator_get(&self.http, &self.emulator.base_url(), path).await
    }

    /// A browser logged in as `user` through Nginx (every step of the login lands wherever
    /// Nginx sends it).
    async fn login(&self, user: &str) -> Browser {
        Browser::login_at(&self.public, &self.emulator.base_url(), user).await
    }

    /// Watches the running instances' polls and the emulator's for `window`, while `owner` runs
    /// the session `host` hosts, the only one playing: the other instances do not poll at all,
    /// and every poll of the host's player the emulator saw is one the owner counted (give or
    /// take one in flight at either end). The host's Spotify calls per second in the window.
    async fn one_poller(
        &self,
        host: &str,
        owner: usize,
        running: &[usize],
        window: Duration,
    ) -> f64 {
        let before_calls = self.spotify_calls(host, false).await;
        let before_seen = self.spotify_calls(host, true).await;
        let mut before = Vec::new();
        for &i in running {
            before.push(self.polls(i).await);
        }
        let started = Instant::now();
        tokio::time::sleep(window).await;
        let mut after = Vec::new();
        for &i in running {
            after.push(self.polls(i).await);
        }
        let seen = self.spotify_calls(host, true).await - before_seen;
        let calls = self.spotify_calls(host, false).await - before_calls;
        let elapsed = started.elapsed().as_secs_f64();
        for (k, &i) in running.iter().enumerate() {
            let made = after[k] - before[k];
            if i == owner {
                assert!(made > 0, "the owner {} did not poll", self.nodes[i].name);
                assert!(
                    (seen as i64 - made as i64).abs() <= 1,
                    "the emulator saw {seen} polls of {host}'s player, its owner made {made}"
                );
            } else {
                assert_eq!(
                    made, 0,
                    "{} polled while {} ran the session",
                    self.nodes[i].name, self.nodes[owner].name
                );
            }
        }
        calls as f64 / elapsed
    }
}

impl Drop for Cluster {
    /// A failed test shows the end of each instance's log and Nginx's error log.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for node in &self.nodes {
            if let Some(process) = &node.process {
                let log = process.log();
                let tail: Vec<&str> = log.lines().rev().take(80).collect();
                eprintln!("--- {} (last lines)", node.name);
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        eprintln!("--- nginx\n{}", self.nginx.process.error_log());
        eprintln!("--- nginx access\n{}", self.nginx.process.access_log());
    }
}

/// `method path` through Nginx as `browser`, following `307 session_moved` to the alias
/// and retrying `503 session_elsewhere` (nothing was stored: the session is moving) until
/// [`WAIT`], as the pages do.
async fn call(
    browser: &Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_at(browser, &browser.address, method, path, body).await
}

/// [`call`] on the instance at `base` itself, with Nginx's URL as the `Origin` (what a page
/// served through it sends).
async fn call_at(
    browser: &Browser,
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + WAIT;
    let mut path = path.to_owned();
    loop {
        let mut request = browser
            .http
            .request(method.clone(), format!("{base}{path}"))
            .header("Origin", &browser.address);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(ToOwned::to_owned);
        let value = response.json().await.unwrap_or(Value::Null);
        match (status, location) {
            (StatusCode::TEMPORARY_REDIRECT, Some(location)) => {
                assert_eq!(value["error"]["code"], "session_moved", "{value}");
                path = location;
            }
            (StatusCode::SERVICE_UNAVAILABLE, _)
                if value["error"]["code"] == "session_elsewhere" =>
            {
                assert!(
                    Instant::now() < deadline,
                    "{method} {path} stayed elsewhere: {value}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => return (status, value),
        }
    }
}

/// `browser`'s socket on `session` through Nginx (`?since=`), retrying a refused handshake
/// every 100 ms until `deadline`, and after each refusal asking the session's snapshot, as the
/// pages do (`web/assets/js/session.js`'s `probe`). The probe matters here: Nginx counts an
/// upgraded connection a success only once it closes, so after an instance was marked failed,
/// handshakes alone do not mark it up again, and a plain request that reaches it does.
async fn connect(browser: &Browser, session: &str, since: Option<u64>, deadline: Instant) -> Ws {
    loop {
        match browser
            .ws_with(session, since, Some(&browser.address.clone()))
            .await
        {
            Ok(ws) => return ws,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no socket for {} by the deadline: {e}",
                browser.user
            ),
        }
        let _ = browser.get(&format!("/api/sessions/{session}")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn seq(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq: {frame}"))
}

/// A playing session whose members are all connected through Nginx.
struct Party {
    id: String,
    host: Browser,
    guests: Vec<Browser>,
    /// The host's socket first, then the guests'.
    sockets: Vec<Ws>,
    /// The last `seq` the sockets saw (all of them saw the same).
    last_seq: u64,
}

impl Party {
    fn members(&self) -> impl Iterator<Item = &Browser> {
        std::iter::once(&self.host).chain(&self.guests)
    }

    /// Reads what arrived on every socket for `quiet` (frames come while the session plays),
    /// keeping the last `seq`.
    async fn drain(&mut self, quiet: Duration) {
        for ws in &mut self.sockets {
            while let Ok(Ok(frame)) = tokio::time::timeout(quiet, ws.next_frame()).await {
                if let Some(seq) = frame["seq"].as_u64() {
                    self.last_seq = self.last_seq.max(seq);
                }
            }
        }
    }
}

/// `host` creates a session through Nginx, `guests` join it by its invite code, everyone
/// connects, and the host starts it on their own device.
async fn playing(cluster: &Cluster, host: &str, guests: &[&str]) -> Party {
    let host = cluster.login(host).await;
    let (status, created) = call(&host, Method::POST, "/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    let code = created["invite_code"].as_str().expect("a code").to_owned();
    let mut joined = Vec::new();
    for guest in guests {
        let guest = cluster.login(guest).await;
        let (status, body) = call(&guest, Method::POST, &format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        joined.push(guest);
    }
    let deadline = Instant::now() + WAIT;
    let mut sockets = Vec::new();
    for member in std::iter::once(&host).chain(&joined) {
        let mut ws = connect(member, &id, None, deadline).await;
        ws.next_of_type("welcome").await;
        sockets.push(ws);
    }
    let device = host.device_id().await;
    let (status, body) = call(
        &host,
        Method::POST,
        &format!("/api/sessions/{id}/start"),
        Some(json!({ "device_id": device })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut last_seq = 0;
    for ws in &mut sockets {
        last_seq = seq(&ws.next_matching(|f| f["type"] == "playback").await).max(last_seq);
    }
    let mut party = Party {
        id,
        host,
        guests: joined,
        sockets,
        last_seq,
    };
    party.drain(Duration::from_millis(200)).await;
    party
}

/// Catalogue tracks none of `party`'s queue holds ([`crate::common::fresh_tracks`]).
async fn fresh_tracks(cluster: &Cluster, party: &Party, count: usize) -> Vec<String> {
    let (status, view) = call(
        &party.host,
        Method::GET,
        &format!("/api/sessions/{}", party.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let queue = view["queue"].as_array().expect("the queue");
    crate::common::fresh_tracks(&cluster.http, &cluster.emulator.base_url(), queue, count).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_polls_a_session_and_killing_it_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start(3, 3, false, "30s").await;
    let mut party = playing(&cluster, "alice", &["bob", "carol"]).await;
    let id = party.id.clone();
    let all = [0, 1, 2];

    // Everyone landed where the ring says, and that instance runs the session alone.
    let owner = cluster.preferred(&id, |_| true);
    let (holder, epoch) = cluster.owner(&id).await;
    assert_eq!(holder, owner, "the lease is where Nginx sends the members");
    for i in all {
        let expected = if i == owner { 3.0 } else { 0.0 };
        assert_eq!(
            cluster.metric(i, "sesh_sockets_open").await,
            expected,
            "sockets on {}",
            cluster.nodes[i].name
        );
    }
    let rate_before = cluster
        .one_poller("alice", owner, &all, Duration::from_secs(6))
        .await;

    // Acknowledged writes through Nginx: two adds, votes on both, three messages.
    let tracks = fresh_tracks(&cluster, &party, 2).await;
    let mut added = Vec::new();
    for (guest, uri) in party.guests.iter().zip(&tracks) {
        let (status, entry) = call(
            guest,
            Method::POST,
            &format!("/api/sessions/{id}/queue"),
            Some(json!({ "uri": uri })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
        added.push(entry["entry"]["id"].clone());
    }
    for entry in &added {
        let (status, body) = call(
            &party.host,
            Method::POST,
            &format!("/api/sessions/{id}/queue/{entry}/vote"),
            Some(json!({ "vote": 1 })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut texts = Vec::new();
    for (i, member) in party.members().enumerate() {
        let text = format!("message {i}");
        let (status, body) = call(
            member,
            Method::POST,
            &format!("/api/sessions/{id}/chat"),
            Some(json!({ "text": text })),
        )
        .await;
        assert!(status.is_success(), "{body}");
        texts.push(text);
    }
    party.drain(Duration::from_millis(300)).await;

    cluster.kill9(owner).await;
    let killed = Instant::now();
    for ws in &mut party.sockets {
        assert!(matches!(ws.closed().await, Closed::Eof | Closed::Code(_)));
    }

    // Every member is back through Nginx, on the ring's next instance, with a state frame from
    // it within the lease, 2 s and the reconnects' 100 ms cadence (the pages' back-off).
    let next = cluster.preferred(&id, |i| i != owner);
    let deadline = killed + TTL + Duration::from_secs(2);
    let mut sockets = Vec::new();
    let mut welcomes = Vec::new();
    for member in party.members() {
        let mut ws = connect(member, &id, Some(party.last_seq), deadline).await;
        let welcome = ws.next_of_type("welcome").await;
        assert!(
            Instant::now() < deadline + Duration::from_millis(500),
            "{}'s state came late",
            member.user
        );
        assert_eq!(welcome["session"]["state"], "playing", "{welcome}");
        assert!(
            seq(&welcome) >= party.last_seq,
            "no seq goes back: {welcome}"
        );
        welcomes.push(seq(&welcome));
        sockets.push(ws);
    }
    let (holder, new_epoch) = cluster.owner(&id).await;
    assert_eq!(holder, next);
    assert!(new_epoch > epoch, "epochs only grow: {epoch} → {new_epoch}");

    // Nothing acknowledged is lost or doubled: both adds once, with both votes, and the three
    // messages once, in order.
    let (status, view) = call(
        &party.host,
        Method::GET,
        &format!("/api/sessions/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let queue = view["queue"].as_array().expect("the queue");
    for uri in &tracks {
        let entries: Vec<&Value> = queue
            .iter()
            .filter(|e| e["track"]["uri"] == uri.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "{uri} in the queue: {entries:?}");
        assert_eq!(
            entries[0]["votes"], 2,
            "the adder's vote and the host's: {}",
            entries[0]
        );
    }
    let stored = chat_texts(&party.host, &id).await;
    assert_eq!(stored, texts);

    // No gap from here: a vote's event comes to everyone, and every session event each socket
    // got since its welcome numbers on by one.
    let (status, body) = call(
        &party.guests[0],
        Method::POST,
        &format!("/api/sessions/{id}/queue/{}/vote", added[1]),
        Some(json!({ "vote": -1 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut numbers = Vec::new();
    for (ws, welcome) in sockets.iter_mut().zip(&welcomes) {
        let mut last = *welcome;
        loop {
            let frame = ws.next_json().await;
            let Some(seq) = frame["seq"].as_u64() else {
                continue;
            };
            assert_eq!(seq, last + 1, "a gap after {last}: {frame}");
            last = seq;
            if frame["type"] == "entry_votes" && frame["id"] == added[1] {
                break;
            }
        }
        numbers.push(last);
    }
    assert!(
        numbers.windows(2).all(|w| w[0] == w[1]),
        "everyone saw the vote as one seq: {numbers:?}"
    );

    // One poller again, on the new owner; a session costs Spotify as much as before.
    let running = [next, 3 - owner - next];
    let rate_after = cluster
        .one_poller("alice", next, &running, Duration::from_secs(6))
        .await;
    assert_close(
        rate_before,
        rate_after,
        "per second for one session, three instances then two after a fail-over",
    );
}

/// `after` within a quarter (or half a call a second) of `before`: a second poller would
/// double a session's polls, a lost one stop them.
fn assert_close(before: f64, after: f64, what: &str) {
    eprintln!("Spotify calls {what}: {before:.2} → {after:.2}");
    let tolerance = (before * 0.25).max(0.5);
    assert!(
        (after - before).abs() <= tolerance,
        "Spotify calls {what}: {before:.2} → {after:.2}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_frozen_past_its_lease_is_fenced_when_it_wakes_and_gets_the_session_back() {
    let cluster = Cluster::start(3, 3, false, "30s").await;
    let mut party = playing(&cluster, "alice", &["bob"]).await;
    let id = party.id.clone();
    let owner = cluster.preferred(&id, |_| true);
    let (_, epoch) = cluster.owner(&id).await;

    cluster.process(owner).signal("-STOP");
    // Nobody can reach the frozen instance; the ring's next live one takes the playing
    // session over by itself once the lease ran out (its sweeper).
    let next = cluster.preferred(&id, |i| i != owner);
    let taken = cluster
        .owned_by(&id, next, 2 * TTL + Duration::from_secs(3))
        .await;
    assert!(taken > epoch, "epochs only grow: {epoch} → {taken}");
    // A message through it (Nginx still tries the frozen instance first: it accepts
    // connections and never answers, so a page's request would wait; this one goes straight).
    let next_address = cluster.process(next).address.clone();
    let (status, body) = call_at(
        &party.host,
        &next_address,
        Method::POST,
        &format!("/api/sessions/{id}/chat"),
        Some(json!({ "text": "while frozen" })),
    )
    .await;
    assert!(status.is_success(), "{body}");

    // It wakes: the first thing asked of it, straight, is refused and stored nowhere (the
    // lease is the other's: its hub may not write, whatever it had in hand); it closes its
    // members' sockets with 1012 for them to move, and polls no more while the other holds
    // the lease.
    cluster.process(owner).signal("-CONT");
    let owner_address = cluster.process(owner).address.clone();
    let refused = party
        .host
        .http
        .post(format!("{owner_address}/api/sessions/{id}/chat"))
        .header("Origin", &party.host.address)
        .json(&json!({ "text": "to the woken one" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let refused: Value = refused.json().await.expect("an error");
    assert_eq!(refused["error"]["code"], "session_elsewhere", "{refused}");
    for ws in &mut party.sockets {
        assert_eq!(ws.closed().await, Closed::Code(1012));
    }
    let woke = cluster.polls(owner).await;
    let until = Instant::now() + TTL;
    while Instant::now() < until && cluster.owner(&id).await == (next, taken) {
        assert_eq!(
            cluster.polls(owner).await,
            woke,
            "the woken instance polled without the lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The members reconnect through Nginx, which sends them to the woken instance again: the
    // session comes back to it by hand-back, with a higher epoch, everyone on it.
    let deadline = Instant::now() + 3 * TTL + Duration::from_secs(3);
    let mut sockets = Vec::new();
    for member in party.members() {
        let mut ws = connect(member, &id, Some(party.last_seq), deadline).await;
        let welcome = ws.next_of_type("welcome").await;
        assert_eq!(welcome["session"]["state"], "playing", "{welcome}");
        sockets.push(ws);
    }
    let (holder, back) = cluster.owner(&id).await;
    assert_eq!(holder, owner);
    assert!(back > taken, "epochs only grow: {taken} → {back}");
    assert_eq!(cluster.metric(owner, "sesh_sockets_open").await, 2.0);
    assert_eq!(cluster.metric(next, "sesh_sockets_open").await, 0.0);
    // The one message stored is the one sent while it was frozen.
    let stored = chat_texts(&party.host, &id).await;
    assert_eq!(stored, ["while frozen"]);
}

/// Other people's pages while a test runs: an anonymous `GET /api/me` through Nginx every 50 ms
/// (answered 401 wherever Nginx sends it). Nginx counts an instance it saw fail up again only
/// once a request to it completes, and sessions are handed back only to an instance it does;
/// a cluster with no such traffic keeps its sessions where they are until some comes.
struct Traffic(tokio::task::JoinHandle<()>);

impl Traffic {
    fn start(cluster: &Cluster) -> Self {
        let (http, url) = (cluster.http.clone(), format!("{}/api/me", cluster.public));
        Self(tokio::spawn(async move {
            loop {
                let _ = http.get(&url).send().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }))
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The texts of `session`'s stored chat messages, oldest first, as `browser` reads them through
/// Nginx.
async fn chat_texts(browser: &Browser, session: &str) -> Vec<String> {
    let path = format!("/api/sessions/{session}/chat");
    let (status, page) = call(browser, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}

/// `party`'s host posts `text` through Nginx, and every socket in `sockets` gets it.
async fn chat_reaches(party: &Party, sockets: &mut [Ws], text: &str) {
    let id = &party.id;
    let (status, body) = call(
        &party.host,
        Method::POST,
        &format!("/api/sessions/{id}/chat"),
        Some(json!({ "text": text })),
    )
    .await;
    assert!(status.is_success(), "{body}");
    for ws in sockets {
        let frame = ws.next_matching(|f| f["type"] == "chat").await;
        assert_eq!(frame["message"]["text"], text, "{frame}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_gets_its_sessions_back_and_each_session_ends_on_one_instance() {
    let mut cluster = Cluster::start(3, 3, false, "30s").await;
    // Six playing sessions, a host and a guest each, over the three instances.
    let mut parties = Vec::new();
    for n in 0..6 {
        let (host, guest) = (
            format!("gen-{}", 100 + 2 * n),
            format!("gen-{}", 101 + 2 * n),
        );
        parties.push(playing(&cluster, &host, &[&guest]).await);
    }
    let mut expected_sockets = [0.0; 3];
    for party in &parties {
        let home = cluster.preferred(&party.id, |_| true);
        assert_eq!(
            cluster.owner(&party.id).await.0,
            home,
            "{} runs where Nginx sends it",
            party.id
        );
        expected_sockets[home] += 2.0;
    }
    for (i, expected) in expected_sockets.iter().enumerate() {
        assert_eq!(
            cluster.metric(i, "sesh_sockets_open").await,
            *expected,
            "sockets on {}",
            cluster.nodes[i].name
        );
    }
    let restarted = cluster.preferred(&parties[0].id, |_| true);
    let on_it: Vec<bool> = parties
        .iter()
        .map(|p| cluster.preferred(&p.id, |_| true) == restarted)
        .collect();
    let mut epochs = Vec::new();
    for party in &parties {
        epochs.push(cluster.owner(&party.id).await);
    }

    // The instance restarts (SIGTERM: it gives its leases up and closes its sockets). Its
    // sessions' members reconnect through Nginx to the ring's next instances meanwhile.
    cluster.process(restarted).sigterm();
    let stopped = cluster.nodes[restarted]
        .process
        .as_mut()
        .expect("runs")
        .wait_exit(WAIT)
        .await;
    assert!(
        stopped.is_some_and(|s| s.success()),
        "a clean exit: {stopped:?}"
    );
    let deadline = Instant::now() + TTL + Duration::from_secs(3);
    for (party, moved) in parties.iter_mut().zip(&on_it) {
        if !moved {
            continue;
        }
        let mut sockets = Vec::new();
        for member in party.members() {
            let mut ws = connect(member, &party.id, Some(party.last_seq), deadline).await;
            ws.next_of_type("welcome").await;
            sockets.push(ws);
        }
        party.sockets = sockets;
        let next = cluster.preferred(&party.id, |i| i != restarted);
        assert_eq!(cluster.owner(&party.id).await.0, next);
    }

    // Back on its port: once it has been up a whole lease and Nginx sent it a request (other
    // people's pages), the others give its sessions back (1012), the members land on it through
    // Nginx, and it claims them anew.
    cluster.start_node(restarted).await;
    let _traffic = Traffic::start(&cluster);
    let deadline = Instant::now() + 3 * TTL + Duration::from_secs(3);
    for (party, moved) in parties.iter_mut().zip(&on_it) {
        if !moved {
            continue;
        }
        for ws in &mut party.sockets {
            assert_eq!(ws.closed().await, Closed::Code(1012));
        }
        let mut sockets = Vec::new();
        for member in party.members() {
            let mut ws = connect(member, &party.id, Some(party.last_seq), deadline).await;
            let welcome = ws.next_of_type("welcome").await;
            assert_eq!(welcome["session"]["state"], "playing", "{welcome}");
            sockets.push(ws);
        }
        party.sockets = sockets;
    }

    // Steady state, a sweep and more later: every session on the instance Nginx sends it to,
    // with all of its members there; the others never moved (same epoch, the sockets they
    // had from the start).
    tokio::time::sleep(2 * TTL + Duration::from_secs(1)).await;
    let mut expected_sockets = [0.0; 3];
    for ((party, moved), (_, epoch)) in parties.iter_mut().zip(&on_it).zip(&epochs) {
        let home = cluster.preferred(&party.id, |_| true);
        let (holder, now) = cluster.owner(&party.id).await;
        assert_eq!(holder, home, "{} is not where Nginx sends it", party.id);
        if *moved {
            assert!(now > *epoch, "claimed anew: {epoch} → {now}");
        } else {
            assert_eq!(now, *epoch, "{} moved though its instance stayed", party.id);
        }
        expected_sockets[home] += party.sockets.len() as f64;
        let mut sockets = std::mem::take(&mut party.sockets);
        chat_reaches(party, &mut sockets, "all here").await;
        party.sockets = sockets;
    }
    for (i, expected) in expected_sockets.iter().enumerate() {
        assert_eq!(
            cluster.metric(i, "sesh_sockets_open").await,
            *expected,
            "sockets on {}",
            cluster.nodes[i].name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instances_carry_on_after_postgresql_restarts() {
    let mut cluster = Cluster::start(3, 3, true, "30s").await;
    let mut party = playing(&cluster, "alice", &["bob"]).await;
    let id = party.id.clone();
    let (owner, epoch) = cluster.owner(&id).await;

    // A restart of the database past a lease: the owner's lease runs out on its own clock.
    let postgres = cluster.postgres.as_mut().expect("an own PostgreSQL");
    postgres.stop();
    tokio::time::sleep(TTL + Duration::from_secs(1)).await;
    let postgres = cluster.postgres.as_mut().expect("an own PostgreSQL");
    postgres.start_again().await;

    // Every instance reconnects by itself: its heartbeat is fresh again.
    let deadline = Instant::now() + WAIT;
    let pool = sqlx::PgPool::connect(&cluster.database)
        .await
        .expect("the database opens");
    loop {
        let live: i64 = sqlx::query_scalar(
            // Younger than a lease (heartbeats are the database's clock in milliseconds).
            "SELECT count(*) FROM nodes \
             WHERE heartbeat_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) - 2000",
        )
        .fetch_one(&pool)
        .await
        .expect("nodes reads");
        if live == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{live} of 3 instances beat after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pool.close().await;

    // The session carries on where Nginx sends it: the members are connected there (their
    // sockets kept, or closed with 1012 and opened again), a message goes through and reaches
    // both, and its host's player is polled again.
    let deadline = Instant::now() + WAIT;
    let mut sockets = Vec::new();
    let old = std::mem::take(&mut party.sockets);
    for (member, mut ws) in party.members().zip(old) {
        let kept = loop {
            match tokio::time::timeout(Duration::from_millis(50), ws.next_frame()).await {
                Err(_) => break true,
                Ok(Ok(_)) => {}
                Ok(Err(closed)) => {
                    assert_eq!(closed, Closed::Code(1012), "{}'s socket", member.user);
                    break false;
                }
            }
        };
        if kept {
            sockets.push(ws);
        } else {
            let mut ws = connect(member, &id, Some(party.last_seq), deadline).await;
            ws.next_of_type("welcome").await;
            sockets.push(ws);
        }
    }
    chat_reaches(&party, &mut sockets, "after the restart").await;
    let (holder, now) = cluster.owner(&id).await;
    assert_eq!(holder, owner, "the session stays where Nginx sends it");
    assert!(now >= epoch, "epochs never go back: {epoch} → {now}");
    let polls = cluster.spotify_calls("alice", true).await;
    let deadline = Instant::now() + WAIT;
    while cluster.spotify_calls("alice", true).await == polls {
        assert!(
            Instant::now() < deadline,
            "nobody polls the host's player after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_instance_added_by_a_reload_takes_only_its_share_of_the_sessions() {
    // Four on the ring from the start (the guide's rolling restart done), three running.
    let mut cluster = Cluster::start(4, 3, false, "60s").await;
    let fourth = 3;
    // Playing sessions, the host connected, until one will move to the fourth and three stay.
    let mut parties = Vec::new();
    let mut stay = 0;
    for n in 0.. {
        assert!(
            n < 30,
            "thirty sessions and not one for the fourth instance"
        );
        let party = playing(&cluster, &format!("gen-{}", 200 + n), &[]).await;
        if cluster.preferred(&party.id, |_| true) != fourth {
            stay += 1;
        }
        parties.push(party);
        if parties.len() - stay >= 1 && stay >= 3 {
            break;
        }
    }
    let moves: Vec<bool> = parties
        .iter()
        .map(|p| cluster.preferred(&p.id, |_| true) == fourth)
        .collect();
    let mut before = Vec::new();
    for party in &parties {
        let (holder, epoch) = cluster.owner(&party.id).await;
        assert_eq!(holder, cluster.preferred(&party.id, |i| i != fourth));
        before.push((holder, epoch));
    }
    let hosts: Vec<String> = parties.iter().map(|p| p.host.user.clone()).collect();
    let rate_before = calls_per_second(&cluster, &hosts, Duration::from_secs(6)).await;

    // The fourth starts and Nginx reloads with it, every socket open; other people's pages
    // reach it.
    cluster.start_node(fourth).await;
    let _traffic = Traffic::start(&cluster);
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    cluster.nginx.reload_without_waiting(&names);

    // The sessions the ring now puts on it move there: closed with 1012 once it has been live
    // for two sweeps, and the members reconnect through the new workers to it.
    let deadline = Instant::now() + 3 * TTL + Duration::from_secs(3);
    for (party, moved) in parties.iter_mut().zip(&moves) {
        if !moved {
            continue;
        }
        assert_eq!(party.sockets[0].closed().await, Closed::Code(1012));
        let mut ws = connect(&party.host, &party.id, Some(party.last_seq), deadline).await;
        ws.next_of_type("welcome").await;
        party.sockets = vec![ws];
    }
    // A sweep and more later: the others have not moved (same instance, same epoch, the
    // socket they had before the reload, kept by the old worker), the moved ones are on the
    // fourth with a higher epoch.
    tokio::time::sleep(2 * TTL + Duration::from_secs(1)).await;
    for ((party, moved), (holder, epoch)) in parties.iter_mut().zip(&moves).zip(&before) {
        let now = cluster.owner(&party.id).await;
        if *moved {
            assert_eq!(now.0, fourth);
            assert!(now.1 > *epoch, "claimed anew: {epoch} → {}", now.1);
        } else {
            assert_eq!(
                now,
                (*holder, *epoch),
                "{} moved though the ring keeps it",
                party.id
            );
        }
        let mut sockets = std::mem::take(&mut party.sockets);
        chat_reaches(party, &mut sockets, "after the reload").await;
        party.sockets = sockets;
    }
    let moved = moves.iter().filter(|m| **m).count() as f64;
    assert_eq!(cluster.metric(fourth, "sesh_sockets_open").await, moved);
    // And a session costs Spotify as much with four instances as with three.
    let rate_after = calls_per_second(&cluster, &hosts, Duration::from_secs(6)).await;
    assert_close(
        rate_before,
        rate_after,
        "per second for these sessions, three instances then four",
    );
}

/// The Spotify calls the emulator got for `hosts` over `window`, per second.
async fn calls_per_second(cluster: &Cluster, hosts: &[String], window: Duration) -> f64 {
    let mut before = 0;
    for host in hosts {
        before += cluster.spotify_calls(host, false).await;
    }
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let mut after = 0;
    for host in hosts {
        after += cluster.spotify_calls(host, false).await;
    }
    (after - before) as f64 / started.elapsed().as_secs_f64()
}
