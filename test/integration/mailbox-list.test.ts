import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `mailbox list` without --domain reads every mailbox a page at a time (issue 15:
 * it used to load the whole table, a memory blow-up at a million): a few
 * thousand mailboxes over several domains, listed through the built binary with
 * a small --page-size, come out each exactly once, by domain then address, and
 * the table was read in one query per page.
 */
const MAILBOXES = 3000;
let db: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
let client: pg.Client;
/** Every address in the order the listing must print them: the database's own (domain, address) order. */
let expected: string[];

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });

/** How many times the mailboxes table has been read (any plan), as the statistics collector counts it. */
async function mailboxScans(): Promise<number> {
  const r = await client.query<{ n: string }>(`SELECT (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS n FROM pg_stat_user_tables WHERE relname = 'mailboxes'`);
  return Number(r.rows[0]!.n);
}

/** Runs the listing and waits until its backend's statistics arrive (flushed when it exits): the number of reads of the table it made. */
async function listCounting(args: string[], atLeast: number): Promise<{ r: CliResult; scans: number }> {
  const before = await mailboxScans();
  const r = await cli(args);
  expect(r.code, r.stderr).toBe(0);
  const scans = await waitFor('the listing\'s table statistics', 10_000, async () => {
    const n = (await mailboxScans()) - before;
    return n >= atLeast ? n : null;
  }).catch(async () => (await mailboxScans()) - before);
  return { r, scans };
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' };
  expect((await cli(['migrate'])).code).toBe(0);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // One precomputed hash copied into every row: seeding takes milliseconds, not 3,000 argon2 runs.
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
  // Seven domains of uneven size, one without mailboxes; the same local parts in several domains.
  await client.query(`INSERT INTO domains (name) SELECT 'd' || i || '.list.example' FROM generate_series(0, 7) i`);
  await client.query(
    `INSERT INTO mailboxes (address, domain, password_hash, display_name)
     SELECT 'u' || (i % 1000) || '@d' || (i * i % 7) || '.list.example', 'd' || (i * i % 7) || '.list.example', $1, 'User ' || i
     FROM generate_series(1, 20000) i ON CONFLICT (address) DO NOTHING`,
    [hash],
  );
  await client.query(`DELETE FROM mailboxes WHERE id NOT IN (SELECT id FROM mailboxes ORDER BY id LIMIT ${MAILBOXES})`);
  await client.query('ANALYZE mailboxes');
  expected = (await client.query<{ address: string }>('SELECT address FROM mailboxes ORDER BY domain, address')).rows.map((r) => r.address);
}, 120_000);
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('mailbox list over every domain', () => {
  it('--json: one valid JSON array, every mailbox once, by domain then address, one query per page', async () => {
    expect(expected).toHaveLength(MAILBOXES);
    expect(new Set(expected.map((a) => a.split('@')[1])).size).toBeGreaterThan(2);
    const pageSize = 97;
    const pages = Math.ceil(MAILBOXES / pageSize);
    const { r, scans } = await listCounting(['mailbox', 'list', '--json', '--page-size', String(pageSize)], pages);
    const listed = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(listed.map((m) => m.address)).toEqual(expected);
    expect(Object.keys(listed[0]!)).toEqual(expect.arrayContaining(['address', 'domain', 'display_name', 'enabled', 'credential_version']));
    expect(listed[0]).not.toHaveProperty('password_hash');
    // Loading the table at once is one read of it; paging is one read per page.
    expect(scans).toBeGreaterThanOrEqual(pages);
  }, 60_000);

  it('the table: a header, then every mailbox once, in order; the default page size pages too', async () => {
    const { r, scans } = await listCounting(['mailbox', 'list'], Math.ceil(MAILBOXES / 500));
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ADDRESS\s+DISPLAY_NAME\s+ENABLED/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expected);
    expect(scans).toBeGreaterThanOrEqual(Math.ceil(MAILBOXES / 500));
  }, 60_000);

  it('a page size that divides the count exactly, --domain with a page size, and a bad page size', async () => {
    const exact = await cli(['mailbox', 'list', '--json', '--page-size', String(MAILBOXES / 3)]);
    expect((JSON.parse(exact.stdout) as Array<{ address: string }>).map((m) => m.address)).toEqual(expected);
    const one = await cli(['mailbox', 'list', '--domain', 'd2.list.example', '--json', '--page-size', '7']);
    expect((JSON.parse(one.stdout) as Array<{ address: string }>).map((m) => m.address)).toEqual(expected.filter((a) => a.endsWith('@d2.list.example')));
    expect(JSON.parse((await cli(['mailbox', 'list', '--domain', 'd7.list.example', '--json'])).stdout)).toEqual([]);
    for (const bad of ['0', '-1', '1.5', 'many', '10001']) {
      const r = await cli(['mailbox', 'list', '--page-size', bad]);
      expect(r.code, bad).toBe(64);
      expect(r.stderr).toMatch(/--page-size/);
    }
  }, 60_000);

  it('doctor checks every mailbox name a page at a time and counts the offenders over all pages', async () => {
    await client.query(
      `INSERT INTO mailboxes (address, domain, password_hash) SELECT 'old*' || i || '@d' || (i % 7) || '.list.example', 'd' || (i % 7) || '.list.example', 'x' FROM generate_series(1, 25) i`,
    );
    try {
      const r = await cli(['doctor', '--json']);
      const check = JSON.parse(r.stdout).checks.find((x: { check: string }) => x.check === 'mailbox names');
      expect(check.ok).toBe(false);
      expect(check.detail).toMatch(/^25 mailbox\(es\) break the rule .*\(\+5 more\)$/);
      expect(check.detail.split(': ').at(-1).split(', ')).toHaveLength(20);
    } finally {
      await client.query(`DELETE FROM mailboxes WHERE address LIKE 'old*%'`);
    }
  }, 60_000);
});
