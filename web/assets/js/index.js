// Landing page: what Sesh is, log in, start a session, back to the user's live session, the
// user's live sessions, logging out everywhere, and for the operator the Spotify seats in use.

import { deleteJson, getJson, isSpectatorOnly, loginUrl, postJson } from './api.js';
import { describeError } from './messages.js';
import { lastSeenText, seatsUsedTitle } from './seats.js';
import { avatar, byTestId, confirmDialog, h, initPage, isInactive, notifyError, setBusy } from './ui.js';
import { icon } from './icons.js';

const STATE_LABEL = { lobby: 'Waiting to start', playing: 'Playing', ended: 'Ended' };

function hostName(host) {
  if (!host) return 'Someone';
  if (typeof host === 'string') return host;
  return host.display_name || host.id || 'Someone';
}

/** One row of "Your live sessions". */
function sessionLink(session, me) {
  const youHost = session.role === 'host' || session.host?.id === me.id;
  const title = youHost ? 'Your session' : `${hostName(session.host)}’s session`;
  const count = Number(session.member_count ?? 0);
  const state = session.state ?? 'lobby';
  return h('li', {},
    h('a', { class: 'session-link', href: `/s/${encodeURIComponent(session.id)}`, testid: 'my-session', dataset: { sessionId: session.id } },
      h('span', { class: 'session-link-text' },
        h('strong', {}, title),
        h('span', { class: 'muted small' }, `${count} ${count === 1 ? 'person' : 'people'} · ${youHost ? 'you host' : 'you joined'}`)),
      h('span', { class: `badge badge-state-${state}` }, STATE_LABEL[state] ?? state),
      icon('chevron', 'chevron')));
}

async function showSessions(me) {
  const section = byTestId('my-sessions-section');
  const list = byTestId('my-sessions');
  try {
    const sessions = await getJson('/api/me/sessions');
    const live = (Array.isArray(sessions) ? sessions : sessions?.sessions ?? []).filter((s) => s.state !== 'ended');
    list.replaceChildren(...live.map((s) => sessionLink(s, me)));
    section.hidden = live.length === 0;
    showBackLink(live, me);
  } catch (err) {
    notifyError(err, { loginNext: '/' });
  }
}

/**
 * "Back to your session" up front: the session the user hosts (the newest listed first), else
 * the one they joined; "Start a session" then steps back to a secondary button.
 */
function showBackLink(live, me) {
  const back = byTestId('back-to-session');
  const target = live.find((s) => s.role === 'host' || s.host?.id === me.id) ?? live[0];
  back.hidden = !target;
  if (!target) return;
  back.href = `/s/${encodeURIComponent(target.id)}`;
  back.dataset.sessionId = target.id;
  const hosting = target.role === 'host' || target.host?.id === me.id;
  back.textContent = hosting ? 'Back to your session' : `Back to ${hostName(target.host)}’s session`;
  byTestId('start-session').className = 'button button-ghost button-large';
}

/** "Log out everywhere": every login of the user ends, this browser's too (after a confirmation). */
function wireLogoutEverywhere() {
  const section = byTestId('account');
  const button = byTestId('logout-everywhere');
  section.hidden = false;
  button.addEventListener('click', async () => {
    if (isInactive(button)) return;
    const ok = await confirmDialog({
      title: 'Log out everywhere?',
      message: 'Your Sesh login ends in every browser and on every device, this one included. Sessions keep going; log in again to get back to them.',
      confirmLabel: 'Log out everywhere',
    });
    if (!ok) return;
    setBusy(button, true);
    try {
      await postJson('/auth/logout-everywhere');
      location.assign('/');
    } catch (err) {
      setBusy(button, false);
      notifyError(err, { loginNext: '/' });
    }
  });
}

// ---------- the operator's Spotify seats ----------

/** Says something in the seats card's live region (it clears itself after a while). */
let seatsSaidTimer = null;
function saySeats(text, { refused = false } = {}) {
  const el = byTestId('seats-status');
  clearTimeout(seatsSaidTimer);
  el.dataset.kind = refused ? 'refused' : 'done';
  el.textContent = text;
  seatsSaidTimer = setTimeout(() => { el.textContent = ''; }, refused ? 12_000 : 6_000);
}

/** One seat: who holds it, when Sesh last saw them, and "Free seat" (never on the owner's own). */
function seatRow(seat, me, onFree) {
  const name = seat.display_name || seat.user_id;
  const own = seat.user_id === me.id;
  return h('li', { class: 'member seat', testid: 'seat', dataset: { userId: seat.user_id } },
    avatar(seat.user_id, name),
    h('span', { class: 'member-text' },
      h('span', { class: 'member-name', testid: 'seat-name' }, name),
      h('span', { class: 'member-status', testid: 'seat-seen' }, lastSeenText(seat.last_seen_ms))),
    own
      ? h('span', { class: 'member-badges' }, h('span', { class: 'badge badge-you' }, 'You'))
      : h('span', { class: 'member-actions' },
        h('button', {
          class: 'button button-ghost button-small', type: 'button', testid: 'free-seat',
          'aria-label': `Free seat: ${name}`, onclick: (e) => onFree(seat, e.currentTarget),
        }, 'Free seat')));
}

/** The owner's card: how many seats are used, by whom, and a way to free one. */
async function showSeats(me) {
  const panel = byTestId('seats-panel');
  let data;
  try {
    data = await getJson('/api/admin/seats');
  } catch (err) {
    // Only the owner sees it; anything else is not worth a message on the landing page.
    if (err?.code !== 'forbidden') console.warn('seats', err);
    panel.hidden = true;
    return;
  }
  const used = Array.isArray(data?.used) ? data.used : [];
  const limit = Number.isInteger(data?.limit) ? data.limit : 0;
  byTestId('seats-title').textContent = seatsUsedTitle(limit, used.length);
  const list = byTestId('seat-list');
  list.replaceChildren(...used.map((seat) => seatRow(seat, me, (s, button) => freeSeat(me, s, button))));
  byTestId('seats-empty').hidden = used.length > 0;
  panel.hidden = false;
}

async function freeSeat(me, seat, button) {
  if (isInactive(button)) return;
  const name = seat.display_name || seat.user_id;
  const ok = await confirmDialog({
    title: `Free ${name}’s seat?`,
    message: `${name}’s Spotify login in Sesh ends and the seat is free for someone else; they can still join as a spectator. To let a new person in, also change the list in Spotify’s developer dashboard (User Management).`,
    confirmLabel: 'Free seat',
  });
  if (!ok) return;
  setBusy(button, true);
  const rows = [...byTestId('seat-list').children];
  const index = rows.findIndex((row) => row.contains(button));
  try {
    await deleteJson(`/api/admin/seats/${encodeURIComponent(seat.user_id)}`);
    await showSeats(me);
    saySeats(`${name}’s seat is free.`);
    // The row (and the focused button) went: the focus goes to the next seat's button, else the title.
    const after = [...byTestId('seat-list').querySelectorAll('[data-testid="free-seat"]')];
    (after[Math.min(index, after.length - 1)] ?? byTestId('seats-title')).focus();
  } catch (err) {
    setBusy(button, false);
    saySeats(describeError(err?.code ?? 'server_error', { fallback: err?.message }).message, { refused: true });
  }
}

/** A spectator (no Spotify login): log in to host, or go back to the session they watch. */
function showSpectator(me) {
  const login = byTestId('login');
  login.href = loginUrl('/');
  login.hidden = false;
  const welcome = byTestId('welcome');
  welcome.textContent = `Hi ${me.display_name || 'there'} — you’re watching a session as a spectator.`;
  welcome.hidden = false;
  const back = byTestId('back-to-session');
  back.href = `/s/${encodeURIComponent(me.spectating)}`;
  back.dataset.sessionId = me.spectating;
  back.textContent = 'Back to the session you’re watching';
  back.hidden = false;
  // Hosting needs a Spotify login: offered, after the way back.
  login.className = 'button button-ghost button-large';
  back.after(login);
}

async function main() {
  const { me, meError } = await initPage();
  const login = byTestId('login');
  const start = byTestId('start-session');
  if (meError) notifyError(meError, { loginNext: '/' });
  if (!me) {
    login.href = loginUrl('/');
    login.hidden = false;
    return;
  }
  if (isSpectatorOnly(me)) {
    showSpectator(me);
    return;
  }
  const welcome = byTestId('welcome');
  welcome.textContent = `Hi ${me.display_name || me.id} — ready when you are.`;
  welcome.hidden = false;
  start.addEventListener('click', async () => {
    start.disabled = true;
    start.setAttribute('aria-busy', 'true');
    try {
      const created = await postJson('/api/sessions');
      const id = created?.id ?? created?.session?.id;
      location.assign(`/s/${encodeURIComponent(id)}`);
    } catch (err) {
      start.disabled = false;
      start.removeAttribute('aria-busy');
      notifyError(err, { loginNext: '/' });
    }
  });
  wireLogoutEverywhere();
  await Promise.all([showSessions(me), me.owner ? showSeats(me) : null]);
  // Shown once its look is settled (primary, or ghost behind "Back to your session"): a button
  // that changes class while visible fades through colours that fail contrast for a moment.
  start.hidden = false;
}

main();
