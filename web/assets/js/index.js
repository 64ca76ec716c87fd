// Landing page: what Sesh is, log in, start a session, back to the user's live session, the
// user's live sessions, and logging out everywhere.

import { getJson, loginUrl, postJson } from './api.js';
import { byTestId, confirmDialog, h, initPage, isInactive, notifyError, setBusy } from './ui.js';
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
  await showSessions(me);
  // Shown once its look is settled (primary, or ghost behind "Back to your session"): a button
  // that changes class while visible fades through colours that fail contrast for a moment.
  start.hidden = false;
}

main();
