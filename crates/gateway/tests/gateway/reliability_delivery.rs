//! Reliability of delivery: `?since=` resumes (within the ring, beyond it, across a restart),
//! heartbeats, slow readers, graceful shutdown on SIGTERM and crash safety under `kill -9`.
//! Tests that need signals or the process's memory run the real `sesh` binary as a child
//! process (`common::process`); the others run the app in-process.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sesh_gateway::settings::HumanDuration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Browser, Closed, WAIT, Ws, process::SeshProcess, spawn_app_with, welcome};

// ---- helpers -----------------------------------------------------------------------------------

/// Host creates a session, `guests` join; the session id.
async fn create_and_join(host: &Browser, guests: &[&Browser]) -> (String, String) {
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    for guest in guests {
        let (status, body) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (id, code)
}

fn seq(frame: &Value) -> u64 {
    frame["seq"].as_u64().expect("a seq")
}

/// Members without the `online` flag (which legitimately differs across reconnects).
fn members(view: &Value) -> Vec<(String, String)> {
    view["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].to_string(), m["role"].to_string()))
        .collect()
}

/// Reads until the server's close frame; its code and reason.
async fn close_frame(ws: &mut Ws) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("closed within the wait");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | Some(Err(_)) | None => {
                panic!("socket ended without a close frame")
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Connects `who` and disconnects again, `cycles` times: two `presence` events per cycle, the
/// cheapest session events to make in bulk. `observer` (another member's socket) sees each one;
/// returns the frames it saw.
async fn presence_churn(who: &Browser, id: &str, observer: &mut Ws, cycles: usize) -> Vec<Value> {
    let mut seen = Vec::with_capacity(cycles * 2);
    for _ in 0..cycles {
        let mut ws = who.ws(id).await;
        welcome(&mut ws).await;
        seen.push(
            observer
                .next_matching(|f| f["type"] == "presence" && f["online"] == true)
                .await,
        );
        ws.stream.close(None).await.unwrap();
        seen.push(
            observer
                .next_matching(|f| f["type"] == "presence" && f["online"] == false)
                .await,
        );
    }
    seen
}

/// A WebSocket client on a bare TCP socket: it does the handshake and then only what the test
/// says. Unlike tungstenite it never answers pings and never reads unless asked.
struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A server frame: opcode and payload.
struct RawFrame {
    opcode: u8,
    payload: Vec<u8>,
}

impl RawWs {
    /// Opens the session's socket as `browser`; `recv_buffer` shrinks the kernel's receive
    /// buffer so that a client that stops reading pushes back on the server quickly.
    async fn connect(browser: &Browser, id: &str, recv_buffer: Option<u32>) -> Self {
        let host = browser.address.trim_start_matches("http://").to_owned();
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let mut stream = socket.connect(host.parse().unwrap()).await.unwrap();
        let cookie = browser.cookie().unwrap();
        let request = format!(
            "GET /ws/sessions/{id} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nOrigin: {}\r\nCookie: {}\r\n\r\n",
            browser.address,
            cookie.to_str().unwrap()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Self {
            stream,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(end) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            raw.fill().await;
        };
        let head = String::from_utf8_lossy(&raw.buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.buf.drain(..end);
        raw
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("data within the wait")
            .expect("read");
        assert!(n > 0, "connection closed without a close frame");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next frame (server frames are unmasked and, from actix, unfragmented).
    async fn next_frame(&mut self) -> RawFrame {
        loop {
            if self.buf.len() >= 2 {
                let opcode = self.buf[0] & 0x0f;
                let (len, header) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= header + len {
                    let payload = self.buf[header..header + len].to_vec();
                    self.buf.drain(..header + len);
                    return RawFrame { opcode, payload };
                }
            }
            self.fill().await;
        }
    }
}

impl RawFrame {
    fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

// ---- resumes -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_replays_exactly_the_missed_events_until_the_ring_no_longer_has_them() {
    let app = spawn_app_with(|_| {}).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, _) = create_and_join(&alice, &[&bob, &carol]).await;
    let mut host = alice.ws(&id).await;
    welcome(&mut host).await;

    // Bob sees the welcome, then drops off.
    let mut ws = bob.ws(&id).await;
    let last_seen = seq(&welcome(&mut ws).await);
    ws.stream.close(None).await.unwrap();
    drop(ws);

    // About 200 events while he is away (fewer than the ring's 256), as the host saw them:
    // his own coming and going, then Carol's.
    let mut missed = Vec::new();
    while missed
        .last()
        .is_none_or(|f: &Value| !(f["user_id"] == "bob" && f["online"] == false))
    {
        let frame = host.next_json().await;
        if frame["seq"].as_u64().is_some_and(|s| s > last_seen) {
            missed.push(frame);
        }
    }
    missed.extend(presence_churn(&carol, &id, &mut host, 100).await);
    let now = seq(missed.last().unwrap());

    // The resume gets exactly those events, in order, byte for byte as everyone saw them,
    // and no welcome.
    let mut ws = bob
        .ws_with(&id, Some(last_seen), Some(&bob.address.clone()))
        .await
        .unwrap();
    let mut replayed = Vec::new();
    while replayed.last().is_none_or(|f| seq(f) < now) {
        let frame = ws.next_json().await;
        assert_ne!(
            frame["type"], "welcome",
            "a resume within the ring gets no welcome"
        );
        replayed.push(frame);
    }
    assert_eq!(
        replayed.iter().map(seq).collect::<Vec<_>>(),
        ((last_seen + 1)..=now).collect::<Vec<_>>(),
        "every missed seq once, in order"
    );
    assert_eq!(replayed, missed);
    // The chat is not replayed: it follows as it is now (docs/websocket.md, "Chat").
    let history = ws.next_json().await;
    assert_eq!(history["type"], "chat_history", "{history}");
    // Then live again: his own presence is the next event.
    let live = ws.next_json().await;
    assert_eq!(seq(&live), now + 1, "{live}");
    assert_eq!(live["user_id"], "bob");
    let last_seen = seq(&live);
    ws.stream.close(None).await.unwrap();
    drop(ws);

    // 280 more events: the oldest he missed has left the 256-event ring.
    host.next_matching(|f| f["type"] == "presence" && f["user_id"] == "bob")
        .await;
    let churned = presence_churn(&carol, &id, &mut host, 140).await;
    let now = seq(churned.last().unwrap());
    let mut ws = bob
        .ws_with(&id, Some(last_seen), Some(&bob.address.clone()))
        .await
        .unwrap();
    let fresh = welcome(&mut ws).await;
    assert_eq!(fresh["recovered"], false);
    assert_eq!(
        seq(&fresh),
        now,
        "the welcome reflects everything up to now"
    );
    assert_eq!(fresh["session"]["members"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_restart_gets_a_fresh_welcome_and_seq_never_goes_back() {
    let mut app = spawn_app_with(|_| {}).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = create_and_join(&alice, &[&bob]).await;
    let mut ws = bob.ws(&id).await;
    let mut last_seen = seq(&welcome(&mut ws).await);
    let mut host = alice.ws(&id).await;
    welcome(&mut host).await;
    // Bob sees Alice come online: he is fully up to date.
    last_seen = last_seen.max(seq(&ws.next_of_type("presence").await));

    app.restart().await;
    assert_eq!(ws.closed().await, Closed::Code(1001));

    // The restarted server has no ring and no presence from before: exactly up to date or
    // not, Bob must rebuild his state from a welcome.
    let mut ws = bob
        .ws_with(&id, Some(last_seen), Some(&bob.address.clone()))
        .await
        .unwrap();
    let fresh = welcome(&mut ws).await;
    assert_eq!(fresh["recovered"], false);
    assert!(
        seq(&fresh) > last_seen,
        "seq {} after {last_seen}",
        seq(&fresh)
    );
    assert_eq!(fresh["session"]["members"].as_array().unwrap().len(), 2);
    // Nobody but Bob is online now, whatever Bob believed before.
    let online: Vec<&Value> = fresh["session"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["online"] == true)
        .collect();
    assert_eq!(online.len(), 1, "{online:?}");
    assert_eq!(online[0]["id"], "bob");
}

// ---- heartbeat -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_on_schedule_and_closes_clients_that_fall_silent() {
    let ping = Duration::from_millis(100);
    let timeout = Duration::from_millis(600);
    let app = spawn_app_with(|s| {
        s.ws_ping_interval = HumanDuration(ping);
        s.ws_client_timeout = HumanDuration(timeout);
    })
    .await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = create_and_join(&alice, &[&bob]).await;

    // Alice's browser keeps reading, so tungstenite answers every ping, for three timeouts.
    let mut lively = alice.ws(&id).await;
    welcome(&mut lively).await;
    let lively = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout * 3;
        let mut pinged = 0;
        while let Ok(message) = tokio::time::timeout_at(deadline, lively.stream.next()).await {
            match message {
                Some(Ok(Message::Ping(_))) => pinged += 1,
                Some(Ok(Message::Close(frame))) => panic!("a lively client was closed: {frame:?}"),
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
        (lively, pinged)
    });

    // Bob's client reads but never answers or sends anything.
    let opened = Instant::now();
    let mut silent = RawWs::connect(&bob, &id, None).await;
    let mut pings = Vec::new();
    let close = loop {
        let frame = silent.next_frame().await;
        match frame.opcode {
            9 => pings.push(opened.elapsed()),
            8 => break frame,
            _ => {}
        }
    };
    let closed_after = opened.elapsed();
    assert_eq!(close.close_code(), Some(1001), "silent clients get 1001");
    // Bounds leave room for a loaded CI machine (2 cores, tests in parallel): the close may
    // come late, never early.
    assert!(
        closed_after >= timeout && closed_after <= timeout + Duration::from_secs(2),
        "closed after {closed_after:?} (timeout {timeout:?})"
    );
    // A ping every interval until then: at least a few, never more than the schedule allows.
    let scheduled = (closed_after.as_millis() / ping.as_millis()) as usize;
    assert!(
        pings.len() >= 3 && pings.len() <= scheduled + 1,
        "{} pings in {closed_after:?}: {pings:?}",
        pings.len()
    );
    assert!(pings[0] <= ping + Duration::from_millis(500), "{pings:?}");

    // Meanwhile Alice, who answered every ping, is still connected well past the timeout.
    let (mut lively, pinged) = lively.await.expect("the lively client was never closed");
    assert!(pinged >= 6, "{pinged} pings");
    lively.send(json!({"type": "ping"})).await;
    lively.next_of_type("pong").await;
}

// ---- slow readers and memory -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_with_1008_and_memory_stays_flat() {
    // Events come from the poller, the busiest producer in real sessions: while the host is
    // paused it polls back to back (interval 0) and, with resync 0, broadcasts a `playback`
    // after each poll (fixed polling: the predictive one waits longer while paused). No
    // test-side work per event, and each frame is a realistic ~0.5 KiB.
    let sesh = SeshProcess::spawn(&[
        ("SESH_POLL_MODE", "fixed"),
        ("SESH_POLL_PAUSED_INTERVAL", "0ms"),
        ("SESH_PLAYBACK_RESYNC", "0ms"),
        ("SESH_SPOTIFY_BUDGET", "1000000"),
        ("SESH_WS_PING_INTERVAL", "200ms"),
        ("SESH_WS_CLIENT_TIMEOUT", "60s"),
        ("SESH_WS_QUEUE", "256"),
    ])
    .await;
    let alice = sesh.login("alice").await;
    let bob = sesh.login("bob").await;
    let (id, _) = create_and_join(&alice, &[&bob]).await;
    let mut host = alice.ws(&id).await;
    welcome(&mut host).await;
    // Bob's client completes the handshake and never reads again.
    let mut stuck = RawWs::connect(&bob, &id, Some(4096)).await;

    let (status, body) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sesh.emulator_post("/_emulator/users/alice/player", json!({"action": "pause"}))
        .await;

    // Counts `playback` frames on the host's socket (cheaply: no JSON parsing).
    async fn count_playbacks(ws: &mut Ws, n: usize) -> Value {
        let mut counted = 0;
        loop {
            let message = tokio::time::timeout(WAIT, ws.stream.next())
                .await
                .expect("events keep coming");
            if let Some(Ok(Message::Text(text))) = message
                && text.as_str().starts_with("{\"type\":\"playback\"")
            {
                counted += 1;
                if counted == n {
                    return serde_json::from_str(text.as_str()).unwrap();
                }
            }
        }
    }
    // Warm up: the stuck client's buffers fill, it is dropped, allocations settle.
    let first = seq(&count_playbacks(&mut host, 1_000).await);
    let before = sesh.rss_kib();
    let mut peak = before;
    let started = Instant::now();
    let mut last = first;
    // 20,000 events: a queue that kept them for the stuck client would hold ~10 MiB, far
    // above the allocator's noise on a busy machine.
    for _ in 0..20 {
        last = seq(&count_playbacks(&mut host, 1_000).await);
        peak = peak.max(sesh.rss_kib());
    }
    let after = sesh.rss_kib();
    let broadcast = last - first;
    assert!(broadcast >= 20_000, "{broadcast} events");
    eprintln!(
        "{broadcast} events in {:?}; RSS {before} KiB before, peak {peak} KiB, {after} KiB after",
        started.elapsed()
    );
    assert!(
        peak <= before + 4_096,
        "memory grew from {before} KiB to {peak} KiB while the client did not read"
    );

    // The stuck client, reading at last, finds what was in flight (in kernel buffers) and
    // then a 1008 close: it was cut off long before the end of the storm.
    let mut last_delivered = 0;
    let close = loop {
        let frame = stuck.next_frame().await;
        match frame.opcode {
            1 => {
                let event: Value = serde_json::from_slice(&frame.payload).unwrap();
                last_delivered = event["seq"].as_u64().unwrap_or(last_delivered);
            }
            8 => break frame,
            _ => {}
        }
    };
    assert!(
        matches!(close.close_code(), Some(1008 | 1013)),
        "close code {:?}",
        close.close_code()
    );
    assert!(
        last_delivered + 1_000 < last,
        "the stuck client got events up to seq {last_delivered} of {last}"
    );
}

// ---- graceful shutdown -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_finishes_requests_and_clients_resume_after_restart() {
    let mut sesh = SeshProcess::spawn(&[]).await;
    let alice = sesh.login("alice").await;
    let bob = sesh.login("bob").await;
    let (id, _) = create_and_join(&alice, &[&bob]).await;
    let mut ws_alice = alice.ws(&id).await;
    let before = welcome(&mut ws_alice).await;
    let mut ws_bob = bob.ws(&id).await;
    let bob_before = welcome(&mut ws_bob).await;
    let mut last_seen = seq(&bob_before);
    // Bob is up to date.
    let presence = ws_alice.next_of_type("presence").await;
    last_seen = last_seen.max(seq(&presence));

    // A request that is still waiting on (slow) Spotify when the signal comes.
    sesh.emulator_post(
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/me/player/devices", "delay_ms": 1500, "count": 1}),
    )
    .await;
    let http = alice.http.clone();
    let url = format!("{}/api/me/devices", alice.address);
    let in_flight = tokio::spawn(async move { http.get(url).send().await });
    // In flight once the emulator has taken the fault (its count drops to zero).
    let deadline = Instant::now() + WAIT;
    loop {
        let faults: Value = sesh
            .http
            .get(format!("{}/_emulator/faults", sesh.emulator_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if faults["faults"].as_array().is_none_or(Vec::is_empty) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the request never reached Spotify"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let signalled = Instant::now();
    sesh.sigterm();
    for ws in [&mut ws_alice, &mut ws_bob] {
        let (code, reason) = close_frame(ws).await;
        assert_eq!(code, 1001);
        assert!(reason.contains("going away"), "{reason}");
    }
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let devices: Value = response.json().await.unwrap();
    assert!(!devices.as_array().unwrap().is_empty(), "{devices}");
    let status = sesh
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM:\n{}", sesh.log()));
    assert!(status.success(), "{status}: {}", sesh.log());
    assert!(signalled.elapsed() < Duration::from_secs(5));

    // Same database, new process: both clients resume (logins and the session survived).
    sesh.start().await;
    for (browser, ws_before) in [(&alice, &before), (&bob, &bob_before)] {
        let mut ws = browser
            .ws_with(&id, Some(last_seen), Some(&browser.address.clone()))
            .await
            .unwrap();
        let after = welcome(&mut ws).await;
        assert_eq!(after["recovered"], false);
        assert!(seq(&after) > last_seen);
        assert_eq!(after["you"], ws_before["you"]);
        for field in ["id", "state", "host", "invite_code", "queue", "position"] {
            assert_eq!(
                after["session"][field], ws_before["session"][field],
                "{field}"
            );
        }
        assert_eq!(members(&after["session"]), members(&ws_before["session"]));
    }
}

// ---- crash safety ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_join_storm_keeps_the_database_sound_and_every_acknowledged_join() {
    const GUESTS: usize = 30;
    // Thirty logins from one address in a moment: past the default login rate.
    let mut sesh = SeshProcess::spawn(&[("SESH_INVITE_RATE", "0"), ("SESH_LOGIN_RATE", "0")]).await;
    let alice = sesh.login("alice").await;
    let (id, code) = create_and_join(&alice, &[]).await;
    let mut host = alice.ws(&id).await;
    let mut seen_seq = seq(&welcome(&mut host).await);
    let mut guests = Vec::new();
    for n in 1..=GUESTS {
        guests.push(sesh.login(&format!("gen-{n}")).await);
    }

    // Every guest joins at once; the process dies while the joins are being answered.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(GUESTS);
    for guest in &guests {
        let http = guest.http.clone();
        let url = format!("{}/api/join/{code}", guest.address);
        let origin = guest.address.clone();
        let user = guest.user.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let answer = http.post(url).header("Origin", origin).send().await;
            let ok = answer.is_ok_and(|r| r.status().is_success());
            let _ = done.send((user, ok)).await;
        });
    }
    drop(done_tx);
    let mut acknowledged = Vec::new();
    let mut answered = 0;
    while let Some((user, ok)) = done_rx.recv().await {
        answered += 1;
        if ok {
            acknowledged.push(user);
        }
        if answered == GUESTS / 3 {
            sesh.kill9().await;
        }
    }
    // What the host's socket heard before the crash.
    while let Ok(Some(Ok(Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(50), host.stream.next()).await
    {
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        if let Some(s) = frame["seq"].as_u64() {
            seen_seq = seen_seq.max(s);
        }
    }
    assert!(
        acknowledged.len() >= GUESTS / 3 && acknowledged.len() < GUESTS,
        "{} of {GUESTS} joins acknowledged: the kill must land mid-storm",
        acknowledged.len()
    );

    // The file is sound.
    {
        use sqlx::{Connection, sqlite::SqliteConnectOptions};
        let options = SqliteConnectOptions::new().filename(sesh.db_path());
        let mut db = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        db.close().await.unwrap();
    }

    // Restarted, the session has every member whose join was acknowledged.
    sesh.start().await;
    let (status, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    let ids: Vec<&str> = snapshot["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for user in &acknowledged {
        assert!(
            ids.contains(&user.as_str()),
            "{user} was told 200 but is gone: {ids:?}"
        );
    }
    let mut ws = alice.ws(&id).await;
    let after = welcome(&mut ws).await;
    assert!(
        seq(&after) > seen_seq,
        "seq {} after a crash, {seen_seq} seen before",
        seq(&after)
    );
    // Joins after the crash work as before.
    let late = guests.last().unwrap();
    let (status, _) = late.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
}
