import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/core/pid.js';
import { MAIN, cleanEnv, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { createTestDatabase } from '../helpers/postgres.js';

/** The embedded default and the daemon's life cycle, as a user meets them: real processes, real PostgreSQL. */
const data = tempDir('embedded');
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  stopOrphanPostgres();
  data.remove();
});

async function envFor(dir: string): Promise<Record<string, string>> {
  return {
    MAILPASSD_DATA_DIR: dir,
    MAILPASSD_AUTH_LISTEN: `127.0.0.1:${await freePort()}`,
    MAILPASSD_ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
    MAILPASSD_HASH_MEMORY_COST: '4096',
    MAILPASSD_HASH_TIME_COST: '1',
  };
}

function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, 'serve'], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child.pid!);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

async function ready(env: Record<string, string>, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://${env.MAILPASSD_ADMIN_LISTEN}/readyz`)).status === 200) return true;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function postgresRunning(dir: string): boolean {
  const pidFile = path.join(dir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  return isAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]));
}

/**
 * SIGQUIT: PostgreSQL's immediate shutdown. SIGKILL goes to the whole process
 * group (pg_ctl makes the postmaster a session leader), as in a power loss:
 * killing only the postmaster would leave its children holding the shared
 * memory, which no real crash does.
 */
function stopOrphanPostgres(signal: NodeJS.Signals = 'SIGQUIT'): void {
  const pidFile = path.join(data.dir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(signal === 'SIGKILL' ? -pid : pid, signal);
  } catch {
    /* not running */
  }
}

const verify = (env: Record<string, string>, user: string, password: string) =>
  fetch(`http://${env.MAILPASSD_AUTH_LISTEN}/v1/passdb/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
  }).then((r) => r.json() as Promise<{ result: string }>);

describe('embedded default', () => {
  let env: Record<string, string>;

  it('a CLI command with no daemon running starts the embedded server and stops it again', async () => {
    env = await envFor(data.dir);
    const r = await runCli(['domain', 'add', 'example.org'], { env });
    expect(r.code).toBe(0);
    expect(postgresRunning(data.dir)).toBe(false);
  });

  it('serve runs on the embedded database, and the CLI reaches the same database while it runs', async () => {
    const d = serve(env);
    expect(await ready(env), 'not ready; daemon output:\n' + d.output()).toBe(true);
    const add = await runCli(['mailbox', 'add', 'alice@example.org', '--password-stdin'], { env, input: 'Correct-Horse-Battery-9' });
    expect(add.code).toBe(0);
    expect((await verify(env, 'alice@example.org', 'Correct-Horse-Battery-9')).result).toBe('ok');
    expect(postgresRunning(data.dir)).toBe(true); // the CLI did not stop the daemon's server

    const second = serve({ ...env, MAILPASSD_AUTH_LISTEN: `127.0.0.1:${await freePort()}`, MAILPASSD_ADMIN_LISTEN: `127.0.0.1:${await freePort()}` });
    expect(await second.exited).toBe(69);
    expect(second.output()).toMatch(/another mailpassd \(pid \d+\) is already serving data directory/);
    expect((await verify(env, 'alice@example.org', 'Correct-Horse-Battery-9')).result).toBe('ok');

    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(postgresRunning(data.dir)).toBe(false);
    expect(existsSync(path.join(data.dir, 'mailpassd.pid'))).toBe(false);
  });

  it('keeps data across restarts and recovers after a crash (daemon and postgres killed)', async () => {
    const d = serve(env);
    expect(await ready(env), 'not ready; daemon output:\n' + d.output()).toBe(true);
    expect((await verify(env, 'alice@example.org', 'Correct-Horse-Battery-9')).result).toBe('ok');
    d.child.kill('SIGKILL');
    await d.exited;
    // The detached server outlives a SIGKILLed daemon; the next start adopts it.
    expect(postgresRunning(data.dir)).toBe(true);
    const again = serve(env);
    expect(await ready(env), again.output()).toBe(true);
    expect((await verify(env, 'alice@example.org', 'Correct-Horse-Battery-9')).result).toBe('ok');
    again.child.kill('SIGKILL');
    await again.exited;
    stopOrphanPostgres('SIGKILL'); // leaves postmaster.pid behind, like a power loss
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(path.join(data.dir, 'postgres', 'postmaster.pid'))).toBe(true);
    const third = serve(env);
    expect(await ready(env), third.output()).toBe(true);
    expect((await verify(env, 'alice@example.org', 'Correct-Horse-Battery-9')).result).toBe('ok');
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
    expect(postgresRunning(data.dir)).toBe(false);
  });
});

describe('daemon start-up', () => {
  it('a busy port is a clear error', async () => {
    const db = await createTestDatabase();
    const a = await envFor(tempDir('a').dir);
    const first = serve({ ...a, MAILPASSD_DATABASE_URL: db.url });
    expect(await ready(a), 'not ready; daemon output:\n' + first.output()).toBe(true);
    // A node_id of its own: two daemons with one node_id are refused before they listen (fanout.test.ts).
    const b = { ...(await envFor(tempDir('b').dir)), MAILPASSD_AUTH_LISTEN: a.MAILPASSD_AUTH_LISTEN!, MAILPASSD_DATABASE_URL: db.url, MAILPASSD_NODE_ID: 'busy-port-b' };
    const second = serve(b);
    expect(await second.exited).toBe(69);
    expect(second.output()).toMatch(/auth listener 127\.0\.0\.1:\d+: address already in use/);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await db.drop();
  });

  it('two daemons migrating one fresh database at once both come up', async () => {
    const db = await createTestDatabase();
    const envs = [await envFor(tempDir('m1').dir), await envFor(tempDir('m2').dir)].map((e, i) => ({ ...e, MAILPASSD_DATABASE_URL: db.url, MAILPASSD_NODE_ID: `m${i}` }));
    const daemons = envs.map(serve);
    expect(await Promise.all(envs.map((e) => ready(e)))).toEqual([true, true]);
    for (const d of daemons) d.child.kill('SIGTERM');
    expect(await Promise.all(daemons.map((d) => d.exited))).toEqual([0, 0]);
    await db.drop();
  });

  it('with doveadm = local it runs one spawner child for doveadm, and SIGTERM takes it down too', async () => {
    const db = await createTestDatabase();
    const env = { ...(await envFor(tempDir('sp').dir)), MAILPASSD_DATABASE_URL: db.url, MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: '/bin/true' };
    const d = serve(env);
    expect(await ready(env), 'not ready; daemon output:\n' + d.output()).toBe(true);
    const children = readFileSync(`/proc/${d.child.pid}/task/${d.child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const spawners = children.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawner-child.js'));
    expect(spawners).toHaveLength(1);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(existsSync(`/proc/${spawners[0]}`)).toBe(false);
    await db.drop();
  });

  it('a broken config file stops the start with exit 78 and the line number', async () => {
    const dir = tempDir('cfg');
    execFileSync('sh', ['-c', `printf '[auth\\nlisten = 1\\n' > ${dir.dir}/bad.toml`]);
    const r = await runCli(['serve', '--config', `${dir.dir}/bad.toml`]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/not valid TOML at line 1/);
    const missing = await runCli(['serve', '--config', `${dir.dir}/absent.toml`]);
    expect(missing.code).toBe(78);
    dir.remove();
  });
});
