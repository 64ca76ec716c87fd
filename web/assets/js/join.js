// Join page `/j/{invite_code}`: who hosts, how many are in, log in, join (or, for someone the
// host removed, why they cannot).

import { ApiError, getJson, loginUrl, postJson } from './api.js';
import { describeError } from './messages.js';
import { avatar, byTestId, h, initPage, isInactive, notifyError, setBusy } from './ui.js';
import { icon } from './icons.js';

/** Remembers, across the Spotify login round trip, that this tab wanted to join this invite. */
const AUTOJOIN_KEY = 'sesh.autojoin';

function inviteCodeFromPath() {
  const match = location.pathname.match(/^\/j\/([^/]+)\/?$/);
  return match ? decodeURIComponent(match[1]) : null;
}

function sessionUrl(id) {
  return `/s/${encodeURIComponent(id)}`;
}

function errorCard(root, code, { loginNext } = {}) {
  const words = describeError(code);
  const parts = [
    h('div', { class: 'state-icon', testid: 'join-error', dataset: { code } }, icon(code === 'session_full' ? 'users' : 'warning')),
    h('h1', {}, words.title),
    h('p', { class: 'join-meta' }, words.message),
    loginNext ? h('a', { class: 'button button-primary button-large', href: loginUrl(loginNext), testid: 'join-login' }, 'Log in with Spotify') : null,
    h('a', { class: 'button button-ghost', href: '/' }, 'Go to the start page'),
  ];
  // replaceChildren would turn a null into the text "null".
  root.replaceChildren(...parts.filter(Boolean));
  root.querySelector('.state-icon').classList.add('avatar-large');
}

async function join(code, button) {
  if (button) {
    if (isInactive(button)) return;
    setBusy(button, true);
  }
  try {
    const snapshot = await postJson(`/api/join/${encodeURIComponent(code)}`);
    const id = snapshot?.id ?? snapshot?.session?.id ?? snapshot?.session_id;
    location.assign(sessionUrl(id));
  } catch (err) {
    if (button) setBusy(button, false);
    if (err instanceof ApiError && ['session_full', 'session_ended', 'banned', 'invite_not_found'].includes(err.code)) {
      errorCard(byTestId('join-root'), err.code);
    } else {
      notifyError(err);
    }
  }
}

async function main() {
  const root = byTestId('join-root');
  const code = inviteCodeFromPath();
  const [{ me }, invite] = await Promise.all([
    initPage(),
    code ? getJson(`/api/invites/${encodeURIComponent(code)}`).catch((err) => err) : Promise.resolve(null),
  ]);
  if (!code || invite instanceof ApiError) {
    const errCode = !code || invite.status === 404 ? 'invite_not_found' : invite.code;
    errorCard(root, errCode);
    return;
  }
  if (invite instanceof Error) throw invite;
  if (invite.state === 'ended') {
    errorCard(root, 'session_ended');
    return;
  }
  // The preview says so to a logged-in user the host removed: no Join button to be refused.
  if (me && invite.you?.banned) {
    sessionStorage.removeItem(AUTOJOIN_KEY);
    errorCard(root, 'banned');
    return;
  }

  const host = invite.host ?? {};
  const hostName = host.display_name || host.id || 'Someone';
  const count = Number(invite.member_count ?? 0);
  const name = typeof invite.name === 'string' && invite.name ? invite.name : null;
  document.title = name ? `Join “${name}” — Sesh` : `Join ${hostName}’s session — Sesh`;
  const youHost = me && me.id === host.id;

  const action = me
    ? h('button', { class: 'button button-primary button-large', type: 'button', testid: 'join-button' }, youHost ? 'Open your session' : 'Join the session')
    : h('a', { class: 'button button-primary button-large', href: loginUrl(location.pathname), testid: 'join-login' }, 'Log in with Spotify to join');

  // replaceChildren would turn a null into the text "null".
  root.replaceChildren(...[
    avatar(host.id, hostName, { large: true }),
    name ? h('h1', { testid: 'join-name' }, name) : null,
    name
      ? h('p', { class: 'join-host', testid: 'join-host' }, `${hostName} is hosting`)
      : h('h1', { testid: 'join-host' }, `${hostName} is hosting`),
    h('p', { class: 'join-meta', testid: 'join-count' },
      `${count} ${count === 1 ? 'person is' : 'people are'} in${invite.state === 'playing' ? ' · music is playing' : ''}`),
    action,
    h('p', { class: 'fine' }, me
      ? `Joining as ${me.display_name || me.id}. Your top 5 tracks go into the shared queue.`
      : 'Sesh uses your Spotify top 5 to build the shared queue. Nothing is posted to your account.'),
  ].filter(Boolean));

  if (!me) {
    // After the login round trip this page opens again: join straight away, as asked.
    action.addEventListener('click', () => sessionStorage.setItem(AUTOJOIN_KEY, code));
    return;
  }
  action.addEventListener('click', () => join(code, action));
  if (sessionStorage.getItem(AUTOJOIN_KEY) === code) {
    sessionStorage.removeItem(AUTOJOIN_KEY);
    await join(code, action);
  }
}

main().catch((err) => notifyError(err));
