import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/postgres.js';

/** Which names a new mailbox may have, through the built CLI against a real PostgreSQL; doctor lists stored ones that break the rule. */
let db: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, ...(input !== undefined ? { input } : {}) });
const PW = 'Quarry-Lantern-Oxbow-42-Thistle';
const RULE = /cannot be a new mailbox: a local part is letters a-z, digits and \. _ \+ - only, starts with a letter, digit or _/;
const HASH = '{SSHA512}fXwzG0ZRGd0BQ8yNoSzdvWO2CqbQ9fTqqcN8eMGiGVmEJsgiDBsUsrNLHn3JKJsZaMfr+fPuhD/m8MR4TkHmmSdUzIM=';

beforeAll(async () => {
  db = await createTestDatabase();
  env = { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' };
  expect((await cli(['migrate'])).code).toBe(0);
  expect((await cli(['domain', 'add', 'names.example'])).code).toBe(0);
});
afterAll(async () => db.drop());

describe('new mailbox names', () => {
  it.each(['-alice', 'a*b', 'a?c', 'a%b', 'a/b', 'a|b'])('mailbox add refuses %s@names.example, naming the rule', async (local) => {
    const r = await cli(['mailbox', 'add', '--password-stdin', '--', `${local}@names.example`], PW);
    expect(r.code, r.stdout).toBe(64);
    expect(r.stderr).toMatch(RULE);
  });

  it('mailbox add keeps what real mailboxes use', async () => {
    for (const local of ['first.last+tag', 'a-b_c', '4711']) {
      const r = await cli(['mailbox', 'add', `${local}@names.example`, '--password-stdin'], PW);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it('mailbox add refuses another spelling of the domain, naming the stored one', async () => {
    expect((await cli(['domain', 'add', 'bücher.example'])).code).toBe(0);
    const r = await cli(['mailbox', 'add', 'anna@Bücher.Example', '--password-stdin'], PW);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/use anna@xn--bcher-kva\.example/);
  });

  it('import refuses the whole file, naming each line and the rule', async () => {
    const r = await cli(['mailbox', 'import'], `ok@names.example\t${HASH}\n-opt@names.example\t${HASH}\nwild*@names.example\t${HASH}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 2: "-opt@names\.example" cannot be a new mailbox: a local part is/);
    expect(r.stderr).toMatch(/line 3: "wild\*@names\.example" cannot be a new mailbox/);
    expect((await cli(['mailbox', 'show', 'ok@names.example'])).code).not.toBe(0);
  });

  it('doctor lists stored mailboxes that break the rule; they can still be disabled and deleted', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`INSERT INTO mailboxes (address, domain, password_hash) VALUES ('-legacy@names.example', 'names.example', $1), ('old?name@names.example', 'names.example', $1)`, [HASH]);
    await c.end();
    const r = await cli(['doctor', '--json']);
    const check = JSON.parse(r.stdout).checks.find((x: { check: string }) => x.check === 'mailbox names');
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/^2 mailbox\(es\) break the rule for new names .*: -legacy@names\.example, old\?name@names\.example$/);
    expect((await cli(['mailbox', 'disable', '--', '-legacy@names.example'])).code).toBe(0);
    expect((await cli(['mailbox', 'delete', 'old?name@names.example'])).code).toBe(0);
  });
});
