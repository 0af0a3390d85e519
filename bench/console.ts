// Benchmark — the web console (issue 12): the mailbox table of a 10,000-mailbox
// domain as the server renders it, and a password change as an admin does it in
// the browser, from sign-in to "In force on 3 of 3 nodes".
//
// Seeding: one mailbox is created through the CLI (its password hashed once,
// argon2id at the shipped cost), then 10,000 rows in one `INSERT … SELECT
// generate_series` that copies that one hash (harness/console.ts bulkMailboxes):
// hashing 10,000 passwords would take minutes and measure nothing the console does.
//
// Table: sequential GETs with the session cookie over loopback keep-alive, timed
// request → last byte of the HTML (so: routing, session lookup, the keyset page
// query and its count, the TSX render; no browser). First page, a middle page by
// cursor (`?after=`), and a search (`?q=`, a substring of display names).
//
// Change: Debian's Chromium, a fresh context per run: sign in, the domain page
// searched to the mailbox, gear → Change password → Generate → Confirm, until the
// live list says in force on all three nodes (three daemons on one database,
// doveadm none: each node still applies and confirms).
import { launchChromium } from '../harness/chromium.js';
import { bulkMailboxes, grantAdmin, seedDomain, signIn, signInHttp, startNodes } from '../harness/console.js';
import type { BenchContext } from './lib/context.js';
import { SHIPPED_HASH } from '../harness/daemon.js';
import { onCleanup } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { median, ms, percentile } from './lib/stats.js';
import { timedGets } from './lib/http.js';

export const name = 'console';
export const title = 'Web console: mailbox table of a 10,000-mailbox domain (server render), and sign-in → change → confirmed on 3 nodes (Chromium)';

const DOMAIN = 'bench-console.example';
const MAILBOXES = 10_000;
const ADMIN = { address: `admin@${DOMAIN}`, password: 'Harbor-Velvet-Compass-27' };
const TARGET = { address: `alice@${DOMAIN}`, password: 'Correct-Horse-Battery-9', name: 'Alice Martin' };

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 40 : 300;
  const changes = ctx.quick ? 3 : 12;
  const pg = await ctx.postgres();
  const databaseUrl = await pg.createDatabase('bench_console');
  const daemons = await startNodes({
    databaseUrl,
    nodeIds: ['console-1', 'console-2', 'console-3'],
    env: SHIPPED_HASH,
    logLevel: 'warn',
    started: (d) => onCleanup(() => d.stop()),
  });
  const d = daemons[0]!;
  const base = d.adminUrl;
  await seedDomain(d, DOMAIN, [ADMIN, TARGET]);
  const t0 = performance.now();
  await bulkMailboxes(databaseUrl, DOMAIN, MAILBOXES, TARGET.address);
  const seedMs = performance.now() - t0;
  await grantAdmin(d, ADMIN.address, { global: true });
  console.log(`  seeded ${MAILBOXES} mailboxes in ${ms(seedMs)}`);

  const cookie = await signInHttp(base, ADMIN.address, ADMIN.password);
  const page = (q: string) => `${base}/domains/${encodeURIComponent(DOMAIN)}${q}`;
  const kinds = [
    { label: 'first page', url: page('') },
    { label: `middle page (?after=user05000@…)`, url: page(`?after=${encodeURIComponent(`user05000@${DOMAIN}`)}`) },
    { label: 'search (?q=person 0777: 10 matches)', url: page(`?q=${encodeURIComponent('person 0777')}`) },
  ];
  const table: Array<{ label: string; times: number[]; bytes: number }> = [];
  for (const k of kinds) {
    await ctx.settle();
    const r = await timedGets(k.url, cookie, n, (b) => b > 1000);
    table.push({ label: k.label, ...r });
    console.log(`  ${k.label}: p50 ${ms(median(r.times))} p99 ${ms(percentile(r.times, 99))} (${r.bytes} bytes)`);
  }

  // Sign-in → change → confirmed, in Chromium.
  const browser = await launchChromium();
  onCleanup(() => browser.close());
  const flow: number[] = [];
  const confirmToSummary: number[] = [];
  for (let i = 0; i < changes + 1; i++) {
    await ctx.settle();
    const context = await browser.newContext({ locale: 'en-US' });
    const p = await context.newPage();
    const start = performance.now();
    await signIn(p, base, ADMIN.address, ADMIN.password);
    await p.goto(page(`?q=${encodeURIComponent(TARGET.address)}`));
    await p.getByRole('button', { name: `Actions for ${TARGET.address}` }).click();
    await p.getByRole('menu').getByRole('menuitem', { name: 'Change password' }).click();
    const dialog = p.getByRole('dialog', { name: `Change password for ${TARGET.address}` });
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await dialog.getByLabel('Generated password').waitFor();
    const confirmAt = performance.now();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.getByRole('status').getByText(/In force on 3 of 3 nodes/).waitFor({ timeout: 30_000 });
    const end = performance.now();
    await context.close();
    if (i === 0) continue; // the first run warms Chromium and each daemon's argon2 threads
    flow.push(end - start);
    confirmToSummary.push(end - confirmAt);
  }
  await browser.close();
  console.log(`  sign-in → confirmed: p50 ${ms(median(flow))} p99 ${ms(percentile(flow, 99))}; Confirm → summary p50 ${ms(median(confirmToSummary))}`);

  const row = (label: string, xs: number[], extra = ''): string[] => [label, ms(median(xs)), ms(percentile(xs, 99)), ms(Math.max(...xs)), String(xs.length), extra];
  return {
    setup: [
      `One domain of ${MAILBOXES.toLocaleString('en-US')} + 2 mailboxes; 3 daemons (console-1..3, doveadm none) on one database, shipped argon2 (19456/2/1). Seeding: one mailbox through the CLI, then one \`INSERT … SELECT generate_series\` copying its one precomputed argon2 hash into ${MAILBOXES.toLocaleString('en-US')} rows (${ms(seedMs)}), then ANALYZE.`,
      `Mailbox table: ${n} sequential GETs per kind with a global admin's session cookie (signed in once through POST /login), after 10 unrecorded; loopback keep-alive; timed request → last byte of the HTML, 50 rows a page.`,
      `Change: ${changes} runs (after 1 unrecorded) in Debian's Chromium, a fresh context each: sign in → domain page searched to the mailbox → gear → Change password → Generate → Confirm, until the live list reads "In force on 3 of 3 nodes". Chromium, the daemons and PostgreSQL share the machine's 2 cores.`,
    ],
    tables: [
      {
        columns: ['measure', 'p50', 'p99', 'max', 'n', 'page size'],
        rows: [
          ...table.map((t) => row(`table: ${t.label}`, t.times, `${(t.bytes / 1024).toFixed(0)} KiB`)),
          row('Chromium: sign-in → change → in force on 3 of 3', flow),
          row('Chromium: Confirm → in force on 3 of 3', confirmToSummary),
        ],
      },
    ],
    verdicts: [],
    notes: ['p99 is the nearest-rank percentile (with 12 change runs it is the slowest one). No floor is set for the console yet: these are the first figures.'],
    figures: Object.fromEntries([...table.map((t) => [t.label, { p50: median(t.times), p99: percentile(t.times, 99) }]), ['flow', { p50: median(flow), p99: percentile(flow, 99) }], ['confirm', { p50: median(confirmToSummary), p99: percentile(confirmToSummary, 99) }]]),
  };
}
