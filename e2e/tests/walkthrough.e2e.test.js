// A new user's walk through the pages, in real Chromium against the real `sesh` in demo mode:
// a host on a desktop and two guests on phones (carol 390 px, bob 320 px wide). What it
// checks is what such a walk once found broken: the keyboard focus on the player controls,
// the header while paused, the track length after a skip, the member list on a 320 px
// phone, replacing the invite link, the words about removing someone, the host's list of the
// removed (and letting them back in from it), the names of people who left, and the join
// page's error cards (a removed guest is told before pressing Join).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, SMALL_PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  focusedTestId, looseText, pickUser, sameTitleEverywhere, tid, title, waitForConnection, waitForMembers,
  waitForTitle, waitUntilIdle,
} from '../lib/pages.js';
import { formatTime } from '../../web/assets/js/progress.js';

const KICK_WORDS = 'They leave the session and can’t come back unless you let them back in.';
const BANNED_WORDS = 'You can join again only if the host lets you back in.';

/**
 * In the page: what of the member list sticks out of its row or the viewport, or scrolls
 * sideways (a name cut short with an ellipsis is fine: it stays inside its box).
 */
function memberListOverflow() {
  const viewport = document.documentElement.clientWidth;
  const list = document.querySelector('[data-testid="members"]');
  const found = [];
  if (list.scrollWidth > list.clientWidth) found.push(`list: scrollWidth ${list.scrollWidth} > clientWidth ${list.clientWidth}`);
  for (const row of list.querySelectorAll('[data-testid="member"]')) {
    const box = row.getBoundingClientRect();
    const who = row.dataset.userId;
    if (row.scrollWidth > row.clientWidth) found.push(`${who}: scrollWidth ${row.scrollWidth} > clientWidth ${row.clientWidth}`);
    for (const el of row.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.right > viewport) {
        const name = el.getAttribute('class') || el.tagName;
        found.push(`${who}: ${name} spans ${Math.round(r.left)}–${Math.round(r.right)}, row ${Math.round(box.left)}–${Math.round(box.right)}, viewport ${viewport}`);
      }
    }
  }
  if (document.documentElement.scrollWidth > viewport) found.push(`page: scrollWidth ${document.documentElement.scrollWidth} > ${viewport}`);
  return found;
}

/** "from …" in the queue and "From …’s top 5" on the now-playing card. */
async function addedByTexts(page) {
  return page.locator(`${tid('queue-added-by')}, ${tid('np-added-by-text')}`).allTextContents();
}

describe('a new user’s walk through the pages', { timeout: 240_000 }, () => {
  const server = new SeshServer('walkthrough');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  let carol;
  let sessionUrl;
  let sessionId;
  let inviteUrl;

  const emulatorPlayer = async () => (await fetch(`${server.emulatorUrl}/_emulator/users/alice/player`)).json();
  /** Acts in the host's own Spotify app, as the emulator's control API lets a test do. */
  async function inSpotify(body) {
    const res = await fetch(`${server.emulatorUrl}/_emulator/users/alice/player`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.ok(res.ok, `emulator ${body.action}: ${res.status} ${await res.text()}`);
  }

  /** A POST from the person's page (same origin, so the CSRF check passes); answers the status and body. */
  function postFrom(person, path) {
    return person.page.evaluate(async (p) => {
      const res = await fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    }, path);
  }

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    bob = await newPerson(browser, 'bob', SMALL_PHONE);
    carol = await newPerson(browser, 'carol', PHONE);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('meets in a session, refreshes the devices from the keyboard and starts the music', async () => {
    const { page } = host;
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'alice');
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    sessionUrl = page.url();
    sessionId = new URL(sessionUrl).pathname.split('/').pop();
    await waitForConnection(host, 'live');
    inviteUrl = await page.locator(tid('invite-link')).inputValue();
    for (const [guest, id] of [[bob, 'bob'], [carol, 'carol']]) {
      await guest.page.goto(inviteUrl);
      await guest.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
      await pickUser(guest.page, server, id);
      await guest.page.waitForURL(sessionUrl);
      await waitForConnection(guest, 'live');
    }
    for (const person of [host, bob, carol]) await waitForMembers(person, ['alice', 'bob', 'carol']);

    // Refresh devices pressed from the keyboard keeps the focus while the list reloads.
    await page.locator(tid('device-option')).first().waitFor();
    await page.locator(tid('refresh-devices')).focus();
    await page.keyboard.press('Enter');
    await waitUntilIdle(page, 'refresh-devices');
    const focused = await focusedTestId(page);

    await page.locator(`${tid('device-option')}[data-restricted="false"]`).first().click();
    await page.getByRole('button', { name: 'Start' }).click();
    await sameTitleEverywhere([host, bob, carol]);
    await page.locator(tid('player-controls')).waitFor({ state: 'visible' });
    assert.equal(focused, 'refresh-devices', 'the focus after Refresh devices');
  });

  it('keeps the focus on Next pressed from the keyboard', async () => {
    const { page } = host;
    const before = await title(page);
    await page.locator(tid('control-next')).focus();
    await page.keyboard.press('Enter');
    await sameTitleEverywhere([host, bob, carol], before);
    await waitUntilIdle(page, 'control-next');
    assert.equal(await focusedTestId(page), 'control-next');
  });

  it('sends one command for a button pressed twice while the first is on its way', async () => {
    const { page } = host;
    const before = await title(page);
    const sent = [];
    const count = (req) => { if (req.method() === 'POST' && req.url().endsWith('/player/next')) sent.push(req.url()); };
    page.on('request', count);
    try {
      await page.evaluate(() => {
        const next = document.querySelector('[data-testid="control-next"]');
        next.click();
        next.click();
      });
      await waitForTitle(host, before);
      await waitUntilIdle(page, 'control-next');
    } finally {
      page.off('request', count);
    }
    assert.equal(sent.length, 1);
  });

  it('keeps the focus on Play/Pause and says Paused in the header while paused', async () => {
    const { page } = host;
    await page.locator(tid('control-playpause')).focus();
    await page.keyboard.press('Space');
    await page.locator(`${tid('np-state')}[data-playing="false"]`).waitFor();
    await waitUntilIdle(page, 'control-playpause');
    const focused = await focusedTestId(page);
    assert.equal(await page.locator(tid('control-playpause')).getAttribute('aria-label'), 'Play');
    for (const person of [host, bob, carol]) {
      await person.page.locator(`${tid('np-state')}[data-playing="false"]`).waitFor();
      const badge = person.page.locator(tid('session-state'));
      assert.equal((await badge.textContent()).trim(), 'Paused', `${person.name}'s header badge`);
      assert.equal(await badge.getAttribute('data-state'), 'paused');
    }
    assert.deepEqual(await axeViolations(page), []);
    assert.equal(focused, 'control-playpause', 'the focus after Play/Pause');
  });

  it('shows the new track’s length at once after a skip while paused', async () => {
    const paused = await emulatorPlayer();
    assert.equal(paused.is_playing, false);
    // Every page shows the paused position; the next track is then left paused in that same
    // second, so only a repaint on the track change (not on a new second) shows its length.
    const second = Math.floor(paused.position_ms / 1000);
    for (const person of [host, bob, carol]) {
      await person.page.waitForFunction((t) => document.querySelector('[data-testid="np-elapsed"]').textContent === t, formatTime(paused.position_ms));
    }
    const before = await title(host.page);
    await inSpotify({ action: 'next' });
    // Sesh hands Spotify one track at a time: past its end, Sesh plays the next one itself.
    const deadline = Date.now() + 15_000;
    while ((await emulatorPlayer()).current_uri === paused.current_uri) {
      assert.ok(Date.now() < deadline, 'Sesh did not go on to the next track');
      await new Promise((r) => { setTimeout(r, 100); });
    }
    await inSpotify({ action: 'seek', position_ms: second * 1000 + 500 });
    await inSpotify({ action: 'pause' });
    const now = await emulatorPlayer();
    assert.equal(Math.floor(now.position_ms / 1000), second);
    assert.notEqual(formatTime(now.duration_ms), formatTime(paused.duration_ms), 'the test needs two tracks of different lengths');
    for (const person of [host, bob, carol]) {
      await waitForTitle(person, before);
      const { page } = person;
      assert.equal(await page.locator(tid('np-duration')).textContent(), formatTime(now.duration_ms), `${person.name}'s duration label`);
      assert.match(await page.locator(tid('np-progress')).getAttribute('aria-valuetext'), new RegExp(`of ${formatTime(now.duration_ms)}$`));
      assert.equal(await page.locator(tid('np-progress')).getAttribute('aria-valuemax'), String(Math.round(now.duration_ms / 1000)));
    }
  });

  it('fits the member list into a 320 px wide phone', async () => {
    // Bob's phone is 320 px wide; the host looks at the page on one that narrow too, with
    // the Host and You badges and the Remove buttons.
    await host.page.setViewportSize(SMALL_PHONE.viewport);
    try {
      for (const person of [bob, host]) {
        await person.page.locator(tid('members-panel')).scrollIntoViewIfNeeded();
        assert.deepEqual(await person.page.evaluate(memberListOverflow), [], `${person.name} at 320 px`);
      }
      await host.page.screenshot({ path: join(artifacts, 'walkthrough-host-phone-320-members.png') });
      assert.deepEqual(await axeViolations(host.page), []);
    } finally {
      await host.page.setViewportSize(DESKTOP.viewport);
    }
    // Paused, as everyone sees it now.
    await host.page.evaluate(() => window.scrollTo(0, 0));
    await host.page.screenshot({ path: join(artifacts, 'walkthrough-host-desktop-paused.png') });
    for (const [guest, width] of [[carol, 390], [bob, 320]]) {
      await guest.page.evaluate(() => window.scrollTo(0, 0));
      await guest.page.screenshot({ path: join(artifacts, `walkthrough-guest-phone-${width}-paused.png`) });
      await guest.page.screenshot({ path: join(artifacts, `walkthrough-guest-phone-${width}-paused-full.png`), fullPage: true });
      await guest.page.locator(tid('members-panel')).screenshot({ path: join(artifacts, `walkthrough-guest-phone-${width}-members.png`) });
    }
    assert.deepEqual(await axeViolations(bob.page), []);
  });

  it('lets the host replace the invite link, after saying the old one stops working', async () => {
    const { page } = host;
    const oldUrl = await page.locator(tid('invite-link')).inputValue();
    const oldCode = oldUrl.split('/').pop();
    await page.locator(tid('rotate-invite')).click();
    const dialog = page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /old link .*stops? working/);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(artifacts, 'walkthrough-host-desktop-new-invite-dialog.png') });
    await dialog.locator(tid('confirm-ok')).click();
    await page.waitForFunction((old) => document.querySelector('[data-testid="invite-link"]').value !== old, oldUrl);
    const newUrl = await page.locator(tid('invite-link')).inputValue();
    const newCode = newUrl.split('/').pop();
    assert.match(newUrl, new RegExp(`^${server.url}/j/[A-Za-z0-9_-]+$`));
    assert.notEqual(newCode, oldCode);
    await page.waitForFunction((code) => {
      const img = document.querySelector('[data-testid="invite-qr"]');
      return img.getAttribute('src').endsWith(`v=${encodeURIComponent(code)}`) && img.complete && img.naturalWidth > 0;
    }, newCode);
    const focused = await focusedTestId(page);
    const preview = (code) => fetch(`${server.url}/api/invites/${code}`, { headers: { 'X-Requested-With': 'test' } });
    assert.equal((await preview(oldCode)).status, 404);
    assert.equal((await preview(newCode)).status, 200);

    // A rotation from elsewhere (the host's other tab) reaches this page as `invite_rotated`.
    const rotated = await postFrom(host, `/api/sessions/${sessionId}/invite`);
    assert.equal(rotated.status, 200);
    await page.waitForFunction((url) => document.querySelector('[data-testid="invite-link"]').value === url, rotated.body.join_url);
    await page.waitForFunction((code) => document.querySelector('[data-testid="invite-qr"]').getAttribute('src').endsWith(`v=${encodeURIComponent(code)}`), rotated.body.invite_code);
    inviteUrl = rotated.body.join_url;
    for (const guest of [bob, carol]) {
      assert.equal(await guest.page.locator(tid('rotate-invite')).isVisible(), false, `${guest.name} sees the button`);
    }
    assert.equal(focused, 'rotate-invite', 'the focus is back on the button');
  });

  it('removes a guest with words that say how they can come back', async () => {
    await host.page.locator(`${tid('member')}[data-user-id="carol"] ${tid('kick')}`).click();
    const dialog = host.page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    const asked = await dialog.textContent();
    await host.page.screenshot({ path: join(artifacts, 'walkthrough-host-desktop-kick-dialog.png') });
    await dialog.locator(tid('confirm-ok')).click();
    assert.match(asked, /Remove Carol/);
    assert.ok(asked.includes(KICK_WORDS), asked);
    const panel = carol.page.locator(`${tid('state-panel')}[data-code="kicked"]`);
    await panel.waitFor();
    const words = await panel.textContent();
    assert.ok(words.includes(BANNED_WORDS), words);
    assert.doesNotMatch(words, /new invite link/);
    await carol.page.screenshot({ path: join(artifacts, 'walkthrough-guest-phone-390-kicked.png') });
    assert.deepEqual(await axeViolations(carol.page), []);
  });

  it('lists the removed guest for the host, under her name, and for nobody else', async () => {
    const { page } = host;
    const panel = page.locator(tid('removed-panel'));
    await panel.waitFor();
    assert.deepEqual(await page.locator(tid('removed-name')).allTextContents(), ['Carol Chen']);
    assert.match(await panel.textContent(), /can’t join again until you let them back in/);
    assert.equal(await bob.page.locator(tid('removed-panel')).isHidden(), true, 'bob sees the list');
    // Notices of the earlier steps would cover the list in the picture.
    for (const close of await page.getByRole('button', { name: 'Dismiss message' }).all()) await close.click();
    await panel.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: join(artifacts, 'walkthrough-host-desktop-removed-list.png') });
    assert.deepEqual(await axeViolations(page), []);
  });

  it('keeps the name of the removed guest on the tracks she brought', async () => {
    await waitForMembers(host, ['alice', 'bob']);
    await waitForMembers(bob, ['alice', 'bob']);
    // A track change repaints everything, the queue's "from …" too.
    const before = await title(host.page);
    await host.page.locator(tid('control-next')).click();
    await sameTitleEverywhere([host, bob], before);
    for (const person of [host, bob]) {
      const texts = await addedByTexts(person.page);
      assert.ok(texts.some((t) => t.includes('Carol Chen')), `${person.name}: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((t) => /\bcarol\b/.test(t)), `${person.name}: ${JSON.stringify(texts)}`);
    }
  });

  it('tells the removed guest up front on the join page, with no Join button and no stray "null"', async () => {
    const { page } = carol;
    await page.goto(inviteUrl);
    // The invite preview tells a logged-in user the host removed: the card comes first.
    const card = page.locator(tid('join-root'));
    await page.locator(`${tid('join-error')}[data-code="banned"]`).waitFor();
    assert.equal(await page.locator(tid('join-button')).count(), 0, 'a Join button');
    const words = await card.textContent();
    assert.deepEqual(await looseText(page, 'join-root'), []);
    assert.doesNotMatch(words, /null/);
    assert.match(words, /The host removed you from this session/);
    assert.ok(words.includes(BANNED_WORDS), words);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(artifacts, 'walkthrough-guest-phone-390-banned-join.png') });
  });

  it('lets the removed guest back in from the host’s list', async () => {
    const { page } = host;
    const letBackIn = page.getByRole('button', { name: 'Let back in Carol Chen' });
    await letBackIn.focus();
    await page.keyboard.press('Enter');
    await page.locator(tid('removed-panel')).waitFor({ state: 'hidden' });
    assert.equal(await page.locator(tid('removed-member')).count(), 0);
    // The pressed button is gone; the focus goes to Copy, the link she needs now.
    assert.equal(await focusedTestId(page), 'copy-invite');
    await carol.page.reload();
    await carol.page.getByRole('button', { name: 'Join the session' }).click();
    await carol.page.waitForURL(sessionUrl);
    await waitForConnection(carol, 'live');
    await waitForMembers(host, ['alice', 'bob', 'carol']);
    assert.equal(await page.locator(tid('removed-panel')).isHidden(), true);
  });

  it('keeps the name of a guest who left', async () => {
    await bob.page.locator(tid('leave-session')).click();
    await bob.page.locator(tid('confirm-ok')).click();
    await bob.page.waitForURL(`${server.url}/`);
    await waitForMembers(host, ['alice', 'carol']);
    await waitForMembers(carol, ['alice', 'carol']);
    const before = await title(host.page);
    await host.page.locator(tid('control-next')).click();
    await sameTitleEverywhere([host, carol], before);
    for (const person of [host, carol]) {
      const texts = await addedByTexts(person.page);
      assert.ok(texts.some((t) => t.includes('Bob Brennan')), `${person.name}: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((t) => /\bbob\b/.test(t)), `${person.name}: ${JSON.stringify(texts)}`);
    }
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...bob.problems, ...carol.problems], []);
  });
});
