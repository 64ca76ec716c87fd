// What the browser tests do on Sesh's pages again and again: log in through the emulator's
// picker, wait for members, tracks and the connection, read what has the focus.

import assert from 'node:assert/strict';

/** Emulator users (crates/spotify-emulator): id → the start of the display name on its button. */
export const USERS = { alice: 'Alice', bob: 'Bob', carol: 'Carol', erin: 'Erin' };

export const tid = (id) => `[data-testid="${id}"]`;

/** On the emulator's consent page: click this user's button; returns once back on Sesh. */
export async function pickUser(page, server, userId) {
  await page.waitForURL((url) => url.origin === server.emulatorUrl);
  await page.getByRole('button', { name: new RegExp(`^${USERS[userId]}\\b`) }).click();
  await page.waitForURL((url) => url.origin === server.url && !url.pathname.startsWith('/auth/'));
}

export async function title(page) {
  return (await page.locator(tid('np-title')).textContent()).trim();
}

/** Waits until the person's page shows a track title other than `notThis`, and returns it. */
export async function waitForTitle(person, notThis = null) {
  await person.page.waitForFunction((old) => {
    const view = document.querySelector('[data-testid="track-view"]');
    const text = document.querySelector('[data-testid="np-title"]')?.textContent.trim();
    return view && !view.hidden && text && text !== old;
  }, notThis, { timeout: 30_000 });
  return title(person.page);
}

/** Waits until every page shows the same title (other than `notThis`) and returns it. */
export async function sameTitleEverywhere(people, notThis = null) {
  const deadline = Date.now() + 30_000;
  let titles = [];
  while (Date.now() < deadline) {
    titles = await Promise.all(people.map((p) => waitForTitle(p, notThis)));
    if (titles.every((t) => t === titles[0])) return titles[0];
    // Different pages can be a poll apart for a moment: wait for the next change on any page.
    await Promise.race(people.map((p, i) => waitForTitle(p, titles[i]).catch(() => null)));
  }
  assert.fail(`pages disagree on the track: ${JSON.stringify(titles)}`);
}

export async function waitForMembers(person, ids) {
  await person.page.waitForFunction((want) => {
    const got = [...document.querySelectorAll('[data-testid="member"]')].map((e) => e.dataset.userId).sort();
    return JSON.stringify(got) === JSON.stringify(want);
  }, [...ids].sort());
}

export async function waitForConnection(person, state, timeout = 30_000) {
  await person.page.locator(`${tid('connection')}[data-state="${state}"]`).waitFor({ timeout });
}

/** The `data-testid` of the focused element (its tag name when it has none, e.g. BODY). */
export function focusedTestId(page) {
  return page.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName ?? null);
}

/** Waits until the button is usable again (neither disabled nor aria-disabled). */
export async function waitUntilIdle(page, testid) {
  await page.waitForFunction((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    return el && !el.disabled && el.getAttribute('aria-disabled') !== 'true';
  }, testid);
}

/** Text lying loose in the element (not inside any child element): a stray "null", say. */
export function looseText(page, testid) {
  return page.evaluate((id) => [...document.querySelector(`[data-testid="${id}"]`).childNodes]
    .filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '')
    .map((n) => n.textContent), testid);
}

/**
 * The host logs in from the landing page (the emulator's picker) and starts a session.
 * @returns {Promise<{sessionUrl: string, sessionId: string, inviteUrl: string}>}
 */
export async function hostStartsSession(server, host, userId = 'alice') {
  const { page } = host;
  await page.goto(server.url);
  await page.getByRole('link', { name: 'Log in with Spotify' }).click();
  await pickUser(page, server, userId);
  await page.getByRole('button', { name: 'Start a session' }).click();
  await page.waitForURL(/\/s\/[^/]+$/);
  const sessionUrl = page.url();
  await waitForConnection(host, 'live');
  const inviteUrl = await page.locator(tid('invite-link')).inputValue();
  return { sessionUrl, sessionId: new URL(sessionUrl).pathname.split('/').pop(), inviteUrl };
}

/** A guest opens the invite link, logs in through the picker and is on the live session page. */
export async function guestJoins(server, guest, userId, { inviteUrl, sessionUrl }) {
  await guest.page.goto(inviteUrl);
  await guest.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
  await pickUser(guest.page, server, userId);
  await guest.page.waitForURL(sessionUrl);
  await waitForConnection(guest, 'live');
}

/** The host picks the device and presses Start; resolves with the title every page then shows. */
export async function startTheMusic(host, people, deviceId) {
  await host.page.locator(`${tid('device-option')}[data-device-id="${deviceId}"]`).click();
  await host.page.getByRole('button', { name: 'Start' }).click();
  return sameTitleEverywhere(people);
}

/**
 * What of the rows (`rowTestId`) inside `listTestId` sticks out of its row or the viewport,
 * and whether the page scrolls sideways; hidden rows and screen-reader-only text are skipped
 * (a title cut short with an ellipsis is fine: it stays inside its box).
 */
export function overflowingRows(page, listTestId, rowTestId) {
  return page.evaluate(([listId, rowId]) => {
    const viewport = document.documentElement.clientWidth;
    const found = [];
    const list = document.querySelector(`[data-testid="${listId}"]`);
    for (const row of list?.querySelectorAll(`[data-testid="${rowId}"]`) ?? []) {
      if (row.offsetParent === null) continue;
      const box = row.getBoundingClientRect();
      const who = row.dataset.trackId || row.dataset.entryId || row.dataset.userId || rowId;
      if (row.scrollWidth > row.clientWidth + 0.5) found.push(`${who}: scrollWidth ${row.scrollWidth} > clientWidth ${row.clientWidth}`);
      for (const el of row.querySelectorAll('*')) {
        if (el.closest('.visually-hidden')) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.right > viewport) {
          found.push(`${who}: ${el.getAttribute('class') || el.tagName} spans ${Math.round(r.left)}–${Math.round(r.right)}, row ${Math.round(box.left)}–${Math.round(box.right)}, viewport ${viewport}`);
        }
      }
    }
    if (document.documentElement.scrollWidth > viewport) {
      // Name what sticks out (the innermost elements), to find it.
      const wide = [...document.body.querySelectorAll('*')]
        .filter((el) => el.getBoundingClientRect().right > viewport + 0.5)
        .filter((el, _, all) => !all.some((other) => other !== el && el.contains(other)))
        .slice(0, 5)
        .map((el) => `${el.closest('[data-testid]')?.dataset.testid ?? ''} ${el.tagName.toLowerCase()}.${el.getAttribute('class') ?? ''} → ${Math.round(el.getBoundingClientRect().right)}`);
      found.push(`page: scrollWidth ${document.documentElement.scrollWidth} > ${viewport} (${wide.join('; ')})`);
    }
    return found;
  }, [listTestId, rowTestId]);
}
