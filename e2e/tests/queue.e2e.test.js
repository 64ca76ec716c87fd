// The collaborative queue (issue 17) in real Chromium against the real `sesh` (demo mode):
// host alice (desktop), guests carol (phone 390×844, later 320×640) and bob (phone 320×640).
// Carol searches (one request once typing settles), adds a track from the results and one from
// a pasted Spotify link, is told the server's own words when it refuses, and votes (pressing the
// pressed vote withdraws it); alice sees all of it live and votes from the keyboard (the focus
// stays); alice switches the order to votes and the queue reorders, and a vote then moves an
// entry; carol and bob vote to skip (Skip n/m, a toggle) until the track is skipped; carol
// removes her own track (and sees Remove on nothing else); alice bans a track and locks adding
// (carol's search box goes, and comes back). axe checks the pages; nothing sticks out at 320 px.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import {
  DESKTOP, PHONE, SMALL_PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson,
} from '../lib/browser.js';
import {
  focusedTestId, guestJoins, hostStartsSession, overflowingRows, sameTitleEverywhere, startTheMusic, tid, title,
  waitForMembers,
} from '../lib/pages.js';

/** Alice's MacBook in the emulator (crates/spotify-emulator/README.md). */
const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

/** A word of several of the emulator catalog's titles ("Dancing in the {noun}"). */
const QUERY = 'dancing';

/** What a page's queue list holds, top to bottom. */
const queueOf = (page) => page.evaluate(() => [...document.querySelectorAll('[data-testid="queue-item"]')].map((li) => ({
  entryId: Number(li.dataset.entryId),
  role: li.dataset.role,
  yours: li.dataset.yours === 'true',
  title: li.querySelector('[data-testid="queue-title"]').firstChild.textContent,
  votes: Number(li.querySelector('[data-testid="vote-count"]')?.dataset.votes ?? NaN),
  by: li.querySelector('[data-testid="queue-added-by"]')?.textContent ?? '',
  removable: Boolean(li.querySelector('[data-testid="remove-entry"]')),
})));

/** Whether net votes never grow down the list (the votes order). */
const sortedByVotes = (votes) => votes.every((v, i) => i === 0 || votes[i - 1] >= v);

describe('the collaborative queue (issue 17)', { timeout: 300_000 }, () => {
  const server = new SeshServer('queue');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let carol;
  let bob;
  let session;
  /** What carol added: from the results, then from a pasted link. */
  const added = {};

  const shot = (person, name, locator = null) => (locator ?? person.page).screenshot({ path: join(artifacts, `queue-${name}.png`) });
  const item = (person, entryId) => person.page.locator(`${tid('queue-item')}[data-entry-id="${entryId}"]`);
  const isQueuePost = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/sessions/${session.sessionId}/queue`;
  /** Shows the whole queue on a phone ("Show all N"). */
  async function expandQueue(person) {
    const toggle = person.page.locator(tid('queue-toggle'));
    if (await toggle.isVisible() && await toggle.getAttribute('aria-expanded') === 'false') await toggle.click();
  }
  async function waitForVotes(person, entryId, votes) {
    await person.page.locator(`${tid('queue-item')}[data-entry-id="${entryId}"] ${tid('vote-count')}[data-votes="${votes}"]`)
      .waitFor({ state: 'attached' });
  }

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', DESKTOP);
    carol = await newPerson(browser, 'carol', PHONE);
    bob = await newPerson(browser, 'bob', SMALL_PHONE);
    session = await hostStartsSession(server, host);
    await guestJoins(server, carol, 'carol', session);
    await guestJoins(server, bob, 'bob', session);
    for (const person of [host, carol, bob]) await waitForMembers(person, ['alice', 'bob', 'carol']);
    await startTheMusic(host, [host, carol, bob], MACBOOK);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('searches once typing settles and shows what can be added', async () => {
    const { page } = carol;
    const box = page.getByRole('searchbox', { name: /^Search Spotify/ });
    await box.waitFor();
    const searches = [];
    const count = (req) => { if (req.url().includes('/search?')) searches.push(new URL(req.url()).searchParams.get('q')); };
    page.on('request', count);
    try {
      await box.pressSequentially(QUERY, { delay: 60 });
      await page.locator(tid('search-result')).first().waitFor();
    } finally {
      page.off('request', count);
    }
    assert.deepEqual(searches, [QUERY], 'one search, for the whole word');
    const results = page.locator(tid('search-result'));
    assert.ok(await results.count() >= 3, `few results for “${QUERY}”`);
    assert.ok(await page.locator(`${tid('search-result')} ${tid('add-track')}`).count() >= 2, 'nothing to add');
  });

  it('adds a track from the results; the host sees it live', async () => {
    const { page } = carol;
    const row = page.locator(`${tid('search-result')}:has(${tid('add-track')})`).first();
    const trackId = await row.getAttribute('data-track-id');
    const answer = page.waitForResponse(isQueuePost);
    await row.locator(tid('add-track')).click();
    const response = await answer;
    assert.equal(response.status(), 201);
    const { entry } = await response.json();
    added.fromResults = entry;
    assert.equal(entry.track.id, trackId);
    assert.equal(entry.your_vote, 1);
    await page.locator(`${tid('search-status')}:has-text("Added “${entry.track.name}” to the queue.")`).waitFor();
    // The result now says who queued it and offers her vote (her own up vote, pressed).
    const queued = page.locator(`${tid('search-result')}[data-track-id="${trackId}"]`);
    await queued.locator(`${tid('result-note')}:has-text("Queued by you")`).waitFor();
    assert.equal(await queued.locator(tid('vote-up')).getAttribute('aria-pressed'), 'true');
    assert.equal(await queued.locator(tid('add-track')).count(), 0);
    // Her queue and alice's show it, as hers and as carol's.
    await item(carol, entry.id).waitFor({ state: 'attached' });
    const mine = (await queueOf(page)).find((e) => e.entryId === entry.id);
    assert.equal(mine.yours, true);
    assert.match(mine.by, /added by you/);
    await item(host, entry.id).locator(`${tid('queue-added-by')}:has-text("added by Carol Chen")`).waitFor();
    await waitForVotes(host, entry.id, 1);
  });

  it('adds a pasted Spotify link directly, and says the server’s words when it refuses', async () => {
    const { page } = carol;
    const trackId = await page.locator(`${tid('search-result')}:has(${tid('add-track')})`).first().getAttribute('data-track-id');
    const box = page.getByRole('searchbox', { name: /^Search Spotify/ });
    await box.fill(`https://open.spotify.com/track/${trackId}?si=e2e`);
    const addLink = page.getByRole('button', { name: 'Add this track' });
    const answer = page.waitForResponse(isQueuePost);
    await addLink.click();
    const response = await answer;
    assert.equal(response.status(), 201);
    assert.deepEqual(response.request().postDataJSON(), { uri: `spotify:track:${trackId}` });
    added.fromLink = (await response.json()).entry;
    await page.locator(`${tid('search-status')}:has-text("Added “${added.fromLink.track.name}”")`).waitFor();
    assert.equal(await box.inputValue(), '', 'the link is done with');
    await item(host, added.fromLink.id).waitFor({ state: 'attached' });

    // The same track again: the server refuses, and the page says its own words (as a sentence).
    await box.fill(`spotify:track:${trackId}`);
    const refusal = page.waitForResponse(isQueuePost);
    await page.getByRole('button', { name: 'Add this track' }).click();
    const refused = await refusal;
    assert.equal(refused.status(), 409);
    const { error } = await refused.json();
    assert.equal(error.code, 'already_queued');
    await page.waitForFunction((message) => document.querySelector('[data-testid="search-status"]').textContent.toLowerCase().includes(message.toLowerCase()), error.message);
    assert.equal(await page.locator(tid('search-status')).getAttribute('role'), 'status');
    await box.fill('');
  });

  it('votes from her phone; pressing the pressed vote takes it back; the host sees the count', async () => {
    const { page } = carol;
    await expandQueue(carol);
    const target = (await queueOf(page)).find((e) => e.role === 'upcoming' && !e.yours);
    assert.ok(target, 'an upcoming entry someone else brought');
    const row = item(carol, target.entryId);
    const up = row.locator(tid('vote-up'));
    const down = row.locator(tid('vote-down'));
    assert.equal(await up.getAttribute('aria-pressed'), 'false');
    await up.click();
    assert.equal(await up.getAttribute('aria-pressed'), 'true');
    await waitForVotes(carol, target.entryId, target.votes + 1);
    await waitForVotes(host, target.entryId, target.votes + 1);
    await up.click();
    await row.locator(`${tid('vote-up')}[aria-pressed="false"]`).waitFor();
    await waitForVotes(host, target.entryId, target.votes);
    await down.click();
    await waitForVotes(host, target.entryId, target.votes - 1);
    assert.equal(await down.getAttribute('aria-pressed'), 'true');
    await up.click();
    await waitForVotes(host, target.entryId, target.votes + 1);
    assert.deepEqual([await up.getAttribute('aria-pressed'), await down.getAttribute('aria-pressed')], ['true', 'false']);
    added.votedByCarol = target.entryId;
    // Played, playing and up-next entries take no votes.
    for (const e of await queueOf(page)) {
      if (e.role !== 'upcoming') assert.equal(await item(carol, e.entryId).locator(tid('vote-up')).count(), 0, `${e.role} has votes`);
    }
  });

  it('votes from the keyboard on the host’s desktop, the focus kept', async () => {
    const { page } = host;
    const last = (await queueOf(page)).filter((e) => e.role === 'upcoming').at(-1);
    const up = item(host, last.entryId).locator(tid('vote-up'));
    await up.focus();
    await page.keyboard.press('Enter');
    await waitForVotes(host, last.entryId, last.votes + 1);
    await waitForVotes(carol, last.entryId, last.votes + 1);
    assert.equal(await up.getAttribute('aria-pressed'), 'true');
    assert.equal(await focusedTestId(page), 'vote-up');
    assert.equal(await page.evaluate(() => document.activeElement.closest('[data-testid="queue-item"]').dataset.entryId), String(last.entryId));
    added.votedByHost = last.entryId;
  });

  it('lets the host order by votes: the queue reorders, and a vote then moves an entry', async () => {
    const upcomingVotes = async (person) => (await queueOf(person.page)).filter((e) => e.role === 'upcoming').map((e) => e.votes);
    assert.equal(sortedByVotes(await upcomingVotes(carol)), false, 'fair order happens to be by votes already');
    const { page } = host;
    await page.locator(tid('queue-tools')).waitFor({ state: 'visible' });
    await page.locator(tid('queue-settings-toggle')).click();
    await page.getByRole('radio', { name: /Most votes first/ }).check();
    const patch = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/settings'));
    await page.getByRole('button', { name: 'Save rules' }).click();
    assert.deepEqual((await patch).postDataJSON(), { queue_order: 'votes' }, 'only what changed');
    await page.locator(`${tid('queue-settings-status')}:has-text("Saved.")`).waitFor();
    await page.locator(`${tid('queue-settings-summary')}:has-text("Most votes first")`).waitFor();
    // In votes order the votes decide what is next: no reshuffle on offer (the server refuses it).
    await page.locator(tid('queue-tools')).waitFor({ state: 'hidden' });
    await shot(host, 'host-rules', page.locator(tid('queue-panel')));
    for (const person of [carol, host]) {
      await person.page.waitForFunction(() => {
        const votes = [...document.querySelectorAll('[data-testid="queue-item"][data-role="upcoming"] [data-testid="vote-count"]')].map((c) => Number(c.dataset.votes));
        return votes.length > 0 && votes.every((v, i) => i === 0 || votes[i - 1] >= v);
      });
    }
    // Bob (320 px) votes up the last entry: it moves up past those with fewer votes, live on carol's page.
    await expandQueue(bob);
    const before = await queueOf(carol.page);
    const last = before.filter((e) => e.role === 'upcoming').at(-1);
    await item(bob, last.entryId).locator(tid('vote-up')).click();
    await carol.page.waitForFunction((id) => {
      const items = [...document.querySelectorAll('[data-testid="queue-item"]')];
      const at = items.findIndex((li) => li.dataset.entryId === String(id));
      return at >= 0 && at < items.length - 1;
    }, last.entryId);
    assert.ok(sortedByVotes(await upcomingVotes(carol)));
  });

  it('takes a guest’s vote to skip (Skip n/m, a toggle) and skips at the threshold', async () => {
    const playing = (await queueOf(carol.page)).find((e) => e.role === 'playing');
    assert.ok(playing && !(playing.yours && /added by you/.test(playing.by)), 'carol added the playing track: she would skip outright');
    const skip = carol.page.getByRole('button', { name: /^Skip/ });
    const bobSkip = bob.page.getByRole('button', { name: /^Skip/ });
    assert.equal(await skip.getAttribute('aria-pressed'), 'false');
    // Three members online: two votes skip.
    await skip.click();
    await carol.page.locator(`${tid('skip-vote')}[aria-pressed="true"]:has-text("Skip 1/2")`).waitFor();
    await bob.page.locator(`${tid('skip-vote')}[aria-pressed="false"]:has-text("Skip 1/2")`).waitFor();
    await host.page.locator(`${tid('skip-count')}:has-text("1 of 2 want to skip")`).waitFor();
    assert.equal(await host.page.locator(tid('skip-vote')).isVisible(), false, 'the host has Next');
    await skip.click();
    await carol.page.locator(`${tid('skip-vote')}[aria-pressed="false"]`).waitFor();
    await bob.page.locator(`${tid('skip-vote-text')}:text-is("Skip")`).waitFor();
    await skip.click();
    await bob.page.locator(`${tid('skip-vote')}:has-text("Skip 1/2")`).waitFor();
    const before = await title(carol.page);
    await bobSkip.click();
    await sameTitleEverywhere([host, carol, bob], before);
    // Now the next entry plays: its count starts afresh, and whoever added it skips outright.
    const now = (await queueOf(carol.page)).find((e) => e.role === 'playing');
    const hers = now.yours && /added by you/.test(now.by);
    assert.equal(await carol.page.locator(tid('skip-now')).isVisible(), hers);
    assert.equal(await carol.page.locator(tid('skip-vote')).isVisible(), !hers);
    if (!hers) assert.equal(await carol.page.locator(tid('skip-vote')).getAttribute('aria-pressed'), 'false');
  });

  it('lets carol remove her own track, and only hers', async () => {
    const { page } = carol;
    const list = await queueOf(page);
    for (const e of list) assert.equal(e.removable, e.yours && /added by you/.test(e.by) && ['upcoming', 'committed'].includes(e.role), `${e.title} (${e.role})`);
    const target = list.find((e) => e.removable);
    assert.ok(target, 'nothing of hers to remove');
    await item(carol, target.entryId).getByRole('button', { name: `Remove ${target.title} from the queue` }).click();
    await item(carol, target.entryId).waitFor({ state: 'detached' });
    await item(host, target.entryId).waitFor({ state: 'detached' });
    await page.locator(`${tid('queue-status')}:has-text("Removed “${target.title}”")`).waitFor();
  });

  it('lets the host ban a track and lock adding, live on the guest’s page', async () => {
    const { page } = host;
    const target = (await queueOf(page)).find((e) => e.role === 'upcoming' && !/Carol/.test(e.by));
    await item(host, target.entryId).getByRole('button', { name: `Ban track ${target.title}` }).click();
    const dialog = page.getByRole('dialog', { name: `Ban “${target.title}”?` });
    await dialog.getByRole('button', { name: 'Ban track' }).click();
    await item(carol, target.entryId).waitFor({ state: 'detached' });
    await item(host, target.entryId).waitFor({ state: 'detached' });

    await page.getByRole('checkbox', { name: 'Only you and co-hosts add tracks' }).check();
    await page.getByRole('button', { name: 'Save rules' }).click();
    await carol.page.locator(tid('search-panel')).waitFor({ state: 'hidden' });
    assert.equal(await page.locator(tid('search-panel')).isVisible(), true, 'the host still adds');
    await page.getByRole('checkbox', { name: 'Only you and co-hosts add tracks' }).uncheck();
    await page.getByRole('button', { name: 'Save rules' }).click();
    await carol.page.locator(tid('search-panel')).waitFor();
    assert.deepEqual(await axeViolations(page), []);
  });

  it('looks right and passes axe at 390 and 320 px', async () => {
    const { page } = carol;
    const box = page.getByRole('searchbox', { name: /^Search Spotify/ });
    await box.fill(QUERY);
    await page.locator(`${tid('search-result')}[data-queued]`).first().waitFor();
    await page.locator(tid('search-result')).first().waitFor();
    await expandQueue(carol);
    assert.deepEqual(await axeViolations(page), []);
    for (const [width, height] of [[390, 844], [320, 640]]) {
      await page.setViewportSize({ width, height });
      await page.waitForFunction((w) => document.documentElement.clientWidth === w, width);
      assert.deepEqual(await overflowingRows(page, 'search-results', 'search-result'), [], `search results at ${width} px`);
      assert.deepEqual(await overflowingRows(page, 'queue', 'queue-item'), [], `queue at ${width} px`);
      await shot(carol, `guest-search-${width}`, page.locator(tid('search-panel')));
      await shot(carol, `guest-queue-${width}`, page.locator(tid('queue-panel')));
      await page.locator(tid('now-playing')).scrollIntoViewIfNeeded();
      await shot(carol, `guest-now-playing-${width}`, page.locator(tid('now-playing')));
    }
    assert.deepEqual(await axeViolations(page), []);
  });

  it('says when to search again after too many searches', async () => {
    const { page } = bob;
    // Bob has searched nothing yet: use up his searches of this minute, then type.
    const statuses = await page.evaluate(async (path) => {
      const seen = [];
      for (let i = 0; i < 25 && !seen.includes(429); i += 1) {
        seen.push((await fetch(`${path}/search?q=${encodeURIComponent(`golden ${i}`)}`, { headers: { 'X-Requested-With': 'sesh' } })).status);
      }
      return seen;
    }, `/api/sessions/${session.sessionId}`);
    assert.equal(statuses.at(-1), 429, `never limited: ${statuses}`);
    const answer = page.waitForResponse((r) => r.url().includes('/search?'));
    await page.getByRole('searchbox', { name: /^Search Spotify/ }).fill(QUERY);
    const limited = await answer;
    assert.equal(limited.status(), 429);
    const retryAfter = Number(limited.headers()['retry-after']);
    assert.ok(retryAfter > 0, 'Retry-After');
    const { error } = await limited.json();
    const status = page.locator(tid('search-status'));
    await page.waitForFunction((message) => document.querySelector('[data-testid="search-status"]').textContent.toLowerCase().includes(message.toLowerCase()), error.message);
    assert.match(await status.textContent(), /Try again (in \d+ seconds?|at \d)/);
    await shot(bob, 'guest-search-limited-320', page.locator(tid('search-panel')));
    for (const person of [host, carol, bob]) assert.deepEqual(person.problems, []);
  });
});
