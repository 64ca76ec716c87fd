// Handing a playing session over (issue 19), in real Chromium against the real `sesh` (demo
// mode): host alice (desktop) offers the session to guest bob (phone 390×844) from the member
// list; bob's page asks him where to play, he picks his device from the keyboard and takes it:
// both pages show bob as the host and alice's player controls pass to him. axe checks bob's page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { guestJoins, hostStartsSession, startTheMusic, tid } from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('handing the session over', { timeout: 180_000 }, () => {
  const server = new SeshServer('handover');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
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

  it('offers the session to bob, who is asked where to play', async () => {
    assert.equal(await bob.page.locator(tid('takeover-panel')).isVisible(), false);
    await row(host, 'bob').locator(tid('hand-over')).click();
    await host.page.locator(tid('confirm-ok')).click();
    await bob.page.locator(tid('takeover-panel')).waitFor();
    assert.match(await bob.page.locator(tid('takeover-text')).textContent(), /handing the session to you/);
    // His devices are listed, the one he can play on chosen.
    await bob.page.waitForFunction(() => {
      const select = document.querySelector('[data-testid="takeover-device"]');
      return select && select.value !== '';
    }, null, { timeout: 10_000 });
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.screenshot({ path: join(artifacts, 'handover-offer-phone.png') });
    // Alice's page shows nothing of it.
    assert.equal(await host.page.locator(tid('takeover-panel')).isVisible(), false);
  });

  it('lets bob take it from the keyboard: both pages show him as the host', async () => {
    await bob.page.locator(tid('takeover-submit')).focus();
    await bob.page.keyboard.press('Enter');
    for (const person of [bob, host]) {
      await row(person, 'bob').locator(tid('host-badge')).waitFor({ timeout: 15_000 });
    }
    await bob.page.locator(tid('takeover-panel')).waitFor({ state: 'hidden' });
    await bob.page.locator(tid('player-controls')).waitFor();
    await host.page.locator(tid('player-controls')).waitFor({ state: 'hidden' });
    await bob.page.screenshot({ path: join(artifacts, 'handover-new-host-phone.png') });
  });
});
