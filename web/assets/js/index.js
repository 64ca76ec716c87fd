// Landing page: what Sesh is, log in, start a session, and the user's live sessions.

import { getJson, loginUrl, postJson } from './api.js';
import { byTestId, h, initPage, notifyError } from './ui.js';
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
  } catch (err) {
    notifyError(err, { loginNext: '/' });
  }
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
  start.hidden = false;
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
  await showSessions(me);
}

main();
