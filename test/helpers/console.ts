/**
 * The browser tests' fixture: one database per file, daemons on it (cheap
 * argon2, the suites' rotation timings), Debian's Chromium, and a context per
 * test that records every console error, uncaught error and CSP violation.
 * `expectCleanPage` is the check every visited page gets.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { expect } from 'vitest';
import { launchChromium } from '../../harness/chromium.js';
import { grantAdmin, seedDomain, seriousA11yViolations, signIn, startNodes, watchContext, type PageProblems, type Seeded } from '../../harness/console.js';
import { CHEAP_HASH, type Daemon } from '../../harness/daemon.js';
import { createTestDatabase } from './postgres.js';
import { verify } from './daemon.js';

export interface ConsoleFixture {
  daemons: Daemon[];
  /** The console: daemons[0]'s admin listener. */
  base: string;
  databaseUrl: string;
  pool: pg.Pool;
  browser: Browser;
  /** A fresh browser context (its own cookies), watched. */
  context(opts?: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }>;
  /** A new domain name for one test, so tests share daemons but no data. */
  domain(label?: string): string;
  close(): Promise<void>;
}

/** The suites' daemon timings (test/helpers/daemon.ts), and no Dovecot. */
const SUITE_ENV = {
  ...CHEAP_HASH,
  MAILPASSD_ROTATION_HEARTBEAT_MS: '500',
  MAILPASSD_ROTATION_POLL_INTERVAL_MS: '500',
  MAILPASSD_ROTATION_STALE_AFTER_MS: '3000',
};

export async function startConsoleFixture(opts: { nodeIds?: string[]; env?: Record<string, string> } = {}): Promise<ConsoleFixture> {
  const db = await createTestDatabase();
  const tag = randomBytes(3).toString('hex');
  const daemons = await startNodes({ databaseUrl: db.url, nodeIds: opts.nodeIds ?? [`mail1-${tag}`, `mail2-${tag}`, `mail3-${tag}`], env: { ...SUITE_ENV, ...opts.env } });
  const browser = await launchChromium();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const contexts: BrowserContext[] = [];
  let n = 0;
  return {
    daemons,
    base: daemons[0]!.adminUrl,
    databaseUrl: db.url,
    pool,
    browser,
    async context(o: BrowserContextOptions = {}) {
      const context = await browser.newContext({ locale: 'en-US', ...o });
      contexts.push(context);
      const problems = await watchContext(context);
      const page = await context.newPage();
      return { context, page, problems };
    },
    domain: (label = 'd') => `${label}${++n}-${tag}.example`,
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
      await Promise.all(daemons.map((d) => d.stop()));
      await pool.end();
      await db.drop();
    },
  };
}

/** A domain with an owner mailbox and a domain admin of it, or a global admin: the usual cast. */
/** What every node's auth listener answers for an IMAP login (Dovecot asks the same), in node order. */
export async function answersEverywhere(f: ConsoleFixture, user: string, password: string): Promise<string[]> {
  return Promise.all(f.daemons.map(async (d) => (await verify(d, user, password)).body?.result as string));
}

export async function cast(f: ConsoleFixture, label = 'd') {
  const domain = f.domain(label);
  const d = f.daemons[0]!;
  const owner: Seeded = { address: `alice@${domain}`, password: 'Correct-Horse-Battery-9', name: 'Alice Martin' };
  const admin: Seeded = { address: `boss@${domain}`, password: 'Staple-Lantern-Orbit-42' };
  await seedDomain(d, domain, [owner, admin]);
  return { domain, owner, admin, grantGlobal: () => grantAdmin(d, admin.address, { global: true }), grantDomain: () => grantAdmin(d, admin.address, { domain }) };
}

/** A signed-in page in a fresh context. */
export async function signedIn(f: ConsoleFixture, who: Seeded, opts: BrowserContextOptions = {}) {
  const c = await f.context(opts);
  await signIn(c.page, f.base, who.address, who.password);
  return c;
}

/** No console error, no uncaught error, no CSP violation so far; no serious/critical axe violation on the page as it is now. */
export async function expectCleanPage(page: Page, problems: PageProblems): Promise<void> {
  expect(problems.pageErrors, 'uncaught errors').toEqual([]);
  expect(problems.cspViolations, 'CSP violations').toEqual([]);
  expect(problems.consoleErrors, 'console errors').toEqual([]);
  expect(await seriousA11yViolations(page), `axe on ${page.url()}`).toEqual([]);
}
