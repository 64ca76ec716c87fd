// Shared page chrome: DOM helper, demo banner, user menu, notices, confirm dialog.

import { ApiError, currentUser, getJson, loginUrl, postJson } from './api.js';
import { describeError, rateLimitMessage } from './messages.js';
import { icon } from './icons.js';

/**
 * Creates an element. `props`: `class`, `testid` (→ data-testid), `dataset`, `on<event>`
 * handlers, booleans as present/absent attributes, anything else as an attribute.
 * Never pass `style`: the CSP forbids style attributes.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Marks a button busy while its request is on its way, or ready again. Busy is
 * `aria-disabled` (with `aria-busy`), not `disabled`: disabling the focused button would drop
 * the keyboard focus to the page. Its handler must ignore the press itself (`isInactive`).
 */
export function setBusy(button, busy) {
  if (busy) {
    button.setAttribute('aria-disabled', 'true');
    button.setAttribute('aria-busy', 'true');
  } else {
    button.removeAttribute('aria-disabled');
    button.removeAttribute('aria-busy');
  }
}

/** Whether a press of the button must be ignored (disabled, or busy as `setBusy` marks it). */
export function isInactive(button) {
  return button.disabled || button.getAttribute('aria-disabled') === 'true';
}

/** Shorthand for `document.querySelector('[data-testid=…]')`. */
export function byTestId(id, root = document) {
  return root.querySelector(`[data-testid="${id}"]`);
}

/** Stable colour (hue) for a person, so avatars stay the same across pages. */
export function hueFor(text) {
  let hash = 0;
  for (const ch of String(text)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** Round avatar with the person's initial; `online` adds a presence dot. */
export function avatar(id, name, { online, large } = {}) {
  const el = h('span', { class: large ? 'avatar avatar-large' : 'avatar', 'aria-hidden': 'true' },
    (String(name || id || '?').trim()[0] ?? '?'));
  el.style.setProperty('--hue', String(hueFor(id || name)));
  if (online !== undefined) el.append(h('span', { class: 'presence-dot', dataset: { online: String(Boolean(online)) } }));
  return el;
}

// ---------- notices ----------

function noticeRegion() {
  let region = document.getElementById('notices');
  if (!region) {
    region = h('section', { id: 'notices', class: 'notices', 'aria-label': 'Messages', 'aria-live': 'polite' });
    document.body.append(region);
  }
  return region;
}

/**
 * Shows a message in the corner. Returns a function that removes it.
 * @param {{kind?: 'error'|'info'|'success'|'warn', title: string, message?: string, code?: string,
 *          loginNext?: string|null, countdownS?: number|null, timeoutMs?: number|null, key?: string}} opts
 */
export function notify(opts) {
  const region = noticeRegion();
  const key = opts.key ?? opts.code ?? opts.title;
  // One notice per key: a repeated error replaces the old one instead of stacking.
  for (const old of region.querySelectorAll('.notice')) {
    if (old.dataset.key === key) old.dispatchEvent(new Event('sesh:dismiss'));
  }
  const messageEl = h('div', { class: 'notice-message', testid: 'notice-message' }, opts.message ?? '');
  const actions = h('div', { class: 'notice-actions' });
  if (opts.loginNext) {
    actions.append(h('a', { class: 'button button-primary button-small', href: loginUrl(opts.loginNext), testid: 'notice-login' }, 'Log in'));
  }
  const close = h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Dismiss message' }, icon('close'));
  actions.append(close);
  const el = h('div', {
    class: 'notice',
    role: opts.kind === 'error' || opts.kind === 'warn' ? 'alert' : 'status',
    testid: 'notice',
    dataset: { kind: opts.kind ?? 'error', code: opts.code ?? '', key },
  },
  h('div', { class: 'notice-body' }, h('div', { class: 'notice-title', testid: 'notice-title' }, opts.title), messageEl),
  actions);

  let timer = null;
  let countdown = null;
  const dismiss = () => {
    clearTimeout(timer);
    clearInterval(countdown);
    el.remove();
  };
  el.addEventListener('sesh:dismiss', dismiss);
  close.addEventListener('click', dismiss);

  if (opts.countdownS != null) {
    const until = Date.now() + opts.countdownS * 1000;
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      messageEl.textContent = rateLimitMessage(left);
      if (left <= 0) {
        clearInterval(countdown);
        timer = setTimeout(dismiss, 2500);
      }
    };
    tick();
    countdown = setInterval(tick, 250);
  } else if (opts.timeoutMs) {
    timer = setTimeout(dismiss, opts.timeoutMs);
  }
  region.append(el);
  return dismiss;
}

/** Shows the human message for an API error (or any thrown value). */
export function notifyError(err, { loginNext = location.pathname } = {}) {
  const code = err instanceof ApiError ? err.code : 'server_error';
  if (!(err instanceof ApiError)) console.error(err);
  const words = describeError(code, { retryAfterS: err?.retryAfterS ?? null, fallback: err?.message });
  return notify({
    kind: code === 'rate_limited' ? 'warn' : 'error',
    code,
    title: words.title,
    message: words.message,
    loginNext: words.login || (err instanceof ApiError && err.status === 401) ? loginNext : null,
    countdownS: code === 'rate_limited' && words.retryAfterS != null ? words.retryAfterS : null,
  });
}

// ---------- confirm dialog ----------

/**
 * A modal <dialog> with a title, a message or any `body` nodes, and a row of buttons
 * (keyboard: Esc cancels, the focus starts on `focus` or the first button; afterwards it goes
 * back to where it was, if that is still on the page).
 * @param {{title: string, message?: string, body?: Node[], testid?: string,
 *          buttons: {label: string, value: any, kind?: 'ghost'|'primary'|'danger', testid?: string, disabled?: boolean}[],
 *          focus?: number, initialFocus?: HTMLElement|null, className?: string}} opts `value` is what the promise resolves
 *   to when that button is pressed; the focus starts on `initialFocus`, else on button `focus`
 * @returns {Promise<any>} the pressed button's value; null for Esc
 */
export function choiceDialog({ title, message, body = [], buttons, focus = 0, initialFocus = null, testid = 'confirm-dialog', className = '' }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    let answer = null;
    const dialog = h('dialog', { class: `confirm ${className}`.trim(), 'aria-labelledby': titleId, testid });
    const elements = buttons.map((b) => h('button', {
      type: 'button', class: `button button-${b.kind ?? 'ghost'}`, testid: b.testid ?? null, disabled: b.disabled ?? false,
      onclick: () => { answer = b.value; dialog.close(); },
    }, b.label));
    dialog.append(...[
      h('h2', { id: titleId }, title),
      message ? h('p', {}, message) : null,
      ...body,
      h('div', { class: 'dialog-actions' }, elements),
    ].filter(Boolean));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected && opener !== document.body) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (initialFocus ?? elements[focus] ?? elements[0])?.focus();
  });
}

/**
 * Asks a yes/no question in a modal <dialog> (focus starts on Cancel).
 * @returns {Promise<boolean>}
 */
export async function confirmDialog({ title, message, confirmLabel, danger = true }) {
  const answer = await choiceDialog({
    title,
    message,
    buttons: [
      { label: 'Cancel', value: false, testid: 'confirm-cancel' },
      { label: confirmLabel, value: true, kind: danger ? 'danger' : 'primary', testid: 'confirm-ok' },
    ],
  });
  return answer === true;
}

// ---------- page chrome ----------

/** Shows the demo banner when the server runs against the simulated Spotify. */
async function showDemoBanner() {
  try {
    const config = await getJson('/api/config');
    if (config?.demo) {
      const banner = byTestId('demo-banner');
      if (banner) banner.hidden = false;
    }
    return config;
  } catch {
    return null;
  }
}

/** Fills the top bar's user menu (name + log out) for a signed-in user. */
function showUserMenu(me) {
  const menu = byTestId('user-menu');
  if (!menu || !me) return;
  byTestId('user-name', menu).textContent = me.display_name || me.id;
  const logout = byTestId('logout', menu);
  // A spectator has no Sesh login to end (the cookie belongs to the session): "Leave session" does it.
  logout.hidden = Boolean(me.spectating);
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await postJson('/auth/logout');
      location.assign('/');
    } catch (err) {
      logout.disabled = false;
      notifyError(err);
    }
  });
  menu.hidden = false;
}

/**
 * Common start of every page: demo banner and the signed-in user.
 * @returns {Promise<{config: any, me: {id: string, display_name: string}|null, meError: any}>}
 */
export async function initPage() {
  hydrateIcons();
  const [config, meResult] = await Promise.all([
    showDemoBanner(),
    currentUser().then((me) => ({ me }), (meError) => ({ me: null, meError })),
  ]);
  if (meResult.me) showUserMenu(meResult.me);
  if (meResult.me?.needs_reauth) {
    const words = describeError('reauth_required');
    notify({ kind: 'warn', code: 'reauth_required', title: words.title, message: words.message, loginNext: location.pathname });
  }
  if (config?.version) {
    const version = byTestId('version');
    if (version) version.textContent = `Sesh ${config.version}`;
  }
  return { config, me: meResult.me, meError: meResult.meError ?? null };
}

/** Replaces `container`'s content with a centred message (logged out, not found, ended…). */
export function showStatePanel(container, { iconName = 'note', title, message, actions = [], testid = 'state-panel', code }) {
  container.replaceChildren(
    h('section', { class: 'state-panel', testid, dataset: { code: code ?? '' } },
      h('div', { class: 'state-icon' }, icon(iconName)),
      h('h1', {}, title),
      message ? h('p', {}, message) : null,
      actions.length ? h('div', { class: 'hero-actions' }, actions) : null));
}

/** Puts the named icon into every `[data-icon]` element under `root` (static markup stays CSP-clean). */
export function hydrateIcons(root = document) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    el.replaceChildren(icon(el.dataset.icon));
  }
}
