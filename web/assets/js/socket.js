// The session's live connection: one WebSocket that reconnects by itself with exponential
// backoff and jitter, resumes with `?since=<last seq>`, drops duplicate events and asks for a
// fresh `welcome` when it notices a gap.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
/** How often we ping; a connection silent for longer than STALE_MS is treated as dead. */
const PING_EVERY_MS = 20_000;
const STALE_MS = 50_000;

/**
 * Backoff before reconnect attempt `attempt` (0-based): exponential, capped, with "equal jitter"
 * so a restarted server is not hit by every client at the same instant.
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class SessionSocket {
  /**
   * @param {string} sessionId
   * @param {{
   *   onFrame: (frame: any) => void,
   *   onStatus: (state: 'connecting'|'live'|'reconnecting'|'offline') => void,
   *   probe?: () => Promise<'retry'|'stop'>,
   *   onServerClose?: (code: number, reason: string) => 'retry'|'stop'|void,
   * }} handlers `probe` is asked after a failed connection whether retrying makes sense
   *   (for example the user was removed, or logged out).
   */
  constructor(sessionId, handlers) {
    this.sessionId = sessionId;
    this.handlers = handlers;
    /** Sequence number of the last session event applied; null until the first `welcome`. */
    this.lastSeq = null;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.everConnected = false;
    this.wake = () => {
      if (this.retryTimer && !this.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.connect();
      }
    };
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.wake();
    });
  }

  url() {
    const base = `${location.origin.replace(/^http/, 'ws')}/ws/sessions/${encodeURIComponent(this.sessionId)}`;
    return this.lastSeq == null ? base : `${base}?since=${this.lastSeq}`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Closes for good (session ended, user removed, page leaving). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      this.detach(this.ws);
      this.ws.close(1000);
      this.ws = null;
    }
  }

  /** Sends a client frame; returns false when not connected. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  connect() {
    if (this.stopped) return;
    this.handlers.onStatus(this.everConnected ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.everConnected = true;
      this.lastFrameAt = Date.now();
      this.handlers.onStatus('live');
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
    };
    ws.onmessage = (message) => {
      this.lastFrameAt = Date.now();
      this.attempt = 0;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return; // not ours to fix; the next good frame carries on
      }
      this.receive(frame);
    };
    ws.onclose = (event) => {
      this.detach(ws);
      if (this.ws === ws) this.ws = null;
      clearInterval(this.pingTimer);
      if (opened && this.handlers.onServerClose?.(event.code, event.reason) === 'stop') {
        this.stop();
        return;
      }
      this.scheduleRetry(opened);
    };
    ws.onerror = () => {
      // onclose follows and decides what to do.
    };
  }

  receive(frame) {
    if (frame?.type === 'welcome') {
      this.lastSeq = Number.isFinite(frame.seq) ? frame.seq : null;
      this.handlers.onFrame(frame);
      return;
    }
    if (Number.isFinite(frame?.seq) && this.lastSeq != null) {
      if (frame.seq <= this.lastSeq) return; // replayed twice: already applied
      if (frame.seq > this.lastSeq + 1) {
        // A gap: events were lost. Start over from a fresh welcome.
        this.lastSeq = null;
        this.restartNow();
        return;
      }
      this.lastSeq = frame.seq;
    } else if (Number.isFinite(frame?.seq)) {
      this.lastSeq = frame.seq;
    }
    this.handlers.onFrame(frame);
  }

  heartbeat() {
    if (Date.now() - this.lastFrameAt > STALE_MS) {
      this.restartNow();
      return;
    }
    this.send({ type: 'ping' });
  }

  restartNow() {
    const ws = this.ws;
    if (ws) {
      this.detach(ws);
      ws.close(4000);
      this.ws = null;
    }
    clearInterval(this.pingTimer);
    this.attempt = 0;
    this.connect();
  }

  detach(ws) {
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
  }

  async scheduleRetry(wasOpen) {
    if (this.stopped) return;
    this.handlers.onStatus(this.everConnected ? 'reconnecting' : 'connecting');
    if (!wasOpen && this.handlers.probe) {
      // The handshake failed: ask the API why (logged out? removed? or just down).
      const verdict = await this.handlers.probe().catch(() => 'retry');
      if (verdict === 'stop') {
        this.stop(); // the page shows why
        return;
      }
      if (this.stopped) return;
    }
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}
