//! The client process (`sesh-bench client`): opens the sockets it is told to (WebSockets and
//! display streams), timestamps every track change it receives and reports it to the
//! driver. Single-threaded, so the clients of one process never take more than one core
//! from the server.

use super::sse::{self, SseEvent};
use super::{Command, ConnKind, ConnSpec, FrameCounts, Report};
use crate::frame::{NowPlayingPeek, Peek, now_us};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long a handshake may take before the socket counts as failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `Close` waits for sockets to finish their closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the client process until the driver sends `Close` or closes our stdin.
pub fn run() -> anyhow::Result<()> {
    crate::limits::raise_open_files();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve_driver())
}

#[derive(Default)]
struct Counters {
    open: AtomicU64,
    total: AtomicU64,
    welcome: AtomicU64,
    playback: AtomicU64,
    membership: AtomicU64,
    spotify_status: AtomicU64,
    rate_limited: AtomicU64,
    error: AtomicU64,
    queue_window: AtomicU64,
    bytes: AtomicU64,
    display_events: AtomicU64,
    display_bytes: AtomicU64,
}

impl Counters {
    fn count(&self, peek: &Peek, bytes: usize) {
        let bump = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        bump(&self.total);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        match peek.kind.as_str() {
            "welcome" => bump(&self.welcome),
            "playback" => bump(&self.playback),
            "member_joined" | "member_left" | "presence" => bump(&self.membership),
            "spotify_status" => {
                if peek.is_rate_limited_status() {
                    bump(&self.rate_limited);
                }
                bump(&self.spotify_status)
            }
            "error" => bump(&self.error),
            "queue" => bump(&self.queue_window),
            _ => 0,
        };
    }

    /// Counts a display's event as the frame it stands for (`snapshot` as a `welcome`).
    fn count_display(&self, event: &SseEvent) {
        let bump = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        bump(&self.total);
        bump(&self.display_events);
        self.bytes.fetch_add(event.bytes as u64, Ordering::Relaxed);
        self.display_bytes
            .fetch_add(event.bytes as u64, Ordering::Relaxed);
        match event.name.as_str() {
            "snapshot" => bump(&self.welcome),
            "playback" => bump(&self.playback),
            "members" => bump(&self.membership),
            _ => 0,
        };
    }

    fn snapshot(&self) -> FrameCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FrameCounts {
            total: get(&self.total),
            welcome: get(&self.welcome),
            playback: get(&self.playback),
            membership: get(&self.membership),
            spotify_status: get(&self.spotify_status),
            rate_limited: get(&self.rate_limited),
            error: get(&self.error),
            queue_window: get(&self.queue_window),
            bytes: get(&self.bytes),
            display_events: get(&self.display_events),
            display_bytes: get(&self.display_bytes),
        }
    }
}

/// Where [`Command::Send`] hands a socket its frames: (operation number, text).
type Outbox = mpsc::Sender<(u64, String)>;

/// What every socket task shares.
#[derive(Clone)]
struct Ctx {
    http: reqwest::Client,
    counters: Arc<Counters>,
    reports: mpsc::Sender<Report>,
    shutdown: watch::Receiver<bool>,
    /// Each open socket's outbox for [`Command::Send`].
    outboxes: Arc<parking_lot::Mutex<HashMap<u32, Outbox>>>,
    /// Dropped by each task when it ends; `Close` waits for the last one.
    _alive: mpsc::Sender<()>,
}

async fn serve_driver() -> anyhow::Result<()> {
    let (report_tx, report_rx) = mpsc::channel::<Report>(64 * 1024);
    let writer = tokio::spawn(write_reports(report_rx));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let ctx = Ctx {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Shorter than Sesh's 5 s keep-alive (see `SeshApi::new`).
            .pool_idle_timeout(Duration::from_secs(2))
            .build()?,
        counters: Arc::new(Counters::default()),
        reports: report_tx.clone(),
        shutdown: shutdown_rx,
        outboxes: Arc::default(),
        _alive: alive_tx,
    };

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        match serde_json::from_str::<Command>(&line)? {
            Command::Open {
                conns,
                rate_per_s,
                max_in_flight,
            } => {
                tokio::spawn(open_all(ctx.clone(), conns, rate_per_s, max_in_flight));
            }
            Command::Send { id, op, text } => {
                let outbox = ctx.outboxes.lock().get(&id).cloned();
                if let Some(outbox) = outbox
                    && outbox.try_send((op, text)).is_err()
                {
                    tracing::warn!(id, op, "socket outbox full or closed: frame not sent");
                }
            }
            Command::Stats => {
                let stats = Report::Stats {
                    open: ctx.counters.open.load(Ordering::Relaxed),
                    frames: ctx.counters.snapshot(),
                };
                report_tx.send(stats).await?;
            }
            Command::Close => break,
        }
    }

    let _ = shutdown_tx.send(true);
    drop(ctx);
    // Every socket task holds a clone of `alive`; recv() yields None once all are gone.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, alive_rx.recv()).await;
    report_tx.send(Report::Closed).await?;
    drop(report_tx);
    writer.await??;
    Ok(())
}

async fn write_reports(mut reports: mpsc::Receiver<Report>) -> anyhow::Result<()> {
    let mut out = BufWriter::new(tokio::io::stdout());
    while let Some(report) = reports.recv().await {
        let write = |report: &Report| -> anyhow::Result<Vec<u8>> {
            let mut line = serde_json::to_vec(report)?;
            line.push(b'\n');
            Ok(line)
        };
        out.write_all(&write(&report)?).await?;
        // Batch whatever else is ready before paying for a flush.
        while let Ok(report) = reports.try_recv() {
            out.write_all(&write(&report)?).await?;
        }
        out.flush().await?;
    }
    Ok(())
}

async fn open_all(ctx: Ctx, conns: Vec<ConnSpec>, rate_per_s: Option<f64>, max_in_flight: usize) {
    let in_flight = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let start = tokio::time::Instant::now();
    for (i, spec) in conns.into_iter().enumerate() {
        if let Some(rate) = rate_per_s.filter(|r| *r > 0.0) {
            tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let id = spec.id;
            let reports = ctx.reports.clone();
            if let Err(reason) = socket(ctx, spec, permit).await {
                let _ = reports.send(Report::Lost { id, reason }).await;
            }
        });
    }
}

/// Why a socket could not be opened, for the `Opened` report.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("join: {0}")]
    Join(String),
    #[error("connect: {0}")]
    Connect(String),
    #[error("no welcome: {0}")]
    Welcome(String),
}

fn ws_config() -> WebSocketConfig {
    // Small buffers: 10,000 client sockets at the default 128 KiB each would need GBs.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// One socket from join to close. Errors after the welcome are returned as the reason
/// the socket was lost.
async fn socket(
    ctx: Ctx,
    spec: ConnSpec,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), String> {
    if spec.kind == ConnKind::Display {
        return display(ctx, spec, permit).await;
    }
    let id = spec.id;
    let mut shutdown = ctx.shutdown.clone();
    let opened = tokio::time::timeout(OPEN_TIMEOUT, open(&ctx, &spec)).await;
    let (mut ws, mut last_track) = match opened {
        Ok(Ok((ws, last_track, join_ms, welcome_ms))) => {
            let report = Report::Opened {
                id,
                error: None,
                join_ms,
                welcome_ms,
            };
            let _ = ctx.reports.send(report).await;
            (ws, last_track)
        }
        Ok(Err(err)) => return report_failed(&ctx, id, err.to_string()).await,
        Err(_) => return report_failed(&ctx, id, "timed out".into()).await,
    };
    drop(permit);
    ctx.counters.open.fetch_add(1, Ordering::Relaxed);
    let (outbox_tx, mut outbox) = mpsc::channel::<(u64, String)>(64);
    ctx.outboxes.lock().insert(id, outbox_tx);

    let result = loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let recv_us = now_us();
                    let Some(peek) = Peek::parse(text.as_str()) else { continue };
                    ctx.counters.count(&peek, text.len());
                    if let Some(delta) = peek.queue_delta() {
                        let bytes = text.len() as u32;
                        let _ = ctx.reports.send(Report::Queue { id, delta, bytes, recv_us }).await;
                        continue;
                    }
                    if peek.kind != "playback" {
                        continue;
                    }
                    if let Some((track, server_ms)) = peek.playback()
                        && last_track.as_deref() != Some(track)
                    {
                        last_track = Some(track.to_owned());
                        let change = Report::Change { id, track: track.to_owned(), server_ms, recv_us };
                        let _ = ctx.reports.send(change).await;
                    }
                }
                Some(Ok(Message::Close(frame))) => break Err(format!("closed by server: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(err)) => break Err(err.to_string()),
                None => break Err("connection ended".to_owned()),
            },
            Some((op, text)) = outbox.recv() => {
                let sent_us = now_us();
                if let Err(err) = ws.send(Message::text(text)).await {
                    break Err(err.to_string());
                }
                let _ = ctx.reports.send(Report::Sent { op, sent_us }).await;
            }
            _ = shutdown.changed() => {
                let _ = ws.close(None).await;
                // Drain until the server's close frame so both sides finish cleanly.
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while let Some(Ok(_)) = ws.next().await {}
                }).await;
                break Ok(());
            }
        }
    };
    ctx.counters.open.fetch_sub(1, Ordering::Relaxed);
    ctx.outboxes.lock().remove(&id);
    result
}

/// One display stream from its request to close: open once its `snapshot` arrives, then a
/// [`Report::Change`] for every `playback` event of another track. Errors after the
/// snapshot are returned as the reason the stream was lost.
async fn display(
    ctx: Ctx,
    spec: ConnSpec,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), String> {
    let id = spec.id;
    let mut shutdown = ctx.shutdown.clone();
    let started = Instant::now();
    let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
        let mut stream = sse::connect(&spec.url).await.map_err(|e| e.to_string())?;
        match stream.next_event().await {
            Ok(Some(event)) if event.name == "snapshot" => {
                ctx.counters.count_display(&event);
                let last =
                    NowPlayingPeek::of_event(&event.name, &event.data).and_then(|n| n.track_key());
                Ok((stream, last))
            }
            Ok(Some(event)) => Err(format!("first event was {:?}", event.name)),
            Ok(None) => Err("stream ended before its snapshot".to_owned()),
            Err(err) => Err(err.to_string()),
        }
    })
    .await;
    let (mut stream, mut last_track) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(err)) => return report_failed(&ctx, id, err).await,
        Err(_) => return report_failed(&ctx, id, "timed out".into()).await,
    };
    let welcome_ms = started.elapsed().as_secs_f64() * 1000.0;
    let report = Report::Opened {
        id,
        error: None,
        join_ms: None,
        welcome_ms,
    };
    let _ = ctx.reports.send(report).await;
    drop(permit);
    ctx.counters.open.fetch_add(1, Ordering::Relaxed);
    let result = loop {
        tokio::select! {
            event = stream.next_event() => match event {
                Ok(Some(event)) => {
                    let recv_us = now_us();
                    ctx.counters.count_display(&event);
                    let Some(now) = NowPlayingPeek::of_event(&event.name, &event.data) else {
                        continue;
                    };
                    if let Some(track) = now.track_key()
                        && last_track.as_deref() != Some(track.as_str())
                    {
                        last_track = Some(track.clone());
                        let server_ms = now.server_time_ms;
                        let change = Report::Change { id, track, server_ms, recv_us };
                        let _ = ctx.reports.send(change).await;
                    }
                }
                Ok(None) => break Err("stream ended by the server".to_owned()),
                Err(err) => break Err(err.to_string()),
            },
            // A display leaves by closing its connection; the server drops the response.
            _ = shutdown.changed() => break Ok(()),
        }
    };
    ctx.counters.open.fetch_sub(1, Ordering::Relaxed);
    result
}

async fn report_failed(ctx: &Ctx, id: u32, error: String) -> Result<(), String> {
    let report = Report::Opened {
        id,
        error: Some(error),
        join_ms: None,
        welcome_ms: 0.0,
    };
    let _ = ctx.reports.send(report).await;
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(
    ctx: &Ctx,
    spec: &ConnSpec,
) -> Result<(Ws, Option<String>, Option<f64>, f64), OpenError> {
    let join_ms = match &spec.join_url {
        Some(url) => Some(join(ctx, spec, url).await?),
        None => None,
    };
    let started = Instant::now();
    let mut request = spec
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| OpenError::Connect(e.to_string()))?;
    for (name, value) in [("cookie", &spec.cookie), ("origin", &spec.origin)] {
        if let Some(value) = value {
            let value =
                HeaderValue::from_str(value).map_err(|e| OpenError::Connect(e.to_string()))?;
            request.headers_mut().insert(name, value);
        }
    }
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), true)
            .await
            .map_err(|e| OpenError::Connect(e.to_string()))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let Some(peek) = Peek::parse(text.as_str()) else {
                    return Err(OpenError::Welcome(format!(
                        "unparsable frame {:.80}",
                        text.as_str()
                    )));
                };
                ctx.counters.count(&peek, text.len());
                if peek.kind == "welcome" {
                    let last_track = peek.playback().map(|(track, _)| track.to_owned());
                    let welcome_ms = started.elapsed().as_secs_f64() * 1000.0;
                    return Ok((ws, last_track, join_ms, welcome_ms));
                }
                return Err(OpenError::Welcome(format!(
                    "first frame was {:?}",
                    peek.kind
                )));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(OpenError::Welcome(format!("closed: {frame:?}")));
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(OpenError::Welcome(err.to_string())),
            None => return Err(OpenError::Welcome("connection ended".into())),
        }
    }
}

async fn join(ctx: &Ctx, spec: &ConnSpec, url: &str) -> Result<f64, OpenError> {
    let started = Instant::now();
    let mut request = ctx
        .http
        .post(url)
        .header("content-type", "application/json")
        .body("{}");
    if let Some(cookie) = &spec.cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(origin) = &spec.origin {
        request = request.header("origin", origin);
    }
    let response = request
        .send()
        .await
        .map_err(|e| OpenError::Join(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| OpenError::Join(e.to_string()))?;
    if !status.is_success() {
        return Err(OpenError::Join(format!(
            "{status}: {:.200}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}
