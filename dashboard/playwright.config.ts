import { defineConfig } from '@playwright/test';

// The browser is the system's Chromium (Debian's /usr/bin/chromium), never
// one Playwright downloads. POLARIS_CHROMIUM points elsewhere.
// --no-sandbox: the tests run as root in CI; the background-networking
// flags keep Chromium from phoning out, which this machine refuses.
export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env.POLARIS_E2E_OUT ? `${process.env.POLARIS_E2E_OUT}/playwright` : 'test-results',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.POLARIS_URL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.POLARIS_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
