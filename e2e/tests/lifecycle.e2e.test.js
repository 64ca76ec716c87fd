// An idle session (issue 19's lifecycle), in real Chromium against the real `sesh` with the idle
// time shortened to 3 s: host alice (desktop) pauses the music; a little later both pages,
// bob's on a phone, show that nobody is using the session and when it ends. Bob keeps it with
// one button (from the keyboard): the warning goes on both pages. axe finds nothing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { guestJoins, hostStartsSession, startTheMusic, tid } from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('an idle session', { timeout: 180_000 }, () => {
  const server = new SeshServer('lifecycle', { SESH_SESSION_IDLE_TIMEOUT: '3s', SESH_SESSION_END_WARNING: '5m' });
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;

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

  it('warns everyone when the paused session goes idle', async () => {
    assert.equal(await bob.page.locator(tid('idle-banner')).isVisible(), false);
    await host.page.locator(tid('control-playpause')).click();
    for (const person of [host, bob]) {
      await person.page.locator(tid('idle-banner')).waitFor({ timeout: 15_000 });
      const text = await person.page.locator(tid('idle-text')).textContent();
      assert.match(text, /ends at \d{1,2}:\d{2}/);
    }
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.screenshot({ path: join(artifacts, 'lifecycle-idle-phone.png') });
  });

  it('lets bob keep the session from the keyboard: the warning goes everywhere', async () => {
    await bob.page.locator(tid('keep-session')).focus();
    await bob.page.keyboard.press('Enter');
    for (const person of [bob, host]) {
      await person.page.locator(tid('idle-banner')).waitFor({ state: 'hidden', timeout: 10_000 });
    }
  });
});
