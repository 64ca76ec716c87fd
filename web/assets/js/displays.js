// The host's "Displays" panel on the session page: display links (docs/displays.md) for a TV
// in the room or a stream overlay: create one (a name, whether it shows the join QR code),
// copy its TV and overlay links, see how many screens have it open, revoke it. Only the host
// sees the panel; session.js calls `renderDisplays` whenever who hosts or the state changes.

import { ApiError, deleteJson, getJson, postJson } from './api.js';
import { icon } from './icons.js';
import { byTestId, confirmDialog, h, isInactive, notify, notifyError, setBusy } from './ui.js';

/** How often the open-stream counts are fetched again while the panel shows. */
const REFRESH_MS = 15_000;

/** The words for the refusals the panel can meet (messages.js has the general ones). */
const REFUSALS = {
  too_many_displays: { title: 'No more display links', message: 'A session holds 20 display links at most. Revoke one you no longer use first.' },
  session_ended: { title: 'The session has ended', message: 'An ended session has no displays.' },
};

/** "Not open", "Open on 1 screen", "Open on 3 screens". */
export function openStreamsText(n) {
  const count = Math.max(0, Number(n) || 0);
  return count === 0 ? 'Not open' : `Open on ${count} ${count === 1 ? 'screen' : 'screens'}`;
}

/** The name shown for a key: its label, else "Display 2" by its place in the list. */
export function displayName(display, index) {
  const label = String(display?.label ?? '').trim();
  return label || `Display ${index + 1}`;
}

const $ = (id) => byTestId(id);

const state = {
  sessionPath: '',
  shown: false,
  /** key → display, in the server's order. */
  displays: new Map(),
  loaded: false,
  loading: false,
  timer: null,
};

/** Wires the form once; `sessionPath` is `/api/sessions/{id}`. */
export function initDisplays({ sessionPath }) {
  state.sessionPath = sessionPath;
  $('display-form').addEventListener('submit', createDisplay);
  document.addEventListener('visibilitychange', () => {
    if (state.shown && document.visibilityState === 'visible') loadDisplays();
  });
}

/**
 * Shows the panel to the host of a session that has not ended (and loads its keys the first
 * time), hides it from everyone else.
 */
export function renderDisplays({ host, ended }) {
  const show = Boolean(host) && !ended;
  $('displays-panel').hidden = !show;
  if (show === state.shown) return;
  state.shown = show;
  clearInterval(state.timer);
  state.timer = null;
  if (!show) return;
  loadDisplays();
  state.timer = setInterval(() => {
    if (document.visibilityState === 'visible') loadDisplays();
  }, REFRESH_MS);
}

async function loadDisplays() {
  if (state.loading) return;
  state.loading = true;
  try {
    const answer = await getJson(`${state.sessionPath}/displays`);
    state.displays = new Map((answer?.displays ?? []).map((d) => [d.key, d]));
    state.loaded = true;
    renderList();
  } catch (err) {
    if (!state.loaded) say('The display links could not be loaded. They come back with the next try.');
    console.warn('could not load the display links', err);
  } finally {
    state.loading = false;
  }
}

function say(text) {
  const status = $('displays-status');
  status.textContent = '';
  // A new text node even for the same words, so screen readers say them again.
  setTimeout(() => { status.textContent = text; }, 50);
}

/**
 * Updates the list in place: rows are kept by key, so a refresh of the counts never takes the
 * focus from a Copy button or a link being selected.
 */
function renderList() {
  const list = $('display-list');
  const rows = new Map([...list.children].map((li) => [li.dataset.key, li]));
  const keys = [...state.displays.keys()];
  for (const [key, li] of rows) if (!state.displays.has(key)) li.remove();
  keys.forEach((key, index) => {
    const display = state.displays.get(key);
    let li = rows.get(key);
    if (!li) li = displayRow(display);
    const name = displayName(display, index);
    byTestId('display-name', li).textContent = name;
    for (const button of li.querySelectorAll('[data-name-prefix]')) {
      button.setAttribute('aria-label', `${button.dataset.namePrefix} ${name}`);
    }
    const streams = byTestId('display-streams', li);
    streams.textContent = openStreamsText(display.open_streams);
    streams.dataset.count = String(Number(display.open_streams) || 0);
    // Appending a row already in place moves it: the list keeps the server's order.
    if (list.children[index] !== li) list.insertBefore(li, list.children[index] ?? null);
  });
  $('displays-empty').hidden = keys.length > 0;
  $('displays-count').textContent = keys.length > 0 ? String(keys.length) : '';
}

function linkField(display, kind) {
  const id = `display-${kind}-${display.key}`;
  const url = kind === 'tv' ? display.tv_url : display.overlay_url;
  const input = h('input', {
    class: 'invite-link', id, type: 'text', readonly: true, value: url, testid: `display-${kind}-url`,
    'aria-describedby': kind === 'overlay' ? `${id}-hint` : null,
    onfocus: (e) => e.currentTarget.select(),
  });
  const label = kind === 'tv' ? 'TV screen' : 'Stream overlay (OBS)';
  const copyName = kind === 'tv' ? 'Copy the TV link of' : 'Copy the overlay link of';
  const copy = h('button', {
    class: 'button button-ghost button-small', type: 'button', testid: `copy-${kind}-url`,
    dataset: { namePrefix: copyName },
    onclick: (e) => copyLink(input, e.currentTarget),
  }, icon('copy'), h('span', { testid: 'copy-label' }, 'Copy'));
  return h('div', { class: 'display-link' },
    h('label', { for: id }, label),
    h('div', { class: 'invite-row' }, input, copy),
    kind === 'overlay'
      ? h('span', { class: 'field-hint', id: `${id}-hint` },
        'Options go after the link, e.g. ', h('code', {}, '?size=l&theme=light'),
        ': size s, m or l; position top-left, top-right or bottom-right; theme light; progress=0 hides the bar.')
      : null);
}

function displayRow(display) {
  const revoke = h('button', {
    class: 'button button-danger button-small', type: 'button', testid: 'revoke-display',
    dataset: { namePrefix: 'Revoke' },
    onclick: (e) => revokeDisplay(display.key, e.currentTarget),
  }, 'Revoke');
  return h('li', { class: 'display-item', testid: 'display-item', dataset: { key: display.key, showJoin: String(Boolean(display.show_join)) } },
    h('div', { class: 'display-head' },
      h('span', { class: 'display-icon' }, icon('tv')),
      h('span', { class: 'display-name', testid: 'display-name' }),
      display.show_join ? h('span', { class: 'badge', testid: 'display-join-badge' }, 'Join QR') : null,
      h('span', { class: 'display-streams', testid: 'display-streams' })),
    linkField(display, 'tv'),
    linkField(display, 'overlay'),
    h('div', { class: 'display-actions' },
      h('a', {
        class: 'button button-ghost button-small', href: display.tv_url, target: '_blank', rel: 'noopener', testid: 'open-tv',
      }, 'Open the TV screen'),
      revoke));
}

async function copyLink(input, button) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    input.select();
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
  }
  const label = byTestId('copy-label', button);
  if (copied) {
    label.textContent = 'Copied';
    say('Link copied.');
    setTimeout(() => {
      label.textContent = 'Copy';
      if ($('displays-status').textContent === 'Link copied.') $('displays-status').textContent = '';
    }, 2500);
  } else {
    // The link stays selected in its field, for the keyboard's copy.
    input.focus();
    input.select();
    say('Your browser did not let Sesh copy it: the link is selected, copy it yourself.');
  }
}

function refusal(err) {
  const words = err instanceof ApiError ? REFUSALS[err.code] : null;
  if (words) notify({ kind: 'error', code: err.code, title: words.title, message: words.message });
  else notifyError(err);
}

async function createDisplay(event) {
  event.preventDefault();
  const button = $('display-create');
  if (isInactive(button)) return;
  const labelInput = $('display-label');
  const showJoin = $('display-show-join').checked;
  setBusy(button, true);
  try {
    const display = await postJson(`${state.sessionPath}/displays`, { label: labelInput.value.trim(), show_join: showJoin });
    if (display?.key) {
      state.displays.set(display.key, { open_streams: 0, ...display });
      renderList();
      const index = [...state.displays.keys()].indexOf(display.key);
      say(`Display link “${displayName(display, index)}” is ready: copy its TV or overlay link above.`);
    }
    labelInput.value = '';
    loadDisplays();
  } catch (err) {
    refusal(err);
  } finally {
    setBusy(button, false);
  }
}

async function revokeDisplay(key, button) {
  if (isInactive(button)) return;
  const index = [...state.displays.keys()].indexOf(key);
  const name = displayName(state.displays.get(key), Math.max(0, index));
  const ok = await confirmDialog({
    title: `Revoke “${name}”?`,
    message: 'Screens and overlays showing this link stop at once and say it no longer works. Your other display links keep working.',
    confirmLabel: 'Revoke',
  });
  if (!ok) return;
  setBusy(button, true);
  try {
    await deleteJson(`${state.sessionPath}/displays/${encodeURIComponent(key)}`);
  } catch (err) {
    // Revoked already (another tab): the list was only out of date.
    if (!(err instanceof ApiError && err.status === 404)) {
      setBusy(button, false);
      refusal(err);
      return;
    }
  }
  state.displays.delete(key);
  const row = button.closest('li');
  // The focus goes to the next row's Revoke (or the one before), else to the form.
  const neighbour = row?.nextElementSibling ?? row?.previousElementSibling;
  renderList();
  say(`“${name}” revoked.`);
  (neighbour ? byTestId('revoke-display', neighbour) : $('display-label'))?.focus();
}
