// Session page `/s/{id}`: now playing, queue, people, live over the WebSocket; host extras
// (invite, device picker, Start, player controls and the player's extras — seek, volume,
// repeat, reshuffle, another device —, taking the session back after a take-over, kick and
// let back in, end). The queue's list, votes, vote to skip and rules are in queue-ui.js, the
// search box in search.js, the host's display links (TV screen, stream overlay) in displays.js.

import { ApiError, getJson, loginUrl, postJson } from './api.js';
import { describeError, rateLimitMessage } from './messages.js';
import { formatTime, progressAt } from './progress.js';
import {
  SessionModel, artistNames, normalizeDevices, playerExtras,
} from './session-state.js';
import {
  initQueueUi, refreshStaleWindow, renderQueue, renderQueueSettings, renderSkip, say,
} from './queue-ui.js';
import { initSearch, renderSearch } from './search.js';
import { initDisplays, renderDisplays } from './displays.js';
import { initGuestControls, renderGuestControls } from './guest-controls.js';
import { initHandover, renderHandover } from './handover.js';
import { initListen, listeningEnded, renderListen } from './listen.js';
import { SessionSocket } from './socket.js';
import { chatSees, initChat, setChatAllowed } from './chat.js';
import { deviceIcon, icon } from './icons.js';
import {
  avatar, byTestId, choiceDialog, confirmDialog, h, initPage, isInactive, notify, notifyError, setBusy, showStatePanel,
} from './ui.js';

const sessionId = decodeURIComponent(location.pathname.match(/^\/s\/([^/]+)/)?.[1] ?? '');
const sessionPath = `/api/sessions/${encodeURIComponent(sessionId)}`;

/** Queue entries one "Show more" fetches (the server allows up to 500 a page). */
const QUEUE_PAGE = 100;

/** One column (phones, small tablets): the queue comes after the people and is collapsed. */
const narrowScreen = window.matchMedia('(max-width: 899px)');

/** How far an arrow key (and Page Up/Down) moves the seek bar, in seconds. */
const SEEK_STEP_S = 5;
const SEEK_PAGE_S = 30;
/** Arrow presses in a row are sent as one seek this long after the last one. */
const SEEK_KEY_SETTLE_MS = 400;

/** What the server told us (see session-state.js), plus the page's own bits. */
const view = Object.assign(new SessionModel(sessionId), {
  /** The host's devices for the picker (null until loaded). */
  devices: null,
  /** The last device list request failed (so "no devices" would be a lie). */
  devicesFailed: false,
  selectedDeviceId: null,
  /** Set once the page can no longer follow the session (ended, removed, logged out). */
  closed: false,
  /** The phone's queue shows everything ("Show all N" pressed). */
  queueExpanded: false,
  /**
   * What the host chose for the music when ending: `stopped`, `playing` (left playing),
   * `stop_failed` (the pause was refused) or `paused` (it was paused already); null otherwise.
   */
  endedMusic: null,
});

// ---------- names of people who left, across reloads ----------

/**
 * `added_by` holds only ids and the server names only current members, so the names of people
 * who left are kept in this browser (per session, bounded) for the tracks they brought.
 */
const NAMES_KEY = `sesh:names:${sessionId}`;
let namesStored = '';

function restoreNames() {
  try {
    view.restoreNames(JSON.parse(localStorage.getItem(NAMES_KEY) ?? 'null'));
  } catch {
    // Storage off or the entry broken: the page falls back to "a former member".
  }
}

function storeNames() {
  try {
    const text = JSON.stringify(view.namesToKeep());
    if (text === namesStored) return;
    localStorage.setItem(NAMES_KEY, text);
    namesStored = text;
  } catch {
    // Storage full or off: nothing lost but the names after a reload.
  }
}

function forgetNames() {
  try {
    localStorage.removeItem(NAMES_KEY);
  } catch {
    // nothing to forget
  }
}

let socket = null;
const $ = (id) => byTestId(id);
const isHost = () => view.isHost();
const memberName = (id) => view.memberName(id);

// ---------- applying frames ----------

const RENDERERS = {
  members: () => renderMembers(),
  nowPlaying: () => renderNowPlaying(),
  queue: () => { renderQueue(); renderSearch(); renderSkip(); },
  search: () => renderSearch(),
  skip: () => renderSkip(),
  queueSettings: () => renderQueueSettings(),
  guestControls: () => renderGuestControls(),
  chat: () => setChatAllowed(view.may('chat')),
  idle: () => renderIdle(),
  handover: () => renderHandover(),
  listen: () => renderListen(),
  invite: () => renderInvite(),
  head: () => { renderHead(); renderNowPlaying(); },
  banned: () => renderRemoved(),
  spotify: () => { startSpotifyCountdown(); renderSpotifyStatus(); renderHead(); renderNowPlaying(); renderQueue(); },
};

function onFrame(frame) {
  if (view.closed || !frame) return;
  if (chatSees(frame)) return; // the chat's own frames (no seq) end there
  const perfNow = performance.now();
  const wallNow = Date.now();
  if (frame.type === 'welcome') {
    view.applyWelcome(frame, perfNow, wallNow);
    if (view.session.state === 'ended') endSession();
    else storeNames();
    startSpotifyCountdown();
    renderAll();
    followWindow();
    return;
  }
  if (frame.type === 'error') {
    const words = describeError(frame.code ?? 'server_error', { retryAfterS: frame.retry_after_s ?? null, fallback: frame.message });
    notify({ kind: 'error', code: frame.code, title: words.title, message: words.message, countdownS: frame.code === 'rate_limited' ? words.retryAfterS : null });
    return;
  }
  const { parts, outcome } = view.applyEvent(frame, perfNow, wallNow);
  if (outcome === 'kicked' || outcome === 'left') {
    removedFromSession(outcome);
    return;
  }
  if (outcome === 'ended') endSession();
  if (outcome?.startsWith('listening_')) listeningEnded(outcome);
  if (outcome === 'became_host') {
    notify({ kind: 'info', title: 'You are now the host', timeoutMs: 5000 });
    loadRemoved();
  }
  if (parts.includes('all')) renderAll();
  else for (const part of parts) RENDERERS[part]();
  if (parts.includes('members') || parts.includes('all')) storeNames();
  followWindow();
  refreshStaleWindow();
}

// ---------- the queue window ----------

let windowLoading = false;

/**
 * The server sends a long queue as a window and moves it on by itself; should the now-playing
 * entry still fall outside the window we hold, fetch the window around it.
 */
async function followWindow() {
  if (!view.session || view.closed) return;
  const miss = view.windowMiss();
  if (!miss || windowLoading) return;
  windowLoading = true;
  try {
    const page = await getJson(`${sessionPath}/queue?offset=${miss.offset}&limit=${miss.limit}`);
    if (!view.closed && view.replaceQueueWindow(page)) {
      renderQueue();
      renderNowPlaying();
    }
  } catch (err) {
    // The next track change tries again; the now-playing card does not need the window.
    console.warn('could not load the queue around the current track', err);
  } finally {
    windowLoading = false;
  }
}

/** "Show more": the next page of the queue, appended to the window. */
async function showMoreQueue(button) {
  const next = view.nextQueuePage(QUEUE_PAGE);
  if (!next || isInactive(button)) return;
  setBusy(button, true);
  try {
    const page = await getJson(`${sessionPath}/queue?offset=${next.offset}&limit=${next.limit}`);
    if (view.appendQueuePage(page)) renderQueue();
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

// ---------- terminal states ----------

function endSession() {
  if (socket) socket.stop();
  setConnection('ended');
  forgetNames();
}

function stopFollowing() {
  view.closed = true;
  if (socket) socket.stop();
  renderDisplays({ host: false, ended: true });
  cancelAnimationFrame(frameRequest);
}

function removedFromSession(reason) {
  stopFollowing();
  setConnection('offline');
  const code = reason === 'kicked' ? 'kicked' : 'not_a_member';
  const words = describeError(code);
  $('session-view').hidden = true;
  showStatePanel($('session-message'), {
    iconName: 'users',
    title: reason === 'kicked' ? words.title : 'You left this session',
    message: reason === 'kicked' ? words.message : 'You can join again with the invite link.',
    code,
    actions: [h('a', { class: 'button button-primary', href: '/' }, 'Go to the start page')],
  });
}

/** Shows why the page cannot show the session (logged out, not a member, not found…). */
function showBlocked(err) {
  stopFollowing();
  $('connection').hidden = true;
  $('session-view').hidden = true;
  const code = err instanceof ApiError ? (err.status === 401 ? 'unauthorized' : err.code) : 'server_error';
  const words = describeError(code, { fallback: err?.message });
  const actions = [];
  if (words.login || err?.status === 401) {
    actions.push(h('a', { class: 'button button-primary button-large', href: loginUrl(location.pathname), testid: 'login' }, 'Log in with Spotify'));
  }
  actions.push(h('a', { class: 'button button-ghost', href: '/' }, 'Go to the start page'));
  showStatePanel($('session-message'), {
    iconName: words.login ? 'lock' : 'warning', title: words.title, message: words.message, code, actions,
  });
}

/** Close codes the server uses when the host removed this member, and on a log-out (docs/websocket.md). */
const CLOSE_KICKED = 4001;
const CLOSE_LOGGED_OUT = 4003;

/** The server closed an open connection: removed by the host means stop; anything else, retry. */
function onServerClose(code) {
  if (view.closed) return 'stop';
  if (code === CLOSE_KICKED) {
    removedFromSession('kicked');
    return 'stop';
  }
  if (code === CLOSE_LOGGED_OUT) {
    // Logged out here or everywhere (from another device): say so rather than retry.
    showBlocked(new ApiError(401, 'unauthorized', 'logged out'));
    return 'stop';
  }
  if (view.session?.state === 'ended') return 'stop';
  if (code === 1000) {
    // "You left, or the session ended" (docs/websocket.md): ask the API which, and only
    // reconnect if we are in fact still a member of a live session.
    probe().then((verdict) => { if (verdict === 'retry' && !view.closed) socket.start(); });
    return 'stop';
  }
  return 'retry';
}

/** After a failed WebSocket handshake: is it worth retrying? */
async function probe() {
  try {
    const snapshot = await getJson(sessionPath);
    if (snapshot?.state === 'ended') {
      if (view.session) view.session.state = 'ended';
      endSession();
      renderAll();
      return 'stop';
    }
    return 'retry';
  } catch (err) {
    if (err instanceof ApiError && err.code === 'session_ended' && view.session) {
      view.session.state = 'ended';
      endSession();
      renderAll();
      return 'stop';
    }
    if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404 || err.status === 410)) {
      showBlocked(err);
      return 'stop';
    }
    return 'retry'; // server down or restarting: keep trying
  }
}

// ---------- rendering ----------

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  ended: 'Ended',
};

function setConnection(state) {
  const el = $('connection');
  if (!el) return;
  el.dataset.state = state;
  el.textContent = CONNECTION_TEXT[state] ?? state;
}

function renderAll() {
  if (!view.session) return;
  $('session-view').hidden = false;
  renderHead();
  renderNowPlaying();
  renderDevicePanel();
  renderQueue();
  renderSearch();
  renderInvite();
  renderMembers();
  renderQueueSettings();
  renderGuestControls();
  renderIdle();
  renderHandover();
  renderListen();
  renderRemoved();
  renderFooter();
  renderSpotifyStatus();
  renderDisplays({ host: isHost(), ended: view.session.state === 'ended' });
  setChatAllowed(view.may('chat'));
}

const STATE_BADGE = {
  lobby: ['Waiting to start', 'badge-state-lobby'],
  playing: ['Playing', 'badge-state-playing'],
  paused: ['Paused', ''],
  ended: ['Ended', ''],
};

function renderHead() {
  const s = view.session;
  const hostName = memberName(s.hostId) || 'Someone';
  const whose = isHost() ? 'Your session' : `${hostName}’s session`;
  $('session-title').textContent = s.name || whose;
  const host = $('session-host');
  host.hidden = !s.name;
  host.textContent = s.name ? whose : '';
  const form = $('name-form');
  form.hidden = !(isHost() && s.state !== 'ended');
  $('spectator-note').hidden = !(view.isSpectator() && s.state !== 'ended');
  const input = $('name-input');
  // Never overwrite what the host is typing.
  if (!form.hidden && document.activeElement !== input && !input.dataset.dirty) input.value = s.name ?? '';
  const state = view.displayState();
  const [label, cls] = STATE_BADGE[state] ?? [state, ''];
  const badge = $('session-state');
  badge.textContent = label;
  badge.className = `badge ${cls}`;
  badge.dataset.state = state;
}

function deviceName(device) {
  if (!device) return null;
  if (typeof device === 'object') return device.name || view.devices?.find((d) => d.id === device.id)?.name || null;
  return view.devices?.find((d) => d.id === device)?.name ?? null;
}

function renderNowPlaying() {
  const s = view.session;
  renderSkip();
  const np = s.state === 'ended' ? null : view.nowPlaying();
  const lobby = $('lobby');
  const trackView = $('track-view');
  trackView.hidden = !np;
  lobby.hidden = Boolean(np);
  // The host and co-hosts steer; guests too where the host allowed it (the server decides).
  const maySkip = view.may('skip');
  const mayPause = view.may('pause_resume');
  $('player-controls').hidden = !(np && (maySkip || mayPause) && s.state === 'playing');
  $('control-previous').hidden = !maySkip;
  $('control-next').hidden = !maySkip;
  $('control-playpause').hidden = !mayPause;

  if (!np) {
    const hostName = memberName(s.hostId);
    let title;
    let text;
    if (s.state === 'ended') {
      title = 'This session has ended';
      text = endedText();
    } else if (s.state === 'playing') {
      title = 'Starting the music…';
      text = 'Waiting for Spotify to report what plays.';
    } else if (isHost()) {
      title = 'Ready when you are';
      text = 'Invite friends, pick a device to play on and press Start. Everyone’s top 5 tracks are shuffled into one fair queue.';
    } else if (view.isSpectator()) {
      title = `Waiting for ${hostName} to start`;
      text = 'You are in! The music starts when the host presses Start, and you see here what plays.';
    } else {
      title = `Waiting for ${hostName} to start`;
      text = 'You are in! Your top tracks are in the mix. The music starts when the host presses Start.';
    }
    $('lobby-title').textContent = title;
    $('lobby-text').textContent = text;
    // Guests only: the host's lobby card stays short, with the device picker right under it.
    renderYourTracks(s.state === 'lobby' && !isHost() ? s.yourTracks : []);
    lobby.dataset.state = s.state;
    lobby.dataset.music = s.state === 'ended' && view.endedMusic ? view.endedMusic : '';
    let endedLink = lobby.querySelector('[data-testid="ended-home"]');
    if (s.state === 'ended' && !endedLink) {
      endedLink = h('a', { class: 'button button-ghost', href: '/', testid: 'ended-home' }, 'Go to the start page');
      const recap = h('a', { class: 'button button-primary', href: `/s/${encodeURIComponent(sessionId)}/recap`, testid: 'ended-recap' }, 'See what played');
      lobby.append(h('p', { class: 'ended-links' }, recap, ' ', endedLink));
    }
    document.title = s.name ? `${s.name} — Sesh` : 'Session — Sesh';
    return;
  }

  const { track } = np;
  $('np-title').textContent = track.name ?? 'Unknown track';
  $('np-artists').textContent = artistNames(track);
  $('np-album').textContent = track.album ? (typeof track.album === 'string' ? track.album : track.album.name) : '';
  const cover = $('np-cover');
  const imageUrl = track.image_url ?? null;
  if (imageUrl) {
    if (cover.getAttribute('src') !== imageUrl) cover.src = imageUrl;
    cover.alt = `Cover of ${track.album || track.name}`;
    cover.hidden = false;
  } else {
    cover.removeAttribute('src');
    cover.hidden = true;
  }

  const state = $('np-state');
  state.dataset.playing = String(np.isPlaying);
  $('np-state-text').textContent = np.isPlaying ? 'Now playing' : 'Paused';

  const addedBy = $('np-added-by');
  addedBy.hidden = np.addedBy.length === 0;
  $('np-added-by-text').textContent = !np.addedBy.length ? ''
    : np.origin === 'added' ? `Added by ${view.namesList(np.addedBy.slice(0, 1), 1)}`
      : `From ${view.possessive(np.addedBy, np.addedByCount)} top 5`;
  const device = deviceName(np.device) ?? deviceName(s.device);
  $('np-device').hidden = !device;
  $('np-device-name').textContent = device ? `On ${device}` : '';

  const toggle = $('control-playpause');
  toggle.setAttribute('aria-label', np.isPlaying ? 'Pause' : 'Play');
  toggle.dataset.playing = String(np.isPlaying);
  toggle.replaceChildren(icon(np.isPlaying ? 'pause' : 'play'));

  renderPlayerExtras();
  document.title = `${np.isPlaying ? '▶ ' : ''}${track.name}${s.name ? ` · ${s.name}` : ''} — Sesh`;
  paintProgress(performance.now());
}

/** What the ended card says about the music: only what the host chose here is known for sure. */
function endedText() {
  const device = deviceName(view.playback?.device) ?? deviceName(view.session.device);
  const on = device ? ` on ${device}` : '';
  switch (view.endedMusic) {
    case 'stopped': return 'You ended the session and stopped the music. Thanks for listening together.';
    case 'paused': return 'You ended the session. The music was already paused.';
    case 'playing': return `You ended the session. The music keeps playing${on} in Spotify, but Sesh no longer steers it.`;
    case 'stop_failed': return `You ended the session, but Sesh could not stop the music: it may still be playing${on}. Pause it in Spotify.`;
    default: return 'Thanks for listening together. Start a session of your own any time.';
  }
}

/** The host's seek bar, repeat, volume and device switcher; the repeat state for everyone. */
function renderPlayerExtras() {
  const extras = playerExtras(view.playback);
  const controls = isHost() && view.session.state === 'playing' && extras.supported && view.spotify?.state !== 'host_took_over';
  $('player-extras').hidden = !controls;
  $('np-seek').hidden = !controls;
  $('np-progress').hidden = controls;

  const repeatPill = $('np-repeat');
  repeatPill.hidden = extras.repeat === 'off';
  $('np-repeat-text').textContent = extras.repeat === 'track' ? 'Repeating this track' : 'Repeat is on in Spotify';
  $('control-repeat').setAttribute('aria-pressed', String(extras.repeat !== 'off'));
  $('shuffle-warning').hidden = !(isHost() && extras.shuffle);

  const volume = $('control-volume');
  $('volume').hidden = !(controls && extras.canSetVolume);
  if (extras.canSetVolume && !volumeDragging) {
    volume.value = String(extras.volume);
    volume.setAttribute('aria-valuetext', `${extras.volume}%`);
  }
}

let frameRequest = 0;
/** What the time labels show now: repainted when the second, the track or its length changes. */
let paintedTimes = '';

/** Moves the progress bar (and the host's seek bar); cheap enough for every animation frame. */
function paintProgress(now) {
  const np = view.session && view.session.state !== 'ended' ? view.nowPlaying() : null;
  const fill = $('np-progress-fill');
  if (!np) return;
  const duration = Number(np.track.duration_ms) || 0;
  // While the host drags (or steps with the keys) the seek bar, the labels show where it goes.
  const held = seekHeldMs();
  const position = held ?? (np.fromPlayback && view.playback && view.anchor ? progressAt(view.playback, view.anchor, duration, now) : 0);
  fill.style.transform = `scaleX(${duration > 0 ? Math.min(1, position / duration) : 0})`;
  const second = Math.floor(position / 1000);
  const times = `${np.track.id ?? np.track.uri ?? np.track.name}|${duration}|${second}`;
  if (times !== paintedTimes) {
    paintedTimes = times;
    const valueText = `${formatTime(position)} of ${formatTime(duration)}`;
    $('np-elapsed').textContent = formatTime(position);
    $('np-duration').textContent = formatTime(duration);
    const bar = $('np-progress');
    bar.setAttribute('aria-valuemax', String(Math.round(duration / 1000)));
    bar.setAttribute('aria-valuenow', String(second));
    bar.setAttribute('aria-valuetext', valueText);
    const seek = $('np-seek');
    seek.max = String(Math.max(0, Math.floor(duration / 1000)));
    if (held === null) seek.value = String(second);
    seek.setAttribute('aria-valuetext', valueText);
    seek.style.setProperty('--fill', `${duration > 0 ? Math.min(100, (position / duration) * 100) : 0}%`);
  }
}

// ----- host: seek, volume, repeat, reshuffle, another device -----

/** The host holds the seek bar (pointer down, or arrow keys not yet sent): its value wins. */
let seekDragging = false;
let seekKeyTimer = null;
let volumeDragging = false;

/** Where the held seek bar points, in ms; null while nobody holds it. */
function seekHeldMs() {
  return seekDragging || seekKeyTimer ? Number($('np-seek').value) * 1000 : null;
}

/** The player commands of newer servers: `POST …/player/{action}` with the frame's fields. */
async function playerCommand(action, body, button = null) {
  if (button && isInactive(button)) return false;
  if (button) setBusy(button, true);
  try {
    await postJson(`${sessionPath}/player/${action}`, body);
    return true;
  } catch (err) {
    notifyError(err);
    return false;
  } finally {
    if (button) setBusy(button, false);
  }
}

/** Shows the new position at once; the next `playback` frame confirms or corrects it. */
function assumePosition(ms) {
  if (!view.playback) return;
  const now = performance.now();
  view.playback = { ...view.playback, progress_ms: ms, server_time_ms: Date.now() };
  view.anchor = { baseMs: ms, atPerfMs: now };
}

async function seekTo(ms) {
  const duration = Number(view.playback?.track?.duration_ms) || 0;
  const target = Math.max(0, Math.min(Math.round(ms), duration > 0 ? duration - 1 : Math.round(ms)));
  assumePosition(target);
  paintedTimes = '';
  paintProgress(performance.now());
  if (!(await playerCommand('seek', { position_ms: target }))) {
    paintedTimes = '';
  }
}

function wireSeekBar() {
  const seek = $('np-seek');
  const release = () => {
    if (!seekDragging) return;
    seekDragging = false;
    seekTo(Number(seek.value) * 1000);
  };
  seek.addEventListener('pointerdown', () => { seekDragging = true; });
  seek.addEventListener('input', () => {
    // Dragging (or Home/End): only the labels follow; one seek goes out on release.
    seekDragging = true;
    paintedTimes = '';
    paintProgress(performance.now());
  });
  seek.addEventListener('change', release);
  // A press that did not move the thumb fires no `change`.
  seek.addEventListener('pointerup', () => setTimeout(() => { if (seekDragging) release(); }, 0));
  seek.addEventListener('pointercancel', () => { seekDragging = false; });
  seek.addEventListener('keydown', (e) => {
    const steps = { ArrowRight: SEEK_STEP_S, ArrowUp: SEEK_STEP_S, ArrowLeft: -SEEK_STEP_S, ArrowDown: -SEEK_STEP_S, PageUp: SEEK_PAGE_S, PageDown: -SEEK_PAGE_S };
    if (!(e.key in steps)) return;
    e.preventDefault();
    const max = Number(seek.max) || 0;
    seek.value = String(Math.max(0, Math.min(max, Number(seek.value) + steps[e.key])));
    paintedTimes = '';
    // Several presses in a row are one seek (the server allows ~10 commands a second).
    clearTimeout(seekKeyTimer);
    seekKeyTimer = setTimeout(() => {
      seekKeyTimer = null;
      seekTo(Number(seek.value) * 1000);
    }, SEEK_KEY_SETTLE_MS);
    paintProgress(performance.now());
  });
}

function wireVolume() {
  const volume = $('control-volume');
  volume.addEventListener('input', () => {
    volumeDragging = true;
    volume.setAttribute('aria-valuetext', `${volume.value}%`);
  });
  volume.addEventListener('change', async () => {
    volumeDragging = false;
    const percent = Number(volume.value);
    if (view.playback) view.playback = { ...view.playback, volume_percent: percent };
    if (!(await playerCommand('volume', { percent }))) renderNowPlaying();
  });
}

async function toggleRepeat(button) {
  if (isInactive(button)) return;
  const state = playerExtras(view.playback).repeat === 'off' ? 'track' : 'off';
  if (await playerCommand('repeat', { state }, button)) {
    if (view.playback) view.playback = { ...view.playback, repeat: state };
    renderNowPlaying();
  }
}

async function reshuffle(button) {
  if (await playerCommand('reshuffle', undefined, button)) {
    // The new order arrives as a `queue` event.
    notify({ kind: 'success', key: 'reshuffle', title: 'Shuffled what’s next', message: 'The track playing now carries on.', timeoutMs: 3000 });
  }
}

/** "Play on another device": move the music there (`transfer`, playing). */
async function switchDevice(button) {
  if (isInactive(button)) return;
  const current = view.playback?.device?.id ?? view.session.device;
  const deviceId = await pickDevice({
    title: 'Play on another device',
    message: 'The music moves there and carries on where it is.',
    confirmLabel: 'Move the music',
    currentId: current,
    button,
  });
  if (!deviceId) return;
  await playerCommand('transfer', { device_id: deviceId, play: true }, button);
}

/**
 * Asks which of the host's Spotify devices to use, in a dialog (radio buttons; restricted
 * devices shown disabled, with the reason). Resolves to the device id, or null.
 */
async function pickDevice({ title, message, confirmLabel, currentId, button }) {
  let devices;
  if (button) setBusy(button, true);
  try {
    devices = normalizeDevices(await getJson('/api/me/devices'));
  } catch (err) {
    notifyError(err);
    return null;
  } finally {
    if (button) setBusy(button, false);
  }
  const usable = devices.filter((d) => !d.is_restricted);
  let selected = (usable.find((d) => d.id !== currentId && d.is_active) ?? usable.find((d) => d.id !== currentId) ?? usable[0])?.id ?? null;
  const options = devices.map((d) => deviceOption(d, {
    group: 'dialog-device',
    selectedId: selected,
    detailPrefix: 'dialog-device-detail',
    current: d.id === currentId,
    onSelect: (id) => { selected = id; },
  }));
  const body = devices.length
    ? [h('fieldset', { class: 'device-picker' },
      h('legend', { class: 'visually-hidden' }, 'Your Spotify devices'),
      h('div', { class: 'device-list', testid: 'dialog-device-list' }, options))]
    : [h('p', { class: 'device-empty', testid: 'dialog-no-devices' }, 'No Spotify devices found. Open Spotify on your phone, computer or speaker, then try again.')];
  const checked = options.map((o) => o.querySelector('input')).find((input) => input.checked) ?? null;
  const answer = await choiceDialog({
    title,
    message,
    body,
    testid: 'device-dialog',
    initialFocus: checked,
    buttons: [
      { label: 'Cancel', value: null, testid: 'device-dialog-cancel' },
      { label: confirmLabel, value: 'ok', kind: 'primary', testid: 'device-dialog-ok', disabled: usable.length === 0 },
    ],
  });
  return answer === 'ok' ? selected : null;
}

function tick(now) {
  if (view.closed) return;
  if (view.playback?.is_playing) paintProgress(now);
  frameRequest = requestAnimationFrame(tick);
}

function renderSpotifyStatus() {
  const el = $('spotify-status');
  const status = view.spotify;
  const actions = $('takeover-actions');
  const tookOver = status?.state === 'host_took_over' && view.session?.state === 'playing';
  const hadFocus = actions.contains(document.activeElement);
  actions.hidden = !(tookOver && isHost());
  if (actions.hidden && hadFocus) {
    // Taken back: the pressed button is gone; the focus goes to the player it brought back.
    const toggle = $('player-controls').hidden ? null : $('control-playpause');
    if (toggle) toggle.focus();
    else {
      $('now-playing').setAttribute('tabindex', '-1');
      $('now-playing').focus();
    }
  }
  if (!status || view.session?.state === 'ended') {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.dataset.state = status.state;
  el.dataset.reason = status.state === 'host_took_over' ? takeOverReason(status) : '';
  el.textContent = spotifyStatusText(status);
  if (status.state === 'reauth_required' && isHost()) {
    el.append(' ', h('a', { href: loginUrl(location.pathname), testid: 'spotify-status-login' }, 'Log in with Spotify again'));
  }
}

/**
 * Why the host's player left the session: `foreign_playback` (they play something else) or
 * `playback_gone` (the device stopped or disappeared). The server says so in `reason` when it
 * does; until then only its message (for the log, never shown) tells the two apart.
 */
function takeOverReason(status) {
  if (status.reason === 'foreign_playback' || status.reason === 'playback_gone') return status.reason;
  return /stopped|gone|disappeared/i.test(status.message ?? '') ? 'playback_gone' : 'foreign_playback';
}

function spotifyStatusText(status) {
  switch (status.state) {
    case 'rate_limited': {
      const left = status.until ? (status.until - Date.now()) / 1000 : null;
      return `Spotify asked us to slow down. ${left != null ? rateLimitMessage(left).replace('Try again', 'Live updates resume') : 'Live updates resume shortly.'}`;
    }
    case 'unavailable':
      return 'Spotify is not answering right now. Sesh keeps trying.';
    case 'host_took_over':
      if (!isHost()) return 'The host paused the party in Spotify; it will pick up when they resume.';
      return takeOverReason(status) === 'playback_gone'
        ? 'Your device stopped playing, so the party is on hold. Resume here, or pick another device to play on.'
        : 'You’re playing something else in Spotify, so Sesh has stepped back. Resume here to bring the party’s queue back, or play it on another device.';
    case 'reauth_required':
      return isHost() ? 'Your Spotify login has expired, so Sesh cannot follow the music.' : 'The host needs to log in to Spotify again.';
    default:
      // The server's own sentence is for the log; people get ours.
      return 'Spotify has a problem right now. Sesh keeps trying.';
  }
}

let spotifyTimer = null;

/** Re-renders the rate-limit countdown once a second while it lasts. */
function startSpotifyCountdown() {
  clearInterval(spotifyTimer);
  if (view.spotify?.until) {
    spotifyTimer = setInterval(() => {
      if (!view.spotify?.until || Date.now() > view.spotify.until + 1000) clearInterval(spotifyTimer);
      renderSpotifyStatus();
    }, 1000);
  }
}

// ----- host: devices and start -----

let devicesLoading = null;

async function loadDevices() {
  if (devicesLoading) return devicesLoading;
  const refresh = $('refresh-devices');
  setBusy(refresh, true);
  devicesLoading = (async () => {
    try {
      view.devices = normalizeDevices(await getJson('/api/me/devices'));
      view.devicesFailed = false;
      const usable = view.devices.filter((d) => !d.is_restricted);
      if (!usable.some((d) => d.id === view.selectedDeviceId)) {
        view.selectedDeviceId = (usable.find((d) => d.is_active) ?? usable[0])?.id ?? null;
      }
    } catch (err) {
      view.devices = view.devices ?? [];
      view.devicesFailed = view.devices.length === 0;
      notifyError(err);
    } finally {
      setBusy(refresh, false);
      devicesLoading = null;
      renderDevicePanel();
      renderNowPlaying();
    }
  })();
  return devicesLoading;
}

/** The lobby's picker: choosing a device enables Start. */
const LOBBY_PICKER = {
  group: 'device',
  detailPrefix: 'device-detail',
  onSelect: (id) => {
    view.selectedDeviceId = id;
    $('start-button').disabled = false;
  },
};

/** One radio of a device list (the lobby's picker, or a dialog's with its own `group`). */
function deviceOption(device, { group, detailPrefix, onSelect, selectedId = view.selectedDeviceId, current = false } = LOBBY_PICKER) {
  const detail = device.is_restricted
    ? (device.restricted_reason || 'Spotify does not allow remote control of this device')
    : [device.type, current ? 'playing the session now' : device.is_active ? 'active now' : null].filter(Boolean).join(' · ');
  const input = h('input', {
    type: 'radio', name: group, value: device.id ?? '',
    checked: device.id != null && device.id === selectedId,
    disabled: device.is_restricted,
    'aria-describedby': `${detailPrefix}-${device.key}`,
    onchange: () => onSelect(device.id),
  });
  return h('label', {
    class: 'device-option', testid: 'device-option',
    dataset: { deviceId: device.id ?? '', restricted: String(device.is_restricted) },
  },
  input,
  deviceIcon(device.type),
  h('span', { class: 'device-text' },
    h('span', { class: 'device-name' }, device.name),
    h('span', { class: 'device-detail', id: `${detailPrefix}-${device.key}` }, detail)));
}

function renderDevicePanel() {
  const panel = $('device-panel');
  const show = isHost() && view.session.state === 'lobby';
  panel.hidden = !show;
  if (!show) return;
  if (view.devices === null) {
    loadDevices();
    $('device-list').replaceChildren(h('p', { class: 'device-empty' }, 'Looking for your Spotify devices…'));
    $('start-button').disabled = true;
    return;
  }
  const list = $('device-list');
  if (view.devices.length === 0 && view.devicesFailed) {
    list.replaceChildren(h('p', { class: 'device-empty', testid: 'devices-failed' },
      'Could not load your Spotify devices. Try Refresh devices in a moment.'));
  } else if (view.devices.length === 0) {
    list.replaceChildren(h('p', { class: 'device-empty', testid: 'no-devices' },
      'No Spotify devices found. Open Spotify on your phone, computer or speaker, then refresh.'));
  } else {
    list.replaceChildren(...view.devices.map((d) => deviceOption(d)));
  }
  $('start-button').disabled = !view.selectedDeviceId;
}

async function startSession() {
  const button = $('start-button');
  if (!view.selectedDeviceId || isInactive(button)) return;
  setBusy(button, true);
  try {
    const result = await postJson(`${sessionPath}/start`, { device_id: view.selectedDeviceId });
    // The WebSocket brings the same news; applying the answer keeps the page right if it lags.
    if (view.applyStartAnswer(result, view.devices?.find((d) => d.id === view.selectedDeviceId))) renderAll();
  } catch (err) {
    notifyError(err);
    if (err instanceof ApiError && err.code === 'no_active_device') loadDevices();
  } finally {
    setBusy(button, false);
    button.disabled = !view.selectedDeviceId;
  }
}

async function playerAction(action, button) {
  // aria-disabled, not disabled: a disabled button drops the keyboard focus to the page.
  if (isInactive(button)) return;
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/player/${action}`);
    if ((action === 'play' || action === 'pause') && view.playback) {
      // Show the new state at once; the next `playback` frame confirms or corrects it.
      const now = performance.now();
      const position = progressAt(view.playback, view.anchor, view.playback.track?.duration_ms, now);
      view.playback = { ...view.playback, is_playing: action === 'play', progress_ms: position, server_time_ms: Date.now() };
      view.anchor = { baseMs: position, atPerfMs: now };
      renderHead();
      renderNowPlaying();
    }
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

// ----- host: taking the session back after a take-over -----

/** "Resume here": the queue plays again from the current entry on the session's device. */
async function resumeHere(button) {
  if (isInactive(button)) return;
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/player/play`);
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

/** "Resume on another device": the same on a device the host picks, which becomes the session's. */
async function resumeElsewhere(button) {
  if (isInactive(button)) return;
  const deviceId = await pickDevice({
    title: 'Resume on another device',
    message: 'The party’s queue carries on from the current track there.',
    confirmLabel: 'Resume there',
    currentId: view.session.device,
    button,
  });
  if (!deviceId) return;
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/start`, { device_id: deviceId });
    const device = view.devices?.find((d) => d.id === deviceId);
    view.session.device = device ?? deviceId;
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

// ----- invite -----

function inviteUrl() {
  const s = view.session;
  if (s.join_url) return s.join_url;
  if (s.invite_code) return `${location.origin}/j/${encodeURIComponent(s.invite_code)}`;
  return null;
}

function renderInvite() {
  const panel = $('invite-panel');
  const url = inviteUrl();
  // Guests share the invite too while the host lets them (`show_invite`, on by default).
  const mayShare = isHost() || view.session.guestPermissions.includes('show_invite');
  const show = mayShare && view.session.state !== 'ended' && Boolean(url);
  panel.hidden = !show;
  if (!show) return;
  $('rotate-invite').hidden = !isHost();
  const input = $('invite-link');
  if (input.value !== url) input.value = url;
  const qr = $('invite-qr');
  // The code in the query only busts the image cache when the invite is rotated.
  const qrSrc = `${sessionPath}/qr.svg?v=${encodeURIComponent(view.session.invite_code ?? '')}`;
  if (qr.getAttribute('src') !== qrSrc) qr.src = qrSrc;
}

/**
 * "Show QR": the invite's QR code as big as the screen allows, with the link under it, for a
 * room to scan from one phone or laptop. A modal dialog: Escape or Close shuts it and the focus
 * goes back to the button.
 */
function showQrFullScreen() {
  const url = inviteUrl();
  if (!url) return;
  const name = view.session.name;
  choiceDialog({
    title: name ? `Scan to join “${name}”` : 'Scan to join',
    testid: 'qr-dialog',
    className: 'qr-full',
    body: [
      h('img', {
        class: 'qr-large', testid: 'qr-large', alt: 'QR code of the invite link',
        src: `${sessionPath}/qr.svg?v=${encodeURIComponent(view.session.invite_code ?? '')}`,
      }),
      h('p', { class: 'qr-link', testid: 'qr-link' }, url),
    ],
    buttons: [{ label: 'Close', value: null, kind: 'primary', testid: 'qr-close' }],
  });
}

/** The host's Save of the session's name: the answer is the snapshot; guests get `settings_changed`. */
async function saveName(event) {
  event.preventDefault();
  const button = $('name-save');
  const input = $('name-input');
  const status = $('name-status');
  if (isInactive(button)) return;
  setBusy(button, true);
  status.textContent = '';
  try {
    const answer = await postJson(`${sessionPath}/name`, { name: input.value });
    view.session.name = answer?.settings?.name ?? null;
    delete input.dataset.dirty;
    input.value = view.session.name ?? '';
    status.textContent = view.session.name ? 'Saved.' : 'Name removed.';
    renderHead();
    renderNowPlaying();
  } catch (err) {
    notifyError(err, { loginNext: location.pathname });
  } finally {
    setBusy(button, false);
  }
}

/** "New invite link": the old link and QR code stop working; members get `invite_rotated`. */
async function rotateInvite(button) {
  if (isInactive(button)) return;
  const ok = await confirmDialog({
    title: 'Make a new invite link?',
    message: 'The old link and its QR code stop working at once. People already in the session stay in; send the new link to anyone still to come.',
    confirmLabel: 'New invite link',
  });
  if (!ok) return;
  setBusy(button, true);
  const shown = view.session.invite_code;
  try {
    const answer = await postJson(`${sessionPath}/invite`);
    // The `invite_rotated` event brings the same and may come first; if it did, it may even
    // be of a later rotation (the host's other tab), which this answer must not undo.
    if (view.session.invite_code === shown) view.setInvite(answer);
    renderInvite();
    notify({ kind: 'success', key: 'invite', title: 'New invite link ready', message: 'The old link no longer works.', timeoutMs: 4000 });
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

async function copyInvite() {
  const input = $('invite-link');
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    input.select();
    copied = document.execCommand('copy');
  }
  if (copied) {
    $('copy-label').textContent = 'Copied';
    notify({ kind: 'success', key: 'copied', title: 'Invite link copied', message: 'Send it to your friends.', timeoutMs: 2500 });
    setTimeout(() => { $('copy-label').textContent = 'Copy'; }, 2000);
  } else {
    input.select();
    notify({ kind: 'info', key: 'copied', title: 'Copy the selected link', message: 'Your browser did not let Sesh copy it.', timeoutMs: 4000 });
  }
}

// ----- queue and members -----

/** In the lobby: the tracks a guest brought, so they see what they add before Start. */
function renderYourTracks(tracks) {
  const section = $('your-tracks');
  section.hidden = tracks.length === 0;
  $('your-track-list').replaceChildren(...tracks.map((track) => h('li', { class: 'your-track', testid: 'your-track', dataset: { trackId: track.id ?? '' } },
    track.image_url ? h('img', { class: 'thumb', src: track.image_url, alt: '', loading: 'lazy', width: 40, height: 40 }) : h('span', { class: 'thumb' }),
    h('span', { class: 'queue-text' },
      h('span', { class: 'queue-title' }, track.name ?? 'Unknown track'),
      h('span', { class: 'queue-sub' }, artistNames(track))))));
}

function renderMembers() {
  const s = view.session;
  const members = [...s.members].sort((a, b) => Number(b.id === s.hostId) - Number(a.id === s.hostId));
  const live = s.state !== 'ended';
  const canKick = isHost() && live;
  // A big session announces no presence changes, so its listed members' dots would go stale.
  const presenceLive = view.isRosterComplete();
  $('members').replaceChildren(...members.map((m) => {
    const you = m.id === view.you?.id;
    const online = you ? true : presenceLive ? m.online : undefined;
    const isHostRow = m.id === s.hostId;
    const coHost = !isHostRow && m.role === 'co_host';
    // A spectator has no Spotify account: never host or co-host, so no such buttons for them.
    const spectator = !isHostRow && m.role === 'spectator';
    // The host removes anyone; a co-host removes guests only.
    const mayRemove = live && !you && !isHostRow && (isHost() || (view.isModerator() && !coHost));
    const kick = mayRemove
      ? h('button', {
        class: 'button button-ghost button-small', type: 'button', testid: 'kick',
        'aria-label': `Remove ${m.display_name} from the session`,
        onclick: () => kickMember(m),
      }, 'Remove')
      : null;
    // The host hands the session over: before Start at once (a free host to a friend with
    // Premium); while playing as an offer, the new host picking where the music goes on.
    const handOver = canKick && !you && !spectator && (s.state === 'lobby' || s.state === 'playing')
      ? h('button', {
        class: 'button button-ghost button-small', type: 'button', testid: 'hand-over',
        'aria-label': `Make host: ${m.display_name}`,
        onclick: () => handOverTo(m),
      }, 'Make host')
      : null;
    // The host appoints co-hosts (they moderate and steer the player, but may not end the
    // session or appoint others) and makes them guests again.
    const roleButton = canKick && !you && !isHostRow && !spectator
      ? h('button', {
        class: 'button button-ghost button-small', type: 'button', testid: coHost ? 'make-guest' : 'make-co-host',
        'aria-label': coHost ? `Make guest: ${m.display_name}` : `Make co-host: ${m.display_name}`,
        onclick: () => setRole(m, coHost ? 'guest' : 'co_host'),
      }, coHost ? 'Make guest' : 'Make co-host')
      : null;
    return h('li', { class: 'member', testid: 'member', dataset: { userId: m.id, online: online === undefined ? 'unknown' : String(Boolean(online)), role: isHostRow ? 'host' : coHost ? 'co_host' : spectator ? 'spectator' : 'guest' } },
      avatar(m.id, m.display_name, { online: online === undefined ? undefined : Boolean(online) }),
      h('span', { class: 'member-text' },
        h('span', { class: 'member-name', testid: 'member-name' }, m.display_name),
        h('span', { class: 'member-status' }, online ? 'Online' : online === false ? 'Offline' : '')),
      h('span', { class: 'member-badges' },
        isHostRow ? h('span', { class: 'badge badge-host', testid: 'host-badge' }, 'Host') : null,
        coHost ? h('span', { class: 'badge badge-co-host', testid: 'co-host-badge' }, 'Co-host') : null,
        spectator ? h('span', { class: 'badge badge-spectator', testid: 'spectator-badge' }, 'Spectator') : null,
        m.listening ? listeningBadge(m) : null,
        you ? h('span', { class: 'badge badge-you' }, 'You') : null),
      kick || handOver || roleButton ? h('span', { class: 'member-actions' }, handOver, roleButton, kick) : null);
  }));
  const hidden = view.hiddenMemberCount();
  $('members-more').hidden = hidden === 0;
  $('members-more').textContent = `and ${hidden} more`;
  const n = s.memberCount;
  $('member-count').textContent = `${n} ${n === 1 ? 'person' : 'people'} · ${s.onlineCount} online`;
}

/** 🎧 for a member who listens along on their own device (and whether they are detached). */
function listeningBadge(m) {
  const detached = m.listening === 'detached';
  return h('span', { class: 'badge badge-listening', testid: 'listening-badge', dataset: { listening: m.listening } },
    h('span', { 'aria-hidden': 'true' }, detached ? '🎧 detached' : '🎧'),
    h('span', { class: 'visually-hidden' }, detached ? 'Listening along on their device, detached' : 'Listening along on their device, in sync'));
}

async function setRole(member, role) {
  try {
    await postJson(`${sessionPath}/members/${encodeURIComponent(member.id)}/role`, { role });
  } catch (err) {
    notifyError(err);
  }
}

async function handOverTo(member) {
  const playing = view.session.state === 'playing';
  const ok = await confirmDialog({
    title: `Make ${member.display_name} the host?`,
    message: playing
      ? `${member.display_name} picks one of their devices, the music goes on there from the same place (their Spotify needs Premium), and yours stops. You stay in the session as a guest.`
      : `${member.display_name} starts the music from their Spotify account (it needs Premium) and runs the session from then on. You stay in it as a guest.`,
    confirmLabel: playing ? 'Offer the session' : 'Make host',
  });
  if (!ok) return;
  try {
    if (playing) {
      await postJson(`${sessionPath}/handover`, { to: member.id });
      notify({ kind: 'success', key: 'handover', title: `Asked ${member.display_name} to take the session`, message: 'They pick one of their devices; the music moves there.', timeoutMs: 5000 });
    } else {
      await postJson(`${sessionPath}/host/${encodeURIComponent(member.id)}`);
    }
  } catch (err) {
    notifyError(err);
  }
}

async function kickMember(member) {
  const ok = await confirmDialog({
    title: `Remove ${member.display_name}?`,
    message: 'They leave the session and can’t come back unless you let them back in.',
    confirmLabel: 'Remove',
  });
  if (!ok) return;
  try {
    await postJson(`${sessionPath}/kick/${encodeURIComponent(member.id)}`);
    // A big session sends counts, not a `member_left`: take them off the list ourselves.
    if (!view.isRosterComplete()) {
      view.dropMember(member.id);
      renderMembers();
    }
    view.addBanned(member);
    renderRemoved();
  } catch (err) {
    notifyError(err);
  }
}

/** The host's list of whom they removed, each with "Let back in"; hidden while empty. */
function renderRemoved() {
  const removed = isHost() && view.session.state !== 'ended' ? view.session.banned : [];
  $('removed-panel').hidden = removed.length === 0;
  $('removed').replaceChildren(...removed.map((p) => h('li', { class: 'member', testid: 'removed-member', dataset: { userId: p.id } },
    avatar(p.id, p.display_name),
    h('span', { class: 'member-text' }, h('span', { class: 'member-name', testid: 'removed-name' }, p.display_name)),
    h('button', {
      class: 'button button-ghost button-small', type: 'button', testid: 'unban',
      // The visible words first in the name: speech input users say what they see.
      'aria-label': `Let back in ${p.display_name}`,
      onclick: (e) => letBackIn(p, e.currentTarget),
    }, 'Let back in'))));
}

/** "Let back in": the user may join again with the invite link; everyone gets `member_unbanned`. */
async function letBackIn(person, button) {
  if (isInactive(button)) return;
  const focused = document.activeElement === button;
  setBusy(button, true);
  let done = false;
  try {
    await postJson(`${sessionPath}/unban/${encodeURIComponent(person.id)}`);
    done = true;
    notify({ kind: 'success', key: 'unban', title: `${person.display_name} can join again`, message: 'Send them the invite link.', timeoutMs: 4000 });
  } catch (err) {
    // Let back in already (the host's other tab): the list was just out of date.
    if (err instanceof ApiError && err.code === 'invalid_target') done = true;
    else notifyError(err);
  } finally {
    setBusy(button, false);
  }
  if (!done) return;
  view.removeBanned(person.id);
  renderRemoved();
  // The pressed button is gone (its `member_unbanned` may have re-rendered the list first):
  // keep the keyboard focus on the next one, or on Copy, the link the one let back in needs.
  const lost = !document.activeElement || document.activeElement === document.body;
  if (focused && !button.isConnected && lost) (byTestId('unban', $('removed')) ?? $('copy-invite'))?.focus();
}

/** A new host's list of the removed: only the host's snapshot has it. */
async function loadRemoved() {
  try {
    const snapshot = await getJson(sessionPath);
    view.setBanned(snapshot?.banned);
    renderRemoved();
  } catch (err) {
    console.warn('could not load the list of removed members', err);
  }
}

function renderFooter() {
  const live = view.session.state !== 'ended';
  // While it plays, the recap so far sits here, out of the way; once ended, the card leads to it.
  const recap = $('recap-link');
  recap.href = `/s/${encodeURIComponent(sessionId)}/recap`;
  recap.hidden = !live || view.session.state === 'lobby';
  $('end-session').hidden = !(isHost() && live);
  $('leave-session').hidden = isHost() || !live;
}

/**
 * "End session": asks whether to stop the music too (a `pause` just before the end; Sesh
 * stops steering Spotify at the end, it does not stop it), and remembers what happened so the
 * ended card can say it truthfully.
 */
async function endSessionClicked() {
  // While the host plays something else in Spotify, pausing would stop *their* music.
  const ours = view.spotify?.state !== 'host_took_over';
  const playing = ours && view.session.state === 'playing' && Boolean(view.playback?.is_playing);
  const choice = await choiceDialog({
    title: 'End the session for everyone?',
    message: playing
      ? 'The invite link stops working and Sesh stops steering Spotify. Stop the music too?'
      : 'The invite link stops working and Sesh stops steering Spotify.',
    buttons: playing
      ? [
        { label: 'Cancel', value: null, testid: 'confirm-cancel' },
        { label: 'End, keep the music playing', value: 'keep', testid: 'end-keep-playing' },
        { label: 'End and stop the music', value: 'stop', kind: 'danger', testid: 'confirm-ok' },
      ]
      : [
        { label: 'Cancel', value: null, testid: 'confirm-cancel' },
        { label: 'End session', value: 'end', kind: 'danger', testid: 'confirm-ok' },
      ],
  });
  if (!choice) return;
  let music = null;
  if (choice === 'stop') {
    try {
      await postJson(`${sessionPath}/player/pause`);
      music = 'stopped';
    } catch (err) {
      console.warn('could not pause before ending', err);
      music = 'stop_failed';
    }
  } else if (choice === 'keep') {
    music = 'playing';
  } else if (view.session.state === 'playing' && ours) {
    music = 'paused';
  }
  // Set before the request: its `session_ended` event may arrive before its answer.
  view.endedMusic = music;
  try {
    await postJson(`${sessionPath}/end`);
  } catch (err) {
    view.endedMusic = null;
    notifyError(err);
  }
}

async function leaveClicked() {
  const ok = await confirmDialog({
    title: 'Leave this session?',
    message: 'You can come back with the invite link.',
    confirmLabel: 'Leave',
  });
  if (!ok) return;
  try {
    await postJson(`${sessionPath}/leave`);
    stopFollowing();
    location.assign('/');
  } catch (err) {
    notifyError(err);
  }
}

// ---------- an idle session (nobody used it: it ends soon unless someone keeps it) ----------

let idleAnnounced = null;

function renderIdle() {
  const s = view.session;
  const endsAt = s.state === 'ended' ? null : s.idleEndsAt;
  const banner = $('idle-banner');
  banner.hidden = endsAt == null;
  if (endsAt == null) {
    idleAnnounced = null;
    return;
  }
  const at = new Date(endsAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  $('idle-text').textContent = s.state === 'playing'
    ? `The music is paused and nobody has done anything for a while, so Sesh stopped following Spotify. The session ends at ${at} unless someone keeps it.`
    : `Nobody has done anything here for a while. The session ends at ${at} unless someone keeps it.`;
  // Said once per idle spell, in the polite region (the banner itself is not live).
  if (idleAnnounced !== endsAt) {
    idleAnnounced = endsAt;
    say('idle-status', `This session ends at ${at} unless someone keeps it.`, { quiet: true });
  }
}

/** Any request of a member brings an idle session back; the answer's `session_active` hides the banner. */
async function keepSession(button) {
  if (isInactive(button)) return;
  setBusy(button, true);
  try {
    await getJson(sessionPath);
  } catch (err) {
    notifyError(err);
  } finally {
    setBusy(button, false);
  }
}

// ---------- start ----------

function wireControls() {
  initQueueUi({ view, sessionPath, narrowScreen, onQueueChanged: () => renderSearch() });
  initSearch({ view, sessionPath });
  initDisplays({ sessionPath });
  initGuestControls({ view, sessionPath });
  initHandover({ view, sessionPath });
  initListen({ view, sessionPath });
  $('start-button').addEventListener('click', startSession);
  $('keep-session').addEventListener('click', (e) => keepSession(e.currentTarget));
  $('refresh-devices').addEventListener('click', () => loadDevices());
  $('copy-invite').addEventListener('click', copyInvite);
  $('rotate-invite').addEventListener('click', (e) => rotateInvite(e.currentTarget));
  $('show-qr').addEventListener('click', showQrFullScreen);
  $('name-form').addEventListener('submit', saveName);
  $('name-input').addEventListener('input', (e) => {
    e.currentTarget.dataset.dirty = 'true';
    $('name-status').textContent = '';
  });
  $('end-session').addEventListener('click', endSessionClicked);
  $('leave-session').addEventListener('click', leaveClicked);
  $('control-previous').addEventListener('click', (e) => playerAction('previous', e.currentTarget));
  $('control-next').addEventListener('click', (e) => playerAction('next', e.currentTarget));
  $('control-playpause').addEventListener('click', (e) => {
    const playing = e.currentTarget.dataset.playing === 'true';
    playerAction(playing ? 'pause' : 'play', e.currentTarget);
  });
  $('np-cover').addEventListener('error', (e) => { e.currentTarget.hidden = true; });
  $('queue-show-more').addEventListener('click', (e) => showMoreQueue(e.currentTarget));
  $('queue-toggle').addEventListener('click', () => {
    view.queueExpanded = !view.queueExpanded;
    renderQueue();
  });
  narrowScreen.addEventListener('change', () => { if (view.session) renderQueue(); });
  $('resume-here').addEventListener('click', (e) => resumeHere(e.currentTarget));
  $('resume-elsewhere').addEventListener('click', (e) => resumeElsewhere(e.currentTarget));
  $('control-repeat').addEventListener('click', (e) => toggleRepeat(e.currentTarget));
  $('control-device').addEventListener('click', (e) => switchDevice(e.currentTarget));
  $('reshuffle').addEventListener('click', (e) => reshuffle(e.currentTarget));
  wireSeekBar();
  wireVolume();
}

async function main() {
  wireControls();
  const { me } = await initPage();
  if (!sessionId) {
    showBlocked(new ApiError(404, 'session_not_found', 'no session id in the address'));
    return;
  }
  if (!me) {
    showBlocked(new ApiError(401, 'unauthorized', 'logged out'));
    return;
  }
  try {
    // The snapshot paints the page at once and tells us early if we may not see it.
    const snapshot = await getJson(sessionPath);
    restoreNames();
    view.loadSnapshot(snapshot?.session ?? snapshot ?? {}, me);
    storeNames();
    if (snapshot?.playback) view.setPlayback(snapshot.playback, performance.now(), Date.now());
    renderAll();
    if (view.session.state === 'ended') {
      endSession();
      return;
    }
  } catch (err) {
    if (err instanceof ApiError && err.status !== 0 && err.status < 500) {
      showBlocked(err);
      return;
    }
    notifyError(err);
  }
  initChat(sessionId);
  socket = new SessionSocket(sessionId, { onFrame, onStatus: setConnection, probe, onServerClose });
  socket.start();
  frameRequest = requestAnimationFrame(tick);
  window.addEventListener('pagehide', () => socket?.stop());
  // Back/forward cache brings the page back with a stopped socket: start over.
  window.addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
}

main().catch((err) => notifyError(err));
