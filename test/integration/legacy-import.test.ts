import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';
import { shaCrypt } from '../../src/auth/legacy.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['doveadm']);

/** Migrating from Dovecot's passdb sql: imported hashes verify as Dovecot would and become argon2id at the next login. */
const SCHEMES = ['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'SSHA512', 'SSHA256', 'ARGON2ID'];
const dovecotHash = (scheme: string, pw: string) => execFileSync('doveadm', ['pw', '-s', scheme, '-p', pw], { encoding: 'utf8' }).trim();
let db: { url: string; drop(): Promise<void> };
let d: TestDaemon;

async function storedHash(address: string): Promise<string> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const r = await c.query<{ password_hash: string }>('SELECT password_hash FROM mailboxes WHERE address = $1', [address]);
  await c.end();
  return r.rows[0]!.password_hash;
}

beforeAll(async () => {
  db = await createTestDatabase();
  d = await startTestDaemon({ databaseUrl: db.url });
});
afterAll(async () => {
  await d?.stop();
  await db?.drop();
});

describe('mailbox import with legacy hashes', () => {
  it('refuses the whole file when one line is bad, naming the line', async () => {
    const text = `a@legacy.example\t${dovecotHash('SSHA512', 'pw-a-1')}\n#comment\nb@legacy.example\t{PLAIN}oops\n`;
    const r = await d.cli(['mailbox', 'import', '--create-domains'], text);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 3: hash scheme not recognised/);
    expect((await d.cli(['mailbox', 'list', '--json'])).stdout.trim()).toBe('[]');
  });

  it('refuses hashes that would cost a login more than the caps (SHA-crypt rounds, bcrypt cost), naming the line and the cap', async () => {
    const text = [
      `ok@legacy.example\t${dovecotHash('SHA512-CRYPT', 'pw-ok-1')}`,
      `rounds@legacy.example\t{SHA512-CRYPT}$6$rounds=600000$saltsalt$${'a'.repeat(86)}`,
      `cost@legacy.example\t$2y$14$${'a'.repeat(53)}`,
    ].join('\n');
    const r = await d.cli(['mailbox', 'import', '--create-domains'], `${text}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 2: SHA512-CRYPT rounds=600000 exceeds the cap of 500000/);
    expect(r.stderr).toMatch(/line 3: BLF-CRYPT cost 14 exceeds the cap of 13/);
    expect((await d.cli(['mailbox', 'list', '--json'])).stdout.trim()).toBe('[]');
  });

  it('imports every scheme Dovecot writes; each verifies, refuses a wrong password, and is re-hashed to argon2id on login', async () => {
    const lines = SCHEMES.map((s, i) => `user${i}@legacy.example\t${dovecotHash(s, `Legacy-Pass-${i}`)}\tUser ${i}`);
    const r = await d.cli(['mailbox', 'import', '--create-domains', '--json'], `${lines.join('\n')}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ imported: SCHEMES.length, new: SCHEMES.length, refused: 0, domainsCreated: ['legacy.example'] });
    expect(r.stdout + r.stderr).not.toMatch(/\$6\$|\$2y\$|SSHA/);
    for (let i = 0; i < SCHEMES.length; i++) {
      const address = `user${i}@legacy.example`;
      expect((await verify(d, address, `Legacy-Pass-${i}x`, { remote_ip: `10.2.${i}.1` })).body.result, SCHEMES[i]).toBe('password_mismatch');
      expect((await verify(d, address, `Legacy-Pass-${i}`)).body.result, SCHEMES[i]).toBe('ok');
      const deadline = Date.now() + 5000;
      while (!(await storedHash(address)).startsWith('$argon2id$v=19$m=4096,t=1,p=1$') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(await storedHash(address), SCHEMES[i]).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=1\$/);
      expect((await verify(d, address, `Legacy-Pass-${i}`)).body.result).toBe('ok');
    }
  });

  it('SHA-crypt matches glibc for a custom rounds count', () => {
    // glibc's crypt(3) through Python, the reference for $6$rounds=N$.
    const glibc = execFileSync('python3', ['-W', 'ignore', '-c', "import crypt;print(crypt.crypt('rounds-test','$6$rounds=12345$saltsaltsalt'))"], { encoding: 'utf8' }).trim();
    expect(glibc).toMatch(/^\$6\$rounds=12345\$saltsaltsalt\$/);
    expect(shaCrypt('sha512', 'rounds-test', glibc)).toBe(glibc);
  });
});
