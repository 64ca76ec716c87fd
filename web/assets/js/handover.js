// Taking a playing session over (issue 19's hand-over): the member the host offered it to
// (`handover_offered`), or anyone once the host is gone (`host_away`), picks one of their own
// Spotify devices and takes it with `POST …/handover {"to": <themselves>, "device_id"}`. The
// music then plays on from the same place on that device; `host_changed` tells everyone.

import { getJson, postJson } from './api.js';
import { normalizeDevices } from './session-state.js';
import { say, sayRefusal } from './queue-ui.js';
import { byTestId, h, isInactive, setBusy } from './ui.js';

let view = null;
let sessionPath = '';
/** The devices last listed, and for which offer (so a repaint does not list them again). */
let listedFor = null;

const $ = (id) => byTestId(id);

/** Wires the card; `ctx`: `{view, sessionPath}`. */
export function initHandover(ctx) {
  ({ view, sessionPath } = ctx);
  $('takeover-form').addEventListener('submit', takeOver);
  $('takeover-refresh').addEventListener('click', () => { listedFor = null; renderHandover(); });
}

/** Why the viewer may take the session now: `offered`, `host_away`, or null. */
function reason() {
  const s = view.session;
  // A spectator has no Spotify account to play the music on.
  if (!s || s.state !== 'playing' || view.isHost() || !view.you || view.isSpectator()) return null;
  if (s.handoverOffer?.to === view.you.id) return 'offered';
  if (s.hostAway) return 'host_away';
  return null;
}

export function renderHandover() {
  const why = reason();
  const card = $('takeover-panel');
  card.hidden = why == null;
  if (why == null) {
    listedFor = null;
    return;
  }
  const host = view.memberName(view.session.hostId) ?? 'The host';
  $('takeover-text').textContent = why === 'offered'
    ? `${host} is handing the session to you. Pick where the music should play: it goes on from the same place on your device, and you run the session from then on (Spotify Premium needed).`
    : `${host} has been gone for a while, so the music is paused. Anyone with Spotify Premium can take the session over on one of their devices.`;
  const key = `${why}:${view.session.handoverOffer?.from ?? ''}`;
  if (listedFor !== key) {
    listedFor = key;
    listDevices();
  }
}

async function listDevices() {
  const select = $('takeover-device');
  select.replaceChildren(h('option', { value: '' }, 'Looking for your devices…'));
  try {
    const devices = normalizeDevices(await getJson('/api/me/devices')).filter((d) => !d.is_restricted);
    select.replaceChildren(...(devices.length
      ? devices.map((d) => h('option', { value: d.id, selected: d.is_active }, d.is_active ? `${d.name} (playing now)` : d.name))
      : [h('option', { value: '' }, 'No device found: open Spotify on one, then look again')]));
  } catch (err) {
    select.replaceChildren(h('option', { value: '' }, 'Could not list your devices'));
    sayRefusal('takeover-status', err);
  }
}

async function takeOver(event) {
  event.preventDefault();
  const button = $('takeover-submit');
  if (isInactive(button)) return;
  const device = $('takeover-device').value;
  if (!device) {
    say('takeover-status', 'Pick one of your devices first (open Spotify on it if none is listed).', { refused: true });
    $('takeover-device').focus();
    return;
  }
  setBusy(button, true);
  try {
    await postJson(`${sessionPath}/handover`, { to: view.you.id, device_id: device });
    say('takeover-status', 'The session is yours: the music plays on your device.');
  } catch (err) {
    sayRefusal('takeover-status', err);
  } finally {
    setBusy(button, false);
  }
}
