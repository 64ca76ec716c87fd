// Join page `/j/{invite_code}`: who hosts, how many are in, log in, join (or, for someone the
// host removed, why they cannot). Spotify serves only a few accounts of this Sesh (its "seats"),
// so anyone may also join as a spectator, with a name and no Spotify login; a login that got no
// seat comes back here with `?login=not_registered|no_seats|expired`, which the page explains.

import { ApiError, getJson, isSpectatorOnly, loginUrl, postJson } from './api.js';
import { describeError } from './messages.js';
import {
  checkDisplayName, defaultSpectatorName, loginOutcome, normalizeSeats, seatsLeft, seatsSentence,
} from './seats.js';
import { avatar, byTestId, h, initPage, isInactive, notifyError, setBusy } from './ui.js';
import { icon } from './icons.js';

/** Remembers, across the Spotify login round trip, that this tab wanted to join this invite. */
const AUTOJOIN_KEY = 'sesh.autojoin';
/** The name this browser last watched under, offered again next time. */
const SPECTATOR_NAME_KEY = 'sesh.spectator-name';

/** What the join page says after a login that got no seat (`?login=`): message code, icon. */
const OUTCOMES = {
  not_registered: { code: 'not_registered', icon: 'users' },
  no_seats: { code: 'no_seats', icon: 'users' },
  expired: { code: 'login_expired', icon: 'warning' },
};

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

// The session the preview named: joins then go to the route that carries its id, which Nginx
// sends straight to the instance that runs it when there are several (docs/cluster.md).
let previewedSession = null;

function joinPath(code) {
  const c = encodeURIComponent(code);
  return previewedSession ? `/api/sessions/${encodeURIComponent(previewedSession)}/join/${c}` : `/api/join/${c}`;
}

async function join(code, button) {
  if (button) {
    if (isInactive(button)) return;
    setBusy(button, true);
  }
  try {
    const snapshot = await postJson(joinPath(code));
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

function rememberedName() {
  try {
    const name = localStorage.getItem(SPECTATOR_NAME_KEY);
    if (name && !checkDisplayName(name).error) return name;
  } catch {
    // storage off: a fresh default
  }
  return defaultSpectatorName();
}

function rememberName(name) {
  try {
    localStorage.setItem(SPECTATOR_NAME_KEY, name);
  } catch {
    // storage off: nothing to remember
  }
}

/**
 * "Join as spectator": a name field (a friendly default, editable) and one button. `primary`
 * when it is the way in (no seat left, or a login that got none); a secondary option otherwise.
 */
function spectatorForm(code, { primary, hint }) {
  const input = h('input', {
    id: 'spectator-name', testid: 'spectator-name', type: 'text', autocomplete: 'nickname', enterkeyhint: 'go',
    spellcheck: 'false', 'aria-describedby': 'spectator-hint spectator-error',
  });
  input.value = rememberedName();
  const error = h('p', { class: 'field-error', id: 'spectator-error', testid: 'spectator-error', role: 'alert' });
  const button = h('button', {
    class: `button ${primary ? 'button-primary' : 'button-ghost'} button-large`, type: 'submit', testid: 'join-spectator',
  }, 'Join as spectator');
  const form = h('form', { class: 'spectator-form', testid: 'spectator-form', novalidate: true, 'aria-label': 'Join as spectator' },
    h('label', { for: 'spectator-name' }, 'Your name in the session'),
    input,
    h('p', { class: 'field-hint', id: 'spectator-hint' }, hint),
    error,
    button);
  const showError = (text) => {
    error.textContent = text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  input.addEventListener('input', () => showError(''));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (isInactive(button)) return;
    const checked = checkDisplayName(input.value);
    if (checked.error) {
      showError(checked.error);
      input.focus();
      return;
    }
    setBusy(button, true);
    try {
      const snapshot = await postJson(`${joinPath(code)}/spectator`, { display_name: checked.name });
      rememberName(checked.name);
      const id = snapshot?.id ?? snapshot?.session?.id ?? snapshot?.session_id;
      location.assign(sessionUrl(id));
    } catch (err) {
      setBusy(button, false);
      if (err instanceof ApiError && err.code === 'invalid_display_name') {
        showError(describeError(err.code).message);
        input.focus();
      } else if (err instanceof ApiError && ['session_full', 'session_ended', 'banned', 'invite_not_found'].includes(err.code)) {
        errorCard(byTestId('join-root'), err.code);
      } else {
        notifyError(err);
      }
    }
  });
  return form;
}

const SPECTATOR_HINT = 'No Spotify account needed: you see what plays, and chat and vote where the host allows it.';

/** After a login that got no seat: what happened, in plain words, and the way in that is left. */
function outcomeCard(root, code, outcome, seats) {
  const { code: messageCode, icon: iconName } = OUTCOMES[outcome];
  const words = describeError(messageCode);
  const spectate = spectatorForm(code, { primary: outcome !== 'expired', hint: SPECTATOR_HINT });
  const login = h('a', {
    class: `button ${outcome === 'expired' ? 'button-primary' : 'button-ghost'} button-large`,
    href: loginUrl(location.pathname), testid: 'join-login',
  }, outcome === 'expired' ? 'Log in with Spotify again' : 'Try logging in again');
  login.addEventListener('click', () => sessionStorage.setItem(AUTOJOIN_KEY, code));
  const sentence = seatsSentence(seats);
  // Still no seat free: another login would only come back here.
  const retry = outcome !== 'no_seats' || seatsLeft(seats);
  root.replaceChildren(...[
    h('div', { class: 'state-icon avatar-large', testid: 'login-outcome', dataset: { outcome } }, icon(iconName)),
    h('h1', { testid: 'login-outcome-title' }, words.title),
    h('p', { class: 'join-meta', testid: 'login-outcome-text' }, words.message),
    outcome === 'expired' ? login : spectate,
    retry ? h('p', { class: 'join-or' }, 'or') : null,
    outcome === 'expired' ? spectate : retry ? login : null,
    sentence && outcome !== 'expired' ? h('p', { class: 'fine', testid: 'seats-left' }, sentence) : null,
  ].filter(Boolean));
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
  previewedSession = typeof invite.session_id === 'string' ? invite.session_id : null;
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
  const spectator = isSpectatorOnly(me);
  const youHost = me && !spectator && me.id === host.id;
  const seats = normalizeSeats(invite.seats);
  const outcome = loginOutcome(location.search);
  const header = [
    avatar(host.id, hostName, { large: true }),
    name ? h('h1', { testid: 'join-name' }, name) : null,
    name
      ? h('p', { class: 'join-host', testid: 'join-host' }, `${hostName} is hosting`)
      : h('h1', { testid: 'join-host' }, `${hostName} is hosting`),
    h('p', { class: 'join-meta', testid: 'join-count' },
      `${count} ${count === 1 ? 'person is' : 'people are'} in${invite.state === 'playing' ? ' · music is playing' : ''}`),
  ];

  // Back from a login that got no seat: nothing was stored, so say why and offer the rest.
  if (outcome && !(me && !spectator)) {
    sessionStorage.removeItem(AUTOJOIN_KEY);
    outcomeCard(root, code, outcome, seats);
    return;
  }

  // Already watching this session: straight back to it.
  if (spectator && me.spectating === invite.session_id) {
    root.replaceChildren(...header.filter(Boolean),
      h('a', { class: 'button button-primary button-large', href: sessionUrl(invite.session_id), testid: 'join-open' }, 'Open the session'),
      h('p', { class: 'fine' }, `You’re watching as ${me.display_name || 'a spectator'} — no Spotify account needed.`));
    return;
  }

  if (me && !spectator) {
    const action = h('button', { class: 'button button-primary button-large', type: 'button', testid: 'join-button' }, youHost ? 'Open your session' : 'Join the session');
    // replaceChildren would turn a null into the text "null".
    root.replaceChildren(...header.filter(Boolean),
      action,
      h('p', { class: 'fine' }, `Joining as ${me.display_name || me.id}. Your top 5 tracks go into the shared queue.`));
    action.addEventListener('click', () => join(code, action));
    if (sessionStorage.getItem(AUTOJOIN_KEY) === code) {
      sessionStorage.removeItem(AUTOJOIN_KEY);
      await join(code, action);
    }
    return;
  }

  // Logged out (or watching another session): log in while a seat is free, or watch.
  const sentence = seatsSentence(seats);
  if (!seatsLeft(seats)) {
    root.replaceChildren(...header.filter(Boolean),
      h('p', { class: 'seats-note', testid: 'seats-left' }, sentence),
      h('p', { class: 'fine seats-why', testid: 'seats-why' },
        `Spotify lets this Sesh serve only ${seats.limit} Spotify ${seats.limit === 1 ? 'account, and it is' : 'accounts, and all are'} in use. You can still join as a spectator.`),
      spectatorForm(code, { primary: true, hint: SPECTATOR_HINT }));
    return;
  }
  const login = h('a', {
    class: 'button button-primary button-large', href: loginUrl(location.pathname), testid: 'join-login',
    'aria-describedby': sentence ? 'seats-left' : null,
  }, 'Log in with Spotify to join');
  // After the login round trip this page opens again: join straight away, as asked.
  login.addEventListener('click', () => sessionStorage.setItem(AUTOJOIN_KEY, code));
  root.replaceChildren(...[
    ...header,
    login,
    sentence ? h('p', { class: 'seats-note', id: 'seats-left', testid: 'seats-left' }, sentence) : null,
    h('p', { class: 'fine' }, 'Sesh uses your Spotify top 5 to build the shared queue. Nothing is posted to your account.'),
    h('p', { class: 'join-or' }, 'or'),
    spectatorForm(code, { primary: false, hint: SPECTATOR_HINT }),
  ].filter(Boolean));
}

main().catch((err) => notifyError(err));
