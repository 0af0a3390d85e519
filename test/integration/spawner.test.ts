import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor as until } from '../helpers/wait.js';
import { startSpawner, type Spawner } from '../../src/dovecot/spawner.js';

/** Runs `sh -c '<script>'` through the spawner with `$$` written to a file first; resolves once the command runs, with its pid. */
async function runningCommand(spawner: Spawner, script: string, timeoutMs: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'spawner-'));
  const pidFile = path.join(dir, 'pid');
  const result = spawner.run('/bin/sh', ['-c', `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; ${script}`], timeoutMs);
  try {
    const pid = await until('the command to start', 5000, () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')));
    return { pid, result };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The daemon's doveadm runs go through a spawner child process; real processes throughout. */
describe('doveadm spawner', () => {
  let spawner: Spawner | null = null;
  afterEach(async () => {
    await spawner?.stop();
    spawner = null;
  });

  it('runs a binary in its own process and returns exit status, stdout and stderr', async () => {
    spawner = startSpawner();
    expect(spawner.pid()).toBeGreaterThan(0);
    expect(spawner.pid()).not.toBe(process.pid);
    const r = await spawner.run('/bin/sh', ['-c', 'echo "out $PPID"; echo err >&2; exit 3'], 5000);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(`out ${spawner.pid()}\n`); // the parent of the command is the spawner, not this process
    expect(r.stderr).toBe('err\n');
  });

  it("hands doveadm none of the daemon's secrets: no MAILPASSD_* or PG* variable crosses over", async () => {
    process.env.MAILPASSD_DATABASE_URL = 'postgres://u:secret-in-env@127.0.0.1/db';
    process.env.PGPASSWORD = 'secret-pg-password';
    try {
      spawner = startSpawner();
      const r = await spawner.run('/usr/bin/env', [], 5000);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('secret-in-env');
      expect(r.stdout).not.toContain('secret-pg-password');
      expect(r.stdout).not.toMatch(/^(MAILPASSD_|PG)/m);
      expect(r.stdout).toMatch(/^PATH=/m);
    } finally {
      delete process.env.MAILPASSD_DATABASE_URL;
      delete process.env.PGPASSWORD;
    }
  });

  it('a missing binary and a binary past its time limit come back as failures, not exceptions', async () => {
    spawner = startSpawner();
    const missing = await spawner.run('/nonexistent/doveadm', [], 5000);
    expect(missing).toMatchObject({ code: -1 });
    expect(missing.stderr).toContain('/nonexistent/doveadm not found');
    const slow = await spawner.run('/bin/sleep', ['5'], 200);
    expect(slow.code).toBe(-1);
    expect(slow.stderr).toContain('timed out after 200 ms');
  });

  it('a spawner that dies fails what it had in hand and is replaced on the next run', async () => {
    spawner = startSpawner();
    const first = spawner.pid()!;
    const inHand = await runningCommand(spawner, 'exec sleep 3', 10_000);
    process.kill(first, 'SIGKILL');
    const failed = await inHand.result;
    expect(failed.code).toBe(-1);
    expect(failed.stderr).toContain('doveadm spawner exited (SIGKILL)');
    const again = await spawner.run('/bin/echo', ['back'], 5000);
    expect(again).toEqual({ code: 0, stdout: 'back\n', stderr: '' });
    expect(spawner.pid()).not.toBe(first);
  });

  it('a hung spawner does not hold the caller: past the limit its run fails and a new spawner takes over', async () => {
    const warnings: string[] = [];
    spawner = startSpawner((m) => warnings.push(m));
    const first = spawner.pid()!;
    process.kill(first, 'SIGSTOP');
    try {
      const hung = await spawner.run('/bin/echo', ['x'], 100);
      expect(hung.code).toBe(-1);
      expect(hung.stderr).toBe('doveadm spawner did not answer within 2100 ms');
    } finally {
      try {
        process.kill(first, 'SIGCONT');
      } catch {
        /* already SIGKILLed and reaped: what should happen */
      }
    }
    const again = await spawner.run('/bin/echo', ['back'], 5000);
    expect(again).toEqual({ code: 0, stdout: 'back\n', stderr: '' });
    expect(spawner.pid()).not.toBe(first);
    expect(warnings).toEqual(['doveadm spawner: starting a new one']);
  });

  it('a doveadm still running when the daemon goes is killed with the spawner, not left without its time limit', async () => {
    spawner = startSpawner();
    const running = await runningCommand(spawner, 'exec sleep 30', 60_000);
    const sleeper = running.pid;
    await spawner.stop();
    expect((await running.result).code).toBe(-1);
    // Gone, or a zombie waiting for init to reap it (PID 1 reaps late on this machine): either way not running.
    const state = () => (existsSync(`/proc/${sleeper}/stat`) ? readFileSync(`/proc/${sleeper}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone');
    await until('the command to end', 5000, () => ['gone', 'Z'].includes(state() ?? 'gone'));
  });

  it('after stop, runs are refused and the spawner process is gone', async () => {
    spawner = startSpawner();
    const pid = spawner.pid()!;
    await spawner.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await spawner.run('/bin/echo', ['x'], 1000)).stderr).toBe('daemon stopping');
  });
});
