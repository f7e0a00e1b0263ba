// The dashboard in Firefox (Debian's firefox-esr, driven over WebDriver BiDi
// by puppeteer-core: Playwright drives only its own patched Firefox, which
// is not installed here). The same server and environment as the
// Playwright tests (e2e/dashboard.spec.ts):
//   POLARIS_URL, POLARIS_DAISY, POLARIS_E2E_OUT; POLARIS_FIREFOX (default
//   /usr/bin/firefox-esr).
// Checks: both models listed, the daisy photo classified "daisy" first, no
// horizontal overflow on a phone-sized window, no console errors or
// warnings and no page errors. Exits non-zero on any failure.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const url = process.env.POLARIS_URL;
const daisy = process.env.POLARIS_DAISY;
const out = process.env.POLARIS_E2E_OUT ?? 'test-results';
if (!url || !daisy) {
  console.error('firefox smoke: set POLARIS_URL and POLARIS_DAISY');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.POLARIS_FIREFOX ?? '/usr/bin/firefox-esr',
  headless: true,
  // This machine has no outside network: no update, telemetry or
  // captive-portal checks.
  extraPrefsFirefox: {
    'app.update.enabled': false,
    'network.captive-portal-service.enabled': false,
    'toolkit.telemetry.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
  },
});
const problems = [];
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed = true;
};
try {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning')
      problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url, { waitUntil: 'load' });
  for (const model of ['efficientnet_lite0', 'digits'])
    check(!!(await page.waitForSelector(`tr[data-model="${model}"]`, { timeout: 30_000 })), `lists ${model}`);

  await page.waitForSelector('#try-model option[value="efficientnet_lite0"]');
  await page.select('#try-model', 'efficientnet_lite0');
  const input = await page.waitForSelector('[data-testid="image-input"]');
  await input.uploadFile(daisy);
  const first = await page.waitForFunction(
    () => document.querySelector('[data-testid="top5"] [data-testid="top5-item"]')?.textContent ?? '',
    { timeout: 60_000 },
  );
  const text = await first.jsonValue();
  check(text.includes('daisy'), `the daisy photo's first class: ${text.trim()}`);
  await page.screenshot({ path: path.join(out, 'firefox-try-it.png'), fullPage: true });

  await page.setViewport({ width: 375, height: 740 });
  await page.waitForSelector('tr[data-model="digits"]');
  const widths = await page.evaluate(() => [document.scrollingElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `no horizontal overflow at 375 px (scroll width ${widths[0]}, window ${widths[1]})`);
  await page.screenshot({ path: path.join(out, 'firefox-phone.png'), fullPage: true });
  check(problems.length === 0, `no console errors or warnings${problems.length ? ': ' + problems.join('; ') : ''}`);
} catch (e) {
  check(false, `${e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
