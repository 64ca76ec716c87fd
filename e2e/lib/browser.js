// Headless Debian Chromium through playwright-core, plus helpers the tests share.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from './server.js';

export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

export const DESKTOP = { viewport: { width: 1280, height: 800 } };
export const LAPTOP = { viewport: { width: 1024, height: 768 } };
export const PHONE = {
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36',
};
/** The narrowest phones still sold (320 CSS px, e.g. an iPhone SE of the first generation). */
export const SMALL_PHONE = { ...PHONE, viewport: { width: 320, height: 640 } };

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

/**
 * A browser context for one person, recording page errors and CSP violations so tests can
 * assert there were none.
 */
export async function newPerson(browser, name, options) {
  const context = await browser.newContext({ ...options, locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`${name}: uncaught ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
  });
  return { name, context, page, problems };
}

export function ensureArtifactsDir() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

const require = createRequire(import.meta.url);
let axeSource = null;

/**
 * Runs axe-core in the page (injected through the DevTools protocol, so the page's CSP does not
 * block it) and returns the violations of at least `minImpact`.
 */
export async function axeViolations(page, { minImpact = 'serious' } = {}) {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const order = ['minor', 'moderate', 'serious', 'critical'];
  return result.violations
    .filter((v) => order.indexOf(v.impact) >= order.indexOf(minImpact))
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}
