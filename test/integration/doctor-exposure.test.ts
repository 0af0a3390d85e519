/**
 * `mailpassd doctor` names what a local user or Dovecot could reach that it
 * should not (issue 10 point 15): a TCP auth listener without a secret,
 * mailpassd.toml readable by Dovecot or everyone, open sockets, metrics open
 * beyond this host. Warnings are shown as WARN and leave the exit status alone.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'doveadm']);

interface Check {
  check: string;
  ok: boolean;
  detail: string;
  warning?: boolean;
}

let db: { url: string; drop(): Promise<void> };
const tmp = tempDir('doctor');
const SECRET_FILE = join(tmp.dir, 'auth.secret');
const dovecotGid = Number(spawnSync('getent', ['group', 'dovecot'], { encoding: 'utf8' }).stdout.split(':')[2]);

beforeAll(async () => {
  db = await createTestDatabase();
  const m = await runCli(['migrate'], { env: { MAILPASSD_DATABASE_URL: db.url } });
  expect(m.code, m.stderr).toBe(0);
  // The well-kept secret file several tests point at: root, group dovecot, 0640.
  writeFileSync(SECRET_FILE, 'doctor-secret-0123456789abcdef\n', { mode: 0o640 });
  chownSync(SECRET_FILE, 0, dovecotGid);
  chmodSync(SECRET_FILE, 0o640);
});
afterAll(async () => {
  await db?.drop();
  tmp.remove();
});

/** Writes a config file with `text`, owner root, the given group and mode; runs doctor on it. */
async function doctor(name: string, text: string, mode: number, gid = 0, env: Record<string, string> = {}) {
  const file = join(tmp.dir, name);
  writeFileSync(file, `database_url = "${db.url}"\n${text}`);
  chownSync(file, 0, gid);
  chmodSync(file, mode);
  const r = await runCli(['doctor', '--json', '--config', file], { env });
  const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
  return { code: r.code, checks, warnings: checks.filter((c) => c.warning), stderr: r.stderr };
}

describe('doctor exposure warnings', () => {
  it('TCP auth listener without a secret → WARN naming the fix; exit status unchanged', async () => {
    const r = await doctor('nosecret.toml', '', 0o600);
    expect(r.warnings).toEqual([expect.objectContaining({ check: 'auth secret', ok: false, detail: expect.stringMatching(/TCP without auth\.secret.*auth\.secret_file/) })]);
    expect(r.checks.find((c) => c.check === 'database')?.ok).toBe(true);
    // No daemon runs: only the listener probes fail, which doctor never counts.
    expect(r.code, r.stderr).toBe(0);
  });

  it('a secret (file) and a private config file → no warnings', async () => {
    const r = await doctor('private.toml', `[auth]\nsecret_file = "${SECRET_FILE}"\n`, 0o640);
    expect(r.warnings).toEqual([]);
    // A unix: auth socket needs no secret.
    const u = await doctor('unix.toml', `[auth]\nlisten = "unix:${tmp.dir}/auth.sock"\n`, 0o600);
    expect(u.warnings).toEqual([]);
  });

  it('config file readable by group dovecot or by everyone → WARN', async () => {
    const byDovecot = await doctor('dovecot-group.toml', `[auth]\nsecret_file = "${SECRET_FILE}"\n`, 0o640, dovecotGid);
    expect(byDovecot.warnings).toEqual([expect.objectContaining({ check: 'config file', detail: expect.stringMatching(/readable by user dovecot; it holds the database URL/) })]);
    const byAll = await doctor('world.toml', `[auth]\nsecret_file = "${SECRET_FILE}"\n`, 0o644);
    expect(byAll.warnings).toEqual([expect.objectContaining({ check: 'config file', detail: expect.stringMatching(/readable by every local user/) })]);
    expect(byAll.code).toBe(0);
  });

  it('world-readable secret file, socket open to all, admin on all interfaces with public metrics → WARN each', async () => {
    const open = join(tmp.dir, 'open.secret');
    writeFileSync(open, 'doctor-secret-0123456789abcdef\n');
    chmodSync(open, 0o644);
    const r = await doctor(
      'open.toml',
      `[auth]\nsecret_file = "${open}"\nlisten = "0.0.0.0:7411"\n[admin]\nlisten = "unix:${tmp.dir}/admin.sock"\nsocket_mode = "0666"\n`,
      0o600,
    );
    expect(r.warnings.map((w) => w.check).sort()).toEqual(['admin exposure', 'auth exposure', 'auth secret file']);
    const tcpAdmin = await doctor('admin.toml', `[auth]\nsecret_file = "${SECRET_FILE}"\n[admin]\nlisten = "0.0.0.0:7412"\n`, 0o600);
    expect(tcpAdmin.warnings.map((w) => w.check).sort()).toEqual(['admin exposure', 'admin public routes']);
    const tokened = await doctor('admin-token.toml', `[auth]\nsecret_file = "${SECRET_FILE}"\n[admin]\nlisten = "0.0.0.0:7412"\nmetrics_require_token = true\nopenapi_require_token = true\n`, 0o600);
    expect(tokened.warnings.map((w) => w.check)).toEqual(['admin exposure']);
  });
});
