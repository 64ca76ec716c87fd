// "Listen on my device" (listen-along): a member who is not in the room hears the session on
// one of their own Spotify devices, in sync. The switch posts `POST …/listen {"device_id"}`
// (or `DELETE …/listen`); the server keeps the device in step and says how each listener stands
// in the members' `listening` (`in_sync`, `detached`) and the `listening` event. A detached
// listener (they played something else) gets a Rejoin button, which posts again.

import { ApiError, deleteJson, getJson, postJson } from './api.js';
import { normalizeDevices } from './session-state.js';
import { sayRefusal } from './queue-ui.js';
import { byTestId, h, isInactive, setBusy } from './ui.js';

let view = null;
let sessionPath = '';
/** Whether the devices were listed for this card (a repaint does not list them again). */
let listed = false;
/** The last opt-in was refused for want of Premium (until the next try). */
let premiumNeeded = false;

const $ = (id) => byTestId(id);

/**
 * What the card says for `listening` (`in_sync`, `detached` or null) — `premium`: the last
 * opt-in needed Spotify Premium. `{state, text, rejoin}`.
 */
export function listenStatus(listening, premium = false) {
  if (listening === 'in_sync') return { state: 'in_sync', text: 'In sync', rejoin: false };
  if (listening === 'detached') {
    return { state: 'detached', text: 'Detached — you played something else. Rejoin to follow the session again.', rejoin: true };
  }
  if (premium) return { state: 'premium', text: 'Needs Spotify Premium: Spotify plays on your device only with Premium.', rejoin: false };
  return { state: 'off', text: '', rejoin: false };
}

/** Wires the card; `ctx`: `{view, sessionPath}`. */
export function initListen(ctx) {
  ({ view, sessionPath } = ctx);
  $('listen-toggle').addEventListener('change', (event) => {
    if (event.target.checked) optIn();
    else optOut();
  });
  $('listen-rejoin').addEventListener('click', optIn);
  $('listen-refresh').addEventListener('click', listDevices);
}

function mine() {
  return view.session?.members.find((m) => m.id === view.you?.id)?.listening ?? null;
}

export function renderListen() {
  const s = view.session;
  const card = $('listen-panel');
  // The host's device plays the session already; a spectator has no Spotify account to listen with.
  card.hidden = !s || s.state === 'ended' || !view.you || view.isHost() || view.isSpectator();
  if (card.hidden) return;
  const listening = mine();
  const status = listenStatus(listening, premiumNeeded);
  $('listen-toggle').checked = listening != null;
  const state = $('listen-state');
  state.dataset.state = status.state;
  state.textContent = status.text;
  $('listen-rejoin').hidden = !status.rejoin;
  if (!listed) {
    listed = true;
    listDevices();
  }
}

async function listDevices() {
  const select = $('listen-device');
  const before = select.value;
  select.replaceChildren(h('option', { value: '' }, 'Looking for your devices…'));
  try {
    const devices = normalizeDevices(await getJson('/api/me/devices')).filter((d) => !d.is_restricted);
    select.replaceChildren(...(devices.length
      ? devices.map((d) => h('option', { value: d.id, selected: d.id === before || (!before && d.is_active) }, d.is_active ? `${d.name} (playing now)` : d.name))
      : [h('option', { value: '' }, 'No device found: open Spotify on one, then look again')]));
  } catch (err) {
    select.replaceChildren(h('option', { value: '' }, 'Could not list your devices'));
    sayRefusal('listen-state', err);
  }
}

async function optIn() {
  const toggle = $('listen-toggle');
  if (isInactive(toggle)) return;
  const device = $('listen-device').value;
  const state = $('listen-state');
  if (!device) {
    toggle.checked = false;
    state.dataset.state = 'off';
    state.textContent = 'Pick one of your devices first (open Spotify on it if none is listed).';
    $('listen-device').focus();
    return;
  }
  setBusy(toggle, true);
  try {
    await postJson(`${sessionPath}/listen`, { device_id: device });
    premiumNeeded = false;
    const me = view.session.members.find((m) => m.id === view.you.id);
    // The `listening` event says it too; the answer may come first.
    if (me) me.listening = 'in_sync';
  } catch (err) {
    premiumNeeded = err instanceof ApiError && err.code === 'premium_required';
    if (!premiumNeeded) sayRefusal('listen-state', err);
  } finally {
    setBusy(toggle, false);
    renderListen();
  }
}

async function optOut() {
  const toggle = $('listen-toggle');
  if (isInactive(toggle)) return;
  setBusy(toggle, true);
  try {
    await deleteJson(`${sessionPath}/listen`);
    const me = view.session.members.find((m) => m.id === view.you.id);
    if (me) me.listening = null;
  } catch (err) {
    sayRefusal('listen-state', err);
  } finally {
    setBusy(toggle, false);
    renderListen();
  }
}

/** An outcome of a `listening` event about the viewer (Sesh stopped it: `listening_<reason>`). */
export function listeningEnded(outcome) {
  if (outcome === 'listening_premium_required') premiumNeeded = true;
}
