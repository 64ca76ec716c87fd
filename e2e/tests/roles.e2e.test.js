// Co-hosts (issue 19's roles), in real Chromium against the real `sesh` (demo mode): host alice
// (desktop) makes guest bob (phone 390×844) a co-host from the member list. Bob's page shows the
// co-host badge and the player's controls (not "End session"), his pause reaches alice's page,
// and when alice makes him a guest again the controls go. The member list's buttons are reached
// from the keyboard, and axe finds nothing on either page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { guestJoins, hostStartsSession, startTheMusic, tid } from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('co-hosts', { timeout: 180_000 }, () => {
  const server = new SeshServer('roles');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  const bobRow = (person) => person.page.locator(`${tid('member')}[data-user-id="bob"]`);

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

  it('shows a guest no player controls and no role buttons', async () => {
    assert.equal(await bob.page.locator(tid('player-controls')).isVisible(), false);
    assert.equal(await bob.page.locator(tid('make-co-host')).count(), 0);
    assert.equal(await bob.page.locator(tid('kick')).count(), 0);
  });

  it('lets the host make bob a co-host from the keyboard, and bob sees it at once', async () => {
    const button = bobRow(host).locator(tid('make-co-host'));
    const name = (await bobRow(host).locator(tid('member-name')).textContent()).trim();
    assert.equal(await button.getAttribute('aria-label'), `Make co-host: ${name}`);
    await button.focus();
    await host.page.keyboard.press('Enter');
    await bobRow(host).locator(tid('co-host-badge')).waitFor();
    await bobRow(bob).locator(tid('co-host-badge')).waitFor();
    assert.equal(await bobRow(host).getAttribute('data-role'), 'co_host');
    // A co-host steers the player, but does not end the session or appoint anyone.
    await bob.page.locator(tid('player-controls')).waitFor();
    assert.equal(await bob.page.locator(tid('end-session')).isVisible(), false);
    assert.equal(await bob.page.locator(tid('make-co-host')).count(), 0);
    assert.equal(await bob.page.locator(tid('make-guest')).count(), 0);
    assert.deepEqual(await axeViolations(bob.page), []);
    assert.deepEqual(await axeViolations(host.page), []);
    await bob.page.screenshot({ path: join(artifacts, 'roles-co-host-phone.png') });
    await host.page.screenshot({ path: join(artifacts, 'roles-host-members.png') });
  });

  it('takes the co-host’s pause to everyone', async () => {
    const toggle = bob.page.locator(tid('control-playpause'));
    assert.equal(await toggle.getAttribute('aria-label'), 'Pause');
    await toggle.click();
    await host.page.waitForFunction(
      () => document.querySelector('[data-testid="control-playpause"]')?.getAttribute('aria-label') === 'Play',
      null, { timeout: 10_000 },
    );
  });

  it('makes bob a guest again: his controls go', async () => {
    await bobRow(host).locator(tid('make-guest')).click();
    await bobRow(host).locator(tid('make-co-host')).waitFor();
    await bob.page.locator(tid('player-controls')).waitFor({ state: 'hidden' });
    assert.equal(await bobRow(bob).locator(tid('co-host-badge')).count(), 0);
  });

  it('lets the host open pausing to guests with a switch: bob can pause at once, and not once it is off', async () => {
    const panel = host.page.locator(tid('guest-controls-panel'));
    await panel.waitFor();
    assert.equal(await bob.page.locator(tid('guest-controls-panel')).isVisible(), false);
    const pause = host.page.locator(tid('guest-control-pause'));
    assert.equal(await pause.isChecked(), false);
    assert.equal(await host.page.locator(tid('guest-control-add')).isChecked(), true);
    // A switch is a labelled checkbox with the switch role, flipped from the keyboard.
    assert.equal(await host.page.getByRole('switch', { name: 'Pause and resume' }).count(), 1);
    await pause.focus();
    await host.page.keyboard.press('Space');
    await host.page.locator(tid('guest-controls-status')).filter({ hasText: 'Pause and resume: on for guests.' }).waitFor();
    // Bob's page offers the control without a reload, and it works.
    await bob.page.locator(tid('player-controls')).waitFor();
    assert.deepEqual(await axeViolations(host.page), []);
    await host.page.screenshot({ path: join(artifacts, 'roles-guest-controls.png'), fullPage: true });
    await bob.page.screenshot({ path: join(artifacts, 'roles-guest-may-pause-phone.png') });
    const toggle = bob.page.locator(tid('control-playpause'));
    const before = await toggle.getAttribute('aria-label');
    await toggle.click();
    const after = before === 'Pause' ? 'Play' : 'Pause';
    await host.page.waitForFunction(
      (label) => document.querySelector('[data-testid="control-playpause"]')?.getAttribute('aria-label') === label,
      after, { timeout: 10_000 },
    );
    // Off again: the control goes from bob's page.
    await pause.click();
    await bob.page.locator(tid('player-controls')).waitFor({ state: 'hidden' });
    assert.equal(await pause.isChecked(), false);
  });
});
