/**
 * What `mailpassd checkpassword` hands to the reply program. Whatever answers
 * on the auth listener's address (a squatter while the daemon restarts, a
 * misconfigured proxy) must not be able to steer Dovecot through passdb fields
 * such as `proxy`/`host`/`nopassword`: only `userdb_*` names travel on.
 *
 * The answering side is a small HTTP server in this file - it stands for
 * "anything on that address", which is exactly what is under test. The reply
 * program is `env`, so the whole environment it receives is visible.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, cleanEnv } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

let server: Server;
let listen: string;
let answer: unknown;
let lastAuthorization: string | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    lastAuthorization = req.headers.authorization;
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listen = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
const tmp = tempDir('cp-fields');
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  tmp.remove();
});

/** Runs checkpassword with `env` as reply program; returns its exit code and the reply program's environment. */
function run(env: Record<string, string> = {}): Promise<{ code: number | null; replyEnv: Map<string, string>; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'checkpassword', '/usr/bin/env'], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...cleanEnv(), MAILPASSD_CONFIG: '/dev/null', MAILPASSD_AUTH_LISTEN: listen, MAILPASSD_AUTH_SECRET: 'cp-fields-secret-0123456789', ...env },
  });
  let out = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const fd3 = child.stdio[3] as Writable;
  fd3.on('error', () => {}); // the program may exit before reading its input
  fd3.end('alice@example.org\0Any-Password-123\0\0');
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const replyEnv = new Map<string, string>();
      for (const line of out.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) replyEnv.set(line.slice(0, i), line.slice(i + 1));
      }
      resolve({ code, replyEnv, stderr });
    });
  });
}

describe('checkpassword passes only userdb_* fields to the reply program', () => {
  it('an ok answer with passdb fields (proxy, host, nopassword, allow_nets) → only the userdb_* ones reach the reply program', async () => {
    answer = {
      result: 'ok',
      user: 'alice@example.org',
      extra: {
        userdb_home: '/var/vmail/example.org/alice',
        userdb_uid: '5000',
        proxy: 'y',
        host: '203.0.113.9',
        nopassword: 'y',
        allow_nets: '0.0.0.0/0',
        password: 'x',
      },
    };
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.replyEnv.get('USER')).toBe('alice@example.org');
    expect(r.replyEnv.get('HOME')).toBe('/var/vmail/example.org/alice');
    expect(r.replyEnv.get('userdb_uid')).toBe('5000');
    expect(r.replyEnv.get('EXTRA')).toBe('userdb_uid');
    for (const name of ['proxy', 'host', 'nopassword', 'allow_nets', 'password']) expect(r.replyEnv.has(name), name).toBe(false);
    expect(r.stderr).toMatch(/ignored non-userdb fields in the answer: "proxy", "host", "nopassword", "allow_nets", "password"/);
  });

  it('the auth secret and the other MAILPASSD_* settings are not in the reply program\'s environment', async () => {
    answer = { result: 'ok', user: 'alice@example.org', extra: { userdb_uid: '5000' } };
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect([...r.replyEnv.keys()].filter((k) => k.startsWith('MAILPASSD_'))).toEqual([]);
    expect([...r.replyEnv.values()].join('\n')).not.toContain('cp-fields-secret-0123456789');
  });
});

describe('checkpassword reads the auth secret from MAILPASSD_AUTH_SECRET_FILE', () => {
  it('sends the first line of the file as the bearer secret (the file the Lua script reads too)', async () => {
    const f = join(tmp.dir, 'mailpassd-auth.secret');
    writeFileSync(f, 'secret-from-the-file-0123456789\n');
    answer = { result: 'ok', user: 'alice@example.org', extra: {} };
    const r = await run({ MAILPASSD_AUTH_SECRET: '', MAILPASSD_AUTH_SECRET_FILE: f });
    expect(r.code, r.stderr).toBe(0);
    expect(lastAuthorization).toBe('Bearer secret-from-the-file-0123456789');
  });

  it('an unreadable secret file is a temporary failure (111) naming the key, never a refusal', async () => {
    const r = await run({ MAILPASSD_AUTH_SECRET: '', MAILPASSD_AUTH_SECRET_FILE: join(tmp.dir, 'absent.secret') });
    expect(r.code).toBe(111);
    expect(r.stderr).toMatch(/auth\.secret_file: cannot read .*ENOENT/);
  });
});
