// DEV ONLY: screenshots of the pages served by mock-server.mjs, plus console errors.
// node e2e/dev/shots.mjs http://127.0.0.1:8090 out-dir
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:8090';
const out = process.argv[3] ?? '/tmp/shots';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const shots = [
  ['landing-out', '/', null, 'desktop'],
  ['landing-in', '/', 'alice', 'phone'],
  ['join-out', '/j/Xy7pQ2mN8vLk', null, 'phone'],
  ['join-in', '/j/Xy7pQ2mN8vLk', 'bob', 'desktop'],
  ['session-host', '/s/demo', 'alice', 'desktop'],
  ['session-guest', '/s/demo', 'bob', 'phone'],
  ['session-host-phone', '/s/demo', 'alice', 'phone'],
];
const sizes = { desktop: { viewport: { width: 1280, height: 800 } }, phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } };
for (const [name, path, user, size] of shots) {
  const ctx = await browser.newContext(sizes[size]);
  if (user) await ctx.addCookies([{ name: 'sesh_sid', value: user, url: base }]);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(name, m.type(), m.text()); });
  page.on('pageerror', (e) => console.log(name, 'pageerror', e.message));
  await page.goto(base + path);
  await page.waitForTimeout(800);
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
  await ctx.close();
}
await browser.close();
