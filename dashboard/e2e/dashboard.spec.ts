// The dashboard against a real `polaris serve` (started by the caller) with
// the default model repository: efficientnet_lite0 (ONNX, ImageNet labels)
// and digits (TorchScript).
//   POLARIS_URL          the server, e.g. http://127.0.0.1:18000
//   POLARIS_ADMIN_TOKEN  its --admin-token
//   POLARIS_DAISY        a daisy photo (scikit-learn's flower.jpg)
//   POLARIS_E2E_OUT      where the screenshots go (default test-results)
import { expect, test, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

const url = process.env.POLARIS_URL;
const token = process.env.POLARIS_ADMIN_TOKEN ?? '';
const daisy = process.env.POLARIS_DAISY ?? '';
const out = process.env.POLARIS_E2E_OUT ?? 'test-results';

test.skip(!url, 'POLARIS_URL names no server');

fs.mkdirSync(out, { recursive: true });

// Every console error or warning and uncaught exception of the page.
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

const row = (page: Page, model: string) => page.locator(`tr[data-model="${model}"]`);
const state = (page: Page, model: string) => row(page, model).locator('[data-field="state"]');

function authorized() {
  return token ? { headers: { Authorization: `Bearer ${token}` } } : {};
}

async function usedBytes(page: Page, device: string): Promise<number> {
  return Number(await page.locator(`[data-device="${device}"]`).getAttribute('data-used-bytes'));
}

test('lists both models without console errors', async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto('/');
  await expect(row(page, 'efficientnet_lite0')).toBeVisible();
  await expect(row(page, 'digits')).toBeVisible();
  await expect(page.locator('[data-device]').first()).toBeVisible();
  await expect(page.locator('#devices .device').first()).toBeVisible();
  // A few polls, so the charts have intervals to draw.
  await page.waitForTimeout(3500);
  await expect(page.locator('figure.chart canvas').first()).toBeVisible();
  await page.screenshot({ path: path.join(out, 'dashboard-desktop.png'), fullPage: true });
  expect(problems).toEqual([]);
});

test('classifies the daisy photo', async ({ page }) => {
  test.skip(!daisy || !fs.existsSync(daisy), 'POLARIS_DAISY names no photo');
  const problems = watchConsole(page);
  await page.goto('/');
  await expect(row(page, 'efficientnet_lite0')).toBeVisible();
  const tryIt = page.locator('section', { has: page.locator('#try-title') });
  await tryIt.getByLabel('Model', { exact: true }).selectOption('efficientnet_lite0');
  await page.getByTestId('image-input').setInputFiles(daisy);
  const first = page.getByTestId('top5').getByTestId('top5-item').first();
  await expect(first).toContainText('daisy', { timeout: 60_000 });
  await expect(page.getByTestId('top5-item')).toHaveCount(5);
  await tryIt.screenshot({ path: path.join(out, 'dashboard-try-it.png') });
  expect(problems).toEqual([]);
});

test('unloads and loads a model with the admin token', async ({ page }) => {
  test.skip(!token, 'POLARIS_ADMIN_TOKEN is not set');
  const problems = watchConsole(page);
  await page.goto('/');
  await page.getByLabel('Admin token').fill(token);
  const model = 'digits';
  await expect(row(page, model)).toBeVisible();
  if ((await state(page, model).getAttribute('data-state')) !== 'READY') {
    await row(page, model).getByRole('button', { name: `Load ${model}`, exact: true }).click();
    await expect(state(page, model)).toHaveAttribute('data-state', 'READY', { timeout: 60_000 });
  }
  // The bar to watch is the one of the device the model is loaded on.
  const overview = (await (await page.request.get('/polaris/overview', authorized())).json()) as {
    models: { name: string; device: string }[];
  };
  const device = overview.models.find((m) => m.name === model)?.device || 'cpu';
  await expect.poll(() => usedBytes(page, device)).toBeGreaterThan(0);
  const loaded = await usedBytes(page, device);

  await row(page, model).getByRole('button', { name: `Unload ${model}`, exact: true }).click();
  await expect(state(page, model)).not.toHaveAttribute('data-state', 'READY', { timeout: 30_000 });
  await expect(state(page, model)).toContainText('UNAVAILABLE');
  await expect.poll(() => usedBytes(page, device)).toBeLessThan(loaded);
  const unloaded = await usedBytes(page, device);

  await row(page, model).getByRole('button', { name: `Load ${model}`, exact: true }).click();
  await expect(state(page, model)).toHaveAttribute('data-state', 'READY', { timeout: 60_000 });
  await expect.poll(() => usedBytes(page, device)).toBeGreaterThan(unloaded);
  await expect(page.locator('#action-status')).toContainText(`${model} loaded`);
  expect(problems).toEqual([]);
});

test('fits a phone screen', async ({ page }) => {
  const problems = watchConsole(page);
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto('/');
  await expect(row(page, 'efficientnet_lite0')).toBeVisible();
  await expect(row(page, 'digits')).toBeVisible();
  await page.waitForTimeout(2500);
  const overflow = await page.evaluate(() => ({
    scrollWidth: document.scrollingElement!.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(overflow.scrollWidth).toBeLessThanOrEqual(overflow.innerWidth);
  await page.screenshot({ path: path.join(out, 'dashboard-phone.png'), fullPage: true });
  expect(problems).toEqual([]);
});
