// The listening session end to end in real headless Chromium against the real `sesh` in demo
// mode: a host and two guests (one on a phone) log in through the emulator's picker, meet in a
// session, start the music, follow a skip, and survive a server crash and restart.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, LAPTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  pickUser, sameTitleEverywhere, tid, title, waitForConnection, waitForMembers,
} from '../lib/pages.js';

describe('a listening session in three browsers', { timeout: 240_000 }, () => {
  const server = new SeshServer('session');
  let browser;
  let host;
  let bob;
  let carol;
  let sessionUrl;
  let inviteUrl;
  let shotsTaken = false;
  const artifacts = ensureArtifactsDir();

  async function screenshots() {
    await host.page.screenshot({ path: join(artifacts, 'host-desktop.png') });
    await host.page.screenshot({ path: join(artifacts, 'host-desktop-full.png'), fullPage: true });
    await carol.page.screenshot({ path: join(artifacts, 'guest-phone.png') });
    await carol.page.screenshot({ path: join(artifacts, 'guest-phone-full.png'), fullPage: true });
    shotsTaken = true;
  }

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    bob = await newPerson(browser, 'bob', LAPTOP);
    carol = await newPerson(browser, 'carol', PHONE);
  });

  after(async () => {
    // Screenshots on every run, also when a step failed: they show where it stopped.
    if (!shotsTaken && host && carol) await screenshots().catch(() => {});
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('shows the landing page with the demo banner and a login button', async () => {
    const { page } = host;
    await page.goto(server.url);
    await page.locator(tid('demo-banner')).waitFor({ state: 'visible' });
    assert.equal((await page.locator(tid('demo-banner')).textContent()).trim(), 'Demo — simulated Spotify');
    const login = page.getByRole('link', { name: 'Log in with Spotify' });
    await login.waitFor();
    assert.deepEqual(await axeViolations(page), []);
  });

  it('lets the host log in through the picker and start a session', async () => {
    const { page } = host;
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'alice');
    assert.equal(new URL(page.url()).pathname, '/');
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    sessionUrl = page.url();
    await waitForConnection(host, 'live');
    await waitForMembers(host, ['alice']);
    await page.locator(`${tid('member')}[data-user-id="alice"] ${tid('host-badge')}`).waitFor();
    // Host extras: invite link with QR, device picker with Start.
    await page.locator(tid('invite-panel')).waitFor({ state: 'visible' });
    inviteUrl = await page.locator(tid('invite-link')).inputValue();
    assert.match(inviteUrl, new RegExp(`^${server.url}/j/[A-Za-z0-9_-]+$`));
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="invite-qr"]');
      return img && img.complete && img.naturalWidth > 0;
    });
    await page.locator(tid('device-option')).first().waitFor();
  });

  it('lets a guest log in from the invite link and join at once', async () => {
    const { page } = bob;
    await page.goto(inviteUrl);
    await page.locator(tid('join-host')).waitFor();
    assert.match(await page.locator(tid('join-host')).textContent(), /Alice.* is hosting/);
    assert.match(await page.locator(tid('join-count')).textContent(), /1 person is in/);
    await page.screenshot({ path: join(artifacts, 'join-laptop.png'), fullPage: true });
    await page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
    await pickUser(page, server, 'bob');
    await page.waitForURL(sessionUrl);
    await waitForConnection(bob, 'live');
  });

  it('lets a phone guest log in first, then join with the button', async () => {
    const { page } = carol;
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'carol');
    await page.goto(inviteUrl);
    assert.match(await page.locator(tid('join-count')).textContent(), /2 people are in/);
    assert.deepEqual(await axeViolations(page), []);
    await page.getByRole('button', { name: 'Join the session' }).click();
    await page.waitForURL(sessionUrl);
    await waitForConnection(carol, 'live');
  });

  it('shows everyone to everyone, online, with the host badge', async () => {
    for (const person of [host, bob, carol]) {
      await waitForMembers(person, ['alice', 'bob', 'carol']);
      await person.page.waitForFunction(() => [...document.querySelectorAll('[data-testid="member"]')]
        .every((m) => m.dataset.online === 'true'));
      const hosts = await person.page.locator(`${tid('member')}[data-role="host"]`).evaluateAll((els) => els.map((e) => e.dataset.userId));
      assert.deepEqual(hosts, ['alice'], `${person.name} sees the wrong host`);
    }
  });

  it('hides the host controls from guests', async () => {
    for (const guest of [bob, carol]) {
      const { page } = guest;
      // The invite card is there (guests may share it, `show_invite`), but not its host tools.
      for (const id of ['start-button', 'device-panel', 'player-controls', 'rotate-invite', 'name-form', 'end-session', 'kick']) {
        assert.equal(await page.locator(tid(id)).isVisible(), false, `${guest.name} sees ${id}`);
      }
      await page.locator(tid('leave-session')).waitFor({ state: 'visible' });
      assert.match(await page.locator(tid('lobby-title')).textContent(), /Waiting for Alice.* to start/);
    }
    // The host can remove each guest.
    assert.equal(await host.page.locator(tid('kick')).count(), 2);
  });

  it('starts the music on the host’s device and shows the same track everywhere', async () => {
    const { page } = host;
    const usable = page.locator(`${tid('device-option')}[data-restricted="false"]`);
    await usable.first().click();
    await page.getByRole('button', { name: 'Start' }).click();
    const first = await sameTitleEverywhere([host, bob, carol]);
    assert.ok(first.length > 0);
    await page.locator(tid('player-controls')).waitFor({ state: 'visible' });
    for (const guest of [bob, carol]) {
      assert.equal(await guest.page.locator(tid('player-controls')).isVisible(), false, `${guest.name} sees player controls`);
      assert.equal(await guest.page.locator(tid('start-button')).isVisible(), false);
    }
    // The queue is the same everywhere and its current entry is the track playing.
    const queues = await Promise.all([host, bob, carol].map((p) => p.page.locator(tid('queue-title')).allTextContents()));
    assert.ok(queues[0].length >= 3, `queue too short: ${queues[0].length}`);
    assert.deepEqual(queues[1], queues[0]);
    assert.deepEqual(queues[2], queues[0]);
    const current = await page.locator(`${tid('queue-item')}[aria-current="true"] ${tid('queue-title')}`).textContent();
    assert.ok(current.startsWith(first), `current queue entry "${current}" is not "${first}"`);
    // Who brought it is shown on the now-playing card.
    await page.locator(tid('np-added-by')).waitFor({ state: 'visible' });
  });

  it('advances the progress bar between updates', async () => {
    for (const person of [host, carol]) {
      const before = await person.page.locator(tid('np-elapsed')).textContent();
      await person.page.waitForFunction((old) => document.querySelector('[data-testid="np-elapsed"]').textContent !== old, before);
    }
  });

  it('follows a skip made in Spotify without a reload', async () => {
    const before = await title(host.page);
    const marker = await host.page.evaluate(() => { window.__noReload = true; return true; });
    assert.ok(marker);
    const res = await fetch(`${server.emulatorUrl}/_emulator/users/alice/player`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: 'next' }),
    });
    assert.ok(res.ok, `emulator control API answered ${res.status}: ${await res.text()}`);
    const next = await sameTitleEverywhere([host, bob, carol], before);
    assert.notEqual(next, before);
    assert.equal(await host.page.evaluate(() => window.__noReload), true, 'the host page reloaded');
    await host.page.waitForFunction((t) => document.querySelector('[data-testid="queue-item"][aria-current="true"] [data-testid="queue-title"]')?.textContent.startsWith(t), next);
    await screenshots();
    assert.deepEqual(await axeViolations(host.page), []);
    assert.deepEqual(await axeViolations(carol.page), []);
  });

  it('reconnects everyone after the server is killed and restarted', async () => {
    const before = await title(host.page);
    const people = [host, bob, carol];
    await server.kill();
    await Promise.all(people.map((p) => waitForConnection(p, 'reconnecting')));
    await server.start();
    await Promise.all(people.map((p) => waitForConnection(p, 'live', 60_000)));
    for (const person of people) await waitForMembers(person, ['alice', 'bob', 'carol']);
    const after = await sameTitleEverywhere(people);
    assert.equal(after, before, 'the track shown changed across the restart');
    const queues = await Promise.all(people.map((p) => p.page.locator(tid('queue-title')).allTextContents()));
    assert.deepEqual(queues[1], queues[0]);
    assert.deepEqual(queues[2], queues[0]);
    // The link to Spotify survived the restart (no "log in again" or outage banner) and the
    // music keeps going.
    for (const person of people) {
      await person.page.locator(tid('spotify-status')).waitFor({ state: 'hidden' });
      const elapsed = await person.page.locator(tid('np-elapsed')).textContent();
      await person.page.waitForFunction((old) => document.querySelector('[data-testid="np-elapsed"]').textContent !== old, elapsed);
    }
    await carol.page.screenshot({ path: join(artifacts, 'guest-phone-after-restart.png') });
  });

  it('lets the host remove a guest, who is told so', async () => {
    await host.page.locator(`${tid('member')}[data-user-id="bob"] ${tid('kick')}`).click();
    const dialog = host.page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Remove Bob/);
    await dialog.locator(tid('confirm-ok')).click();
    await bob.page.locator(`${tid('state-panel')}[data-code="kicked"]`).waitFor();
    assert.match(await bob.page.locator(tid('state-panel')).textContent(), /The host removed you from this session/);
    await waitForMembers(host, ['alice', 'carol']);
    await waitForMembers(carol, ['alice', 'carol']);
  });

  it('ends the session for everyone', async () => {
    await host.page.getByRole('button', { name: 'End session' }).click();
    await host.page.locator(tid('confirm-ok')).click();
    for (const person of [host, carol]) {
      await waitForConnection(person, 'ended');
      await person.page.locator(tid('lobby-title')).getByText('This session has ended').waitFor();
      assert.equal(await person.page.locator(tid('player-controls')).isVisible(), false);
    }
    assert.equal(await host.page.locator(tid('end-session')).isVisible(), false);
    assert.equal(await host.page.locator(tid('invite-panel')).isVisible(), false);
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...bob.problems, ...carol.problems], []);
  });
});
