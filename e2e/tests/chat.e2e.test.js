// The session's chat (issue 19's chat), in real Chromium against the real `sesh` (demo mode):
// host alice and guest bob, both on phones (390×844). Bob sends a message with Enter and alice
// sees it; a `<script>` message shows as text and runs nothing; a reaction is a toggle button
// with its count in its name; a burst is refused with a message under the input; alice, a
// moderator, sees Delete and Mute, deletes bob's message (gone on both pages) and mutes him (his
// input says so). axe finds nothing on either page; screenshots go to test-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SeshServer } from '../lib/server.js';
import { PHONE, axeViolations, ensureArtifactsDir, launchChromium, newPerson } from '../lib/browser.js';
import { guestJoins, hostStartsSession, startTheMusic, tid } from '../lib/pages.js';

const MACBOOK = '3381d76760fb2d797415713821da730b25674e0d';

describe('chat', { timeout: 180_000 }, () => {
  const server = new SeshServer('chat');
  const artifacts = ensureArtifactsDir();
  let browser;
  let host;
  let bob;
  const messages = (person) => person.page.locator(tid('chat-message'));
  const texts = (person) => person.page.locator(tid('chat-text')).allTextContents();

  before(async () => {
    await server.init();
    await server.start();
    browser = await launchChromium();
    host = await newPerson(browser, 'alice', PHONE);
    bob = await newPerson(browser, 'bob', PHONE);
    const session = await hostStartsSession(server, host);
    await guestJoins(server, bob, 'bob', session);
    await startTheMusic(host, [host, bob], MACBOOK);
  });

  after(async () => {
    await browser?.close();
    await server.dispose(join(artifacts, 'logs'));
  });

  it('sends on Enter and shows the message to everyone, with a counter', async () => {
    const input = bob.page.getByLabel('Message', { exact: true });
    await input.fill('Who picked this one?');
    assert.equal((await bob.page.locator(tid('chat-counter')).textContent()).trim(), '20 / 500');
    await input.press('Enter');
    await host.page.locator(tid('chat-text'), { hasText: 'Who picked this one?' }).waitFor();
    await bob.page.waitForFunction(() => document.querySelector('[data-testid="chat-input"]').value === '', null, { timeout: 5_000 });
    const log = host.page.locator(tid('chat-log'));
    assert.equal(await log.getAttribute('role'), 'log');
    assert.equal(await log.getAttribute('aria-live'), 'polite');
  });

  it('shows a <script> message as text and runs nothing', async () => {
    await bob.page.evaluate(() => { window.chatXss = false; });
    const input = bob.page.getByLabel('Message', { exact: true });
    await input.fill('<script>window.chatXss = true</script><b>bold</b>');
    await input.press('Enter');
    for (const person of [host, bob]) {
      const text = person.page.locator(tid('chat-text'), { hasText: '<script>' });
      await text.waitFor();
      assert.equal(await text.textContent(), '<script>window.chatXss = true</script><b>bold</b>');
      assert.equal(await text.locator('script, b').count(), 0, 'no element made of it');
    }
    assert.equal(await bob.page.evaluate(() => window.chatXss), false);
  });

  it('toggles a reaction, named with its count, for everyone', async () => {
    const first = messages(host).first();
    const thumbs = first.locator(`${tid('chat-react')}[data-reaction="👍"]`);
    assert.equal(await thumbs.getAttribute('aria-pressed'), 'false');
    assert.equal(await thumbs.getAttribute('aria-label'), 'React 👍 (0)');
    await thumbs.focus();
    await host.page.keyboard.press('Enter');
    await host.page.waitForFunction(() => document.querySelector('[data-testid="chat-react"][data-reaction="👍"]')?.getAttribute('aria-pressed') === 'true');
    const bobsThumbs = messages(bob).first().locator(`${tid('chat-react')}[data-reaction="👍"]`);
    await bob.page.waitForFunction(() => document.querySelector('[data-testid="chat-react"][data-reaction="👍"]')?.getAttribute('aria-label') === 'React 👍 (1)');
    assert.equal(await bobsThumbs.getAttribute('aria-pressed'), 'false', 'bob did not react');
    const fire = host.page.locator(`${tid('track-react')}[data-reaction="🔥"]`);
    await fire.click();
    await bob.page.waitForFunction(() => document.querySelector('[data-testid="track-react"][data-reaction="🔥"]')?.getAttribute('aria-label') === 'React to the track 🔥 (1)');
  });

  it('lets the moderator (not the guest) delete and mute; axe finds nothing', async () => {
    assert.equal(await bob.page.locator(tid('chat-delete')).count(), 0);
    assert.equal(await bob.page.locator(tid('chat-mute')).count(), 0);
    assert.ok(await host.page.locator(tid('chat-delete')).count() >= 2);
    assert.deepEqual(await axeViolations(host.page), []);
    assert.deepEqual(await axeViolations(bob.page), []);
    await host.page.locator(tid('chat-panel')).screenshot({ path: join(artifacts, 'chat-host-phone.png') });
    await bob.page.locator(tid('chat-panel')).screenshot({ path: join(artifacts, 'chat-guest-phone.png') });

    await messages(host).first().locator(tid('chat-delete')).click();
    await bob.page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-message"]').length === 1);
    assert.deepEqual(await texts(host), ['<script>window.chatXss = true</script><b>bold</b>']);

    await messages(host).first().locator(tid('chat-mute')).click();
    await bob.page.locator(tid('chat-muted-badge')).first().waitFor();
    const input = bob.page.getByLabel('Message', { exact: true });
    assert.equal(await input.isDisabled(), true);
    assert.match(await input.getAttribute('placeholder'), /muted/);
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.locator(tid('chat-panel')).screenshot({ path: join(artifacts, 'chat-muted-phone.png') });
    await messages(host).first().locator(tid('chat-mute')).click(); // unmute
    await bob.page.waitForFunction(() => !document.querySelector('[data-testid="chat-input"]').disabled);
  });

  it('refuses a burst with a message under the input', async () => {
    const input = bob.page.getByLabel('Message', { exact: true });
    // Five per ten seconds: bob's earlier messages count too, so the sixth at the latest is refused.
    // Each press waits for its answer (a press while one is on its way is ignored by the page):
    // the input empties when sent, the error shows when refused.
    for (let i = 0; i < 6; i += 1) {
      await input.fill(`quick ${i}`);
      await input.press('Enter');
      await bob.page.waitForFunction(() => {
        const field = document.querySelector('[data-testid="chat-input"]');
        const error = document.querySelector('[data-testid="chat-error"]')?.textContent ?? '';
        return field?.value === '' || /sending too fast/.test(error);
      });
      if (/sending too fast/.test(await bob.page.locator(tid('chat-error')).textContent() ?? '')) break;
    }
    const error = bob.page.locator(tid('chat-error'));
    await bob.page.waitForFunction(() => /sending too fast/.test(document.querySelector('[data-testid="chat-error"]')?.textContent ?? ''));
    assert.equal(await error.getAttribute('role'), 'alert');
    await bob.page.locator(tid('chat-panel')).screenshot({ path: join(artifacts, 'chat-too-fast-phone.png') });
    assert.deepEqual([...host.problems, ...bob.problems], []);
  });
});
