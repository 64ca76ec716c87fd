// Displays (issue 18) in real Chromium against the real `sesh` (demo mode): host alice
// (desktop, later 390×844) and guest carol (phone) listen; a TV (1920×1080, never logged in)
// and an OBS overlay (1280×720) show the session through a display link. Alice creates the
// link in the Displays panel (carol sees no panel, and the API refuses her) and copies its TV
// link from the keyboard. The TV shows what carol's page shows (title, artists, up next with
// who brought it, the member count, the join QR code) with a moving progress bar, no
// scrollbar and no cursor; it follows a skip within seconds, a new invite link (its QR code
// fetched again) and a new name of the session. The overlay's page is transparent and its options place and hide what
// they say. axe checks the TV, the overlay and alice's page with the panel. The server is
// killed (the TV says "Reconnecting…" in a corner) and started again: the TV's stream comes
// back by itself with a fresh snapshot. Revoking the link in the panel turns the TV into
// "revoked" and the overlay invisible; a second link's TV says "This session has ended" when
// alice ends the session.
// Screenshots `tv-*.png`, `overlay*.png`, `displays-panel-*.png`.

import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  focusedTestId, guestJoins, hostStartsSession, overflowingRows, startTheMusic, tid, title, waitForConnection, waitForMembers,
  waitForTitle,
} from '../lib/pages.js';

/** Alice's MacBook in the emulator (crates/spotify-emulator/README.md). */
const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';
const TV = { viewport: { width: 1920, height: 1080 } };
const OBS = { viewport: { width: 1280, height: 720 } };

/** The alpha of the top-left pixel of an 8-bit RGBA PNG (the first pixel needs no unfiltering). */
function cornerAlpha(png) {
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.equal(png[24], 8, 'bit depth');
  assert.equal(png[25], 6, 'an RGBA image (it has an alpha channel)');
  const idat = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  // raw[0] is the first row's filter byte; every filter predicts 0 for the first pixel.
  return raw[4];
}

describe('displays: the TV screen and the stream overlay (issue 18)', { timeout: 300_000 }, () => {
  const server = new SeshServer('displays');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let carol;
  let tv;
  let obs;
  let session;
  /** The display link alice creates in the panel, as the server answered it. */
  let display;

  const shot = (page, name, options = {}) => page.screenshot({ path: join(artifacts, name), ...options });
  const tvText = (id) => tv.page.locator(tid(id)).textContent();
  const apiPath = () => `/api/sessions/${session.sessionId}/displays`;
  /** The host page's queue titles after the entry playing now. */
  const upcomingOnHostPage = () => host.page.evaluate(() => {
    const items = [...document.querySelectorAll('[data-testid="queue-item"]')];
    const current = items.findIndex((li) => li.getAttribute('aria-current') === 'true');
    return items.slice(current + 1).map((li) => li.querySelector('[data-testid="queue-title"]').firstChild.textContent.trim());
  });
  /** Waits until the TV shows `want` as the title. */
  const tvShows = (want, timeout = 5_000) => tv.page.waitForFunction(
    (t) => document.querySelector('[data-testid="tv-title"]')?.textContent === t, want, { timeout },
  );

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    carol = await newPerson(browser, 'carol', PHONE);
    session = await hostStartsSession(server, host);
    await guestJoins(server, carol, 'carol', session);
    for (const person of [host, carol]) await waitForMembers(person, ['alice', 'carol']);
    await startTheMusic(host, [host, carol], MACBOOK);
    await host.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    tv = await newPerson(browser, 'tv', TV);
    obs = await newPerson(browser, 'obs', OBS);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('lets the host, and only the host, create a display link in the Displays panel', async () => {
    const { page } = host;
    const panel = page.locator(tid('displays-panel'));
    await panel.waitFor();
    await panel.locator(tid('displays-empty')).waitFor();
    assert.equal(await carol.page.locator(tid('displays-panel')).isVisible(), false, 'a guest sees the panel');
    const refused = await carol.page.evaluate(async (path) => (await fetch(path)).status, apiPath());
    assert.equal(refused, 403, 'a guest may list the display links');

    await page.getByLabel(/^Name of the new display/).fill('Living room TV');
    await page.getByLabel('Show the join QR code').check();
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === apiPath());
    await page.getByRole('button', { name: 'Create display link' }).click();
    const response = await answer;
    assert.equal(response.status(), 201);
    display = await response.json();
    assert.match(display.key, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(display.label, 'Living room TV');
    assert.equal(display.show_join, true);
    assert.equal(display.tv_url, `${server.url}/tv/${display.key}`);
    assert.equal(display.overlay_url, `${server.url}/overlay/${display.key}`);

    const item = panel.locator(`${tid('display-item')}[data-key="${display.key}"]`);
    await item.waitFor();
    assert.equal(await item.locator(tid('display-name')).textContent(), 'Living room TV');
    assert.equal(await item.locator(tid('display-tv-url')).inputValue(), display.tv_url);
    assert.equal(await item.locator(tid('display-overlay-url')).inputValue(), display.overlay_url);
    assert.equal(await item.locator(tid('display-join-badge')).isVisible(), true);
    assert.equal(await item.locator(tid('display-streams')).textContent(), 'Not open');
    await panel.locator(`${tid('displays-status')}:has-text("Living room TV")`).waitFor();
    assert.equal(await page.getByLabel(/^Name of the new display/).inputValue(), '', 'the name field was not cleared');
  });

  it('copies the TV link from the keyboard, the focus kept', async () => {
    const { page } = host;
    const copy = page.getByRole('button', { name: 'Copy the TV link of Living room TV' });
    await copy.focus();
    await page.keyboard.press('Enter');
    await copy.locator(`${tid('copy-label')}:has-text("Copied")`).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), display.tv_url);
    assert.equal(await focusedTestId(page), 'copy-tv-url');
  });

  it('shows on the TV what the members see, with a live progress bar, no scrollbar and no cursor', async () => {
    const { page } = tv;
    await page.goto(display.tv_url);
    await page.locator(`${tid('tv-screen')}[data-state="live"]`).waitFor();
    const playing = await title(carol.page);
    await tvShows(playing);
    assert.equal(await tvText('tv-artists'), await carol.page.locator(tid('np-artists')).textContent());
    assert.equal(await page.title(), `${(await tvText('tv-session-name'))} — Sesh TV`);
    assert.match(await tvText('tv-member-count'), /^2 people/);

    // Up next: the host's queue after the playing entry, each with who brought it.
    const shown = await page.locator(`${tid('tv-entry')}:visible`).count();
    assert.ok(shown >= 3 && shown <= 10, `${shown} rows of up next`);
    const titles = (await page.locator(`${tid('tv-entry')}:visible ${tid('tv-entry-title')}`).allTextContents());
    assert.deepEqual(titles, (await upcomingOnHostPage()).slice(0, shown));
    for (const by of await page.locator(`${tid('tv-entry')}:visible ${tid('tv-entry-by')}`).allTextContents()) {
      assert.match(by, /brought by (Alice|Carol)/);
    }

    // The join QR code and the link under it (the key was made with show_join).
    await page.locator(tid('tv-join')).waitFor();
    assert.equal(await tvText('tv-join-url'), session.inviteUrl.replace(/^https?:\/\//, ''));
    const qr = page.locator(tid('tv-qr'));
    assert.match(await qr.getAttribute('src'), new RegExp(`^/d/${display.key}/join-qr\\.svg\\?v=\\d+`));
    await page.waitForFunction(() => document.querySelector('[data-testid="tv-qr"]').naturalWidth > 0);

    // The bar moves between the server's updates.
    const fill = () => page.locator(tid('tv-progress-fill')).evaluate((el) => el.style.transform);
    const elapsed = await tvText('tv-elapsed');
    const before = await fill();
    await page.waitForFunction((old) => document.querySelector('[data-testid="tv-elapsed"]').textContent !== old, elapsed);
    assert.notEqual(await fill(), before);
    assert.equal(await tvText('tv-duration'), await carol.page.locator(tid('np-duration')).textContent());

    const layout = await page.evaluate(() => ({
      scrollHeight: document.documentElement.scrollHeight, scrollWidth: document.documentElement.scrollWidth,
      innerHeight, innerWidth,
      cursor: [document.body, document.querySelector('[data-testid="tv-title"]')].map((el) => getComputedStyle(el).cursor),
    }));
    assert.ok(layout.scrollHeight <= layout.innerHeight, `scrolls: ${layout.scrollHeight} > ${layout.innerHeight}`);
    assert.ok(layout.scrollWidth <= layout.innerWidth, `scrolls sideways: ${layout.scrollWidth} > ${layout.innerWidth}`);
    assert.deepEqual(layout.cursor, ['none', 'none']);
    assert.equal(await page.locator(tid('tv-reconnecting')).isVisible(), false);
    await shot(page, 'tv-before-skip.png');
  });

  it('counts the open screens in the panel', async () => {
    const listed = await host.page.evaluate(async (path) => (await (await fetch(path)).json()).displays, apiPath());
    assert.deepEqual(listed.map((d) => [d.key, d.open_streams]), [[display.key, 1]], 'the TV’s stream is not counted');
    // The panel asks again every 15 s.
    const streams = host.page.locator(`${tid('display-item')}[data-key="${display.key}"] ${tid('display-streams')}`);
    await streams.filter({ hasText: /^Open on 1 screen$/ }).waitFor({ timeout: 20_000 });
  });

  it('follows a skip within a few seconds', async () => {
    const before = await tvText('tv-title');
    await host.page.locator(tid('control-next')).click();
    const next = await waitForTitle(carol, before);
    await tvShows(next, 5_000);
    // Track changes (and only those) are announced.
    await tv.page.locator(`${tid('tv-announcer')}:has-text("Now playing: ${next} by")`).waitFor();
    await shot(tv.page, 'tv-after-skip.png');
  });

  it('shows the new join link and QR code when the host makes a new invite link', async () => {
    const qr = tv.page.locator(tid('tv-qr'));
    const oldSrc = await qr.getAttribute('src');
    await host.page.locator(tid('rotate-invite')).click();
    await host.page.locator(tid('confirm-ok')).click();
    await host.page.waitForFunction((old) => document.querySelector('[data-testid="invite-link"]').value !== old, session.inviteUrl);
    const invite = await host.page.locator(tid('invite-link')).inputValue();
    await tv.page.waitForFunction((want) => document.querySelector('[data-testid="tv-join-url"]').textContent === want,
      invite.replace(/^https?:\/\//, ''), { timeout: 5_000 });
    const newSrc = await qr.getAttribute('src');
    assert.notEqual(newSrc, oldSrc, 'the QR code was not fetched again');
    assert.match(newSrc, new RegExp(`^/d/${display.key}/join-qr\\.svg\\?v=`));
    await tv.page.waitForFunction(() => document.querySelector('[data-testid="tv-qr"]').complete
      && document.querySelector('[data-testid="tv-qr"]').naturalWidth > 0);
    session.inviteUrl = invite;
  });

  it('shows the session’s new name when the host names it', async () => {
    await host.page.locator(tid('name-input')).fill('Friday night');
    await host.page.locator(tid('name-save')).click();
    await tv.page.waitForFunction(() => document.querySelector('[data-testid="tv-session-name"]').textContent === 'Friday night',
      null, { timeout: 5_000 });
    assert.equal(await tv.page.title(), 'Friday night — Sesh TV');
  });

  it('shows the overlay on a transparent page, where its options say', async () => {
    const { page } = obs;
    await page.goto(display.overlay_url);
    const root = page.locator(tid('overlay'));
    await page.locator(`${tid('overlay')}[data-visible="true"]`).waitFor();
    assert.equal(await page.locator(tid('overlay-title')).textContent(), await title(carol.page));
    const backgrounds = await page.evaluate(() => [document.documentElement, document.body].map((el) => getComputedStyle(el).backgroundColor));
    assert.deepEqual(backgrounds, ['rgba(0, 0, 0, 0)', 'rgba(0, 0, 0, 0)']);
    assert.deepEqual(await root.evaluate((el) => ({ ...el.dataset })), {
      testid: 'overlay', size: 'm', position: 'bottom-left', theme: 'dark', progress: 'true', visible: 'true',
      status: 'playing', snapshots: '1', connection: 'live',
    });
    // Wait for the card's fade-in to end before the picture.
    await page.waitForFunction(() => getComputedStyle(document.querySelector('[data-testid="overlay-card"]')).opacity === '1');
    const path = join(artifacts, 'overlay.png');
    await page.screenshot({ path, omitBackground: true });
    assert.equal(cornerAlpha(readFileSync(path)), 0, 'the page paints a background');
    const card = await page.locator(tid('overlay-card')).boundingBox();
    assert.ok(card.x < 40 && card.y + card.height > 720 - 40, `the card is not bottom-left: ${JSON.stringify(card)}`);
    assert.deepEqual(await axeViolations(page), []);

    await page.goto(`${display.overlay_url}?size=l&position=top-right&theme=light&progress=0`);
    await page.locator(`${tid('overlay')}[data-visible="true"]`).waitFor();
    await page.waitForFunction(() => getComputedStyle(document.querySelector('[data-testid="overlay-card"]')).opacity === '1');
    const big = await page.locator(tid('overlay-card')).boundingBox();
    assert.ok(big.x + big.width > 1280 - 40 && big.y < 40, `the card is not top-right: ${JSON.stringify(big)}`);
    assert.ok(big.height > card.height, 'size=l is not larger');
    assert.equal(await page.locator(tid('overlay-progress')).isVisible(), false, 'progress=0 shows the bar');
    await shot(page, 'overlay-large-light.png', { omitBackground: true });
  });

  it('passes axe on the TV and on the host’s page with the panel', async () => {
    assert.deepEqual(await axeViolations(tv.page), []);
    const panel = host.page.locator(tid('displays-panel'));
    await panel.scrollIntoViewIfNeeded();
    assert.deepEqual(await axeViolations(host.page), []);
    await panel.screenshot({ path: join(artifacts, 'displays-panel-desktop.png') });
  });

  it('fits the panel on a phone', async () => {
    const { page } = host;
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const panel = page.locator(tid('displays-panel'));
      await panel.scrollIntoViewIfNeeded();
      assert.deepEqual(await overflowingRows(page, 'display-list', 'display-item'), []);
      const wide = await panel.evaluate((el) => [...el.querySelectorAll('*')]
        .filter((child) => child.getBoundingClientRect().right > el.getBoundingClientRect().right + 0.5 && !child.closest('.visually-hidden'))
        .map((child) => child.dataset.testid ?? child.className));
      assert.deepEqual(wide, [], 'something sticks out of the panel');
      await panel.screenshot({ path: join(artifacts, 'displays-panel-phone.png') });
    } finally {
      await page.setViewportSize(DESKTOP.viewport);
    }
  });

  it('reconnects the TV by itself after the server restarts, saying so only in a corner', async () => {
    const { page } = tv;
    const snapshots = Number(await page.locator(tid('tv-screen')).getAttribute('data-snapshots'));
    await server.kill();
    // A few seconds without the server: a small hint, the screen otherwise as it was.
    await page.locator(tid('tv-reconnecting')).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator(tid('tv-screen')).getAttribute('data-state'), 'live');
    assert.equal(await page.locator(tid('tv-title')).isVisible(), true);
    await shot(page, 'tv-reconnecting.png');
    await server.start();
    // A restarted server has no replay ring: the stream starts over with a snapshot.
    await page.waitForFunction((n) => {
      const screen = document.querySelector('[data-testid="tv-screen"]');
      return Number(screen.dataset.snapshots) > n && screen.dataset.connection === 'live';
    }, snapshots, { timeout: 30_000 });
    await waitForConnection(carol, 'live', 60_000);
    await tvShows(await waitForTitle(carol), 10_000);
    assert.equal(await page.locator(tid('tv-screen')).getAttribute('data-state'), 'live');
    await page.locator(tid('tv-reconnecting')).waitFor({ state: 'hidden', timeout: 5_000 });
    await shot(page, 'tv-after-restart.png');
  });

  it('turns the TV into “revoked” when the host revokes the link in the panel', async () => {
    const { page } = host;
    const item = page.locator(`${tid('display-item')}[data-key="${display.key}"]`);
    await item.getByRole('button', { name: 'Revoke Living room TV' }).click();
    const dialog = page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Revoke “Living room TV”\?/);
    const answer = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await dialog.locator(tid('confirm-ok')).click();
    assert.equal((await answer).status(), 204);
    await item.waitFor({ state: 'detached' });
    assert.equal(await focusedTestId(page), 'display-label', 'the focus was lost with the row');

    await tv.page.locator(`${tid('tv-screen')}[data-state="revoked"]`).waitFor({ timeout: 15_000 });
    assert.equal(await tvText('tv-message-title'), 'This display link was revoked or is invalid');
    assert.equal(await tv.page.locator(tid('tv-title')).isVisible(), false);
    await obs.page.locator(`${tid('overlay')}[data-connection="revoked"][data-visible="false"]`).waitFor({ timeout: 15_000 });
    const after = await tv.page.evaluate(async (key) => {
      const res = await fetch(`/d/${key}/nowplaying.json`);
      return { status: res.status, code: (await res.json())?.error?.code };
    }, display.key);
    assert.deepEqual(after, { status: 403, code: 'display_key_invalid' });
    await shot(tv.page, 'tv-revoked.png');
  });

  it('says “This session has ended” on the TV when the host ends the session', async () => {
    const second = await host.page.evaluate(async (path) => {
      const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"label":"Kitchen"}' });
      return { status: res.status, body: await res.json() };
    }, apiPath());
    assert.equal(second.status, 201);
    assert.equal(second.body.show_join, false);
    const { page } = tv;
    await page.goto(second.body.tv_url);
    await page.locator(`${tid('tv-screen')}[data-state="live"]`).waitFor();
    assert.equal(await page.locator(tid('tv-join')).isVisible(), false, 'a key without show_join shows the QR code');
    await host.page.getByRole('button', { name: 'End session' }).click();
    await host.page.locator(tid('confirm-ok')).click();
    await page.locator(`${tid('tv-screen')}[data-state="ended"]`).waitFor({ timeout: 10_000 });
    assert.equal(await tvText('tv-message-title'), 'This session has ended');
    assert.equal(await page.locator(tid('tv-screen')).getAttribute('data-connection'), 'ended');
    await host.page.locator(tid('displays-panel')).waitFor({ state: 'hidden' });
    await shot(page, 'tv-ended.png');
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...host.problems, ...carol.problems, ...tv.problems, ...obs.problems], []);
  });
});
