// The host's own tools, in real Chromium against the real `sesh` (demo mode): host alice
// (desktop, then phone sizes), guest carol (phone 390×844), a logged-out visitor (320×640).
// The host names the session from the keyboard and everyone sees the name: the guest's header
// and tab, the invite page. The invite's QR code opens full screen and closes with Escape. A guest
// sees in the lobby the tracks she brought.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, SMALL_PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import { focusedTestId, pickUser, tid, waitForConnection, waitForMembers, waitUntilIdle } from '../lib/pages.js';

describe('the host’s tools', { timeout: 180_000 }, () => {
  const server = new SeshServer('host');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let carol;
  let visitor;
  let inviteUrl;
  const shot = (person, name, fullPage = false) => person.page.screenshot({ path: join(artifacts, `host-${name}.png`), fullPage });
  const noOverflow = async (page) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  };

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    carol = await newPerson(browser, 'carol', PHONE);
    visitor = await newPerson(browser, 'visitor', SMALL_PHONE);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('meets: alice hosts, carol joins', async () => {
    const { page } = host;
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'alice');
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    await waitForConnection(host, 'live');
    inviteUrl = await page.locator(tid('invite-link')).inputValue();

    await carol.page.goto(inviteUrl);
    await carol.page.locator(tid('join-login')).click();
    // Back from the login the join page joins at once, as asked.
    await pickUser(carol.page, server, 'carol');
    await carol.page.waitForURL(/\/s\/[^/]+$/);
    await waitForConnection(carol, 'live');
    await waitForMembers(host, ['alice', 'carol']);
    // No name yet: the header says whose session it is; guests get no name field.
    assert.equal((await carol.page.locator(tid('session-title')).textContent()).trim(), 'Alice Andersson’s session');
    assert.equal(await carol.page.locator(tid('name-form')).isVisible(), false);
  });

  it('shows the guest, in the lobby, the tracks she brought', async () => {
    const { page } = carol;
    const section = page.getByRole('region', { name: 'Your tracks in the mix' });
    await section.waitFor();
    const mine = await page.evaluate(async () => {
      const id = location.pathname.split('/').pop();
      return (await (await fetch(`/api/sessions/${id}`)).json()).your_tracks.map((t) => t.name);
    });
    assert.ok(mine.length >= 1 && mine.length <= 5, JSON.stringify(mine));
    const shown = (await section.locator(tid('your-track')).allTextContents()).map((t) => t.trim());
    assert.equal(shown.length, mine.length);
    mine.forEach((name, i) => assert.ok(shown[i].startsWith(name), `${shown[i]} is ${name}`));
    await noOverflow(page);
    assert.deepEqual(await axeViolations(page), []);
    await shot(carol, 'your-tracks-390', true);
    await page.setViewportSize(SMALL_PHONE.viewport);
    await noOverflow(page);
    await shot(carol, 'your-tracks-320', true);
    await page.setViewportSize(PHONE.viewport);
    // The host's lobby card stays short: the device picker follows it.
    assert.equal(await host.page.locator(tid('your-tracks')).isVisible(), false);
  });

  it('the host names the session and everyone sees it', async () => {
    const { page } = host;
    const input = page.getByLabel('Session name');
    assert.equal(await input.inputValue(), '');
    // From the keyboard: type, Enter saves, the focus stays in the field.
    await input.focus();
    await page.keyboard.type('  Friday at Sam’s ');
    await page.keyboard.press('Enter');
    await page.locator(tid('name-status')).filter({ hasText: 'Saved.' }).waitFor();
    assert.equal(await focusedTestId(page), 'name-input');
    assert.equal(await input.inputValue(), 'Friday at Sam’s');
    assert.equal((await page.locator(tid('session-title')).textContent()).trim(), 'Friday at Sam’s');
    assert.equal((await page.locator(tid('session-host')).textContent()).trim(), 'Your session');
    assert.equal(await page.title(), 'Friday at Sam’s — Sesh');
    assert.deepEqual(await axeViolations(page), []);

    // The guest's page follows without a reload: header and tab.
    await carol.page.locator(tid('session-title')).filter({ hasText: 'Friday at Sam’s' }).waitFor();
    assert.equal((await carol.page.locator(tid('session-host')).textContent()).trim(), 'Alice Andersson’s session');
    await carol.page.waitForFunction(() => document.title === 'Friday at Sam’s — Sesh');
    await shot(carol, 'named-guest-phone');

    // The invite page shows it to someone not yet in, logged out, on a small phone.
    await visitor.page.goto(inviteUrl);
    await visitor.page.locator(tid('join-name')).waitFor();
    assert.equal((await visitor.page.locator(tid('join-name')).textContent()).trim(), 'Friday at Sam’s');
    assert.match(await visitor.page.locator(tid('join-host')).textContent(), /Alice.* is hosting/);
    assert.equal(await visitor.page.title(), 'Join “Friday at Sam’s” — Sesh');
    assert.doesNotMatch(await visitor.page.locator(tid('join-root')).textContent(), /null/);
    await noOverflow(visitor.page);
    assert.deepEqual(await axeViolations(visitor.page), []);
    await shot(visitor, 'named-join-320');

    // A name that is too long is refused with the reason, and nothing changes.
    await page.locator(tid('name-input')).evaluate((el) => { el.removeAttribute('maxlength'); });
    await input.fill('x'.repeat(61));
    await page.locator(tid('name-save')).click();
    await page.locator(`${tid('notice')}[data-code="invalid_name"]`).waitFor();
    await waitUntilIdle(page, 'name-save');
    assert.equal((await page.locator(tid('session-title')).textContent()).trim(), 'Friday at Sam’s');
    for (const close of await page.getByRole('button', { name: 'Dismiss message' }).all()) await close.click().catch(() => {});
    await input.fill('Friday at Sam’s');

    // On phones the field and Save fit.
    await page.setViewportSize(PHONE.viewport);
    await noOverflow(page);
    await shot(host, 'named-host-390', true);
    await page.setViewportSize(SMALL_PHONE.viewport);
    await noOverflow(page);
    await shot(host, 'named-host-320', true);
    await page.setViewportSize(DESKTOP.viewport);
  });

  it('shows the invite’s QR code full screen, closable with Escape', async () => {
    const { page } = host;
    for (const [size, label] of [[PHONE.viewport, '390'], [SMALL_PHONE.viewport, '320'], [DESKTOP.viewport, 'desktop']]) {
      await page.setViewportSize(size);
      const button = page.getByRole('button', { name: 'Show QR' });
      // From the keyboard.
      await button.focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Scan to join “Friday at Sam’s”' });
      await dialog.waitFor();
      const qr = dialog.getByRole('img', { name: 'QR code of the invite link' });
      await page.waitForFunction(() => document.querySelector('[data-testid="qr-large"]')?.naturalWidth > 0);
      assert.equal((await dialog.locator(tid('qr-link')).textContent()).trim(), inviteUrl);
      // It fills the screen: the code is most of the width on a phone, and all of it is in view.
      const box = await qr.boundingBox();
      const { width, height } = size;
      assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height, JSON.stringify(box));
      if (width < 500) assert.ok(box.width >= width * 0.8, `QR ${box.width}px wide on a ${width}px screen`);
      const closeBox = await dialog.getByRole('button', { name: 'Close' }).boundingBox();
      assert.ok(closeBox.y + closeBox.height <= height, 'Close is on the screen');
      assert.equal(await focusedTestId(page), 'qr-close');
      await noOverflow(page);
      assert.deepEqual(await axeViolations(page), []);
      await shot(host, `qr-${label}`);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await focusedTestId(page), 'show-qr');
    }
  });

  it('lets a guest share the invite too (show_invite, on by default), but not replace it', async () => {
    const { page } = carol;
    const panel = page.locator(tid('invite-panel'));
    await panel.waitFor({ state: 'visible' });
    assert.equal(await page.locator(tid('invite-link')).inputValue(), inviteUrl);
    assert.equal(await page.locator(tid('rotate-invite')).isVisible(), false, 'only the host makes a new link');
    await page.getByRole('button', { name: 'Show QR' }).click();
    const dialog = page.getByRole('dialog', { name: /^Scan to join/ });
    await dialog.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="qr-large"]')?.naturalWidth > 0);
    assert.deepEqual(await axeViolations(page), []);
    await shot(carol, 'qr-guest-390');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...carol.problems, ...visitor.problems], []);
  });
});
