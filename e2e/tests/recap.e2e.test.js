// The recap page `/s/{id}/recap` (issue 19's recap), in real Chromium against the real `sesh`
// (demo mode): host alice (desktop) and guest bob (phone 390×844) listen; alice skips once. Bob
// opens the recap from the session page's link: the plays in order with their covers, who
// brought them, the skipped one marked and the one playing now, the counts and each member's
// tallies as the API has them, the JSON download. Carol, not a member, is offered the login and
// then told that only members see it (and an unknown session is not found). Bob saves the recap
// as a playlist: Sesh asks Spotify's permission first (the emulator's picker), comes back and
// saves by itself; again, nothing new. Bob votes up an upcoming track, alice skips to it and ends
// the session: her ended card leads to the recap, which says Ended and shows the top voted, and
// bob's open page turns to Ended by itself; his next save adds only what played since. axe finds
// nothing on either viewport; screenshots `recap-*.png` go to test-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { DESKTOP, PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import {
  guestJoins, hostStartsSession, overflowingRows, pickUser, sameTitleEverywhere, startTheMusic, tid,
} from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('recap', { timeout: 300_000 }, () => {
  const server = new SeshServer('recap');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  let carol;
  let session;
  let recapUrl;
  const played = [];

  /** The recap as the person's browser gets it from the API. */
  const apiRecap = (person) => person.page.evaluate(async (id) => {
    const res = await fetch(`/api/sessions/${id}/recap`, { headers: { Accept: 'application/json' } });
    return res.json();
  }, session.sessionId);

  /** A request of the API from the person's page (same origin, so it carries the login). */
  const api = (person, method, path, body) => person.page.evaluate(async ([m, p, b]) => {
    const res = await fetch(p, {
      method: m,
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-Requested-With': 'sesh' },
      body: b === undefined ? undefined : JSON.stringify(b),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, `/api/sessions/${session.sessionId}${path}`, body]);

  /** Bob's playlists in the emulator, oldest first, each with its track uris. */
  const bobsPlaylists = async () => {
    const res = await fetch(`${server.emulatorUrl}/_emulator/users/bob/playlists`);
    assert.equal(res.status, 200);
    return (await res.json()).playlists;
  };

  /** Alice presses Next; resolves once `people` (session pages) show the next track. */
  const skip = async (people = [host, bob]) => {
    await host.page.locator(tid('control-next')).click();
    played.push(await sameTitleEverywhere(people, played.at(-1)));
  };

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    bob = await newPerson(browser, 'bob', PHONE);
    carol = await newPerson(browser, 'carol', PHONE);
    session = await hostStartsSession(server, host);
    recapUrl = `${session.sessionUrl}/recap`;
    await guestJoins(server, bob, 'bob', session);
    played.push(await startTheMusic(host, [host, bob], MACBOOK));
    await skip();
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('leads bob from the session page to the recap: the plays in order, the skip, the counts', async () => {
    const link = bob.page.locator(tid('recap-link'));
    assert.equal(await link.textContent(), 'Recap so far');
    await link.scrollIntoViewIfNeeded();
    await bob.page.screenshot({ path: join(artifacts, 'recap-link-phone.png') });
    await link.click();
    await bob.page.waitForURL(recapUrl);
    const rows = bob.page.locator(tid('recap-track'));
    await bob.page.waitForFunction(() => document.querySelectorAll('[data-testid="recap-track"]').length >= 2);
    const api = await apiRecap(bob);

    // The list is in play order: the skipped first track, then the one playing now.
    assert.deepEqual(await bob.page.locator(`${tid('recap-tracks')} ${tid('recap-track-title')}`).allTextContents(),
      api.tracks.map((t) => t.track.name));
    assert.deepEqual(api.tracks.map((t) => t.track.name), played);
    assert.equal(await bob.page.locator(`${tid('recap-tracks')}`).evaluate((el) => el.tagName), 'OL');
    assert.equal(await rows.nth(0).locator(tid('skipped-badge')).textContent(), 'Skipped');
    assert.equal(await rows.nth(0).locator(tid('now-playing-badge')).count(), 0);
    assert.equal(await rows.nth(1).locator(tid('now-playing-badge')).textContent(), 'Now playing');
    assert.equal(await rows.nth(1).locator(tid('skipped-badge')).count(), 0);
    // Who brought each: bob's own tracks are "your", the others by name.
    for (const [i, play] of api.tracks.entries()) {
      const others = play.brought_by.filter((p) => p.id !== 'bob').map((p) => p.display_name);
      const his = others.length < play.brought_by.length;
      const names = others.length > 1 ? `${others.slice(0, -1).join(', ')} & ${others.at(-1)}` : others.join('');
      const theirs = names.endsWith('s') ? `${names}’` : `${names}’s`;
      const want = !others.length ? 'From your top 5' : `From ${theirs} top 5${his ? ' and yours' : ''}`;
      assert.equal(play.origin, 'top_tracks');
      assert.equal((await rows.nth(i).locator(tid('recap-credit')).textContent()).trim(), want);
    }

    // The head: whose session, live, the counts.
    const hostName = api.session.host.display_name;
    assert.equal(await bob.page.locator(tid('recap-title')).textContent(), `${hostName}’s session`);
    assert.equal(await bob.page.title(), `Recap: ${hostName}’s session — Sesh`);
    assert.equal(await bob.page.locator(tid('recap-state')).textContent(), 'Live — still playing');
    assert.equal(await bob.page.locator(tid('count-tracks')).textContent(), String(api.counts.tracks));
    assert.equal(await bob.page.locator(tid('count-skipped')).textContent(), String(api.counts.skipped));
    assert.ok(api.counts.skipped >= 1);
    assert.equal(await bob.page.locator(tid('count-members')).textContent(), String(api.counts.members));

    // Each member's tallies: a named list, a heading per person, four labelled numbers.
    assert.equal(await bob.page.getByRole('list', { name: 'Who brought what' }).count(), 1);
    const memberRows = bob.page.locator(tid('recap-member'));
    assert.deepEqual(await memberRows.first().locator('dt').allTextContents(), ['Played', 'Added', 'Votes', 'Skipped']);
    assert.equal(await bob.page.getByRole('heading', { level: 3, name: /Bob Brennan \(you\)/ }).count(), 1);
    assert.equal(await memberRows.count(), api.members.length);
    for (const [i, m] of api.members.entries()) {
      assert.equal(await memberRows.nth(i).getAttribute('data-user-id'), m.id);
      assert.equal(await memberRows.nth(i).locator(tid('member-brought')).textContent(), String(m.brought));
      assert.equal(await memberRows.nth(i).locator(tid('member-skipped')).textContent(), String(m.skipped));
    }

    // The ways on: back to the session, and the same JSON as a file.
    assert.equal(await bob.page.locator(tid('recap-back')).getAttribute('href'), new URL(session.sessionUrl).pathname);
    const download = await bob.page.locator(tid('download-json')).getAttribute('href');
    assert.equal(download, `${new URL(session.sessionUrl).pathname}/recap.json`);
    const file = await bob.context.request.get(`${server.url}${download}`);
    assert.equal(file.status(), 200);
    assert.match(file.headers()['content-disposition'], /^attachment/);
    assert.deepEqual((await file.json()).tracks.map((t) => t.entry_id), api.tracks.map((t) => t.entry_id));

    assert.deepEqual(await overflowingRows(bob.page, 'recap-tracks', 'recap-track'), []);
    assert.deepEqual(await overflowingRows(bob.page, 'recap-members', 'recap-member'), []);
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.screenshot({ path: join(artifacts, 'recap-phone.png') });
    await bob.page.screenshot({ path: join(artifacts, 'recap-phone-full.png'), fullPage: true });

    // The narrowest phones too.
    await bob.page.setViewportSize({ width: 320, height: 640 });
    assert.deepEqual(await overflowingRows(bob.page, 'recap-tracks', 'recap-track'), []);
    assert.deepEqual(await overflowingRows(bob.page, 'recap-members', 'recap-member'), []);
    await bob.page.screenshot({ path: join(artifacts, 'recap-320-full.png'), fullPage: true });
    await bob.page.setViewportSize(PHONE.viewport);

    // Alice's desktop, in a second tab: her session page stays open.
    const tab = await host.context.newPage();
    await tab.goto(recapUrl);
    await tab.locator(tid('recap-track')).nth(1).waitFor();
    assert.equal(await tab.locator(tid('recap-title')).textContent(), 'Your session');
    assert.deepEqual(await axeViolations(tab), []);
    await tab.screenshot({ path: join(artifacts, 'recap-desktop.png'), fullPage: true });
    await tab.close();
  });

  it('offers carol, not a member, the login and then says only members see the recap', async () => {
    await carol.page.goto(recapUrl);
    await carol.page.locator(tid('login')).click();
    await pickUser(carol.page, server, 'carol');
    await carol.page.waitForURL(recapUrl);
    const panel = carol.page.locator(`${tid('recap-blocked')}[data-code="not_a_member"]`);
    await panel.waitFor();
    assert.equal(await panel.locator('h1').textContent(), 'Only the session’s members can see its recap');
    assert.equal(await carol.page.locator(tid('recap-view')).isVisible(), false);
    assert.deepEqual(await axeViolations(carol.page), []);
    await carol.page.screenshot({ path: join(artifacts, 'recap-not-a-member-phone.png') });
    // A session that does not exist.
    await carol.page.goto(`${server.url}/s/00000000-0000-4000-8000-000000000000/recap`);
    await carol.page.locator(tid('recap-blocked')).filter({ hasText: 'Recap not found' }).waitFor();
  });

  it('saves the recap as a playlist in bob’s Spotify, asking for the permission first', async () => {
    const button = bob.page.getByRole('button', { name: 'Save as a playlist in my Spotify' });
    await button.click();
    // Sesh may not create playlists yet: the emulator asks bob, and he is back with ?save=1.
    await pickUser(bob.page, server, 'bob');
    await bob.page.waitForURL((url) => url.href.startsWith(recapUrl));
    const status = bob.page.locator(tid('save-status'));
    await status.filter({ hasText: /^Saved \d+ tracks? to your Spotify\./ }).waitFor();
    // It pressed Save once by itself, and the address no longer says so.
    assert.equal(bob.page.url(), recapUrl);
    const [playlist] = await bobsPlaylists();
    const saved = Number((await status.textContent()).match(/Saved (\d+)/)[1]);
    assert.equal(playlist.uris.length, saved);
    const api = await apiRecap(bob);
    assert.deepEqual(playlist.uris, api.tracks.slice(0, saved).map((t) => t.track.uri));
    assert.ok(await status.locator(tid('playlist-link')).getAttribute('href'));
    assert.equal(await status.getAttribute('role'), 'status');
    await bob.page.screenshot({ path: join(artifacts, 'recap-saved-phone.png') });

    // Again, from the keyboard: nothing new since.
    await button.focus();
    await bob.page.keyboard.press('Enter');
    await status.filter({ hasText: 'Already saved — nothing new since.' }).waitFor();
    assert.equal(await bob.page.evaluate(() => document.activeElement?.dataset.testid), 'save-playlist');
    assert.equal((await bobsPlaylists()).length, 1);
    assert.deepEqual(await axeViolations(bob.page), []);
  });

  it('says Ended once alice ends the session: from her ended card, and on bob’s open page by itself', async () => {
    // Bob's up vote takes an upcoming track to the front (votes order), so it plays next.
    assert.equal((await api(host, 'PATCH', '/settings', { queue_order: 'votes' })).status, 200);
    const { body: queue } = await api(bob, 'GET', '/queue?offset=0&limit=100');
    let voted = null;
    for (const entry of [...queue.items].reverse()) {
      if ((await api(bob, 'POST', `/queue/${entry.id}/vote`, { vote: 1 })).status === 200) {
        voted = entry;
        break;
      }
    }
    assert.ok(voted, 'no entry bob could vote on');
    await skip([host]); // bob stays on the recap
    assert.equal(played.at(-1), voted.track.name);
    await host.page.locator(tid('end-session')).click();
    await host.page.locator(tid('confirm-ok')).click();
    const toRecap = host.page.locator(tid('ended-recap'));
    assert.equal(await toRecap.textContent(), 'See what played');
    // Over: the chat stays to read, but nothing more can be written.
    await host.page.locator(tid('chat-form')).waitFor({ state: 'hidden' });
    await toRecap.scrollIntoViewIfNeeded();
    await host.page.screenshot({ path: join(artifacts, 'recap-ended-card-desktop.png') });
    await toRecap.click();
    await host.page.waitForURL(recapUrl);
    await host.page.locator(`${tid('recap-state')}[data-state="ended"]`).waitFor();
    assert.equal(await host.page.locator(tid('recap-state')).textContent(), 'Ended');
    assert.equal(await host.page.locator(tid('recap-live-note')).isVisible(), false);
    assert.equal(await host.page.locator(tid('recap-track')).count(), played.length);
    assert.equal(await host.page.locator(`${tid('recap-track')} ${tid('now-playing-badge')}`).count(), 0);
    // Bob's vote: the top voted, and his tally.
    const top = host.page.locator(tid('top-track'));
    assert.equal(await top.count(), 1);
    assert.equal(await top.locator(tid('recap-track-title')).textContent(), voted.track.name);
    assert.equal(await top.locator(tid('recap-votes')).textContent(), '1 up vote, 0 down votes');
    assert.equal(await host.page.locator(tid('count-up-votes')).textContent(), '1');
    assert.equal(await host.page.locator(`${tid('recap-member')}[data-user-id="bob"] ${tid('member-votes')}`).textContent(), '1');
    await host.page.screenshot({ path: join(artifacts, 'recap-ended-desktop.png'), fullPage: true });
    assert.deepEqual(await axeViolations(host.page), []);

    // Bob's page reads the recap again every 20 s while the session lives.
    await bob.page.locator(`${tid('recap-state')}[data-state="ended"]`).waitFor({ timeout: 30_000 });
    assert.equal(await bob.page.locator(tid('recap-track')).count(), played.length);
    await bob.page.screenshot({ path: join(artifacts, 'recap-ended-phone.png') });
  });

  it('adds to bob’s playlist only what played since he saved', async () => {
    const before = (await bobsPlaylists())[0].uris;
    await bob.page.getByRole('button', { name: 'Save as a playlist in my Spotify' }).click();
    const status = bob.page.locator(tid('save-status'));
    await status.filter({ hasText: /^Saved \d+ (new )?tracks? to your Spotify/ }).waitFor();
    const playlists = await bobsPlaylists();
    assert.equal(playlists.length, 1);
    const api = await apiRecap(bob);
    assert.deepEqual(playlists[0].uris, api.tracks.map((t) => t.track.uri));
    const said = await status.textContent();
    const added = Number(said.match(/Saved (\d+)/)[1]);
    assert.equal(added, playlists[0].uris.length - before.length, said);
    assert.deepEqual([...host.problems, ...bob.problems, ...carol.problems], []);
  });
});
