//! Two real `sesh` processes on one PostgreSQL database (issue 22), one emulator, short
//! leases, both on one ring (`SESH_CLUSTER_NODES`): what happens to a playing session when
//! the instance that runs it dies (`kill -9`) or freezes past its lease (`SIGSTOP`, then
//! `SIGCONT`), with its members reconnecting and with nobody connected. The test plays Nginx's part: after
//! the owner is gone, its members' browsers go to the other instance (a cookie is the host's,
//! whatever the port, so they stay logged in).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use sesh_gateway::cluster::ring::ClusterRing;
use sesh_session::SessionId;

use crate::{
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

/// Two instances, `n1` and `n2`, on a fresh database, `n1`'s emulator for both (it knows
/// `n1`'s redirect URI: logins go through `n1`); the first with metrics.
struct Cluster {
    url: String,
    n1: SeshProcess,
    n2: SeshProcess,
    metrics: String,
    _emulator: sesh_spotify_emulator::EmulatorHandle,
}

impl Cluster {
    async fn start() -> Self {
        let url = Postgres::shared().await.database().await;
        let (p1, p2, metrics) = (free_port(), free_port(), free_port());
        let emulator = start_emulator(&format!("http://127.0.0.1:{p1}")).await;
        let metrics_listen = format!("127.0.0.1:{metrics}");
        let shared = [
            ("SESH_DATABASE_URL", url.as_str()),
            ("SESH_LEASE_TTL", "2s"),
            // The ring the sweepers prefer instances by (as Nginx would list them).
            ("SESH_CLUSTER_NODES", "n1, n2"),
        ];
        let n1 = [
            ("SESH_NODE_ID", "n1"),
            ("SESH_METRICS_LISTEN", metrics_listen.as_str()),
        ];
        let n1 =
            SeshProcess::spawn_on(p1, &emulator.base_url(), &[&shared[..], &n1].concat()).await;
        let n2 = [("SESH_NODE_ID", "n2")];
        let n2 =
            SeshProcess::spawn_on(p2, &emulator.base_url(), &[&shared[..], &n2].concat()).await;
        Self {
            url,
            n1,
            n2,
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
            _emulator: emulator,
        }
    }

    /// `(owner_node, epoch)` of `session`'s lease.
    async fn owner(&self, session: &str) -> (String, i64) {
        lease_owner(&self.url, session).await.expect("a lease")
    }

    /// Polls of host players `n1` made so far (`sesh_polls_total`, every reason).
    async fn n1_polls(&self) -> u64 {
        self.n1_metric("sesh_polls_total").await as u64
    }

    /// The sum of `n1`'s metric `name` over its labels.
    async fn n1_metric(&self, name: &str) -> f64 {
        let text = reqwest::get(&self.metrics)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric_sum(&text, name)
    }

    /// Waits until `n1`'s Spotify budget is `rate` per second (its share of the app's 20).
    async fn n1_budget_becomes(&self, rate: f64, why: &str) {
        let deadline = Instant::now() + 3 * TTL + Duration::from_secs(2);
        loop {
            let now = self.n1_metric("sesh_budget_rate_per_second").await;
            if (now - rate).abs() < 0.01 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{why}: n1's budget is {now}/s, not {rate}/s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `method path` requests the emulator answered so far (from either instance).
    async fn requests(&self, method: &str, path: &str) -> usize {
        let log = self
            .n1
            .emulator_get(&format!("/_emulator/requests?method={method}&path={path}"))
            .await;
        log["requests"].as_array().unwrap().len()
    }

    /// Player polls the emulator answered so far.
    async fn player_polls(&self) -> usize {
        self.requests("GET", "/v1/me/player").await
    }
}

/// A playing session on `n1`: alice hosts, bob listens, both connected there; the id, the
/// browsers, the sockets and the last `seq` alice's socket saw.
async fn playing_on_n1(cluster: &Cluster) -> (String, Browser, Browser, Vec<Ws>, u64) {
    let n1 = &cluster.n1;
    let alice = n1.login("alice").await;
    let bob = n1.login("bob").await;
    let created = preferring_n1(&alice).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap();
    let (status, body) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut sockets = vec![alice.ws(&id).await, bob.ws(&id).await];
    let mut last_seen = 0;
    for ws in &mut sockets {
        last_seen = seq(&ws.next_of_type("welcome").await);
    }
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    for ws in &mut sockets {
        let playback = ws.next_matching(|f| f["type"] == "playback").await;
        last_seen = playback["seq"].as_u64().unwrap_or(last_seen);
    }
    assert_eq!(cluster.owner(&id).await.0, "n1");
    (id, alice, bob, sockets, last_seen)
}

/// A session `host` created whose first instance on the ring is `n1` (else `n2` would take it
/// back: the hand-back), ending the others it made on the way.
async fn preferring_n1(host: &Browser) -> Value {
    let ring: ClusterRing = "n1, n2".parse().unwrap();
    for _ in 0..10 {
        let (status, created) = host.post("/api/sessions", None).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id: SessionId = created["id"].as_str().unwrap().parse().unwrap();
        if ring.preferred(&id).address() == "n1" {
            return created;
        }
        let (status, body) = host.post(&format!("/api/sessions/{id}/end"), None).await;
        assert!(status.is_success(), "{body}");
    }
    panic!("ten sessions in a row preferred n2");
}

/// Connects `browser` to `session` on its instance with `?since=`, retrying while the
/// session is elsewhere (its lease not expired yet), until `deadline`.
async fn reconnect(browser: &Browser, session: &str, since: u64, deadline: Instant) -> Ws {
    loop {
        match browser
            .ws_with(session, Some(since), Some(&browser.address.clone()))
            .await
        {
            Ok(ws) => return ws,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no socket on {} by the deadline: {e}",
                browser.address
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn seq(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq: {frame}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_moves_a_playing_session_to_the_other_instance_losing_nothing() {
    let mut cluster = Cluster::start().await;
    let (id, alice, bob, mut sockets, mut last_seen) = playing_on_n1(&cluster).await;
    let epoch = cluster.owner(&id).await.1;
    // Three messages, each acknowledged; the last frame alice saw.
    let mut texts = Vec::new();
    for i in 0..3 {
        let text = format!("message {i}");
        let (status, body) = bob
            .post(
                &format!("/api/sessions/{id}/chat"),
                Some(json!({ "text": text })),
            )
            .await;
        assert!(status.is_success(), "{body}");
        texts.push(text);
    }
    while let Ok(frame) =
        tokio::time::timeout(Duration::from_millis(300), sockets[0].next_frame()).await
    {
        match frame {
            Ok(frame) => last_seen = frame["seq"].as_u64().unwrap_or(last_seen).max(last_seen),
            Err(_) => break,
        }
    }
    assert!(last_seen > 0, "alice saw the session's frames");

    cluster.n1.kill9().await;
    let killed = Instant::now();
    for ws in &mut sockets {
        assert!(matches!(ws.closed().await, Closed::Eof | Closed::Code(_)));
    }

    // Both reconnect on n2 and get the session from its new owner within the TTL + 2 s.
    let deadline = killed + TTL + Duration::from_secs(2);
    let (alice2, bob2) = (alice.at(&cluster.n2.address), bob.at(&cluster.n2.address));
    let mut moved = Vec::new();
    for browser in [&alice2, &bob2] {
        let mut ws = reconnect(browser, &id, last_seen, deadline).await;
        let welcome = ws.next_of_type("welcome").await;
        assert!(
            Instant::now() < deadline + Duration::from_secs(1),
            "state came late"
        );
        assert_eq!(welcome["session"]["state"], "playing", "{welcome}");
        assert!(seq(&welcome) >= last_seen, "no seq goes back: {welcome}");
        moved.push(ws);
    }
    let (owner, new_epoch) = cluster.owner(&id).await;
    assert_eq!(owner, "n2");
    assert!(new_epoch > epoch, "epochs only grow: {epoch} → {new_epoch}");

    // Every acknowledged message is there, once, in order.
    let (status, page) = alice2.get(&format!("/api/sessions/{id}/chat")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let stored: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(stored, texts);
    // The new owner polls the host's player (its members are connected: it watches).
    let before = cluster.player_polls().await;
    let until = Instant::now() + WAIT;
    while cluster.player_polls().await == before {
        assert!(Instant::now() < until, "n2 never polled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_frozen_past_its_lease_is_fenced_when_it_wakes_and_gives_the_session_up() {
    let cluster = Cluster::start().await;
    let (id, alice, _bob, mut sockets, _) = playing_on_n1(&cluster).await;
    let epoch = cluster.owner(&id).await.1;
    assert!(
        cluster.n1_polls().await > 0,
        "n1 polled while it owned the session"
    );

    cluster.n1.signal("-STOP");
    tokio::time::sleep(TTL + Duration::from_secs(1)).await;
    // n2 takes the session over once the lease expired, and a message goes through it.
    let alice2 = alice.at(&cluster.n2.address);
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = alice2.get(&format!("/api/sessions/{id}")).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(body["error"]["code"], "session_elsewhere", "{body}");
        assert!(Instant::now() < deadline, "n2 never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = alice2
        .post(
            &format!("/api/sessions/{id}/chat"),
            Some(json!({ "text": "on n2" })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let taken = cluster.owner(&id).await;
    assert_eq!(taken.0, "n2");
    assert!(taken.1 > epoch);

    // n1 wakes: it closes its sockets for them to reconnect, polls no more and writes nothing.
    cluster.n1.signal("-CONT");
    for ws in &mut sockets {
        assert_eq!(ws.closed().await, Closed::Code(1012));
    }
    // While n2 holds the lease n1 polls no more. (n1 is the session's preferred instance: once
    // it has been live again for a sweep, n2 hands the session back, and n1 polls again then.)
    let polls = cluster.n1_polls().await;
    let until = Instant::now() + 2 * TTL;
    while Instant::now() < until {
        let owner = cluster.owner(&id).await;
        let now = cluster.n1_polls().await;
        if owner != taken || cluster.owner(&id).await != taken {
            let back = cluster.owner(&id).await;
            assert!(back.0 == "n1" && back.1 > taken.1, "handed back: {back:?}");
            break;
        }
        assert_eq!(now, polls, "n1 polled after losing the lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only n2's message is stored, read wherever the session runs now.
    let deadline = Instant::now() + WAIT;
    let page = loop {
        let owner = if cluster.owner(&id).await.0 == "n1" {
            &alice
        } else {
            &alice2
        };
        let (status, page) = owner.get(&format!("/api/sessions/{id}/chat")).await;
        if status == StatusCode::OK {
            break page;
        }
        assert_eq!(page["error"]["code"], "session_elsewhere", "{page}");
        assert!(Instant::now() < deadline, "nobody serves the session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(page["messages"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_session_nobody_has_open_is_taken_over_and_fed_when_its_instance_dies() {
    let mut cluster = Cluster::start().await;
    let (id, _alice, _bob, sockets, _) = playing_on_n1(&cluster).await;
    // Nobody connected any more; the host's player 20 s before the end of the track, so that
    // whoever runs the session must hand Spotify the next entry within a few seconds.
    drop(sockets);
    let player = cluster
        .n1
        .emulator_get("/_emulator/users/alice/player")
        .await;
    let duration = player["duration_ms"].as_u64().unwrap();
    const QUEUE: &str = "/v1/me/player/queue";
    let before = cluster.requests("POST", QUEUE).await;
    cluster
        .n1
        .emulator_post(
            "/_emulator/users/alice/player",
            json!({ "action": "seek", "position_ms": duration - 20_000 }),
        )
        .await;
    cluster.n1.kill9().await;

    // n2 takes the session over by itself (no request names it): within the lease, one sweep
    // and a little.
    let deadline = Instant::now() + 2 * TTL + Duration::from_secs(3);
    while cluster.owner(&id).await.0 != "n2" {
        assert!(Instant::now() < deadline, "n2 never took the session over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …and hands Spotify the next entry as the track ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.requests("POST", QUEUE).await == before {
        assert!(
            Instant::now() < deadline,
            "nobody fed Spotify the next entry"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_comes_back_gets_its_sessions_back_with_their_members() {
    let mut cluster = Cluster::start().await;
    let (id, alice, bob, sockets, last_seen) = playing_on_n1(&cluster).await;
    cluster.n1.kill9().await;
    drop(sockets);

    // Meanwhile on n2, both connected there.
    let deadline = Instant::now() + TTL + Duration::from_secs(3);
    let (alice2, bob2) = (alice.at(&cluster.n2.address), bob.at(&cluster.n2.address));
    let mut on_n2 = Vec::new();
    for browser in [&alice2, &bob2] {
        let mut ws = reconnect(browser, &id, last_seen, deadline).await;
        ws.next_of_type("welcome").await;
        on_n2.push(ws);
    }
    let (owner, epoch) = cluster.owner(&id).await;
    assert_eq!(owner, "n2");

    // n1 comes back on its port and database: n2 gives the session back once n1 has been up a
    // whole lease, reached by a plain request and beating (three TTLs and a bit at most),
    // closing its sockets with 1012.
    cluster.n1.start().await;
    let back = Instant::now();
    // Nginx tries it again: a plain request reaches it (until one does, nothing is handed to
    // it, since Nginx would still send its members elsewhere).
    let (status, me) = alice.get("/api/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    for ws in &mut on_n2 {
        assert_eq!(ws.closed().await, Closed::Code(1012));
    }
    assert!(
        back.elapsed() < 3 * TTL + Duration::from_secs(3),
        "handed back after {:?}",
        back.elapsed()
    );
    // Its members land on n1 (where Nginx sends them), which claims it with a higher epoch.
    let deadline = Instant::now() + TTL + Duration::from_secs(3);
    let mut on_n1 = Vec::new();
    for browser in [&alice, &bob] {
        let mut ws = reconnect(browser, &id, last_seen, deadline).await;
        let welcome = ws.next_of_type("welcome").await;
        assert_eq!(welcome["session"]["state"], "playing", "{welcome}");
        on_n1.push(ws);
    }
    let (owner, new_epoch) = cluster.owner(&id).await;
    assert_eq!(owner, "n1");
    assert!(new_epoch > epoch, "epochs only grow: {epoch} → {new_epoch}");
    // Steady: after another sweep and more, n1 keeps it and both sockets stay open there.
    tokio::time::sleep(2 * TTL + Duration::from_secs(1)).await;
    assert_eq!(cluster.owner(&id).await, (owner, new_epoch));
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/chat"),
            Some(json!({ "text": "still here" })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    for ws in &mut on_n1 {
        let frame = ws.next_matching(|f| f["type"] == "chat").await;
        assert_eq!(frame["message"]["text"], "still here", "{frame}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instances_split_the_spotify_budget_by_the_sessions_they_run() {
    let mut cluster = Cluster::start().await;
    // SESH_SPOTIFY_BUDGET is 20 for the app: (sessions here + 1) / (sessions + instances).
    cluster
        .n1_budget_becomes(10.0, "two instances, no session")
        .await;
    let (_id, _alice, _bob, _sockets, _) = playing_on_n1(&cluster).await;
    cluster
        .n1_budget_becomes(20.0 * 2.0 / 3.0, "one session, on n1")
        .await;
    cluster.n2.kill9().await;
    cluster
        .n1_budget_becomes(20.0, "n1 alone once n2's heartbeat is old")
        .await;
}
