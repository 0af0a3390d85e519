/**
 * The web console (issue 12) as the browser tests, `npm run screenshots` and the
 * console benchmark drive it: daemons on one database whose admin listener serves
 * the console, admins granted through the real CLI, demo data, a signed-in page,
 * and the checks every page must pass (no console error, no CSP violation, no
 * serious accessibility violation). No test framework here: callers assert.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { addMailbox, startDaemon, type Daemon } from './daemon.js';

// Some functions below run in the page, not in Node; this project has no DOM lib, so its globals are declared loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

/** axe-core's browser bundle (a devDependency), injected into pages to audit them. */
export const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export type AdminRole = { global: true } | { domain: string };

/** `mailpassd admin grant <address> --global | --domain <d>`, as an operator grants themself the console. */
export async function grantAdmin(d: Daemon, address: string, role: AdminRole): Promise<void> {
  await d.cliOk(['admin', 'grant', address, ...('global' in role ? ['--global'] : ['--domain', role.domain])]);
}

export interface NodesOptions {
  databaseUrl: string;
  /** Node ids, one daemon each (three: the live confirmation names every node). */
  nodeIds: string[];
  /** The hash profile and anything else, added to every daemon's environment. */
  env?: Record<string, string>;
  logLevel?: string;
  /** Called with each daemon as it starts (benchmarks register their cleanup). */
  started?: (d: Daemon) => void;
}

/**
 * Daemons on one database, as on several mail nodes. Without Dovecot (doveadm
 * = none) a node still applies each change and confirms it, which is what the
 * console's per-node list shows. The console is daemons[0]'s admin listener.
 */
export async function startNodes(opts: NodesOptions): Promise<Daemon[]> {
  const daemons: Daemon[] = [];
  try {
    for (const nodeId of opts.nodeIds) {
      const d = await startDaemon({ databaseUrl: opts.databaseUrl, nodeId, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), env: { MAILPASSD_DOVEADM: 'none', ...opts.env } });
      daemons.push(d);
      opts.started?.(d);
    }
  } catch (err) {
    if (!opts.started) await Promise.all(daemons.map((d) => d.stop()));
    throw err;
  }
  return daemons;
}

export interface Seeded {
  address: string;
  password: string;
  name?: string;
}

/** A domain with mailboxes, each through the CLI (real hashes, policy checked): for a handful. */
export async function seedDomain(d: Daemon, domain: string, mailboxes: Seeded[]): Promise<void> {
  const r = await d.cli(['domain', 'add', domain]);
  if (r.code !== 0 && !/already exists/.test(r.stderr)) throw new Error(`domain add ${domain}: ${r.stderr}`);
  for (const m of mailboxes) await addMailbox(d, m.address, m.password, m.name);
}

/**
 * `count` more mailboxes in `domain` in one statement: `INSERT … SELECT
 * generate_series` with the password hash of `template` (an existing mailbox,
 * hashed once by the daemon) copied into every row. Hashing 10,000 passwords
 * would take minutes at the shipped argon2 cost and measure nothing the console
 * does; the rows are otherwise what the daemon writes. Addresses are
 * `<prefix>00001@domain` …, display names "Person 00001" ….
 */
export async function bulkMailboxes(databaseUrl: string, domain: string, count: number, template: string, prefix = 'user'): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO mailboxes (address, domain, display_name, password_hash)
       SELECT $1 || lpad(i::text, 5, '0') || '@' || $2, $2, 'Person ' || lpad(i::text, 5, '0'), t.password_hash
         FROM generate_series(1, $3::int) AS i, (SELECT password_hash FROM mailboxes WHERE address = $4) AS t`,
      [prefix, domain, count, template],
    );
    await client.query('ANALYZE mailboxes');
  } finally {
    await client.end();
  }
}

/** Signs in through the login form; resolves once the page after it has loaded. */
export async function signIn(page: Page, baseUrl: string, address: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Email address').fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 15_000 }), page.getByRole('button', { name: 'Sign in' }).click()]);
}

/** What went wrong in a page while it was watched: console errors, uncaught errors, CSP violations. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  cspViolations: string[];
}

/**
 * Watches every page of a context: console errors and uncaught exceptions,
 * and CSP violations (a `securitypolicyviolation` listener installed before any
 * page script; Chromium also logs each as a console error). Also installs axe:
 * as an init script, because a script tag added to a page with the console's
 * CSP (no inline script) would itself be a violation.
 */
export async function watchContext(context: BrowserContext): Promise<PageProblems> {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], cspViolations: [] };
  await context.exposeBinding('__mailpassdCsp', (_src, v: string) => void problems.cspViolations.push(v));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string; sourceFile: string; lineNumber: number }) => {
      window.__mailpassdCsp(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  await context.addInitScript({ path: AXE_PATH });
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.consoleErrors.push(`${page.url()}: ${m.text()}${m.location().url && m.location().url !== page.url() ? ` (${m.location().url})` : ''}`);
    });
    page.on('pageerror', (e) => problems.pageErrors.push(`${page.url()}: ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return problems;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core on the current page: the serious and critical violations (installed by watchContext). */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  return page.evaluate(async () => {
    const axe = window.axe as { run(ctx: unknown, opts: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> };
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/**
 * Signs in with the login form over plain HTTP (no browser), as the benchmark
 * does for requests with the session cookie; resolves with the Cookie header.
 */
export async function signInHttp(baseUrl: string, address: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl },
    body: new URLSearchParams({ address, password }).toString(),
    redirect: 'manual',
  });
  const cookie = res.headers.getSetCookie().find((c) => /^(__Host-)?mailpassd_session=/.test(c));
  if (!cookie) throw new Error(`sign-in as ${address} failed: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return cookie.split(';')[0]!;
}
