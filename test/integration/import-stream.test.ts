import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { hashPassword } from '../../src/auth/hash.js';
import type { Queryable } from '../../src/store/pool.js';
import { importAuditFor } from '../../src/store/sql/import.js';

/**
 * `mailbox import` of a large file through the built CLI against a real
 * PostgreSQL: streamed, staged set-based, all or nothing, with a dry run that
 * reports what would change. Each test uses its own domains, so none depends on
 * another's rows.
 */
let db: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
let tmp: { dir: string; remove(): void };
let client: pg.Client;
/** Two precomputed argon2id hashes (cheap parameters): hashing 100k passwords is not what is tested. */
let HASH_A: string;
let HASH_B: string;
const LINES = 100_000;

const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 240_000 });
const count = async (sql: string, values: unknown[] = []): Promise<number> => Number((await client.query<{ n: string }>(sql, values)).rows[0]!.n);

/** Writes `n` lines over `domains` domains to a file, streaming (the test holds no 100k-line string either). */
async function writeFile(name: string, n: number, line: (i: number) => string): Promise<string> {
  const file = path.join(tmp.dir, name);
  const out = createWriteStream(file);
  for (let i = 0; i < n; i++) if (!out.write(`${line(i)}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return file;
}

beforeAll(async () => {
  db = await createTestDatabase();
  env = { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' };
  tmp = tempDir('import-stream');
  const params = { memory_cost: 4096, time_cost: 1, parallelism: 1 } as Parameters<typeof hashPassword>[1];
  HASH_A = await hashPassword('Import-Stream-Pass-A', params);
  HASH_B = await hashPassword('Import-Stream-Pass-B', params);
  expect((await cli(['migrate'])).code).toBe(0);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  tmp?.remove();
  await db?.drop();
});

describe('mailbox import, streamed', () => {
  it(`imports ${LINES} lines in one go: every mailbox and its history, one audit entry naming the file; the report counts them`, async () => {
    const file = await writeFile('big.tsv', LINES, (i) => `user${i}@d${i % 100}.bulk.example\t${HASH_A}\tUser ${i}`);
    const r = await cli(['mailbox', 'import', '--create-domains', '--json', '--file', file]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ dryRun: false, lines: LINES, new: LINES, changed: 0, unchanged: 0, refused: 0, imported: LINES });
    expect(report.domainsCreated).toHaveLength(100);
    expect(r.stdout + r.stderr).not.toContain('$argon2');
    expect(await count(`SELECT count(*) AS n FROM mailboxes WHERE domain LIKE '%.bulk.example' AND password_hash = $1`, [HASH_A])).toBe(LINES);
    expect(await count(`SELECT count(*) AS n FROM password_history h JOIN mailboxes m ON m.id = h.mailbox_id WHERE m.domain LIKE '%.bulk.example'`)).toBe(LINES);
    // One audit entry for the import (not one per mailbox), naming the file by its sha256; it answers who created any of them.
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    const audit = (await client.query(`SELECT id::text AS id, actor, target, details FROM audit_log WHERE action = 'mailbox.import' AND at = (SELECT created_at FROM mailboxes WHERE address = 'user0@d0.bulk.example')`)).rows;
    expect(audit).toEqual([{ id: expect.any(String), actor: expect.any(String), target: null, details: { created: LINES, lines: LINES, file_sha256: sha } }]);
    expect(await importAuditFor(client as unknown as Queryable, 'user4711@d11.bulk.example')).toMatchObject({ id: audit[0].id, details: { file_sha256: audit[0].details.file_sha256 } });
    expect((await client.query(`SELECT display_name FROM mailboxes WHERE address = 'user4711@d11.bulk.example'`)).rows[0]).toEqual({ display_name: 'User 4711' });
  });

  it('refuses the whole file for one bad line and one duplicate near the end, naming both lines; nothing is written', async () => {
    const bad = LINES - 10;
    const dup = LINES - 5;
    const file = await writeFile('bad.tsv', LINES, (i) =>
      i === bad - 1 ? `oops@bad.example\t{PLAIN}not-a-hash` : i === dup - 1 ? `user7@d7.bad.example\t${HASH_A}` : `user${i}@d${i % 10}.bad.example\t${HASH_A}`,
    );
    const r = await cli(['mailbox', 'import', '--create-domains', '--file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`line ${bad}: hash scheme not recognised`);
    expect(r.stderr).toContain(`line ${dup}: mailbox user7@d7.bad.example already appears on line 8`);
    expect(r.stderr).not.toContain('not-a-hash');
    expect(await count(`SELECT count(*) AS n FROM mailboxes WHERE domain LIKE '%bad.example'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM domains WHERE name LIKE '%bad.example'`)).toBe(0);
  });

  it('a dry run reports new, changed, unchanged and refused lines by number and writes nothing; --update then applies the changes', async () => {
    const seed = await writeFile('seed.tsv', 4, (i) => `m${i}@dry.example\t${HASH_A}\tM ${i}`);
    expect((await cli(['mailbox', 'import', '--create-domains', '--file', seed])).code).toBe(0);
    const before = await client.query(`SELECT address, password_hash, display_name, credential_version FROM mailboxes WHERE domain = 'dry.example' ORDER BY address`);
    const audits = await count('SELECT count(*) AS n FROM audit_log');
    const invalidations = await count('SELECT count(*) AS n FROM invalidations');

    // line 1 unchanged, 2 new hash, 3 new display name, 4 unchanged, 5 new, 6 refused (no such domain), 7 refused (bad hash)
    const lines = [
      `m0@dry.example\t${HASH_A}\tM 0`,
      `m1@dry.example\t${HASH_B}\tM 1`,
      `m2@dry.example\t${HASH_A}\tRenamed`,
      `m3@dry.example\t${HASH_A}\tM 3`,
      `fresh@dry.example\t${HASH_B}`,
      `x@nowhere.example\t${HASH_A}`,
      `y@dry.example\tplaintext-password`,
    ];
    const file = await writeFile('dry.tsv', lines.length, (i) => lines[i]!);
    const dry = await cli(['mailbox', 'import', '--dry-run', '--update', '--json', '--file', file]);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout);
    expect(report).toMatchObject({ dryRun: true, lines: 7, new: 2, changed: 2, unchanged: 2, refused: 2, imported: 0 });
    expect(report.refusedLines).toEqual([
      { line: 6, reason: 'domain nowhere.example does not exist (use --create-domains)' },
      { line: 7, reason: expect.stringMatching(/^hash scheme not recognised/) },
    ]);
    expect(report.changedLines).toEqual([
      { line: 2, address: 'm1@dry.example', change: 'password' },
      { line: 3, address: 'm2@dry.example', change: 'display_name' },
    ]);
    expect(dry.stdout).not.toMatch(/\$argon2|plaintext-password/);
    const human = await cli(['mailbox', 'import', '--dry-run', '--file', file]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('dry run: nothing written');
    expect(human.stdout).toContain('refused line 2: mailbox m1@dry.example exists with a different hash or display name (use --update to replace it)');
    expect(human.stdout).not.toMatch(/\$argon2|plaintext-password/);
    const withDomains = JSON.parse((await cli(['mailbox', 'import', '--dry-run', '--update', '--create-domains', '--json', '--file', file])).stdout);
    expect(withDomains).toMatchObject({ new: 2, refused: 1, domainsMissing: ['nowhere.example'], domainsCreated: [] });

    expect((await client.query(`SELECT address, password_hash, display_name, credential_version FROM mailboxes WHERE domain = 'dry.example' ORDER BY address`)).rows).toEqual(before.rows);
    expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(audits);
    expect(await count('SELECT count(*) AS n FROM invalidations')).toBe(invalidations);

    const good = await writeFile('update.tsv', 5, (i) => lines[i]!);
    const applied = await cli(['mailbox', 'import', '--update', '--json', '--file', good]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ new: 1, changed: 2, unchanged: 2, refused: 0, imported: 3 });
    const after = Object.fromEntries((await client.query(`SELECT address, password_hash, display_name, credential_version FROM mailboxes WHERE domain = 'dry.example'`)).rows.map((r) => [r.address, r]));
    expect(after['m1@dry.example']).toMatchObject({ password_hash: HASH_B, credential_version: 2 });
    expect(after['m2@dry.example']).toMatchObject({ display_name: 'Renamed', credential_version: 1 });
    expect(after['m0@dry.example']).toMatchObject({ password_hash: HASH_A, credential_version: 1 });
    expect(after['fresh@dry.example']).toMatchObject({ password_hash: HASH_B, credential_version: 1 });
    // Only the replaced hash is a new credential the nodes must hear of.
    expect((await client.query(`SELECT address, reason, kick FROM invalidations WHERE address LIKE '%@dry.example'`)).rows).toEqual([{ address: 'm1@dry.example', reason: 'import', kick: true }]);
    expect(await count(`SELECT count(*) AS n FROM password_history h JOIN mailboxes m ON m.id = h.mailbox_id WHERE m.address = 'm1@dry.example'`)).toBe(2);
  });

  it('a role that is not a superuser imports the same (the per-row foreign-key checks stay on): mailboxes, history, one audit entry', async () => {
    const role = `imp_${Math.random().toString(36).slice(2, 10)}`;
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'import-role-pw' NOSUPERUSER`);
    try {
      await client.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
      await client.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = 'import-role-pw';
      const file = await writeFile('role.tsv', 50, (i) => `r${i}@d${i % 5}.role.example\t${HASH_B}`);
      const r = await runCli(['mailbox', 'import', '--create-domains', '--json', '--file', file], { env: { ...env, MAILPASSD_DATABASE_URL: url.toString() }, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ new: 50, imported: 50, domainsCreated: ['d0.role.example', 'd1.role.example', 'd2.role.example', 'd3.role.example', 'd4.role.example'] });
      expect(await count(`SELECT count(*) AS n FROM password_history h JOIN mailboxes m ON m.id = h.mailbox_id WHERE m.domain LIKE '%.role.example' AND h.password_hash = $1`, [HASH_B])).toBe(50);
      expect(await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'domain.add' AND target LIKE '%.role.example' AND details = '{"via": "import"}'`)).toBe(5);
      expect((await importAuditFor(client as unknown as Queryable, 'r7@d2.role.example'))?.details).toMatchObject({ created: 50, lines: 50 });
    } finally {
      await client.query(`DROP OWNED BY ${role}`);
      await client.query(`DROP ROLE ${role}`);
    }
  });
});
