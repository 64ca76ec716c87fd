// The pages' other states in real Chromium against the real `sesh` (demo mode): a broken invite,
// a session page when logged out or for an unknown session, and a host whose Spotify account
// has a restricted device.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SeshServer } from '../lib/server.js';
import { join } from 'node:path';
import { DESKTOP, PHONE, SMALL_PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { focusedTestId, looseText, pickUser, waitUntilIdle } from '../lib/pages.js';

const tid = (id) => `[data-testid="${id}"]`;

describe('error and edge states of the pages', { timeout: 120_000 }, () => {
  const server = new SeshServer('pages');
  let browser;
  let visitor;
  let bob;

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    visitor = await newPerson(browser, 'visitor', PHONE);
    bob = await newPerson(browser, 'bob', DESKTOP);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(ensureArtifactsDir(), 'logs'));
  });

  it('explains a broken invite link', async () => {
    const { page } = visitor;
    await page.goto(`${server.url}/j/this-is-not-a-code`);
    const error = page.locator(tid('join-error'));
    await error.waitFor();
    assert.equal(await error.getAttribute('data-code'), 'invite_not_found');
    await page.getByText('This invite link does not work').waitFor();
    // The card has no login button here; the missing one once left a literal "null" behind.
    assert.deepEqual(await looseText(page, 'join-root'), []);
    assert.doesNotMatch(await page.locator(tid('join-root')).textContent(), /null/);
    assert.deepEqual(await axeViolations(page), []);
  });

  it('answers an unknown address with a page in the app’s style', async () => {
    const { page } = visitor;
    const response = await page.goto(`${server.url}/nope`);
    assert.equal(response.status(), 404);
    const panel = page.locator(tid('not-found'));
    await panel.waitFor();
    assert.equal(await page.title(), 'Page not found — Sesh');
    assert.equal((await page.getByRole('heading', { level: 1 }).textContent()).trim(), 'Page not found');
    // The way out is a real link, first after the skip link and the brand.
    const home = page.getByRole('link', { name: 'Go to the start page' });
    assert.equal(await home.getAttribute('href'), '/');
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(ensureArtifactsDir(), 'not-found-phone.png') });
    const small = await newPerson(browser, 'small', SMALL_PHONE);
    try {
      await small.page.goto(`${server.url}/assets/nope.js`);
      await small.page.locator(tid('not-found')).waitFor();
      const overflow = await small.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
      await small.page.screenshot({ path: join(ensureArtifactsDir(), 'not-found-320.png') });
      assert.deepEqual(small.problems, []);
    } finally {
      await small.context.close();
    }
    // API addresses stay JSON, even in a browser.
    const api = await page.goto(`${server.url}/api/nope`);
    assert.equal(api.status(), 404);
    assert.equal((await api.json()).error.code, 'not_found');
  });

  it('offers to log in on a session page when logged out', async () => {
    const { page } = visitor;
    const path = `/s/${randomUUID()}`;
    await page.goto(server.url + path);
    await page.locator(`${tid('state-panel')}[data-code="unauthorized"]`).waitFor();
    const login = page.locator(tid('login'));
    assert.equal(await login.getAttribute('href'), `/auth/login?next=${encodeURIComponent(path)}`);
    assert.equal(await page.locator(tid('session-view')).isVisible(), false);
    assert.deepEqual(await axeViolations(page), []);
  });

  it('says so when a session does not exist', async () => {
    const { page } = bob;
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await page.waitForURL((url) => url.origin === server.emulatorUrl);
    await page.getByRole('button', { name: /^Bob\b/ }).click();
    await page.waitForURL(`${server.url}/`);
    await page.goto(`${server.url}/s/${randomUUID()}`);
    const panel = page.locator(tid('state-panel'));
    await panel.waitFor();
    assert.equal(await panel.getAttribute('data-code'), 'session_not_found');
    await page.getByText('Session not found').waitFor();
  });

  it('lists the host’s devices with restricted ones disabled and explained', async () => {
    const { page } = bob;
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Start a session' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    await page.locator(tid('device-option')).first().waitFor();
    const restricted = page.locator(`${tid('device-option')}[data-restricted="true"]`);
    assert.ok(await restricted.count() >= 1, 'bob has a restricted device in the emulator');
    assert.equal(await restricted.first().locator('input').isDisabled(), true);
    assert.match(await restricted.first().textContent(), /does not allow remote control/);
    const usable = page.locator(`${tid('device-option')}[data-restricted="false"] input`);
    assert.ok(await usable.count() >= 1);
    // Keyboard: the device radios and Start are reachable and Start works from the keyboard.
    await usable.first().focus();
    await page.keyboard.press('Space');
    assert.equal(await usable.first().isChecked(), true);
    assert.equal(await page.locator(tid('start-button')).isEnabled(), true);
    assert.deepEqual(await axeViolations(page), []);
    // The landing page now lists the live session.
    await page.goto(server.url);
    await page.locator(tid('my-session')).first().waitFor();
    assert.match(await page.locator(tid('my-session')).first().textContent(), /Your session/);
  });

  it('tells a host without Premium why Start fails', async () => {
    const dave = await newPerson(browser, 'dave', PHONE);
    try {
      const { page } = dave;
      await page.goto(server.url);
      await page.getByRole('link', { name: 'Log in with Spotify' }).click();
      await page.waitForURL((url) => url.origin === server.emulatorUrl);
      await page.getByRole('button', { name: /^Dave\b/ }).click();
      await page.waitForURL(`${server.url}/`);
      // The create flow says it plainly before anything is created, next to Start a session.
      const note = page.locator(tid('premium-note'));
      assert.equal(await note.isVisible(), true);
      assert.match(await note.textContent(), /To play music, the host needs Spotify Premium\./);
      assert.match(await note.textContent(), /Guests can join with a free account/);
      assert.deepEqual(await axeViolations(page), []);
      await page.screenshot({ path: join(ensureArtifactsDir(), 'premium-note-phone.png') });
      await page.setViewportSize(SMALL_PHONE.viewport);
      await page.screenshot({ path: join(ensureArtifactsDir(), 'premium-note-320.png') });
      await page.setViewportSize(PHONE.viewport);
      await page.getByRole('button', { name: 'Start a session' }).click();
      await page.waitForURL(/\/s\/[^/]+$/);
      await page.locator(`${tid('device-option')}[data-restricted="false"]`).first().click();
      // From the keyboard: the focus stays on Start while it is refused.
      await page.getByRole('button', { name: 'Start' }).focus();
      await page.keyboard.press('Enter');
      const notice = page.locator(`${tid('notice')}[data-code="premium_required"]`);
      await notice.waitFor();
      assert.equal((await notice.locator(tid('notice-title')).textContent()).trim(), 'Playback control needs Spotify Premium');
      // What to do about it: hand the session to a friend with Premium.
      const advice = await notice.locator(tid('notice-message')).textContent();
      assert.match(advice, /plays from the host’s account/);
      assert.match(advice, /Hand the session to a friend with Premium: “Make host” next to their name/);
      await waitUntilIdle(page, 'start-button');
      assert.equal(await focusedTestId(page), 'start-button');
      await page.screenshot({ path: join(ensureArtifactsDir(), 'premium-required-phone.png') });
      await notice.getByRole('button', { name: 'Dismiss message' }).click();

      // Erin (Premium) joins; Dave makes her the host, and she starts the music.
      const erin = await newPerson(browser, 'erin', PHONE);
      try {
        await erin.page.goto(await page.locator(tid('invite-link')).inputValue());
        await erin.page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
        await pickUser(erin.page, server, 'erin');
        await erin.page.waitForURL(page.url());
        const handOver = page.getByRole('button', { name: 'Make host: Erin Eriksson' });
        await handOver.waitFor();
        await page.setViewportSize(SMALL_PHONE.viewport);
        const row = page.locator(`${tid('member')}[data-user-id="erin"]`);
        const overflow = await row.evaluate((el) => el.scrollWidth - el.clientWidth);
        assert.ok(overflow <= 0, `the member row overflows by ${overflow}px at 320 px`);
        assert.deepEqual(await axeViolations(page), []);
        await row.scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(ensureArtifactsDir(), 'hand-over-320.png') });
        await page.setViewportSize(PHONE.viewport);
        await handOver.click();
        await page.locator(tid('confirm-ok')).click();
        await page.locator(`${tid('member')}[data-user-id="erin"][data-role="host"]`).waitFor();
        assert.equal(await page.getByRole('button', { name: /^Make host:/ }).count(), 0, 'dave hosts no more');
        await erin.page.locator(`${tid('device-option')}[data-restricted="false"]`).first().click();
        await erin.page.getByRole('button', { name: 'Start' }).click();
        await page.waitForFunction(() => (document.querySelector('[data-testid="np-title"]')?.textContent ?? '').trim().length > 0);
        assert.deepEqual(erin.problems, []);
      } finally {
        await erin.context.close();
      }
      assert.deepEqual(dave.problems, []);
    } finally {
      await dave.context.close();
    }
  });

  it('loads the start and join pages logged out without a failed request', async () => {
    // An invite to join: the session bob started above.
    const code = await bob.page.evaluate(async () => {
      const headers = { Accept: 'application/json' };
      const [mine] = await (await fetch('/api/me/sessions', { headers })).json();
      return (await (await fetch(`/api/sessions/${mine.id}`, { headers })).json()).invite_code;
    });
    assert.ok(code, 'bob has a session with an invite');
    const stranger = await newPerson(browser, 'stranger', PHONE);
    const failures = [];
    stranger.page.on('console', (msg) => { if (msg.type() === 'error') failures.push(`console: ${msg.text()}`); });
    stranger.page.on('response', (r) => { if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`); });
    stranger.page.on('requestfailed', (r) => failures.push(`failed ${r.url()}`));
    try {
      const { page } = stranger;
      await page.goto(server.url);
      await page.getByRole('link', { name: 'Log in with Spotify' }).waitFor();
      await page.goto(`${server.url}/j/${code}`);
      await page.locator(tid('join-login')).waitFor();
      await page.locator(tid('join-host')).waitFor();
      assert.deepEqual(failures, []);
      assert.deepEqual(stranger.problems, []);
    } finally {
      await stranger.context.close();
    }
  });

  // Last: Spotify's 429 blocks the devices endpoint for the whole app (as Spotify counts per app).
  it('counts a Spotify rate limit down', async () => {
    const { page } = bob;
    const armed = await fetch(`${server.emulatorUrl}/_emulator/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'GET', path: '/v1/me/player/devices', status: 429, retry_after: 30 }),
    });
    assert.ok(armed.ok, `arming the fault: ${armed.status}`);
    // Back on the session page the device list is asked for and refused.
    await page.goBack();
    await page.locator(tid('devices-failed')).waitFor();
    const notice = page.locator(`${tid('notice')}[data-code="rate_limited"]`);
    await notice.waitFor();
    assert.match(await notice.textContent(), /Spotify asked us to slow down/);
    const first = await notice.locator(tid('notice-message')).textContent();
    assert.match(first, /Try again in \d+ seconds/);
    await page.waitForFunction((old) => {
      const text = document.querySelector('[data-testid="notice"][data-code="rate_limited"] [data-testid="notice-message"]')?.textContent;
      return text && text !== old && /Try again in \d+ seconds/.test(text);
    }, first);
  });

  it('had no uncaught errors or CSP violations', () => {
    assert.deepEqual([...visitor.problems, ...bob.problems], []);
  });
});
