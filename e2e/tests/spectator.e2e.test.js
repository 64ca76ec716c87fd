// Seats and spectators, in real Chromium against the real `sesh` (demo mode), everyone on a phone
// (390×844). Alice logs in first (the owner of this Sesh) and hosts. Sam opens the invite link
// without any Spotify login, reads how many Spotify seats are left, and joins as a spectator with
// one click: his page shows the "Spectator" note, alice's member list the badge; when alice starts
// the music he sees the track, chats, votes (the spectators' switch is on by default) and gets
// the search box only once alice turns "Spectators add tracks" on. Then the emulator's app goes
// into Spotify's development mode with only alice allow-listed: bob's login comes back to the
// join page with `?login=not_registered`, which explains the allow-list and joins him as a
// spectator in one click. Last, alice's start page lists the seats in use (carol's too), and
// she frees carol's after a confirmation. axe checks every page; screenshots `spectator-*.png`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import {
  hostStartsSession, pickUser, startTheMusic, tid, waitForConnection, waitForTitle,
} from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';
/** The demo's Spotify app (crates/gateway/src/demo.rs). */
const DEMO_APP = 'sesh-demo';

describe('spectators', { timeout: 240_000 }, () => {
  const server = new SeshServer('spectator');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let sam;
  let bob;
  let session;
  const shot = (person, name, fullPage = true) => person.page.screenshot({ path: join(artifacts, `spectator-${name}.png`), fullPage });

  async function devMode(body) {
    const res = await fetch(`${server.emulatorUrl}/_emulator/apps/${DEMO_APP}/dev-mode`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', PHONE);
    sam = await newPerson(browser, 'sam', PHONE);
    bob = await newPerson(browser, 'bob', PHONE);
    session = await hostStartsSession(server, host);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('offers a logged-out visitor the seats left and "Join as spectator"', async () => {
    const { page } = sam;
    await page.goto(session.inviteUrl);
    const login = page.getByRole('link', { name: 'Log in with Spotify to join' });
    await login.waitFor();
    // Alice holds one of the five seats.
    assert.equal((await page.locator(tid('seats-left')).textContent()).trim(), '4 of 5 Spotify seats left');
    assert.equal(await login.getAttribute('aria-describedby'), 'seats-left');
    const name = page.getByLabel('Your name in the session');
    assert.match(await name.inputValue(), /^Guest [1-9]\d{3}$/);
    assert.ok(await page.getByRole('button', { name: 'Join as spectator' }).isVisible());
    assert.deepEqual(await axeViolations(page), []);
    await shot(sam, 'join-phone');

    // An empty name is refused on the page, with the reason, and the focus stays in the field.
    await name.fill('   ');
    await page.getByRole('button', { name: 'Join as spectator' }).click();
    await page.locator(tid('spectator-error'), { hasText: 'Type a name' }).waitFor();
    assert.equal(await name.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'spectator-name');
  });

  it('joins sam as a spectator with one click, no Spotify login', async () => {
    const { page } = sam;
    await page.getByLabel('Your name in the session').fill('Sam Spectator');
    await page.getByRole('button', { name: 'Join as spectator' }).click();
    await page.waitForURL(session.sessionUrl);
    await waitForConnection(sam, 'live');
    const note = page.locator(tid('spectator-note'));
    await note.waitFor();
    assert.equal((await note.textContent()).trim(), 'You’re watching as a spectator — no Spotify account needed');
    // The host's list shows him with the badge, and no "Make host" / "Make co-host" for him.
    const row = host.page.locator(tid('member'), { hasText: 'Sam Spectator' });
    await row.locator(tid('spectator-badge')).waitFor();
    assert.equal(await row.getAttribute('data-role'), 'spectator');
    assert.equal(await row.locator(tid('hand-over')).count(), 0);
    assert.equal(await row.locator(tid('make-co-host')).count(), 0);
    assert.equal(await row.locator(tid('kick')).count(), 1, 'the host can still remove him');
    // His own list shows the badge too.
    await page.locator(`${tid('member')}[data-role="spectator"] ${tid('spectator-badge')}`).waitFor();
  });

  it('shows sam the live state and lets him chat and vote, not steer', async () => {
    const track = await startTheMusic(host, [host, sam], MACBOOK);
    assert.equal(await waitForTitle(sam, null), track);
    const { page } = sam;
    assert.equal(await page.locator(tid('player-controls')).isVisible(), false);
    assert.equal(await page.locator(tid('device-panel')).isVisible(), false);
    assert.equal(await page.locator(tid('takeover-panel')).isVisible(), false);
    assert.equal(await page.locator(tid('listen-panel')).isVisible(), false, 'no listening along without Spotify');
    assert.equal(await page.locator(tid('search-panel')).isVisible(), false, 'spectators add only with their switch');
    await page.locator(tid('vote-up')).first().waitFor();

    const input = page.getByLabel('Message', { exact: true });
    await input.fill('Hello from the stands');
    await input.press('Enter');
    await host.page.locator(tid('chat-text'), { hasText: 'Hello from the stands' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await shot(sam, 'session-phone');
  });

  it('lets the host switch the spectators\' votes and adds', async () => {
    const add = host.page.getByRole('switch', { name: 'Spectators add tracks' });
    const vote = host.page.getByRole('switch', { name: 'Spectators vote' });
    assert.equal(await add.isChecked(), false);
    assert.equal(await vote.isChecked(), true);
    await add.focus();
    await host.page.keyboard.press('Space');
    await host.page.locator(tid('guest-controls-status'), { hasText: 'Spectators add tracks: on.' }).waitFor();
    await sam.page.locator(tid('search-panel')).waitFor();
    await vote.focus();
    await host.page.keyboard.press('Space');
    await sam.page.waitForFunction(() => document.querySelectorAll('[data-testid="vote-up"]').length === 0);
    assert.deepEqual(await axeViolations(host.page), []);
    await host.page.locator(tid('guest-controls-panel')).screenshot({ path: join(artifacts, 'spectator-guest-controls-phone.png') });
  });

  it('explains "not registered" after a login Spotify refused, and joins as a spectator in one click', async () => {
    await devMode({ enabled: true, users: ['alice'] });
    try {
      const { page } = bob;
      await page.goto(session.inviteUrl);
      await page.getByRole('link', { name: 'Log in with Spotify to join' }).click();
      await pickUser(page, server, 'bob');
      assert.match(page.url(), /\/j\/[^/?]+\?login=not_registered$/);
      const title = page.locator(tid('login-outcome-title'));
      await title.waitFor();
      assert.equal((await title.textContent()).trim(), 'Your Spotify account is not on this Sesh’s list yet');
      assert.match(await page.locator(tid('login-outcome-text')).textContent(), /User Management/);
      // Nothing was stored: still logged out, and the seats are as they were.
      assert.equal(await page.locator(tid('user-menu')).isVisible(), false);
      assert.equal((await page.locator(tid('seats-left')).textContent()).trim(), '4 of 5 Spotify seats left');
      assert.match(await page.getByLabel('Your name in the session').inputValue(), /^Guest [1-9]\d{3}$/);
      assert.deepEqual(await axeViolations(page), []);
      await shot(bob, 'not-registered-phone');

      await page.getByRole('button', { name: 'Join as spectator' }).click();
      await page.waitForURL(session.sessionUrl);
      await waitForConnection(bob, 'live');
      await page.locator(tid('spectator-note')).waitFor();
      await waitForTitle(bob, null);
    } finally {
      await devMode({ enabled: false });
    }
  });

  it('shows the owner the seats in use, and frees one after asking', async () => {
    const carol = await newPerson(browser, 'carol', PHONE);
    await carol.page.goto(server.url);
    await carol.page.getByRole('link', { name: 'Log in with Spotify' }).click();
    await pickUser(carol.page, server, 'carol');
    await carol.page.getByRole('button', { name: 'Start a session' }).waitFor();
    assert.equal(await carol.page.locator(tid('seats-panel')).isVisible(), false, 'only the owner sees the seats');

    const { page } = host;
    await page.goto(server.url);
    const panel = page.locator(tid('seats-panel'));
    await panel.waitFor();
    assert.equal((await page.locator(tid('seats-title')).textContent()).trim(), 'Spotify seats: 2/5 used');
    assert.match(await page.locator(tid('seats-explain')).textContent(), /User Management/);
    const names = await page.locator(tid('seat-name')).allTextContents();
    assert.equal(names.length, 2);
    assert.ok(names.some((n) => n.startsWith('Alice')) && names.some((n) => n.startsWith('Carol')), names.join(', '));
    const carolRow = page.locator(`${tid('seat')}[data-user-id="carol"]`);
    assert.match(await carolRow.locator(tid('seat-seen')).textContent(), /^seen (just now|1 minute ago)$/);
    assert.equal(await page.locator(`${tid('seat')}[data-user-id="alice"] ${tid('free-seat')}`).count(), 0, 'not the owner\'s own');
    assert.deepEqual(await axeViolations(page), []);
    await panel.scrollIntoViewIfNeeded();
    await shot(host, 'seats-owner-phone');

    const free = carolRow.getByRole('button', { name: /^Free seat: Carol/ });
    await free.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator(tid('confirm-dialog'));
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Free Carol.*seat\?/);
    await page.locator(tid('confirm-ok')).click();
    await page.locator(tid('seats-status'), { hasText: 'seat is free' }).waitFor();
    assert.equal((await page.locator(tid('seats-title')).textContent()).trim(), 'Spotify seats: 1/5 used');
    assert.equal(await carolRow.count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset?.testid), 'seats-title', 'the focus is not lost');
    await shot(host, 'seats-freed-phone');
    // Carol's login in Sesh is gone.
    await carol.page.reload();
    await carol.page.getByRole('link', { name: 'Log in with Spotify' }).waitFor();
    assert.deepEqual([...host.problems, ...sam.problems, ...bob.problems, ...carol.problems], []);
  });
});

describe('spectators when every seat is taken', { timeout: 120_000 }, () => {
  const server = new SeshServer('spectator-full', { SESH_SPOTIFY_SEATS: '1' });
  const artifacts = ensureArtifactsDir();
  let browser;
  let joinPath;

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('offers only "Join as spectator", with the reason', async () => {
    const host = await newPerson(browser, 'alice', PHONE);
    const session = await hostStartsSession(server, host);
    joinPath = new URL(session.inviteUrl).pathname;
    const visitor = await newPerson(browser, 'dana', PHONE);
    const { page } = visitor;
    await page.goto(session.inviteUrl);
    await page.getByRole('button', { name: 'Join as spectator' }).waitFor();
    assert.equal((await page.locator(tid('seats-left')).textContent()).trim(), 'No Spotify seats left');
    assert.match(await page.locator(tid('seats-why')).textContent(), /only 1 Spotify account/);
    assert.equal(await page.getByRole('link', { name: /Log in with Spotify/ }).count(), 0);
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(artifacts, 'spectator-no-seats-phone.png'), fullPage: true });
    await page.getByRole('button', { name: 'Join as spectator' }).click();
    await page.waitForURL(session.sessionUrl);
    await page.locator(tid('spectator-note')).waitFor();
    assert.equal(await page.locator(tid('logout')).isVisible(), false, 'a spectator has no login to end');
    assert.deepEqual([...host.problems, ...visitor.problems], []);
  });

  it('explains "no seats" after a login past the last seat, and offers spectating', async () => {
    const erin = await newPerson(browser, 'erin', PHONE);
    const { page } = erin;
    // Straight to the login (as a browser that had the page open before the last seat went).
    await page.goto(`${server.url}/auth/login?next=${encodeURIComponent(joinPath)}`);
    await pickUser(page, server, 'erin');
    assert.match(page.url(), /\?login=no_seats$/);
    await page.locator(tid('login-outcome-title'), { hasText: 'All Spotify seats are taken' }).waitFor();
    assert.doesNotMatch(await page.locator(tid('login-outcome-text')).textContent(), /User Management/);
    assert.ok(await page.getByRole('button', { name: 'Join as spectator' }).isVisible());
    assert.equal(await page.locator(tid('join-login')).count(), 0, 'no login again while no seat is free');
    assert.deepEqual(await axeViolations(page), []);
    await page.screenshot({ path: join(artifacts, 'spectator-no-seats-login-phone.png'), fullPage: true });
    assert.deepEqual(erin.problems, []);
  });
});
