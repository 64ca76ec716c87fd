// DEV ONLY: screenshots of the collaborative queue against mock-server.mjs (search results,
// the queue with votes, the host's rules) at 390 and 320 px and on a desktop.
// node e2e/dev/queue-shots.mjs http://127.0.0.1:8090 out-dir
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:8090';
const out = process.argv[3] ?? '/tmp/shots';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const phone = (width, height) => ({ viewport: { width, height }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
const sizes = { 390: phone(390, 844), 320: phone(320, 640), desktop: { viewport: { width: 1280, height: 800 } } };

async function open(user, size) {
  const ctx = await browser.newContext(sizes[size]);
  await ctx.addCookies([{ name: 'sesh_sid', value: user, url: base }]);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(user, size, m.text()); });
  page.on('pageerror', (e) => console.log(user, size, 'pageerror', e.message));
  await page.goto(`${base}/s/demo`);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
  return { ctx, page };
}

for (const size of ['390', '320']) {
  const { ctx, page } = await open('bob', size);
  await page.locator('[data-testid="search-input"]').fill('golden');
  await page.locator('[data-testid="search-result"]').first().waitFor();
  await page.locator('[data-testid="search-panel"]').screenshot({ path: `${out}/guest-search-${size}.png` });
  await page.locator('[data-testid="queue-toggle"]').click();
  await page.locator('[data-testid="queue-panel"]').screenshot({ path: `${out}/guest-queue-${size}.png` });
  await page.locator('[data-testid="now-playing"]').screenshot({ path: `${out}/guest-np-${size}.png` });
  await page.locator('[data-testid="search-input"]').fill('low');
  await page.locator('[data-testid="search-result"] [data-testid="votes"]').first().waitFor();
  await page.locator('[data-testid="search-panel"]').screenshot({ path: `${out}/guest-search-queued-${size}.png` });
  await page.locator('[data-testid="search-input"]').fill('slow');
  await page.locator('[data-testid="search-status"]:has-text("Try again")').waitFor();
  await page.locator('[data-testid="search-panel"]').screenshot({ path: `${out}/guest-search-limited-${size}.png` });
  await page.locator('[data-testid="search-input"]').fill('https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=x');
  await page.locator('[data-testid="add-link"]').click();
  await page.locator('[data-testid="search-status"]:has-text("tracks waiting")').waitFor();
  await page.locator('[data-testid="search-panel"]').screenshot({ path: `${out}/guest-link-${size}.png` });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
  if (wide) console.log(size, 'page scrolls sideways');
  await ctx.close();
}
for (const size of ['desktop', '390']) {
  const { ctx, page } = await open('alice', size);
  await page.locator('[data-testid="queue-settings-toggle"]').click();
  await page.locator('[data-testid="queue-settings"]').screenshot({ path: `${out}/host-rules-${size}.png` });
  await page.screenshot({ path: `${out}/host-${size}.png`, fullPage: true });
  await ctx.close();
}
await browser.close();
