// The whole player in real Chromium against the real `sesh` (demo mode): host alice (desktop)
// drags the seek bar and steps it with the keys, reshuffles what's next, toggles repeat, moves
// the music to a phone without volume control (the volume slider goes) and back, and sets the
// volume; guest carol (phone 390×844) sees the state (position, repeat, the new order) but no
// controls. Needs a server whose `playback` carries `volume_percent`, `shuffle`, `repeat`,
// `changes` and `device.supports_volume`, with the seek/volume/repeat/transfer/reshuffle commands.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  focusedTestId, pickUser, sameTitleEverywhere, tid, title, waitForConnection, waitForMembers, waitUntilIdle,
} from '../lib/pages.js';
import { formatTime } from '../../web/assets/js/progress.js';

/** Alice's devices in the emulator (crates/spotify-emulator/README.md). */
const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';
const IPHONE = 'c60b54c1f9df67913d51dee0f6172809a269d756';

/** m:ss → seconds. */
const seconds = (text) => text.trim().split(':').reduce((acc, part) => acc * 60 + Number(part), 0);

describe('the player', { timeout: 240_000 }, () => {
  const server = new SeshServer('player');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let carol;

  const emulator = (path) => fetch(`${server.emulatorUrl}/_emulator${path}`).then((r) => r.json());
  const emulatorPlayer = () => emulator('/users/alice/player');

  /** Records the host page's POSTs to `…/player/{action}` while `fn` runs. */
  async function commandsDuring(action, fn) {
    const sent = [];
    const count = (req) => { if (req.method() === 'POST' && req.url().endsWith(`/player/${action}`)) sent.push(req.postDataJSON()); };
    host.page.on('request', count);
    try {
      await fn();
      // The emulator may have seen the command before its `request` event reached us: a
      // round trip to the page brings every event the browser sent before it.
      await host.page.evaluate(() => null);
    } finally {
      host.page.off('request', count);
    }
    return sent;
  }

  /** Waits until the emulator's player satisfies `ok`, and returns it. */
  async function playerWhere(ok, what) {
    const deadline = Date.now() + 15_000;
    let player;
    while (Date.now() < deadline) {
      player = await emulatorPlayer();
      if (ok(player)) return player;
      await new Promise((r) => { setTimeout(r, 100); });
    }
    assert.fail(`${what}: ${JSON.stringify(player)}`);
  }

  /** Waits until the person's elapsed label is within `slackS` of `targetS`. */
  async function elapsedNear(person, targetS, slackS = 4) {
    await person.page.waitForFunction(([t, slack]) => {
      const text = document.querySelector('[data-testid="np-elapsed"]')?.textContent ?? '';
      const s = text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
      return Math.abs(s - t) <= slack;
    }, [targetS, slackS]);
  }

  const upcomingTitles = (page) => page.evaluate(() => {
    const items = [...document.querySelectorAll('[data-testid="queue-item"]')];
    const current = items.findIndex((e) => e.getAttribute('aria-current') === 'true');
    return items.slice(current + 1).map((e) => e.querySelector('[data-testid="queue-title"]').textContent);
  });

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    carol = await newPerson(browser, 'carol', PHONE);
    const { page } = host;
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(page, server, 'alice');
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    const sessionUrl = page.url();
    await waitForConnection(host, 'live');
    await carol.page.goto(await page.locator(tid('invite-link')).inputValue());
    await carol.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
    await pickUser(carol.page, server, 'carol');
    await carol.page.waitForURL(sessionUrl);
    await waitForConnection(carol, 'live');
    await waitForMembers(host, ['alice', 'carol']);
    await page.locator(`${tid('device-option')}[data-device-id="${MACBOOK}"]`).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await sameTitleEverywhere([host, carol]);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('gives the host a seek bar and the player’s extras, with names', async () => {
    const { page } = host;
    const seek = page.getByRole('slider', { name: 'Position in track' });
    await seek.waitFor();
    assert.match(await seek.getAttribute('aria-valuetext'), /^\d+:\d\d of \d+:\d\d$/);
    await page.locator(tid('player-extras')).waitFor({ state: 'visible' });
    assert.equal(await page.getByRole('button', { name: 'Repeat this track' }).getAttribute('aria-pressed'), 'false');
    await page.getByRole('button', { name: 'Play on another device' }).waitFor();
    await page.getByRole('button', { name: 'Reshuffle what’s next' }).waitFor();
    // The MacBook takes volume commands.
    await page.getByRole('slider', { name: 'Volume' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(artifacts, 'player-host-desktop.png') });
  });

  it('shows the guest the state and no controls', async () => {
    const { page } = carol;
    await page.locator(tid('np-progress')).waitFor({ state: 'visible' });
    for (const id of ['np-seek', 'player-extras', 'player-controls', 'control-volume', 'control-repeat', 'control-device', 'reshuffle', 'shuffle-warning']) {
      assert.equal(await page.locator(tid(id)).isVisible(), false, `carol sees ${id}`);
    }
    assert.equal(await page.getByRole('slider').count(), 0);
    assert.deepEqual(await axeViolations(page), []);
  });

  it('seeks once when the host drags the seek bar, and the guest follows', async () => {
    const { page } = host;
    const seek = page.locator(tid('np-seek'));
    await seek.scrollIntoViewIfNeeded();
    const duration = seconds(await page.locator(tid('np-duration')).textContent());
    // Measured last, right before the drag: nothing may move the bar in between.
    const box = await seek.boundingBox();
    const y = box.y + box.height / 2;
    const sent = await commandsDuring('seek', async () => {
      const value = Number(await seek.inputValue());
      await page.mouse.move(box.x + (box.width * value) / duration, y);
      await page.mouse.down();
      for (const f of [0.3, 0.45, 0.6]) await page.mouse.move(box.x + box.width * f, y, { steps: 4 });
      await page.mouse.up();
      await playerWhere((p) => Math.abs(p.position_ms / 1000 - duration * 0.6) < 8, 'the emulator’s position after the drag');
    });
    assert.equal(sent.length, 1, `seeks sent: ${JSON.stringify(sent)}`);
    assert.ok(Math.abs(sent[0].position_ms / 1000 - duration * 0.6) < 8, JSON.stringify(sent));
    await elapsedNear(host, sent[0].position_ms / 1000);
    await elapsedNear(carol, sent[0].position_ms / 1000);
    assert.match(await seek.getAttribute('aria-valuetext'), new RegExp(` of ${formatTime(duration * 1000)}$`));
    await carol.page.screenshot({ path: join(artifacts, 'player-guest-phone-after-seek.png') });
  });

  it('steps the seek bar with the arrow keys, as one seek, keeping the focus', async () => {
    const { page } = host;
    const seek = page.locator(tid('np-seek'));
    await seek.focus();
    const before = (await emulatorPlayer()).position_ms;
    const sent = await commandsDuring('seek', async () => {
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await playerWhere((p) => p.position_ms < before - 10_000, 'the emulator’s position after three steps back');
    });
    assert.equal(sent.length, 1, `seeks sent: ${JSON.stringify(sent)}`);
    assert.equal(await focusedTestId(page), 'np-seek');
  });

  it('reshuffles what is next for everyone, leaving the track playing', async () => {
    const playing = await title(host.page);
    const before = await upcomingTitles(carol.page);
    assert.ok(before.length >= 3, `the test needs a few tracks to come (${before.length})`);
    const reshuffle = host.page.getByRole('button', { name: 'Reshuffle what’s next' });
    await reshuffle.focus();
    await host.page.keyboard.press('Enter');
    await carol.page.waitForFunction((old) => {
      const items = [...document.querySelectorAll('[data-testid="queue-item"]')];
      const current = items.findIndex((e) => e.getAttribute('aria-current') === 'true');
      const now = items.slice(current + 1).map((e) => e.querySelector('[data-testid="queue-title"]').textContent);
      return now.length === old.length && JSON.stringify(now) !== JSON.stringify(old);
    }, before);
    const after = await upcomingTitles(carol.page);
    assert.deepEqual([...after].sort(), [...before].sort(), 'the same tracks, in another order');
    assert.equal(await title(carol.page), playing);
    assert.equal(await title(host.page), playing);
    await waitUntilIdle(host.page, 'reshuffle');
    assert.equal(await focusedTestId(host.page), 'reshuffle');
  });

  it('toggles repeat this track, and the guest sees it', async () => {
    const repeat = host.page.getByRole('button', { name: 'Repeat this track' });
    await repeat.click();
    await host.page.locator(`${tid('control-repeat')}[aria-pressed="true"]`).waitFor();
    await carol.page.locator(tid('np-repeat')).getByText('Repeating this track').waitFor();
    await repeat.click();
    await host.page.locator(`${tid('control-repeat')}[aria-pressed="false"]`).waitFor();
    await carol.page.locator(tid('np-repeat')).waitFor({ state: 'hidden' });
  });

  it('moves the music to a phone without volume control, hiding the slider, and back', async () => {
    const { page } = host;
    const move = async (deviceId) => {
      await page.getByRole('button', { name: 'Play on another device' }).click();
      const dialog = page.locator(tid('device-dialog'));
      await dialog.locator(`${tid('device-option')}[data-device-id="${deviceId}"]`).click();
      await dialog.locator(tid('device-dialog-ok')).click();
      await playerWhere((p) => p.device_id === deviceId && p.is_playing, `playing on ${deviceId}`);
    };
    await move(IPHONE);
    await page.locator(tid('volume')).waitFor({ state: 'hidden' });
    await page.locator(tid('np-device-name')).getByText("On Alice's iPhone").waitFor();
    await carol.page.locator(tid('np-device-name')).getByText("On Alice's iPhone").waitFor();
    await page.screenshot({ path: join(artifacts, 'player-host-desktop-no-volume.png') });
    await move(MACBOOK);
    await page.locator(tid('volume')).waitFor({ state: 'visible' });
  });

  it('sets the volume from the keyboard', async () => {
    const { page } = host;
    const volume = page.getByRole('slider', { name: 'Volume' });
    const start = Number(await volume.inputValue());
    await volume.focus();
    await page.keyboard.press(start > 50 ? 'ArrowLeft' : 'ArrowRight');
    const want = start > 50 ? start - 1 : start + 1;
    const deadline = Date.now() + 15_000;
    let level;
    while (Date.now() < deadline) {
      const alice = await emulator('/users/alice');
      level = alice.devices.find((d) => d.id === MACBOOK)?.volume_percent;
      if (level === want) break;
      await new Promise((r) => { setTimeout(r, 100); });
    }
    assert.equal(level, want);
    assert.equal(await volume.getAttribute('aria-valuetext'), `${want}%`);
    assert.equal(await focusedTestId(page), 'control-volume');
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...carol.problems], []);
  });
});
