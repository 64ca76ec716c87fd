// The TV screen `/tv/{key}` and what every display page shares: the display stream
// (`/d/{key}/events`, docs/displays.md) with its silent reconnects and its ended and revoked
// ends, and the progress clock corrected by the server's clock. The overlay (overlay.js)
// imports the shared parts; the pure ones are unit-tested in e2e/tests/unit/displays.test.js.

import { formatTime } from './progress.js';
import { hydrateIcons } from './ui.js';

/** How long without a connection before the screen admits it (a blip is not worth a word). */
export const HINT_AFTER_MS = 4_000;
/** Waits before a new stream when the browser gave up on one (429, 503, a proxy's 502…). */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 30_000;
/** Clock samples kept: enough to find a quick delivery among slow ones, few enough to follow a new server. */
const CLOCK_SAMPLES = 16;
/** Below this, our clock minus the server's is delivery time, not skew: the clocks agree. */
const MAX_PLAUSIBLE_LAG_MS = 10_000;
/** Rows of "Up next" on the TV. */
export const UPCOMING_SHOWN = 10;

// ---------- pure helpers ----------

/** The display key: the last segment of the page's path (`/tv/{key}`, `/overlay/{key}`). */
export function displayKey(pathname) {
  const last = String(pathname).split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * How far our wall clock is ahead of the server's, from `Date.now() − server_time_ms` at the
 * receipt of events. Each sample is the skew plus how old the server's reading was; the
 * smallest is the best guess of the skew. While that is small and not negative the clocks are
 * taken to agree (the usual case, both synced) and the whole difference is the reading's age.
 */
export class ClockOffset {
  constructor() {
    this.samples = [];
  }

  add(sampleMs) {
    if (!Number.isFinite(sampleMs)) return;
    this.samples.push(sampleMs);
    if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
  }

  /** Forgets the samples (a new stream may be another server, with another clock). */
  reset() {
    this.samples = [];
  }

  /** Milliseconds to subtract from our clock to read the server's. */
  get offsetMs() {
    if (this.samples.length === 0) return 0;
    const min = Math.min(...this.samples);
    return min >= 0 && min <= MAX_PLAUSIBLE_LAG_MS ? 0 : min;
  }
}

/**
 * Anchors a now-playing object to the local monotonic clock: where the track was at receipt.
 * @param {{status: string, progress_ms: number, duration_ms: number, server_time_ms: number}} np
 * @param {number} perfNow `performance.now()` at receipt
 * @param {number} wallNow `Date.now()` at receipt
 * @param {number} offsetMs from {@link ClockOffset}
 * @returns {{baseMs: number, atPerfMs: number, playing: boolean, durationMs: number}}
 */
export function anchorNowPlaying(np, perfNow, wallNow, offsetMs = 0) {
  const playing = np?.status === 'playing';
  const durationMs = Math.max(0, Number(np?.duration_ms) || 0);
  let baseMs = Math.max(0, Number(np?.progress_ms) || 0);
  if (playing && Number.isFinite(np.server_time_ms)) {
    baseMs += Math.max(0, wallNow - offsetMs - np.server_time_ms);
  }
  return { baseMs, atPerfMs: perfNow, playing, durationMs };
}

/** The position at `perfNow`, in ms, never past the end of the track. */
export function positionAt(anchor, perfNow) {
  if (!anchor) return 0;
  const elapsed = anchor.playing ? Math.max(0, perfNow - anchor.atPerfMs) : 0;
  const position = anchor.baseMs + elapsed;
  return anchor.durationMs > 0 ? Math.min(position, anchor.durationMs) : position;
}

/** What identifies the track shown (a change of it is announced); '' when nothing plays. */
export function trackKey(np) {
  if (!np || np.status === 'stopped' || !np.title) return '';
  return [np.title, ...(np.artists ?? []), np.album ?? '', np.duration_ms ?? 0].join('\u0001');
}

/** "Alice", "Alice and Bob", "Alice, Bob and 3 more"; '' for nobody. */
export function namesText(names, count = names?.length ?? 0) {
  const shown = (names ?? []).filter((n) => typeof n === 'string' && n.trim() !== '');
  const more = Math.max(0, (Number(count) || 0) - shown.length);
  if (shown.length === 0) return more > 0 ? `${more} ${more === 1 ? 'person' : 'people'}` : '';
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length === 1) return shown[0];
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** The join link without its scheme, as short as it can be typed: `sesh.example/j/…`. */
export function shortUrl(url) {
  return String(url ?? '').replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** "1 person", "5 people · 3 online". */
export function membersText(members) {
  const n = Math.max(0, Number(members?.member_count) || 0);
  const online = Number(members?.online_count);
  const people = `${n} ${n === 1 ? 'person' : 'people'}`;
  return Number.isFinite(online) && online !== n ? `${people} · ${online} online` : people;
}

// ---------- the stream ----------

/**
 * One display's stream. The browser's `EventSource` reconnects by itself (with
 * `Last-Event-ID`); it gives up only on an answer that is not a stream, and says nothing of
 * why: then `/d/{key}/nowplaying.json` tells a revoked or unknown key (403) from a passing
 * refusal (429, 503, a proxy between restarts), after which a new stream is tried later.
 *
 * `handlers`: `onEvent(name, data, lastEventId)` for each event, `onState(state)` with
 * `connecting` → `live` ⇄ `reconnecting` (only after {@link HINT_AFTER_MS} without a
 * connection), and the ends `ended` (after `session_ended`) and `revoked`.
 */
export class DisplayFeed {
  static EVENTS = ['snapshot', 'playback', 'queue', 'session', 'members', 'join', 'session_ended'];

  constructor(key, handlers, {
    EventSourceImpl = globalThis.EventSource, fetchImpl = (...a) => globalThis.fetch(...a),
    setTimer = (...a) => setTimeout(...a), clearTimer = (t) => clearTimeout(t), hintAfterMs = HINT_AFTER_MS,
  } = {}) {
    this.base = `/d/${encodeURIComponent(key)}`;
    this.handlers = handlers;
    this.EventSourceImpl = EventSourceImpl;
    this.fetchImpl = fetchImpl;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.hintAfterMs = hintAfterMs;
    this.source = null;
    this.state = 'connecting';
    this.done = false;
    this.hintTimer = null;
    this.retryTimer = null;
    this.retryMs = RETRY_FIRST_MS;
  }

  start() {
    if (this.done) return;
    const source = new this.EventSourceImpl(`${this.base}/events`);
    this.source = source;
    source.onopen = () => {
      if (source !== this.source) return;
      this.retryMs = RETRY_FIRST_MS;
      this.clearTimer(this.hintTimer);
      this.hintTimer = null;
      this.setState('live');
    };
    source.onerror = () => {
      if (source !== this.source || this.done) return;
      this.armHint();
      if (source.readyState === this.EventSourceImpl.CLOSED) this.checkKey(source);
    };
    for (const name of DisplayFeed.EVENTS) {
      source.addEventListener(name, (event) => this.receive(source, name, event));
    }
  }

  receive(source, name, event) {
    if (source !== this.source || this.done) return;
    let data;
    try {
      data = JSON.parse(event.data || '{}');
    } catch {
      console.warn(`display stream: unreadable ${name} event`, event.data);
      return;
    }
    // Data means a connection, even should `open` have gone unseen.
    if (this.state !== 'live') {
      this.clearTimer(this.hintTimer);
      this.hintTimer = null;
      this.setState('live');
    }
    this.handlers.onEvent?.(name, data, event.lastEventId ?? '');
    if (name === 'session_ended') this.finish('ended');
  }

  /** Says "reconnecting" only if the connection stays away a while. */
  armHint() {
    if (this.hintTimer !== null || this.state === 'reconnecting') return;
    this.hintTimer = this.setTimer(() => {
      this.hintTimer = null;
      if (!this.done) this.setState('reconnecting');
    }, this.hintAfterMs);
  }

  /** The browser gave up on `source`: a revoked key, or try again later. */
  async checkKey(source) {
    source.close();
    let status = 0;
    try {
      const response = await this.fetchImpl(`${this.base}/nowplaying.json`, { cache: 'no-store', headers: { Accept: 'application/json' } });
      status = response.status;
    } catch {
      // No answer at all: the server is away; a new stream is tried below.
    }
    if (this.done || source !== this.source) return;
    if (status === 403) {
      this.finish('revoked');
      return;
    }
    const wait = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null;
      if (!this.done && source === this.source) this.start();
    }, wait);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }

  /** Closes the stream for good (`ended` or `revoked`). */
  finish(state) {
    this.done = true;
    this.source?.close();
    this.clearTimer(this.hintTimer);
    this.clearTimer(this.retryTimer);
    this.hintTimer = null;
    this.retryTimer = null;
    this.setState(state);
  }
}

/**
 * What a display knows of the session, applied event by event, with the clock of the track.
 * The pages read `view`; `apply` says whether the track changed (for the announcement).
 */
export class DisplayModel {
  constructor() {
    this.view = null;
    this.anchor = null;
    this.clock = new ClockOffset();
    /** The seq of the QR code shown (`?v=`), changed by each `join`. */
    this.qrVersion = '';
    this.snapshots = 0;
    this.joins = 0;
  }

  /** @returns {{trackChanged: boolean}} */
  apply(name, data, lastEventId, perfNow, wallNow) {
    const before = trackKey(this.view?.now_playing);
    switch (name) {
      case 'snapshot':
        this.snapshots += 1;
        this.clock.reset();
        this.view = {
          session: data.session ?? { name: '', state: 'lobby' },
          now_playing: data.now_playing ?? null,
          upcoming: Array.isArray(data.upcoming) ? data.upcoming : [],
          upcoming_total: Number(data.upcoming_total) || 0,
          members: data.members ?? { member_count: 0, online_count: 0 },
          join: data.join ?? null,
        };
        this.qrVersion = lastEventId || String(this.snapshots);
        this.setNowPlaying(this.view.now_playing, perfNow, wallNow);
        break;
      case 'playback':
        if (!this.view) break;
        this.view.now_playing = data;
        this.setNowPlaying(data, perfNow, wallNow);
        break;
      case 'queue':
        if (!this.view) break;
        if (Array.isArray(data.upcoming)) {
          this.view.upcoming = data.upcoming;
        } else {
          // A change of the list it has: the first `drop` entries went, `append` came after.
          const drop = Math.max(0, Number(data.drop) || 0);
          const append = Array.isArray(data.append) ? data.append : [];
          this.view.upcoming = this.view.upcoming.slice(drop).concat(append);
        }
        this.view.upcoming_total = Number(data.upcoming_total) || this.view.upcoming.length;
        break;
      case 'session':
        if (!this.view) break;
        this.view.session = { ...this.view.session, ...data };
        break;
      case 'members':
        if (!this.view) break;
        this.view.members = { ...this.view.members, ...data };
        break;
      case 'join':
        if (!this.view) break;
        this.view.join = data?.url ? { url: data.url } : null;
        // Several events may share one seq (only the last carries the id): a `join` without
        // one must still change the address, or the browser shows the cached old code.
        this.joins += 1;
        this.qrVersion = lastEventId && lastEventId !== this.qrVersion ? lastEventId : `${lastEventId || this.qrVersion}.${this.joins}`;
        break;
      case 'session_ended':
        if (this.view) this.view.session = { ...this.view.session, state: 'ended' };
        break;
      default:
        break;
    }
    return { trackChanged: trackKey(this.view?.now_playing) !== before };
  }

  setNowPlaying(np, perfNow, wallNow) {
    if (np && Number.isFinite(np.server_time_ms)) this.clock.add(wallNow - np.server_time_ms);
    this.anchor = np ? anchorNowPlaying(np, perfNow, wallNow, this.clock.offsetMs) : null;
  }

  positionAt(perfNow) {
    return positionAt(this.anchor, perfNow);
  }
}

// ---------- the TV page ----------

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

/** The words of the full-screen states. */
const MESSAGES = {
  connecting: { title: 'Connecting to the session…', text: '' },
  ended: { title: 'This session has ended', text: 'Thanks for listening.' },
  revoked: { title: 'This display link was revoked or is invalid', text: 'Ask the host for a new display link.' },
};

function startTv() {
  hydrateIcons();
  const model = new DisplayModel();
  const key = displayKey(location.pathname);
  const screen = $('tv-screen');
  let painted = '';
  let frame = 0;

  const setCover = (img, url) => {
    if (!url) {
      img.hidden = true;
      img.removeAttribute('src');
      return;
    }
    if (img.getAttribute('src') !== url) {
      img.hidden = false;
      img.src = url;
    }
  };

  function renderHead() {
    const { session, members } = model.view;
    const name = session?.name?.trim() || 'Listening session';
    $('tv-session-name').textContent = name;
    document.title = `${name} — Sesh TV`;
    $('tv-members').hidden = false;
    $('tv-member-count').textContent = membersText(members);
  }

  function renderNowPlaying() {
    const np = model.view.now_playing;
    const lobby = model.view.session?.state === 'lobby';
    const stopped = !np || np.status === 'stopped' || !np.title;
    screen.dataset.status = stopped ? 'stopped' : np.status;
    setCover($('tv-cover'), stopped ? null : np.cover_url);
    setCover($('tv-backdrop'), stopped ? null : np.cover_url);
    if (stopped) {
      $('tv-status-text').textContent = lobby ? 'Starting soon' : 'Nothing playing';
      $('tv-title').textContent = lobby ? 'Waiting for the music' : 'Nothing is playing right now';
      $('tv-artists').textContent = lobby ? 'The host starts the music from Sesh.' : 'The music will be back in a moment.';
      $('tv-album').textContent = '';
      $('tv-brought-by').hidden = true;
    } else {
      $('tv-status-text').textContent = np.status === 'paused' ? 'Paused' : 'Now playing';
      $('tv-title').textContent = np.title;
      $('tv-artists').textContent = (np.artists ?? []).join(', ');
      $('tv-album').textContent = np.album ?? '';
      const by = namesText(np.brought_by, np.brought_by_count);
      $('tv-brought-by').hidden = by === '';
      $('tv-brought-by-text').textContent = by ? `Brought by ${by}` : '';
    }
    $('tv-progress-wrap').hidden = stopped;
    painted = '';
    paintProgress(performance.now());
  }

  function renderUpcoming() {
    const { upcoming, upcoming_total: total } = model.view;
    const shown = upcoming.slice(0, UPCOMING_SHOWN);
    $('tv-upcoming').replaceChildren(...shown.map((entry, i) => {
      const row = el('li', 'tv-entry');
      row.dataset.testid = 'tv-entry';
      row.dataset.entryId = String(entry.entry_id ?? '');
      const index = el('span', 'tv-entry-index', String(i + 1));
      index.setAttribute('aria-hidden', 'true');
      const thumb = el(entry.cover_url ? 'img' : 'span', 'tv-thumb');
      if (entry.cover_url) {
        thumb.src = entry.cover_url;
        thumb.alt = '';
        thumb.loading = 'lazy';
        thumb.addEventListener('error', () => { thumb.removeAttribute('src'); });
      }
      const text = el('span', 'tv-entry-text');
      const title = el('span', 'tv-entry-title', entry.title || 'Unknown track');
      title.dataset.testid = 'tv-entry-title';
      const sub = el('span', 'tv-entry-sub');
      sub.append(el('span', 'tv-entry-artists', (entry.artists ?? []).join(', ')));
      const by = namesText(entry.brought_by, entry.brought_by_count);
      if (by) {
        const who = el('span', 'tv-entry-by', by);
        who.dataset.testid = 'tv-entry-by';
        // Heard as "…, brought by Carol"; seen as the name beside a person icon.
        who.prepend(el('span', 'visually-hidden', ', brought by '));
        sub.append(who);
      }
      text.append(title, sub);
      row.append(index, thumb, text);
      return row;
    }));
    $('tv-upcoming-empty').hidden = shown.length > 0;
    fitUpcoming();
  }

  /**
   * Hides the rows of "Up next" that do not fit the screen, whole (never half a row), and
   * counts them in "and N more". Twice at most: the "more" line may take a row's room.
   */
  function fitUpcoming() {
    if (!model.view) return;
    const list = $('tv-upcoming');
    const rows = [...list.children];
    const section = $('tv-next');
    section.hidden = false;
    for (const row of rows) row.hidden = false;
    const moreLine = $('tv-upcoming-more');
    const total = Math.max(model.view.upcoming_total, model.view.upcoming.length);
    for (let pass = 0; pass < 2; pass += 1) {
      for (const row of rows) row.hidden = false;
      const room = list.clientHeight;
      // Measured before any is hidden: hiding one moves the next into its place.
      const first = rows.findIndex((row) => row.offsetTop + row.offsetHeight > room + 1);
      const visible = first === -1 ? rows.length : first;
      rows.forEach((row, i) => { row.hidden = i >= visible; });
      const more = Math.max(0, total - visible);
      const wasHidden = moreLine.hidden;
      moreLine.hidden = more === 0;
      moreLine.textContent = `and ${more} more`;
      if (moreLine.hidden === wasHidden) break;
    }
    const shown = rows.filter((r) => !r.hidden).length;
    screen.dataset.upcomingShown = String(shown);
    // No room for a single row (a small portrait screen): no empty box either.
    section.hidden = rows.length > 0 && shown === 0;
  }

  function renderJoin() {
    const join = model.view.join;
    $('tv-join').hidden = !join?.url;
    screen.dataset.join = String(Boolean(join?.url));
    if (!join?.url) return;
    $('tv-join-url').textContent = shortUrl(join.url);
    const src = `/d/${encodeURIComponent(key)}/join-qr.svg?v=${encodeURIComponent(model.qrVersion)}`;
    const qr = $('tv-qr');
    if (qr.getAttribute('src') !== src) qr.src = src;
  }

  function renderAll() {
    if (!model.view) return;
    renderHead();
    renderNowPlaying();
    renderJoin();
    renderUpcoming();
  }

  function announce(text) {
    // Cleared first, so the same words after a pause are still read.
    const live = $('tv-announcer');
    live.textContent = '';
    setTimeout(() => { live.textContent = text; }, 100);
  }

  function paintProgress(now) {
    const anchor = model.anchor;
    if (!anchor || !model.view) return;
    const position = model.positionAt(now);
    const duration = anchor.durationMs;
    $('tv-progress-fill').style.transform = `scaleX(${duration > 0 ? Math.min(1, position / duration) : 0})`;
    const second = Math.floor(position / 1000);
    const text = `${second}|${duration}`;
    if (text === painted) return;
    painted = text;
    $('tv-elapsed').textContent = formatTime(position);
    $('tv-duration').textContent = formatTime(duration);
    const bar = $('tv-progress');
    bar.setAttribute('aria-valuemax', String(Math.round(duration / 1000)));
    bar.setAttribute('aria-valuenow', String(Math.min(second, Math.round(duration / 1000))));
    bar.setAttribute('aria-valuetext', `${formatTime(position)} of ${formatTime(duration)}`);
  }

  function tick(now) {
    if (model.anchor?.playing) paintProgress(now);
    frame = requestAnimationFrame(tick);
  }

  function showMessage(state) {
    const words = MESSAGES[state];
    const message = $('tv-message');
    message.hidden = !words;
    screen.dataset.state = state;
    if (!words) return;
    message.dataset.state = state;
    $('tv-message-title').textContent = words.title;
    $('tv-message-text').textContent = words.text;
    if (state === 'ended' || state === 'revoked') {
      cancelAnimationFrame(frame);
      $('tv-reconnecting').hidden = true;
      $('tv-backdrop').hidden = true;
      document.title = `${words.title} — Sesh TV`;
      // The key no longer lets this screen see the session: not even its name stays.
      if (state === 'revoked') $('tv-session-name').textContent = 'Sesh';
      announce(words.title);
    }
  }

  const feed = new DisplayFeed(key, {
    onEvent(name, data, lastEventId) {
      const { trackChanged } = model.apply(name, data, lastEventId, performance.now(), Date.now());
      if (name === 'snapshot') {
        screen.dataset.snapshots = String(model.snapshots);
        if (model.view.session?.state === 'ended') {
          feed.finish('ended');
          return;
        }
        showMessage('live');
        renderAll();
      } else if (name === 'playback' || name === 'session_ended') {
        if (model.view) renderNowPlaying();
      } else if (name === 'queue') {
        if (model.view) renderUpcoming();
      } else if (name === 'members') {
        if (model.view) renderHead();
      } else if (name === 'session') {
        // A new name, or the start (the lobby's words go); the end comes as `session_ended`.
        if (model.view) {
          renderHead();
          renderNowPlaying();
        }
      } else if (name === 'join') {
        if (model.view) {
          renderJoin();
          fitUpcoming();
        }
      }
      if (lastEventId) screen.dataset.seq = lastEventId;
      const np = model.view?.now_playing;
      if (trackChanged && trackKey(np)) announce(`Now playing: ${np.title} by ${(np.artists ?? []).join(', ')}`);
    },
    onState(state) {
      screen.dataset.connection = state;
      $('tv-reconnecting').hidden = state !== 'reconnecting';
      if (state === 'ended' || state === 'revoked') showMessage(state);
    },
  });

  $('tv-cover').addEventListener('error', (e) => { e.currentTarget.hidden = true; });
  $('tv-backdrop').addEventListener('error', (e) => { e.currentTarget.hidden = true; });
  window.addEventListener('resize', () => fitUpcoming());
  document.fonts?.ready.then(() => fitUpcoming());
  $('tv-qr').addEventListener('error', () => { console.warn('the join QR code did not load'); });
  showMessage('connecting');
  feed.start();
  frame = requestAnimationFrame(tick);
  // Back from the back/forward cache the stream is gone: start over.
  window.addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
}

if (globalThis.document?.documentElement?.dataset.display === 'tv') startTv();
