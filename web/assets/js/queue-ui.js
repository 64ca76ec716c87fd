// The session page's queue (issue 17): the list with each upcoming entry's net votes, up and
// down votes, Remove and Ban track; "Up next" for the entry handed to Spotify; the vote to skip
// in the now-playing card; the host's queue rules. Every action goes over HTTP, whose answer
// (or refusal, shown from its `error.message` in a polite live region) belongs to the request;
// the structure of the queue comes only from the socket's frames (session-state.js).

import { ApiError, deleteJson, getJson, patchJson, postJson } from './api.js';
import { describeError } from './messages.js';
import { DEFAULT_QUEUE_SETTINGS, QUEUE_LIMITS } from './queue-state.js';
import { addedByCount, addedByIds, artistNames, collapsedRange, playerExtras } from './session-state.js';
import { icon } from './icons.js';
import { avatar, byTestId, confirmDialog, h, isInactive, setBusy } from './ui.js';

/** Upcoming entries a phone shows before "Show all N". */
const QUEUE_UPCOMING_COLLAPSED = 5;

let view = null;
let sessionPath = '';
let narrowScreen = null;
/** Repaints what a queue change touches besides the list (the search results). */
let onQueueChanged = () => {};

/** Entry ids whose vote is on its way: a second press waits for the first. */
const voting = new Set();
/** Entry ids being removed or banned. */
const removing = new Set();
let skipVoting = false;

const $ = (id) => byTestId(id);

/** Wires the queue's controls; `ctx`: `{view, sessionPath, narrowScreen, onQueueChanged}`. */
export function initQueueUi(ctx) {
  ({ view, sessionPath, narrowScreen } = ctx);
  onQueueChanged = ctx.onQueueChanged ?? onQueueChanged;
  // Where the focus goes when the entry whose button had it leaves the list.
  document.getElementById('queue-heading').setAttribute('tabindex', '-1');
  $('skip-vote').addEventListener('click', (e) => voteSkip(e.currentTarget));
  $('skip-now').addEventListener('click', (e) => skipNow(e.currentTarget));
  const form = $('queue-settings-form');
  form.addEventListener('submit', saveSettings);
  form.addEventListener('input', () => {
    form.dataset.dirty = 'true';
    $('queue-settings-status').textContent = '';
  });
}

// ---------- words ----------

/** "+3", "0", "−2": the net votes. */
export function netVotes(votes) {
  const n = Number.isInteger(votes) ? votes : 0;
  if (n > 0) return `+${n}`;
  if (n < 0) return `−${-n}`;
  return '0';
}

/**
 * What to say when the server refused: its own `error.message` (it names the limit: "you have 3
 * tracks waiting"), and for a rate limit when to try again. Only a request that got no
 * answer at all gets our words.
 */
export function refusalText(err) {
  if (!(err instanceof ApiError) || err.status === 0) {
    const words = describeError(err instanceof ApiError ? err.code : 'server_error');
    return `${words.title}. ${words.message}`;
  }
  let text = err.message || describeError(err.code).title;
  // A sentence on the page (the server writes some for the log, in lower case).
  text = text.charAt(0).toUpperCase() + text.slice(1);
  if (!/[.!?]$/.test(text)) text += '.';
  if (err.code === 'rate_limited' && Number.isFinite(err.retryAfterS)) text += ` ${retryText(err.retryAfterS)}`;
  return text;
}

/** "Try again in 20 seconds." — or at a clock time when that is long away. */
export function retryText(seconds, now = new Date()) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `Try again in ${s} ${s === 1 ? 'second' : 'seconds'}.`;
  const at = new Date(now.getTime() + s * 1000);
  return `Try again at ${at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.`;
}

/** How long a card's live region keeps what it said: news briefly, a refusal long enough to read. */
const SAID_MS = { done: 6000, refused: 20_000 };
const sayTimers = new Map();

/**
 * Says something in a card's polite live region (the same words again are announced again),
 * and clears it after a while. `quiet`: for screen readers only, when the screen shows it
 * anyway ("10 tracks found"); `refused`: a refusal, kept longer.
 */
export function say(testid, text, { quiet = false, refused = false } = {}) {
  const el = $(testid);
  if (!el) return;
  clearTimeout(sayTimers.get(testid));
  el.textContent = '';
  el.classList.toggle('visually-hidden', quiet);
  el.dataset.kind = refused ? 'refused' : 'done';
  // A separate task, so that screen readers notice the same sentence twice in a row.
  sayTimers.set(testid, setTimeout(() => {
    el.textContent = text;
    if (text) sayTimers.set(testid, setTimeout(() => { el.textContent = ''; }, refused ? SAID_MS.refused : SAID_MS.done));
  }, 30));
}

/** Says why the server refused (see `refusalText`). */
export function sayRefusal(testid, err) {
  say(testid, refusalText(err), { refused: true });
}

const titleOf = (track) => track?.name ?? 'Unknown track';

// ---------- keeping the keyboard focus across repaints ----------

/**
 * Repaints `container` with `paint()` and puts the focus back on the control with the same
 * `data-focus-key` (the list is rebuilt on every change). When that control is gone (its
 * entry left), the focus goes to a control of the row now in its place, or the one before,
 * else to `fallback()`; all only if the focus was in the container.
 */
export function keepingFocus(container, paint, fallback = () => null) {
  const active = document.activeElement;
  const inside = active && container.contains(active) && active !== container;
  const key = inside ? active.dataset.focusKey : null;
  const rows = () => [...container.children];
  const row = inside ? rows().findIndex((r) => r.contains(active)) : -1;
  paint();
  if (!inside) return;
  const again = key ? container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) : null;
  const focusable = (r) => r && !r.hidden ? r.querySelector('button:not([disabled]), a[href], input') : null;
  const after = rows();
  const target = again ?? focusable(after[row]) ?? focusable(after[row - 1]) ?? fallback();
  if (target && document.activeElement !== target) target.focus({ preventScroll: Boolean(again) });
}

// ---------- votes ----------

/**
 * The net votes of an entry with its up and down buttons (`aria-pressed`: the viewer's vote;
 * pressing the pressed one withdraws it), or the count alone for who may not vote.
 */
export function voteControls(entry, index, { scope = 'queue' } = {}) {
  const title = titleOf(entry.track);
  const count = h('span', { class: 'vote-count', testid: 'vote-count', dataset: { votes: String(entry.votes ?? 0) } },
    netVotes(entry.votes), h('span', { class: 'visually-hidden' }, Math.abs(entry.votes ?? 0) === 1 ? ' vote' : ' votes'));
  if (!view.canVoteOn(entry, index)) {
    return h('span', { class: 'votes votes-readonly', testid: 'votes' }, icon('vote-up'), count);
  }
  const mine = view.myVote(entry);
  const busy = voting.has(entry.id);
  const button = (vote, name, label) => h('button', {
    class: 'icon-button vote-button', type: 'button', testid: `vote-${name}`,
    'aria-label': `${label} ${title}`, 'aria-pressed': String(mine === vote),
    'aria-disabled': busy ? 'true' : null, 'aria-busy': busy ? 'true' : null,
    dataset: { focusKey: `${scope}:vote-${name}:${entry.id}`, vote: String(vote) },
    onclick: (e) => castVote(entry.id, mine === vote ? 0 : vote, e.currentTarget),
  }, icon(`vote-${name}`));
  return h('span', { class: 'votes', testid: 'votes', role: 'group', 'aria-label': `Votes for ${title}` },
    button(1, 'up', 'Vote up'), count, button(-1, 'down', 'Vote down'));
}

async function castVote(id, vote, button) {
  if (isInactive(button) || voting.has(id)) return;
  const token = view.beginVote(id, vote);
  if (!token) return;
  voting.add(id);
  repaint();
  try {
    const answer = await postJson(`${sessionPath}/queue/${encodeURIComponent(id)}/vote`, { vote });
    view.settleVote(token, answer);
  } catch (err) {
    view.revertVote(token);
    sayRefusal('queue-status', err);
  } finally {
    voting.delete(id);
    repaint();
  }
}

// ---------- remove and ban ----------

async function removeEntry(entry, button) {
  if (isInactive(button) || removing.has(entry.id)) return;
  removing.add(entry.id);
  setBusy(button, true);
  try {
    await deleteJson(`${sessionPath}/queue/${encodeURIComponent(entry.id)}`);
    // The list changes with the `entry_removed` frame.
    say('queue-status', `Removed “${titleOf(entry.track)}” from the queue.`);
  } catch (err) {
    sayRefusal('queue-status', err);
  } finally {
    removing.delete(entry.id);
    if (button.isConnected) setBusy(button, false);
  }
}

async function banTrack(entry, button) {
  if (isInactive(button) || removing.has(entry.id)) return;
  const title = titleOf(entry.track);
  const ok = await confirmDialog({
    title: `Ban “${title}”?`,
    message: 'It leaves the queue, and nobody can add it again in this session.',
    confirmLabel: 'Ban track',
  });
  if (!ok) return;
  removing.add(entry.id);
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/queue/${encodeURIComponent(entry.id)}/ban`);
    say('queue-status', `Banned “${title}”: nobody can add it again in this session.`);
  } catch (err) {
    sayRefusal('queue-status', err);
  } finally {
    removing.delete(entry.id);
    if (button.isConnected) setBusy(button, false);
  }
}

// ---------- the list ----------

function repaint() {
  renderQueue();
  onQueueChanged();
}

/** The by-line: "Yours", "Up next", who added or brought it. */
function byLine(entry, role) {
  const ids = addedByIds(entry.added_by);
  const mine = view.isMine(entry);
  const added = entry.origin === 'added';
  const who = added ? `added by ${view.namesList(ids.slice(0, 1), 1)}` : `from ${view.namesList(ids, addedByCount(entry, ids))}`;
  if (!ids.length && role !== 'committed') return null;
  return h('span', { class: 'queue-by', testid: 'queue-added-by' },
    role === 'committed' ? h('span', { class: 'badge badge-next', testid: 'queue-up-next' }, 'Up next') : null,
    // "Yours": a guest finds the songs they brought (the word says it to screen readers too).
    mine ? h('span', { class: 'badge badge-you', testid: 'queue-yours' }, 'Yours') : null,
    ids.slice(0, added ? 1 : 3).map((id) => avatar(id, view.knownName(id) ?? '?')),
    ids.length ? h('span', {}, who) : null);
}

/** The entry's controls: votes, Remove, Ban track (none for played and playing entries). */
function entryControls(entry, index, role) {
  if (role === 'played' || role === 'playing' || view.session.state !== 'playing') return null;
  const title = titleOf(entry.track);
  const votes = role === 'upcoming' ? voteControls(entry, index) : null;
  const remove = view.canRemove(entry, index)
    ? h('button', {
      class: 'icon-button entry-action', type: 'button', testid: 'remove-entry', title: 'Remove from the queue',
      'aria-label': `Remove ${title} from the queue`, dataset: { focusKey: `queue:remove:${entry.id}` },
      onclick: (e) => removeEntry(entry, e.currentTarget),
    }, icon('trash'))
    : null;
  const ban = view.canBan(entry, index)
    ? h('button', {
      class: 'icon-button entry-action', type: 'button', testid: 'ban-track', title: 'Ban track',
      'aria-label': `Ban track ${title}`, 'aria-haspopup': 'dialog', dataset: { focusKey: `queue:ban:${entry.id}` },
      onclick: (e) => banTrack(entry, e.currentTarget),
    }, icon('ban'))
    : null;
  if (!votes && !remove && !ban) return null;
  return h('span', { class: 'queue-controls' }, votes, remove || ban ? h('span', { class: 'entry-actions' }, remove, ban) : null);
}

/** The queue card: the window of the queue the page holds, collapsed on phones. */
export function renderQueue() {
  const { queue, queueOffset, queueLength, position } = view.session;
  const current = view.currentIndex();
  const list = $('queue');
  // On a phone: the now-playing entry and the next few, then "Show all N".
  const anchor = (current >= 0 ? current : position) - queueOffset;
  const collapsible = narrowScreen.matches && view.session.state !== 'ended'
    ? collapsedRange(queue.length, Math.min(Math.max(anchor, 0), queue.length), QUEUE_UPCOMING_COLLAPSED) : null;
  const shown = collapsible && !view.queueExpanded ? collapsible : null;
  keepingFocus(list, () => list.replaceChildren(...queue.map((entry, i) => {
    // Numbers, highlight and "played" are about the whole queue; `queue` may be a window of it.
    const index = queueOffset + i;
    const track = entry.track ?? {};
    const isCurrent = index === current;
    const role = view.entryRole(entry, index);
    const controls = entryControls(entry, index, role);
    return h('li', {
      class: controls ? 'queue-item has-controls' : 'queue-item', testid: 'queue-item',
      'aria-current': isCurrent ? 'true' : null,
      hidden: shown ? i < shown.from || i >= shown.to : false,
      dataset: {
        trackId: track.id ?? '', entryId: entry.id ?? '', index: String(index), role,
        played: String(current >= 0 && index < current), yours: String(view.isMine(entry)),
      },
    },
    h('span', { class: 'queue-index' }, isCurrent ? icon('play') : String(index + 1)),
    track.image_url ? h('img', { class: 'thumb', src: track.image_url, alt: '', loading: 'lazy', width: 44, height: 44 }) : h('span', { class: 'thumb' }),
    h('span', { class: 'queue-text' },
      h('span', { class: 'queue-title', testid: 'queue-title' }, track.name ?? 'Unknown track',
        isCurrent ? h('span', { class: 'visually-hidden' }, ' (playing now)') : null,
        role === 'committed' ? h('span', { class: 'visually-hidden' }, ' (up next)') : null),
      h('span', { class: 'queue-sub' }, artistNames(track)),
      byLine(entry, role)),
    controls);
  })), () => document.getElementById('queue-heading'));
  list.start = queueOffset + 1;
  const before = $('queue-before');
  before.hidden = queueOffset === 0 || queue.length === 0 || Boolean(shown);
  before.textContent = `${queueOffset} earlier ${queueOffset === 1 ? 'track' : 'tracks'} not shown`;
  const toggle = $('queue-toggle');
  $('queue-collapse').hidden = !collapsible;
  toggle.setAttribute('aria-expanded', String(!shown));
  toggle.textContent = shown ? `Show all ${queueLength} ${queueLength === 1 ? 'track' : 'tracks'}` : 'Show fewer';
  const rest = view.queueAfterWindow();
  $('queue-more').hidden = rest === 0 || Boolean(shown);
  $('queue-more-text').textContent = `${rest} more in the queue`;
  $('queue-empty').hidden = queueLength > 0;
  // In the lobby the now-playing card already explains the queue; keep the invite in view.
  $('queue-panel').hidden = view.session.state === 'lobby' && queueLength === 0;
  $('queue-count').textContent = queueLength ? `${queueLength} ${queueLength === 1 ? 'track' : 'tracks'}` : '';
  // Reshuffling needs something after the track playing now, a server that offers it, and the
  // fair order (in votes order the votes decide what is next; the server refuses a reshuffle).
  const upcoming = queueLength - Math.max(current, position) - 1;
  const byVotes = view.session.queueSettings?.order === 'votes';
  $('queue-tools').hidden = !(view.isHost() && view.session.state === 'playing' && playerExtras(view.playback).supported && upcoming > 1 && !byVotes);
}

let windowRefreshing = false;

/**
 * After a change the model could not place in the window it holds (an entry voted into it
 * from beyond, say): fetch that window again. A page that crossed another change on its way
 * is dropped and fetched once more.
 */
export async function refreshStaleWindow(attempt = 0) {
  const request = view.staleWindowPage();
  if (!request || windowRefreshing || view.closed) return;
  windowRefreshing = true;
  try {
    const page = await getJson(`${sessionPath}/queue?offset=${request.offset}&limit=${request.limit}`);
    if (!view.closed && view.replaceStaleWindow(request, page)) repaint();
  } catch (err) {
    console.warn('could not load the queue again', err);
    return;
  } finally {
    windowRefreshing = false;
  }
  // A busy queue may outrun a few pages in a row; the next frame tries again after that.
  if (attempt < 2 && view.staleWindowPage()) refreshStaleWindow(attempt + 1);
}

// ---------- skip ----------

/** The now-playing card's "Skip 2/3" (a vote, `aria-pressed`) or "Skip this track" (outright). */
export function renderSkip() {
  const s = view.session;
  const playing = s.state === 'playing' && Boolean(view.nowPlaying()) && Boolean(view.playingEntry());
  const direct = playing && view.canSkipDirectly() && !view.isHost(); // the host has Next
  const vote = playing && view.canVoteSkip();
  const { votes, needed, youVoted } = view.skipState();
  const count = needed > 0 ? `${votes}/${needed}` : String(votes);
  $('np-skip').hidden = !(direct || vote);
  $('skip-now').hidden = !direct;
  const button = $('skip-vote');
  button.hidden = !vote;
  button.setAttribute('aria-pressed', String(youVoted));
  $('skip-vote-text').textContent = votes > 0 || youVoted ? `Skip ${count}` : 'Skip';
  // The visible words first in the name (speech input users say what they see).
  $('skip-vote-detail').textContent = needed > 0 ? ` (${votes} of ${needed} ${needed === 1 ? 'vote' : 'votes'} to skip)` : '';
  // Who does not vote still sees that others want to skip.
  const pill = $('skip-count');
  pill.hidden = !(playing && !vote && votes > 0);
  $('skip-count-text').textContent = `${votes} of ${needed} want to skip`;
}

async function voteSkip(button) {
  if (isInactive(button) || skipVoting) return;
  skipVoting = true;
  const token = view.beginSkipVote();
  renderSkip();
  setBusy(button, true);
  try {
    const answer = await postJson(`${sessionPath}/skip-vote`);
    view.settleSkipVote(token, answer);
    if (answer?.skipped) say('queue-status', 'Enough votes: skipping this track.');
  } catch (err) {
    view.revertSkipVote(token);
    sayRefusal('queue-status', err);
  } finally {
    skipVoting = false;
    setBusy(button, false);
    renderSkip();
  }
}

async function skipNow(button) {
  if (isInactive(button)) return;
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/player/next`);
  } catch (err) {
    sayRefusal('queue-status', err);
  } finally {
    setBusy(button, false);
  }
}

// ---------- the host's queue rules ----------

const minutes = (ms) => Math.max(1, Math.round(ms / 60_000));

/** "Fair turns · 3 tracks each · up to 10 min · no replays within 20 · adding locked". */
export function rulesSummary(q = DEFAULT_QUEUE_SETTINGS) {
  return [
    q.order === 'votes' ? 'Most votes first' : 'Fair turns',
    `${q.maxQueuedPerMember} ${q.maxQueuedPerMember === 1 ? 'track' : 'tracks'} each`,
    `up to ${minutes(q.maxTrackMs)} min`,
    q.noReplayPlays > 0 ? `no replays within ${q.noReplayPlays}` : 'replays allowed',
    q.addingLocked ? 'only you and co-hosts add' : null,
  ].filter(Boolean).join(' · ');
}

/** The host's rules, in the queue card; the fields follow `settings_changed` unless the host is editing them. */
export function renderQueueSettings() {
  const s = view.session;
  const show = view.isHost() && s.state !== 'ended';
  $('queue-settings').hidden = !show;
  if (!show) return;
  const q = s.queueSettings;
  $('queue-settings-summary').textContent = rulesSummary(q);
  const form = $('queue-settings-form');
  if (form.dataset.dirty) return;
  for (const radio of form.querySelectorAll('input[name="queue-order"]')) radio.checked = radio.value === q.order;
  $('qs-per-member').value = String(q.maxQueuedPerMember);
  $('qs-max-minutes').value = String(minutes(q.maxTrackMs));
  $('qs-no-replay').value = String(q.noReplayPlays);
  $('qs-locked').checked = q.addingLocked;
}

/**
 * The fields the host changed, checked against the server's ranges.
 * @returns {{patch: object}|{error: string, field: HTMLElement}}
 */
function settingsPatch() {
  const q = view.session.queueSettings;
  const patch = {};
  const order = $('queue-settings-form').querySelector('input[name="queue-order"]:checked')?.value;
  if (order && order !== q.order) patch.queue_order = order;
  const number = (testid, [min, max], what) => {
    const field = $(testid);
    const value = Number(field.value);
    if (field.value.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      return { error: `${what} must be a whole number from ${min} to ${max}.`, field };
    }
    return { value };
  };
  const perMember = number('qs-per-member', QUEUE_LIMITS.maxQueuedPerMember, 'Tracks each guest can have waiting');
  if (perMember.error) return perMember;
  if (perMember.value !== q.maxQueuedPerMember) patch.max_queued_per_member = perMember.value;
  const longest = number('qs-max-minutes', QUEUE_LIMITS.maxTrackMinutes, 'The longest track');
  if (longest.error) return longest;
  // Whole minutes: a limit of 7.5 minutes set elsewhere stays unless the host changes the field.
  if (longest.value !== minutes(q.maxTrackMs)) patch.max_track_ms = longest.value * 60_000;
  const replays = number('qs-no-replay', QUEUE_LIMITS.noReplayPlays, 'No replays within');
  if (replays.error) return replays;
  if (replays.value !== q.noReplayPlays) patch.no_replay_plays = replays.value;
  const locked = $('qs-locked').checked;
  if (locked !== q.addingLocked) patch.adding_locked = locked;
  return { patch };
}

async function saveSettings(event) {
  event.preventDefault();
  const button = $('queue-settings-save');
  const form = $('queue-settings-form');
  if (isInactive(button)) return;
  const result = settingsPatch();
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
  if (result.error) {
    result.field.setAttribute('aria-invalid', 'true');
    say('queue-settings-status', result.error, { refused: true });
    result.field.focus();
    return;
  }
  if (Object.keys(result.patch).length === 0) {
    delete form.dataset.dirty;
    say('queue-settings-status', 'Nothing to change.');
    return;
  }
  setBusy(button, true);
  try {
    const answer = await patchJson(`${sessionPath}/settings`, result.patch);
    view.setSettings(answer?.settings);
    delete form.dataset.dirty;
    renderQueueSettings();
    repaint();
    say('queue-settings-status', 'Saved.');
  } catch (err) {
    sayRefusal('queue-settings-status', err);
  } finally {
    setBusy(button, false);
  }
}
