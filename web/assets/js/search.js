// The session page's search box (issue 17): Spotify search as one types (debounced), each
// result with Add — or, when the track is in the queue already, who queued it and its votes —
// and a pasted Spotify track link or URI added directly. Refusals say the server's own words in
// the card's polite live region.

import { ApiError, getJson, postJson } from './api.js';
import { formatTime } from './progress.js';
import { parseTrackLink } from './queue-state.js';
import { addedByCount, addedByIds, artistNames } from './session-state.js';
import { icon } from './icons.js';
import { keepingFocus, say, sayRefusal, voteControls } from './queue-ui.js';
import { byTestId, h, isInactive, setBusy } from './ui.js';

/** Typing settles this long before a search goes out. */
const SEARCH_DEBOUNCE_MS = 400;

let view = null;
let sessionPath = '';
const $ = (id) => byTestId(id);

/** What the box shows: null (nothing typed), `{link}` (a pasted track link) or `{query, tracks}`. */
let shown = null;
let debounce = null;
/** Numbers the searches, so that a late answer to an older one is dropped. */
let searchSeq = 0;
/** A rate limit: no search goes out before this (wall ms); the box searches again after it. */
let blockedUntil = 0;
let blockedTimer = null;
/** Track ids added from here whose `entry_added` has not come yet ("Added"), and those on their way. */
const justAdded = new Set();
const adding = new Set();

/** Wires the box; `ctx`: `{view, sessionPath}`. */
export function initSearch(ctx) {
  ({ view, sessionPath } = ctx);
  const input = $('search-input');
  input.addEventListener('input', () => onTyped(false));
  // Enter searches at once.
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    onTyped(true);
  });
}

function onTyped(now) {
  clearTimeout(debounce);
  const text = $('search-input').value.trim();
  if (!text) {
    searchSeq += 1;
    shown = null;
    say('search-status', '', { quiet: true });
    renderSearch();
    return;
  }
  const link = parseTrackLink(text);
  if (link) {
    searchSeq += 1;
    shown = { link };
    renderSearch();
    say('search-status', 'A Spotify track link: press Add this track.', { quiet: true });
    return;
  }
  if (now) search(text);
  else debounce = setTimeout(() => search(text), SEARCH_DEBOUNCE_MS);
}

async function search(query) {
  const wait = blockedUntil - Date.now();
  if (wait > 0) {
    // Asked to wait: search once the time is up (for what is in the box then).
    clearTimeout(blockedTimer);
    blockedTimer = setTimeout(() => onTyped(true), wait + 50);
    return;
  }
  const seq = ++searchSeq;
  const results = $('search-results');
  results.setAttribute('aria-busy', 'true');
  try {
    const answer = await getJson(`${sessionPath}/search?q=${encodeURIComponent(query)}`);
    if (seq !== searchSeq) return;
    const tracks = Array.isArray(answer?.tracks) ? answer.tracks : [];
    shown = { query, tracks };
    renderSearch();
    if (tracks.length) say('search-status', `${tracks.length} ${tracks.length === 1 ? 'track' : 'tracks'} found.`, { quiet: true });
    else say('search-status', `No tracks found for “${query}”.`, { refused: true });
  } catch (err) {
    if (seq !== searchSeq) return;
    if (err instanceof ApiError && err.code === 'rate_limited' && Number.isFinite(err.retryAfterS)) {
      blockedUntil = Date.now() + err.retryAfterS * 1000;
      clearTimeout(blockedTimer);
      blockedTimer = setTimeout(() => onTyped(true), err.retryAfterS * 1000 + 50);
    }
    sayRefusal('search-status', err);
  } finally {
    if (seq === searchSeq) results.removeAttribute('aria-busy');
  }
}

async function addTrack(uri, trackId, title, button, { clearBox = false } = {}) {
  if (isInactive(button) || adding.has(uri)) return;
  adding.add(uri);
  setBusy(button, true);
  try {
    const answer = await postJson(`${sessionPath}/queue`, { uri });
    view.noteYourVotes(answer?.entry ? [answer.entry] : []);
    const id = answer?.entry?.track?.id ?? trackId;
    if (id) justAdded.add(id);
    const name = answer?.entry?.track?.name ?? title;
    say('search-status', name ? `Added “${name}” to the queue.` : 'Added to the queue.');
    if (clearBox) {
      const input = $('search-input');
      input.value = '';
      shown = null;
      input.focus();
    }
  } catch (err) {
    sayRefusal('search-status', err);
  } finally {
    adding.delete(uri);
    if (button.isConnected) setBusy(button, false);
    renderSearch();
  }
}

/** Why a result cannot be added, before anyone tries: banned, too long. */
function blockedReason(track) {
  if (view.isBannedTrack(track.id)) return 'The host banned this track';
  const max = view.session.queueSettings.maxTrackMs;
  if (Number(track.duration_ms) > max) return `Longer than ${Math.round(max / 60_000)} min`;
  return null;
}

/** "Queued by Bob" (added) or "In the queue, from Bob’s top tracks". */
function queuedText(entry) {
  const ids = addedByIds(entry.added_by);
  if (entry.origin === 'added') return `Queued by ${view.namesList(ids.slice(0, 1), 1)}`;
  return ids.length ? `In the queue, from ${view.possessive(ids, addedByCount(entry, ids))} top tracks` : 'In the queue';
}

function resultRow(track) {
  const title = track.name ?? 'Unknown track';
  const artists = artistNames(track);
  const queued = view.queuedEntryOf(track.id);
  if (queued) justAdded.delete(track.id);
  let note = null;
  let action = null;
  if (queued?.role === 'playing') {
    note = 'Playing now';
  } else if (queued) {
    note = queued.role === 'committed' ? `Up next · ${queuedText(queued.entry)}` : queuedText(queued.entry);
    // Already there: vote on it instead of adding it twice.
    action = queued.role === 'upcoming' ? voteControls(queued.entry, queued.index, { scope: 'search' }) : null;
  } else if (justAdded.has(track.id)) {
    note = 'Added';
  } else {
    note = blockedReason(track);
    if (!note) {
      action = h('button', {
        class: 'button button-primary add-button', type: 'button', testid: 'add-track',
        'aria-label': `Add ${title}${artists ? ` by ${artists}` : ''}`,
        'aria-busy': adding.has(track.uri) ? 'true' : null, 'aria-disabled': adding.has(track.uri) ? 'true' : null,
        dataset: { focusKey: `search:add:${track.id}` },
        onclick: (e) => addTrack(track.uri, track.id, title, e.currentTarget),
      }, icon('plus'), h('span', { class: 'add-label' }, 'Add'));
    }
  }
  return h('li', {
    class: action && queued ? 'result has-votes' : 'result', testid: 'search-result',
    dataset: { trackId: track.id ?? '', queued: queued ? queued.role : '' },
  },
  track.image_url ? h('img', { class: 'thumb', src: track.image_url, alt: '', loading: 'lazy', width: 44, height: 44 }) : h('span', { class: 'thumb' }),
  h('span', { class: 'queue-text' },
    h('span', { class: 'queue-title', testid: 'result-title' }, title),
    h('span', { class: 'queue-sub' }, [artists, Number(track.duration_ms) > 0 ? formatTime(track.duration_ms) : null].filter(Boolean).join(' · ')),
    note ? h('span', { class: 'result-note', testid: 'result-note' }, note) : null),
  action ? h('span', { class: 'result-action' }, action) : null);
}

function linkRow(link) {
  return h('li', { class: 'result result-link', testid: 'search-link' },
    h('span', { class: 'thumb link-thumb' }, icon('link')),
    h('span', { class: 'queue-text' },
      h('span', { class: 'queue-title' }, 'Spotify track link'),
      h('span', { class: 'queue-sub' }, link.id)),
    h('span', { class: 'result-action' },
      h('button', {
        class: 'button button-primary add-button', type: 'button', testid: 'add-link', dataset: { focusKey: 'search:add-link' },
        onclick: (e) => addTrack(link.uri, link.id, null, e.currentTarget, { clearBox: true }),
      }, icon('plus'), h('span', {}, 'Add this track'))));
}

/** How many more tracks a guest may add, with `waiting` of theirs still to play and `max` allowed. */
export function addsLeftText(waiting, max) {
  const tracks = (n) => `${n} ${n === 1 ? 'track' : 'tracks'}`;
  if (waiting <= 0) return `You can add up to ${tracks(max)}`;
  if (waiting >= max) return `${tracks(waiting)} of yours waiting: add more once one plays`;
  return `You can add ${max - waiting} more (${waiting} waiting)`;
}

/** "You can add up to 3 tracks · up to 10 min each" — what the host's rules mean for the viewer. */
function hintText() {
  const q = view.session.queueSettings;
  const longest = `up to ${Math.round(q.maxTrackMs / 60_000)} min each`;
  if (view.isModerator()) return `Search Spotify or paste a track link · ${longest}${q.addingLocked ? ' · only you and co-hosts add now' : ''}`;
  const me = view.you?.id;
  const from = view.playingIndex() + 1;
  const waiting = view.session.queue.filter((e, i) => view.session.queueOffset + i >= from && e.origin === 'added' && view.ownerOf(e) === me).length;
  return `${addsLeftText(waiting, q.maxQueuedPerMember)} · ${longest}`;
}

/** Shows the card to who may add, with the results marked by what the queue holds now. */
export function renderSearch() {
  const panel = $('search-panel');
  const show = view.canAdd();
  panel.hidden = !show;
  if (!show) return;
  $('search-hint').textContent = hintText();
  const list = $('search-results');
  keepingFocus(list, () => {
    if (!shown) list.replaceChildren();
    else if (shown.link) list.replaceChildren(linkRow(shown.link));
    else list.replaceChildren(...shown.tracks.map((t) => resultRow(t)));
  }, () => $('search-input'));
  list.hidden = list.childElementCount === 0;
}
