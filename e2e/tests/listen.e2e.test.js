// "Listen on my device" (listen-along), in real Chromium against the real `sesh` (demo mode):
// host alice (desktop) plays the session; guest bob (phone 390×844) switches "Listen on my
// device" on from the keyboard with his device picked, and his card says "In sync" while
// alice's member list shows him with 🎧; bob's device plays the session's track. axe checks
// bob's page; the phone screenshot is `listen-in-sync-phone.png`. Switching it off stops it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { guestJoins, hostStartsSession, startTheMusic, tid } from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('listening along on my device', { timeout: 180_000 }, () => {
  const server = new SeshServer('listen');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  const player = async (user) => (await fetch(`${server.emulatorUrl}/_emulator/users/${user}/player`)).json();
  const row = (person, id) => person.page.locator(`${tid('member')}[data-user-id="${id}"]`);

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    bob = await newPerson(browser, 'bob', PHONE);
    const session = await hostStartsSession(server, host);
    await guestJoins(server, bob, 'bob', session);
    await startTheMusic(host, [host, bob], MACBOOK);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('shows the card to guests only, with their devices listed', async () => {
    assert.equal(await host.page.locator(tid('listen-panel')).isVisible(), false);
    await bob.page.locator(tid('listen-panel')).waitFor();
    await bob.page.waitForFunction(() => {
      const select = document.querySelector('[data-testid="listen-device"]');
      return select && select.value !== '';
    }, null, { timeout: 10_000 });
    assert.equal(await bob.page.locator(tid('listen-toggle')).isChecked(), false);
  });

  it('turns on from the keyboard and says In sync; everyone sees the 🎧', async () => {
    await bob.page.locator(tid('listen-toggle')).focus();
    await bob.page.keyboard.press('Space');
    await bob.page.waitForFunction(
      () => document.querySelector('[data-testid="listen-state"]')?.textContent === 'In sync',
      null, { timeout: 10_000 });
    assert.equal(await bob.page.locator(tid('listen-toggle')).isChecked(), true);
    await row(host, 'bob').locator(tid('listening-badge')).waitFor({ timeout: 10_000 });
    assert.match(await row(host, 'bob').locator(tid('listening-badge')).textContent(), /Listening along on their device, in sync/);
    await row(bob, 'bob').locator(tid('listening-badge')).waitFor();
    // Bob's own Spotify plays the session's track.
    const alice = await player('alice');
    const his = await player('bob');
    assert.equal(his.current_uri, alice.current_uri);
    assert.equal(his.is_playing, true);
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.locator(tid('listen-panel')).scrollIntoViewIfNeeded();
    await bob.page.screenshot({ path: join(artifacts, 'listen-in-sync-phone.png') });
  });

  it('turns off: the 🎧 goes away for everyone', async () => {
    await bob.page.locator(tid('listen-toggle')).focus();
    await bob.page.keyboard.press('Space');
    await row(host, 'bob').locator(tid('listening-badge')).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await bob.page.locator(tid('listen-toggle')).isChecked(), false);
  });
});
