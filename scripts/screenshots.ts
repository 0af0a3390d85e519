// `npm run screenshots` (npm run build && tsx scripts/screenshots.ts): the web
// console's main screens as PNGs in docs/screenshots/, for the README. Three
// daemons (mail1..mail3) on a private embedded PostgreSQL, a demo domain seeded
// through the CLI, Debian's Chromium signed in as a global admin — the same
// pieces the browser tests use (harness/console.ts). Everything it starts is
// stopped by its own handle at the end, also on failure.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { bulkMailboxes, grantAdmin, seedDomain, signIn, startNodes } from '../harness/console.js';
import { CHEAP_HASH, type Daemon } from '../harness/daemon.js';
import { ROOT } from '../harness/paths.js';
import { startOwnCluster } from '../harness/postgres.js';

const OUT = path.join(ROOT, 'docs', 'screenshots');
const DOMAIN = 'example.org';
const ADMIN = { address: `you@${DOMAIN}`, password: 'Harbor-Velvet-Compass-27', name: 'Sam Jansen' };
const PEOPLE = [
  { address: `alice.martin@${DOMAIN}`, password: 'Correct-Horse-Battery-9', name: 'Alice Martin' },
  { address: `bram.devries@${DOMAIN}`, password: 'Quartz-Meadow-Pilot-77', name: 'Bram de Vries' },
  { address: `chloe.dubois@${DOMAIN}`, password: 'Lichen-Tuba-Saffron-58', name: 'Chloé Dubois' },
  { address: `postmaster@${DOMAIN}`, password: 'Ember-Gondola-Thistle-23' },
];

async function shot(page: Page, name: string): Promise<void> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  console.log(`wrote ${path.relative(ROOT, file)}`);
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const cluster = await startOwnCluster('screenshots-pg');
  const daemons: Daemon[] = [];
  const browser = await launchChromium();
  try {
    daemons.push(...(await startNodes({ databaseUrl: cluster.url, nodeIds: ['mail1', 'mail2', 'mail3'], env: CHEAP_HASH, logLevel: 'warn' })));
    const d = daemons[0]!;
    await seedDomain(d, DOMAIN, [ADMIN, ...PEOPLE]);
    await bulkMailboxes(cluster.url, DOMAIN, 57, PEOPLE[0]!.address, 'staff');
    await seedDomain(d, 'example.net', [{ address: 'info@example.net', password: 'Fjord-Pumice-Walrus-64' }]);
    await grantAdmin(d, ADMIN.address, { global: true });
    const base = d.adminUrl;

    const context = await browser.newContext({ viewport: { width: 1200, height: 960 }, locale: 'en-US', deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('Email address').fill(ADMIN.address);
    await shot(page, 'login');
    await signIn(page, base, ADMIN.address, ADMIN.password);

    await page.goto(`${base}/domains`);
    await shot(page, 'domains');

    await page.goto(`${base}/domains/${DOMAIN}`);
    await shot(page, 'mailbox-table');

    const who = PEOPLE[0]!;
    await page.getByRole('button', { name: `Actions for ${who.address}` }).click();
    await page.getByRole('menu').getByRole('menuitem', { name: 'Change password' }).click();
    const dialog = page.getByRole('dialog', { name: `Change password for ${who.address}` });
    await dialog.waitFor();
    await dialog.getByLabel('New password', { exact: true }).fill('AliceMartin1990');
    await dialog.locator('li[data-rule][data-state="failed"]').first().waitFor();
    await shot(page, 'change-dialog');

    await dialog.getByRole('button', { name: 'Generate' }).click();
    await dialog.getByLabel('Generated password').waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.getByRole('status').getByText(/In force on 3 of 3 nodes/).waitFor({ timeout: 20_000 });
    await shot(page, 'live-confirmation');
    await context.close();

    const own = await browser.newContext({ viewport: { width: 1200, height: 960 }, locale: 'en-US', deviceScaleFactor: 1 });
    const ownPage = await own.newPage();
    await signIn(ownPage, base, PEOPLE[1]!.address, PEOPLE[1]!.password);
    await ownPage.goto(`${base}/me`);
    await shot(ownPage, 'my-mailbox');
    await own.close();
  } finally {
    await browser.close();
    for (const d of daemons) await d.stop();
    await cluster.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error((err as Error).stack ?? err);
    process.exit(1);
  },
);
