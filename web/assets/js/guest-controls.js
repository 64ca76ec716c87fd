// The host's guest controls (issue 19): one switch per thing guests may do, and two for what
// spectators may do on top (vote, add tracks), applied the moment it is flipped with
// `PATCH …/settings {"permissions": {key: on}}`. Every member gets
// `settings_changed`, so guests' pages offer or withdraw the control at once; the server
// refuses a guest's action whose switch is off (`forbidden` with `permission`).

import { patchJson } from './api.js';
import { say, sayRefusal } from './queue-ui.js';
import { byTestId, h } from './ui.js';

/**
 * The switches, in the order the host sees them: the key of `settings.permissions`, the
 * permission name of `settings.guest_permissions`, and what it means.
 */
export const GUEST_CONTROLS = [
  ['add', 'add_tracks', 'Add tracks'],
  ['vote', 'vote', 'Vote on the queue'],
  ['vote_skip', 'vote_skip', 'Vote to skip'],
  ['skip', 'skip', 'Skip tracks directly'],
  ['pause', 'pause_resume', 'Pause and resume'],
  ['seek', 'seek', 'Seek in the track'],
  ['volume', 'volume', 'Change the volume'],
  ['chat', 'chat', 'Chat'],
  ['show_invite', 'show_invite', 'See and share the invite'],
  // Spectators (no Spotify account) get what guests get, and these two on top.
  ['spectators_vote', 'spectators_vote', 'Spectators vote'],
  ['spectators_add', 'spectators_add', 'Spectators add tracks'],
];

/** Switches that open something to spectators only (the others are guests' and spectators'). */
const FOR_SPECTATORS = new Set(['spectators_vote', 'spectators_add']);

let view = null;
let sessionPath = '';
/** Keys whose change is on its way: the switch waits for the answer. */
const pending = new Set();

const $ = (id) => byTestId(id);

/** Builds the switches once; `ctx`: `{view, sessionPath}`. */
export function initGuestControls(ctx) {
  ({ view, sessionPath } = ctx);
  const list = $('guest-controls');
  for (const [key, , label] of GUEST_CONTROLS) {
    const input = h('input', { type: 'checkbox', role: 'switch', 'data-testid': `guest-control-${key}`, 'data-key': key });
    input.addEventListener('change', () => flip(input));
    list.append(h('li', {}, h('label', { class: 'check' }, input, h('span', {}, label))));
  }
}

/** Shows the switches to the host, set as the session's settings say (unless one is on its way). */
export function renderGuestControls() {
  const s = view.session;
  const show = view.isHost() && s.state !== 'ended';
  $('guest-controls-panel').hidden = !show;
  if (!show) return;
  for (const [key, permission] of GUEST_CONTROLS) {
    const input = $(`guest-control-${key}`);
    if (!input || pending.has(key)) continue;
    input.checked = s.guestPermissions.includes(permission);
  }
}

async function flip(input) {
  const key = input.dataset.key;
  const on = input.checked;
  const label = GUEST_CONTROLS.find(([k]) => k === key)?.[2] ?? key;
  pending.add(key);
  input.setAttribute('aria-busy', 'true');
  try {
    const answer = await patchJson(`${sessionPath}/settings`, { permissions: { [key]: on } });
    view.setSettings(answer?.settings);
    say('guest-controls-status', FOR_SPECTATORS.has(key) ? `${label}: ${on ? 'on' : 'off'}.` : `${label}: ${on ? 'on' : 'off'} for guests.`);
  } catch (err) {
    sayRefusal('guest-controls-status', err);
  } finally {
    pending.delete(key);
    input.removeAttribute('aria-busy');
    renderGuestControls();
  }
}
