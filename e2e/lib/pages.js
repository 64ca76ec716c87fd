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
