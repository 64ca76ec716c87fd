// What issue 16 found confusing or missing, in real Chromium against the real `sesh` (demo
// mode): host alice (desktop), guests carol (phone 390×844) and bob (phone 320×640). The
// phone puts people above a collapsed queue; a guest finds the tracks they brought; the landing
// page leads back to a live session; the host takes the session back after playing something
// else in Spotify and after the device went away (guests get a friendly line, never the
// server's sentence); names of people who left survive a reload; End asks whether to stop the
// music and the ended card says what happened; "Log out everywhere" ends every login.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, SMALL_PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  focusedTestId, pickUser, sameTitleEverywhere, tid, waitForConnection, waitForMembers,
} from '../lib/pages.js';

/** Alice's devices in the emulator (crates/spotify-emulator/README.md). */
const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';
const IPHONE = 'c60b54c1f9df67913d51dee0f6172809a269d756';

/** The server's own words for a take-over (for the log): the page must never show them. */
const RAW_TAKEOVER = /the host is playing something else|the session's device stopped playing|the host can resume/;

describe('the party, clearer (issue 16)', { timeout: 300_000 }, () => {
  const server = new SeshServer('party');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  let carol;
  let sessionUrl;
  let sessionId;
  let inviteUrl;

  const emulator = (path, init) => fetch(`${server.emulatorUrl}/_emulator${path}`, init);
  const emulatorPlayer = async () => (await emulator('/users/alice/player')).json();
  /** Acts in the host's own Spotify app, as the emulator's control API lets a test do. */
  async function inSpotify(body) {
    const res = await emulator('/users/alice/player', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `emulator ${body.action}: ${res.status} ${text}`);
    return JSON.parse(text);
  }
  /** The session as the person's page can fetch it. */
  const snapshotFrom = (person) => person.page.evaluate(async (p) => (await fetch(p)).json(), `/api/sessions/${sessionId}`);
  const shot = (person, name, fullPage = false) => person.page.screenshot({ path: join(artifacts, `party-${name}.png`), fullPage });
  const dismissNotices = async (page) => {
    for (const close of await page.getByRole('button', { name: 'Dismiss message' }).all()) await close.click().catch(() => {});
  };

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    carol = await newPerson(browser, 'carol', PHONE);
    bob = await newPerson(browser, 'bob', SMALL_PHONE);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('meets and starts the music', async () => {
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
    for (const [guest, id] of [[carol, 'carol'], [bob, 'bob']]) {
      await guest.page.goto(inviteUrl);
      await guest.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
      await pickUser(guest.page, server, id);
      await guest.page.waitForURL(sessionUrl);
      await waitForConnection(guest, 'live');
    }
    for (const person of [host, carol, bob]) await waitForMembers(person, ['alice', 'bob', 'carol']);
    await page.locator(`${tid('device-option')}[data-device-id="${MACBOOK}"]`).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await sameTitleEverywhere([host, carol, bob]);
  });

  it('leads back to the live session from the landing page', async () => {
    const { page } = host;
    await page.goto(server.url);
    const back = page.getByRole('link', { name: 'Back to your session' });
    await back.waitFor();
    assert.equal(await back.getAttribute('href'), `/s/${sessionId}`);
    assert.deepEqual(await axeViolations(page), []);
    await shot(host, 'landing-back-to-session');
    await back.click();
    await page.waitForURL(sessionUrl);
    await waitForConnection(host, 'live');
  });

  it('puts people and the invite above a collapsed queue on a phone', async () => {
    const top = (page, id) => page.locator(tid(id)).evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
    // The host looks at it on a phone too, with the invite.
    await host.page.setViewportSize(PHONE.viewport);
    try {
      for (const person of [carol, bob, host]) {
        const { page } = person;
        const queueTop = await top(page, 'queue-panel');
        assert.ok(await top(page, 'members-panel') < queueTop, `${person.name}: people below the queue`);
        assert.ok(await top(page, 'now-playing') < await top(page, 'members-panel'), `${person.name}: now playing not first`);
        if (person === host) assert.ok(await top(page, 'invite-panel') < queueTop, 'the invite below the queue');
        const items = page.locator(tid('queue-item'));
        const total = await items.count();
        assert.ok(total > 7, `the test needs a long queue (${total})`);
        const visible = await page.locator(`${tid('queue-item')}:visible`).count();
        assert.ok(visible <= 6, `${person.name} sees ${visible} of ${total} entries collapsed`);
        assert.equal(await page.locator(`${tid('queue-item')}[aria-current="true"]`).isVisible(), true, `${person.name}: the current entry is hidden`);
        const toggle = page.locator(tid('queue-toggle'));
        assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
        assert.match(await toggle.textContent(), new RegExp(`^Show all ${total}\\b`));
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), true, `${person.name}: the page scrolls sideways`);
      }
      await host.page.evaluate(() => window.scrollTo(0, 0));
      await shot(host, 'host-phone-390', true);
      assert.deepEqual(await axeViolations(host.page), []);
    } finally {
      await host.page.setViewportSize(DESKTOP.viewport);
    }
    // On the desktop the whole queue shows, with no toggle (once the page has seen the new
    // width: it re-renders on the media query's change event).
    await host.page.locator(tid('queue-toggle')).waitFor({ state: 'hidden' });
    assert.equal(await host.page.locator(`${tid('queue-item')}:visible`).count(), await host.page.locator(tid('queue-item')).count());

    // "Show all" from the keyboard: everything shows, the focus stays, and back.
    const { page } = carol;
    const toggle = page.locator(tid('queue-toggle'));
    await toggle.focus();
    await page.keyboard.press('Enter');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.locator(`${tid('queue-item')}:visible`).count(), await page.locator(tid('queue-item')).count());
    assert.equal(await focusedTestId(page), 'queue-toggle');
    await page.keyboard.press('Enter');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await focusedTestId(page), 'queue-toggle');
    for (const [person, width] of [[carol, 390], [bob, 320]]) {
      await person.page.evaluate(() => window.scrollTo(0, 0));
      await shot(person, `guest-phone-${width}`, true);
      assert.deepEqual(await axeViolations(person.page), [], `${person.name} at ${width} px`);
    }
  });

  it('marks the tracks a guest brought as theirs', async () => {
    const snapshot = await snapshotFrom(carol);
    const want = snapshot.queue.map((e) => String(e.added_by.includes('carol')));
    assert.ok(want.includes('true'), 'carol brought nothing?');
    const { page } = carol;
    assert.deepEqual(await page.locator(tid('queue-item')).evaluateAll((els) => els.map((e) => e.dataset.yours)), want);
    const yours = page.locator(`${tid('queue-item')}[data-yours="true"] ${tid('queue-yours')}`);
    assert.equal(await yours.count(), want.filter((w) => w === 'true').length);
    assert.equal((await yours.first().textContent()).trim(), 'Yours');
    // Bob's page marks bob's, not carol's.
    const bobs = await bob.page.locator(tid('queue-item')).evaluateAll((els) => els.map((e) => e.dataset.yours));
    assert.deepEqual(bobs, snapshot.queue.map((e) => String(e.added_by.includes('bob'))));
  });

  it('tells the host, in their words, they took Spotify over, and lets them resume here', async () => {
    // Alice plays something of her own in Spotify: a track that is not in the session's queue.
    const queued = new Set((await snapshotFrom(host)).queue.map((e) => e.track.uri));
    const erin = await (await emulator('/users/erin')).json();
    const foreign = erin.top_tracks.long_term.find((uri) => !queued.has(uri));
    await inSpotify({ action: 'play', uris: [foreign] });

    const status = host.page.locator(`${tid('spotify-status')}[data-state="host_took_over"]`);
    await status.waitFor();
    assert.match(await status.textContent(), /^You’re playing something else in Spotify/);
    await host.page.locator(tid('resume-here')).waitFor({ state: 'visible' });
    assert.equal(await host.page.locator(tid('resume-elsewhere')).isVisible(), true);
    for (const guest of [carol, bob]) {
      const line = guest.page.locator(`${tid('spotify-status')}[data-state="host_took_over"]`);
      await line.waitFor();
      assert.equal((await line.textContent()).trim(), 'The host paused the party in Spotify; it will pick up when they resume.');
      assert.equal(await guest.page.locator(tid('takeover-actions')).isVisible(), false, `${guest.name} sees the resume buttons`);
    }
    for (const person of [host, carol, bob]) {
      assert.doesNotMatch(await person.page.locator(tid('now-playing')).textContent(), RAW_TAKEOVER, person.name);
    }
    await dismissNotices(host.page);
    await shot(host, 'host-desktop-took-over');
    await shot(carol, 'guest-phone-390-took-over');
    assert.deepEqual(await axeViolations(host.page), []);
    assert.deepEqual(await axeViolations(carol.page), []);

    // Resume here, from the keyboard: the queue plays again on the session's device.
    await host.page.locator(tid('resume-here')).focus();
    await host.page.keyboard.press('Enter');
    for (const person of [host, carol, bob]) await person.page.locator(tid('spotify-status')).waitFor({ state: 'hidden' });
    const player = await emulatorPlayer();
    assert.ok(queued.has(player.current_uri), 'the session’s queue plays again');
    assert.equal(player.device_id, MACBOOK);
    // The pressed button went away with the status; the focus went to the player.
    assert.equal(await focusedTestId(host.page), 'control-playpause');
  });

  it('tells the host the device stopped, and resumes on another one', async () => {
    const gone = await emulator(`/users/alice/devices/${MACBOOK}`, { method: 'DELETE' });
    assert.equal(gone.status, 204);
    const status = host.page.locator(`${tid('spotify-status')}[data-state="host_took_over"]`);
    await status.waitFor();
    assert.match(await status.textContent(), /^Your device stopped playing/);
    await carol.page.getByText('The host paused the party in Spotify; it will pick up when they resume.').waitFor();

    await host.page.locator(tid('resume-elsewhere')).click();
    const dialog = host.page.locator(tid('device-dialog'));
    await dialog.waitFor();
    await dialog.locator(`${tid('device-option')}[data-device-id="${IPHONE}"]`).waitFor();
    assert.equal(await dialog.locator(`${tid('device-option')}[data-device-id="${MACBOOK}"]`).count(), 0);
    assert.deepEqual(await axeViolations(host.page), []);
    await shot(host, 'host-desktop-resume-elsewhere-dialog');
    await dialog.locator(`${tid('device-option')}[data-device-id="${IPHONE}"]`).click();
    await dialog.locator(tid('device-dialog-ok')).click();
    for (const person of [host, carol, bob]) await person.page.locator(tid('spotify-status')).waitFor({ state: 'hidden' });
    const player = await emulatorPlayer();
    assert.equal(player.device_id, IPHONE);
    assert.equal(player.is_playing, true);
    await host.page.locator(tid('np-device-name')).getByText("On Alice's iPhone").waitFor();
  });

  it('keeps the name of a guest who left across a reload, and never shows an id', async () => {
    await bob.page.locator(tid('leave-session')).click();
    await bob.page.locator(tid('confirm-ok')).click();
    await bob.page.waitForURL(`${server.url}/`);
    await waitForMembers(host, ['alice', 'carol']);
    const addedBy = (page) => page.locator(`${tid('queue-added-by')}, ${tid('np-added-by-text')}`).allTextContents();
    for (const person of [host, carol]) {
      await person.page.reload();
      await waitForConnection(person, 'live');
      await person.page.locator(tid('queue-item')).first().waitFor();
      const texts = await addedBy(person.page);
      assert.ok(texts.some((t) => t.includes('Bob Brennan')), `${person.name}: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((t) => /\bbob\b/.test(t)), `${person.name}: ${JSON.stringify(texts)}`);
    }
    // Someone who never saw bob: the server names only members, so the page says so politely.
    const erin = await newPerson(browser, 'erin', PHONE);
    try {
      await erin.page.goto(inviteUrl);
      await erin.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
      await pickUser(erin.page, server, 'erin');
      await erin.page.waitForURL(sessionUrl);
      await waitForConnection(erin, 'live');
      await erin.page.locator(tid('queue-item')).first().waitFor();
      const texts = await addedBy(erin.page);
      assert.ok(texts.some((t) => t.includes('a former member')), JSON.stringify(texts));
      assert.ok(!texts.some((t) => /\bbob\b/.test(t)), JSON.stringify(texts));
      assert.deepEqual(erin.problems, []);
      await erin.page.locator(tid('leave-session')).click();
      await erin.page.locator(tid('confirm-ok')).click();
      await erin.page.waitForURL(`${server.url}/`);
    } finally {
      await erin.context.close();
    }
  });

  it('asks the host whether to stop the music when ending, and says what happened', async () => {
    assert.equal((await emulatorPlayer()).is_playing, true);
    const { page } = host;
    await page.getByRole('button', { name: 'End session' }).click();
    const dialog = page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Stop the music too\?/);
    assert.equal(await focusedTestId(page), 'confirm-cancel');
    assert.deepEqual(await axeViolations(page), []);
    await shot(host, 'host-desktop-end-dialog');
    await dialog.getByRole('button', { name: 'End and stop the music' }).click();
    await waitForConnection(host, 'ended');
    const ended = page.locator(`${tid('lobby')}[data-music="stopped"]`);
    await ended.waitFor();
    assert.match(await ended.textContent(), /stopped the music/);
    assert.equal((await emulatorPlayer()).is_playing, false, 'the music still plays');
    await waitForConnection(carol, 'ended');
    await carol.page.locator(tid('lobby-title')).getByText('This session has ended').waitFor();
  });

  it('logs out everywhere after asking, and the other browser is told', async () => {
    // A second session, followed from a second browser of alice's.
    const { page } = host;
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    const second = page.url();
    await waitForConnection(host, 'live');
    const other = await newPerson(browser, 'alice-phone', PHONE);
    try {
      await other.page.goto(second);
      await other.page.getByRole('link', { name: 'Log in with Spotify' }).click();
      await pickUser(other.page, server, 'alice');
      await other.page.waitForURL(second);
      await waitForConnection(other, 'live');

      await page.goto(server.url);
      const button = page.getByRole('button', { name: 'Log out everywhere' });
      await button.focus();
      await page.keyboard.press('Enter');
      const dialog = page.locator(tid('confirm-dialog'));
      await dialog.waitFor();
      assert.match(await dialog.textContent(), /every browser/);
      assert.deepEqual(await axeViolations(page), []);
      // Cancel keeps the login and the focus.
      await dialog.locator(tid('confirm-cancel')).click();
      assert.equal(await focusedTestId(page), 'logout-everywhere');
      assert.equal(await other.page.locator(tid('connection')).getAttribute('data-state'), 'live');
      await button.click();
      await dialog.locator(tid('confirm-ok')).click();
      await page.getByRole('link', { name: 'Log in with Spotify' }).waitFor();
      await other.page.locator(`${tid('state-panel')}[data-code="unauthorized"]`).waitFor();
      await other.page.screenshot({ path: join(artifacts, 'party-other-browser-logged-out.png') });
      assert.deepEqual(other.problems, []);
    } finally {
      await other.context.close();
    }

    // Back in: end the second session leaving the music playing, and the card says so.
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'alice');
    await page.goto(second);
    await waitForConnection(host, 'live');
    await page.locator(`${tid('device-option')}[data-device-id="${IPHONE}"]`).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await sameTitleEverywhere([host]);
    await page.locator(`${tid('np-state')}[data-playing="true"]`).waitFor();
    await page.getByRole('button', { name: 'End session' }).click();
    await page.locator(tid('end-keep-playing')).click();
    const ended = page.locator(`${tid('lobby')}[data-music="playing"]`);
    await ended.waitFor();
    assert.match(await ended.textContent(), /keeps playing on Alice's iPhone/);
    assert.equal((await emulatorPlayer()).is_playing, true);
    await shot(host, 'host-desktop-ended-music-playing');
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...bob.problems, ...carol.problems], []);
  });
});
