// DEV ONLY: axe + error-notice screenshots against mock-server.mjs (playing on 8090, lobby on 8091).
import { launchChromium, axeViolations, DESKTOP, PHONE } from '../lib/browser.js';

const out = process.argv[2] ?? '/tmp/shots';
const browser = await launchChromium();
async function open(base, path, user, size) {
  const ctx = await browser.newContext(size);
  if (user) await ctx.addCookies([{ name: 'sesh_sid', value: user, url: base }]);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' && !/401|Failed to load/.test(m.text())) console.log(path, m.text()); });
  page.on('pageerror', (e) => console.log(path, 'pageerror', e.message));
  await page.goto(base + path);
  return page;
}
for (const [base, path, user, size] of [
  ['http://127.0.0.1:8090', '/', null, DESKTOP], ['http://127.0.0.1:8090', '/', 'alice', PHONE],
  ['http://127.0.0.1:8090', '/j/x', null, PHONE], ['http://127.0.0.1:8090', '/j/x', 'bob', PHONE],
  ['http://127.0.0.1:8090', '/s/demo', 'alice', DESKTOP], ['http://127.0.0.1:8090', '/s/demo', 'bob', PHONE],
  ['http://127.0.0.1:8091', '/s/demo', 'alice', PHONE], ['http://127.0.0.1:8091', '/s/demo', null, PHONE],
  ['http://127.0.0.1:8091', '/s/other', 'alice', PHONE],
]) {
  const page = await open(base, path, user, size);
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForTimeout(500);
  console.log(base.slice(-4), path, user, JSON.stringify(await axeViolations(page, { minImpact: 'minor' }), null, 1));
  if (path === '/s/demo' && base.endsWith('8091') && user) {
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('[data-testid=notice]').waitFor();
    await page.screenshot({ path: `${out}/notice-premium.png` });
  }
  if (path === '/s/demo' && base.endsWith('8090') && user === 'alice') {
    await page.getByRole('button', { name: 'Next track' }).click();
    await page.locator('[data-testid=notice][data-code=rate_limited]').waitFor();
    await page.waitForTimeout(1200);
    await page.screenshot({ path: `${out}/notice-rate.png` });
    await page.getByRole('button', { name: 'End session' }).click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${out}/dialog.png` });
    await page.keyboard.press('Escape');
  }
  if (path === '/s/demo' && !user) await page.screenshot({ path: `${out}/session-loggedout.png` });
  if (path === '/s/other') await page.screenshot({ path: `${out}/session-notfound.png` });
  if (path === '/j/x' && !user) await page.screenshot({ path: `${out}/join-phone.png` });
  await page.context().close();
}
await browser.close();
