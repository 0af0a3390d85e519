/**
 * Debian's Chromium driven by playwright-core, for the browser tests, the
 * screenshots and the benchmarks: no browser download, loopback only.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.MAILPASSD_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless, with the flags that keep it off the network: without them Chromium
 * opens connections to Google's hosts at start, which this closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
