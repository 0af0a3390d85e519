import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { MAIN, runCli, type CliResult } from '../helpers/cli.js';
import { listMigrations } from '../../src/store/migrate.js';

/**
 * The README walk-through and the CONTRACT's exit codes, run through the built
 * binary against a real PostgreSQL. Each test has a database of its own and
 * makes, through the CLI, the domains and mailboxes it starts from.
 */
let db: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
const cli = (args: string[], input?: string | Buffer): Promise<CliResult> => runCli(args, { env, ...(input !== undefined ? { input } : {}) });

async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<T>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

beforeEach(async () => {
  db = await createTestDatabase();
  env = { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' };
});
afterEach(async () => db.drop());

/** Runs each CLI command a test starts from; each must succeed. */
async function given(...steps: Array<{ args: string[]; input?: string }>): Promise<void> {
  for (const { args, input } of steps) {
    const r = await cli(args, input);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}
const domain = (name: string) => ({ args: ['domain', 'add', name] });
const mailbox = (address: string, name: string) => ({ args: ['mailbox', 'add', address, '--name', name, '--password-stdin'], input: 'Correct-Horse-Battery-9\n' });

describe('mailpassd CLI', () => {
  it('the package bin (what `npx mailpassd` runs) is executable on its own after a build', async () => {
    // A fresh clone's `npm install` builds dist/ with tsc, which writes 0644: npx then said "Permission denied".
    expect(statSync(MAIN).mode & 0o111).toBe(0o111);
    const version = await new Promise<string>((resolve, reject) => execFile(MAIN, ['--version'], (err, stdout) => (err ? reject(err) : resolve(stdout))));
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('migrate applies the schema once and then reports it current', async () => {
    const first = await cli(['migrate', '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).applied).toContain('0001_init.sql');
    const again = await cli(['migrate']);
    expect(again.stdout).toMatch(/current/);
  });

  it('adds, lists and refuses duplicate domains; IDNA names are stored in ASCII', async () => {
    expect((await cli(['domain', 'add', 'Example.ORG'])).code).toBe(0);
    const dup = await cli(['domain', 'add', 'example.org']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);
    expect((await cli(['domain', 'add', 'Bücher.example'])).code).toBe(0);
    const list = JSON.parse((await cli(['domain', 'list', '--json'])).stdout) as Array<{ name: string }>;
    expect(list.map((d) => d.name)).toEqual(['example.org', 'xn--bcher-kva.example']);
    const bad = await cli(['domain', 'add', 'not a domain']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/not a valid domain/);
  });

  it('creates a mailbox from stdin, normalises the address, never stores or prints the password', async () => {
    await given(domain('example.org'));
    const r = await cli(['mailbox', 'add', 'Alice@Example.org', '--name', 'Alice Martin', '--password-stdin', '--json'], 'Correct-Horse-Battery-9\n');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.address).toBe('alice@example.org');
    expect(r.stdout + r.stderr).not.toContain('Correct-Horse-Battery-9');
    const [row] = await query<{ password_hash: string }>('SELECT password_hash FROM mailboxes WHERE address = $1', ['alice@example.org']);
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=1\$/);
    const audit = await query<{ action: string; details: unknown }>('SELECT action, details FROM audit_log WHERE target = $1', ['alice@example.org']);
    expect(audit.map((a) => a.action)).toEqual(['mailbox.add']);
    expect(JSON.stringify(audit)).not.toMatch(/argon2|Correct-Horse/);
  });

  it('refuses a personal password naming every failed rule, and writes nothing', async () => {
    await given(domain('example.org'));
    const r = await cli(['mailbox', 'add', 'bob@example.org', '--name', 'Alice Martin', '--password-stdin', '--json'], 'Martin-Alice-1990!x');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/contains_name/);
    expect(r.stderr).toMatch(/contains_date/);
    const codes = JSON.parse(r.stdout).error.violations.map((v: { code: string }) => v.code);
    expect(codes).toEqual(expect.arrayContaining(['contains_name', 'contains_date']));
    expect(await query('SELECT 1 FROM mailboxes WHERE address = $1', ['bob@example.org'])).toHaveLength(0);
    expect(await query('SELECT 1 FROM audit_log WHERE target = $1', ['bob@example.org'])).toHaveLength(0);
  });

  it('refuses bad password input: empty, whitespace, over 1024 bytes, non-UTF-8', async () => {
    await given(domain('example.org'));
    for (const input of ['', '   \t ', 'é'.repeat(513), Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b])]) {
      const r = await cli(['mailbox', 'add', 'carol@example.org', '--password-stdin'], input);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/password/i);
    }
    expect(await query('SELECT 1 FROM mailboxes WHERE address = $1', ['carol@example.org'])).toHaveLength(0);
  });

  it('generates a password once, and refuses a mailbox in an unknown domain', async () => {
    await given(domain('example.org'));
    const r = await cli(['mailbox', 'add', 'dave@example.org', '--generate', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).generated_password).toMatch(/^.{20,}$/);
    const unknown = await cli(['mailbox', 'add', 'x@nowhere.example', '--generate']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/domain nowhere.example does not exist/);
    const invalid = await cli(['mailbox', 'add', 'not-an-address', '--generate']);
    expect(invalid.code).toBe(64);
  });

  it('refuses a duplicate mailbox and a password given without stdin or a terminal', async () => {
    await given(domain('example.org'), mailbox('alice@example.org', 'Alice Martin'));
    const dup = await cli(['mailbox', 'add', 'alice@example.org', '--generate']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);
    const noTty = await cli(['mailbox', 'add', 'erin@example.org']);
    expect(noTty.code).toBe(64);
    expect(noTty.stderr).toMatch(/--password-stdin/);
  });

  it('disables, enables, shows and deletes; domain removal waits for an empty domain', async () => {
    await given(domain('example.org'), mailbox('alice@example.org', 'Alice Martin'), mailbox('dave@example.org', 'Dave Brown'));
    expect((await cli(['mailbox', 'disable', 'alice@example.org', '--reason', 'unpaid'])).code).toBe(0);
    const shown = JSON.parse((await cli(['mailbox', 'show', 'ALICE@example.org', '--json'])).stdout);
    expect(shown).toMatchObject({ enabled: false, disabled_reason: 'unpaid' });
    expect(shown).not.toHaveProperty('password_hash');
    expect((await cli(['mailbox', 'enable', 'alice@example.org'])).code).toBe(0);
    const busy = await cli(['domain', 'remove', 'example.org']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/still has 2 mailbox/);
    expect((await cli(['mailbox', 'delete', 'alice@example.org'])).code).toBe(0);
    expect((await cli(['mailbox', 'delete', 'dave@example.org'])).code).toBe(0);
    expect((await cli(['mailbox', 'show', 'alice@example.org'])).code).toBe(1);
    expect((await cli(['domain', 'remove', 'example.org'])).code).toBe(0);
    const actions = (await query<{ action: string }>("SELECT action FROM audit_log WHERE target = 'alice@example.org' ORDER BY id")).map((a) => a.action);
    expect(actions).toEqual(['mailbox.add', 'mailbox.disable', 'mailbox.enable', 'mailbox.delete']);
  });

  it('per-domain policy overrides apply to that domain only, and can be reset', async () => {
    expect((await cli(['domain', 'add', 'strict.example'])).code).toBe(0);
    const set = await cli(['domain', 'policy', 'strict.example', '--min-length', '20', '--history', '2', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout).policy).toEqual({ minLength: 20, historyCount: 2 });
    const short = await cli(['mailbox', 'add', 'x@strict.example', '--password-stdin'], 'Quartz-Vex-Jmb-7');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/too_short/);
    expect((await cli(['domain', 'policy', 'strict.example', '--min-length', 'abc'])).code).toBe(64);
    expect((await cli(['domain', 'policy', 'strict.example', '--min-length', '5000'])).code).toBe(1);
    expect((await cli(['domain', 'policy', 'strict.example', '--reset'])).code).toBe(0);
    expect((await cli(['mailbox', 'add', 'x@strict.example', '--password-stdin'], 'Quartz-Vex-Jmb-7')).code).toBe(0);
  });

  it('hash prints an argon2id PHC string in the reference parameter order', async () => {
    const r = await cli(['hash', '--password-stdin'], 'some password');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  });

  it('exits 64 on usage errors and 69 when the database is down, with one line and no stack', async () => {
    expect((await cli(['mailbox', 'frobnicate'])).code).toBe(64);
    expect((await cli(['--no-such-flag'])).code).toBe(64);
    const down = await runCli(['domain', 'list'], { env: { MAILPASSD_DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x', MAILPASSD_DATABASE_CONNECT_TIMEOUT_MS: '500' } });
    expect(down.code).toBe(69);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/database unavailable/);
    expect(down.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('doctor masks secrets and names each value\'s source', async () => {
    await given({ args: ['migrate'] });
    const r = await runCli(['doctor', '--json'], { env: { ...env, MAILPASSD_AUTH_SECRET: 'a-very-secret-value-123' } });
    const out = JSON.parse(r.stdout);
    const secret = out.config.find((c: { key: string }) => c.key === 'auth.secret');
    expect(secret).toMatchObject({ value: '****', source: 'env' });
    const url = out.config.find((c: { key: string }) => c.key === 'database_url');
    expect(url.value).not.toContain(new URL(db.url).password);
    expect(r.stdout).not.toContain('a-very-secret-value-123');
    expect(out.checks.find((c: { check: string }) => c.check === 'database').ok).toBe(true);
    expect(out.checks.find((c: { check: string }) => c.check === 'migrations').ok).toBe(true);
  });

  it('only serve and migrate migrate: other commands against an older schema exit 69 with "run mailpassd migrate" and change nothing', async () => {
    // A database one migration behind this binary, as another host's older daemon left it.
    const old = await createTestDatabase();
    const oldEnv = { ...env, MAILPASSD_DATABASE_URL: old.url };
    const c = new pg.Client({ connectionString: old.url });
    await c.connect();
    const schema = async () =>
      (await c.query<{ t: string }>("SELECT table_name AS t FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, column_name")).rows
        .map((r) => r.t)
        .join(',') + '|' + (await c.query<{ v: number }>('SELECT version AS v FROM schema_migrations ORDER BY 1')).rows.map((r) => r.v).join(',');
    try {
      const all = listMigrations();
      await c.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const m of all.slice(0, -1)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      const before = await schema();
      for (const args of [['mailbox', 'list'], ['domain', 'add', 'late.example'], ['token', 'list'], ['audit']]) {
        const r = await runCli(args, { env: oldEnv });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(69);
        expect(r.stderr).toMatch(/run mailpassd migrate/);
        expect(r.stderr).toContain(all.at(-1)!.name);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(await schema()).toBe(before);

      const migrated = await runCli(['migrate', '--json'], { env: oldEnv });
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(JSON.parse(migrated.stdout).applied).toEqual([all.at(-1)!.name]);
      const list = await runCli(['mailbox', 'list', '--json'], { env: oldEnv });
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
    } finally {
      await c.end();
      await old.drop();
    }
  });

  it('a command on an empty database (nothing has ever served it) creates the schema', async () => {
    const fresh = await createTestDatabase();
    try {
      const r = await runCli(['domain', 'add', 'fresh.example'], { env: { ...env, MAILPASSD_DATABASE_URL: fresh.url } });
      expect(r.code, r.stderr).toBe(0);
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const versions = (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY 1')).rows.map((x) => x.version);
      await c.end();
      expect(versions).toEqual(listMigrations().map((m) => m.version));
    } finally {
      await fresh.drop();
    }
  });
});
